"""The safe expression parser: values against numpy written directly, and every refusal."""

from __future__ import annotations

import random
import string
import time

import numpy as np
import pytest

from bnn import toys
from bnn.errors import BNNError, ExpressionError
from bnn.expr import FUNCTIONS, MAX_DEPTH, MAX_LENGTH, MAX_NODES, allowed_names, compile_expression

X = np.linspace(-3, 3, 61)  # holds 0 and the integers, where where() and floor() switch


@pytest.mark.parametrize(
    ("text", "oracle"),
    [
        ("sin(3*x) + 0.3*x**2", lambda x: np.sin(3 * x) + 0.3 * x**2),
        ("-x^4 + 3*x^2 + 1", lambda x: -(x**4) + 3 * x**2 + 1),
        ("exp(-x**2)", lambda x: np.exp(-(x**2))),
        ("abs(x) - sqrt(abs(x))", lambda x: np.abs(x) - np.sqrt(np.abs(x))),
        ("where(x < 0, -1, 1)", lambda x: np.where(x < 0, -1.0, 1.0)),
        ("(x > 0) * x", lambda x: np.maximum(x, 0)),
        ("where(-1 <= x < 1, x, 0)", lambda x: np.where((x >= -1) & (x < 1), x, 0.0)),
        ("pi * e", lambda x: np.full_like(x, np.pi * np.e)),
        ("2^-1 + x % 2", lambda x: 0.5 + np.mod(x, 2)),
        ("2^3^2", lambda x: np.full_like(x, 2.0**9)),  # right-associative like math's towers
        ("max(x, 0) + min(x, 1) + clip(x, -1, 1)", lambda x: np.maximum(x, 0) + np.minimum(x, 1) + np.clip(x, -1, 1)),
        ("atan2(x, 2) + hypot(x, 1) + floor(x) + sign(x)",
         lambda x: np.arctan2(x, 2) + np.hypot(x, 1) + np.floor(x) + np.sign(x)),
        ("tanh(x) + cosh(x/3) + asinh(x) + ln(1 + x^2)",
         lambda x: np.tanh(x) + np.cosh(x / 3) + np.arcsinh(x) + np.log(1 + x**2)),
        ("  1e-3*x  ", lambda x: 1e-3 * x),
    ],
)
def test_values_match_numpy(text: str, oracle) -> None:
    np.testing.assert_allclose(compile_expression(text)(X), oracle(X), rtol=1e-15, atol=0)


def test_caret_is_power_with_the_precedence_of_power() -> None:
    f, g = compile_expression("-x^4 + 3*x^2 + 1"), compile_expression("-x**4 + 3*x**2 + 1")
    np.testing.assert_array_equal(f(X), g(X))
    np.testing.assert_array_equal(f(X), toys.get("quartic")(X))  # the article's function


def test_result_has_the_shape_of_x_even_for_constants() -> None:
    f = compile_expression("2")
    for x in (np.zeros(()), np.arange(5.0), np.ones((3, 4))):
        y = f(x)
        assert y.shape == x.shape and y.dtype == np.float64 and (y == 2).all()
    y = f(np.arange(3.0))
    y[0] = 7  # a writable copy, not a read-only broadcast view
    assert compile_expression("x")([1.0, 2.0]).tolist() == [1.0, 2.0]  # lists are accepted


def test_an_expression_feeds_the_toys_point_generator() -> None:
    x, y = toys.generate(compile_expression("sin(3*x)"), 7, -1.0, 1.0, noise=0.0)
    np.testing.assert_allclose(y, np.sin(3 * np.linspace(-1, 1, 7)), rtol=1e-15)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x.__class__", "attribute access"),
        ("__import__('os')", "unknown function '__import__'"),
        ("sin('os')", "strings are not allowed"),
        ("(lambda: 1)()", "only named functions may be called"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in 1]", "comprehensions are not allowed"),
        ("abs(x for x in 1)", "comprehensions are not allowed"),
        ("x[0]", "subscripts"),
        ("'x'", "strings are not allowed"),
        ("f'{x}'", "strings are not allowed"),
        ("sin(x=1)", "keyword arguments are not allowed"),
        ("sin(*x)", "* arguments are not allowed"),
        ("os", "unknown name 'os'"),
        ("sys", "allowed names: x, pi, e, sin, cos"),
        ("sine(x)", "unknown function 'sine' (did you mean 'sin'?)"),
        ("sin", "'sin' is a function: call it like sin(x)"),
        ("sin(x, 2)", "sin takes 1 argument, got 2"),
        ("where(x, 1)", "where takes 3 arguments, got 2"),
        ("x if x > 0 else 0", "write where(c, a, b)"),
        ("x > 0 and x < 1", "'and'/'or' are not allowed"),
        ("x // 2", "the operator '//' is not allowed"),
        ("x & 1", "the operator '&' is not allowed"),
        ("x in x", "the operator 'in' is not allowed"),
        ("(y := 2)", "assignment (:=) is not allowed"),
        ("[x, 1]", "lists are not allowed"),
        ("(x, 1)", "tuples are not allowed"),
        ("{1: x}", "dicts are not allowed"),
        ("1j * x", "complex numbers"),
        ("True", "True is not allowed"),
        ("1e400", "is too large"),
        ("10000000000000 * x", "the number 1e+13 is too large"),
        ("", "the expression is empty"),
        ("   ", "the expression is empty"),
        ("x +\n 1", "on one line"),
        ("x\x00", "control character at column 2"),
        ("x +\t1", "control character at column 4"),
        ("1" * 150, "the number 1.11e+149 is too large"),
    ],
)
def test_refusals_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(text)
    assert message in str(info.value)
    assert isinstance(info.value, BNNError) and "\n" not in str(info.value)


def test_syntax_errors_give_the_column_the_person_typed() -> None:
    for text, column in (("x + * 2", 5), ("x^2 + * 2", 7), ("sin(x))", 7)):
        with pytest.raises(ExpressionError, match=f"syntax error at column {column}"):
            compile_expression(text)
    with pytest.raises(ExpressionError, match=r"write 3\*x, not 3x"):
        compile_expression("3x + 1")
    with pytest.raises(ExpressionError, match="syntax error"):
        compile_expression("sin(x")


def test_size_limits() -> None:
    too_long = "x" + "+1" * 125
    with pytest.raises(ExpressionError, match=rf"expression too long \({len(too_long)} > {MAX_LENGTH} characters\)"):
        compile_expression(too_long)
    compile_expression("x" + " " * 300)  # the blanks around a formula do not count
    many = "+".join(["x"] * 60)  # 119 characters, 119 parts
    with pytest.raises(ExpressionError, match=rf"too large \(119 > {MAX_NODES} parts\)"):
        compile_expression(many)
    deep = "sin(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH  # MAX_DEPTH calls around x
    with pytest.raises(ExpressionError, match=rf"nested too deeply \({MAX_DEPTH + 1} > {MAX_DEPTH} levels\)"):
        compile_expression(deep)
    compile_expression("sin(" * (MAX_DEPTH - 1) + "x" + ")" * (MAX_DEPTH - 1))  # just inside the limit
    with pytest.raises(ExpressionError, match="cannot be read|syntax error|too"):
        compile_expression("(" * 199 + "x")  # beyond the parser's own nesting limit


@pytest.mark.parametrize("text", ["9**9**9", "9^9^9", "10**1000", "2**(10**6)", "x**100**100", "x**(2**200)"])
def test_huge_powers_are_refused_before_computing(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ExpressionError, match="exponent .* is too large"):
        compile_expression(text)
    assert time.perf_counter() - start < 0.05  # a computed 9**9**9 would take minutes


def test_non_finite_values_are_reported_at_their_x() -> None:
    with pytest.raises(ExpressionError, match="infinite .* at x = 0"):
        compile_expression("1/x")(X)
    with pytest.raises(ExpressionError, match="not a number .* at x = -3"):
        compile_expression("log(x)")(X)
    with pytest.raises(ExpressionError, match="infinite"):
        compile_expression("exp(exp(x))")(np.array([10.0]))  # overflow, not a warning
    with pytest.raises(ExpressionError, match="infinite"):
        compile_expression("(1e12)**100")(X)
    # A branch that where() discards may be non-finite: only the result must be finite.
    np.testing.assert_allclose(compile_expression("where(x > 0, log(x), 0)")(X), np.log(np.where(X > 0, X, 1)))


@pytest.mark.filterwarnings("error")  # any warning fails the test
def test_no_warning_escapes() -> None:
    with np.errstate(all="raise"):  # a numpy warning would be raised as FloatingPointError here
        with pytest.raises(ExpressionError):
            compile_expression("1/x")(X)
    with pytest.raises(ExpressionError, match="syntax error"):
        compile_expression("1in")  # Python's parser warns about this before failing


def test_allowed_names_lists_every_function() -> None:
    names = allowed_names()
    assert names[:3] == ["x", "pi", "e"] and set(FUNCTIONS) <= set(names)
    for name in FUNCTIONS:
        assert callable(FUNCTIONS[name][0])


def _check_fuzz_case(text: str) -> None:
    try:
        f = compile_expression(text)
        y = f(X)
    except ExpressionError:
        return
    assert y.shape == X.shape and np.isfinite(y).all()


def test_fuzz_random_printable_text_only_raises_expression_error() -> None:
    rng = random.Random(0)
    for _ in range(3000):
        _check_fuzz_case("".join(rng.choice(string.printable) for _ in range(rng.randint(0, 30))))


def test_fuzz_random_token_strings_only_raise_expression_error() -> None:
    # Tokens of the grammar (and a few outside it), so that many strings parse and evaluate.
    tokens = ["x", "2", "0.5", "9", "1e3", "pi", "e", "+", "-", "*", "/", "**", "^", "%", "(", ")", ",", "<",
              "==", "sin(", "exp(", "log(", "where(", "max(", "sqrt(", "abs(", ".", "[", "_", "os", "'"]
    rng = random.Random(1)
    start = time.perf_counter()
    for _ in range(5000):
        _check_fuzz_case(" ".join(rng.choice(tokens) for _ in range(rng.randint(1, 25))))
    assert time.perf_counter() - start < 20  # each case is bounded; ~1 s on a slow machine

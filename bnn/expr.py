"""A safe parser for user-typed formulas of x, such as ``sin(3*x) + 0.3*x^2``.

The dashboard and the CLI let people type the true function of a toy problem (the
article draws its points from y = -x^4 + 3x^2 + 1). The text is parsed by Python's
``ast`` in ``eval`` mode and the tree is checked against a small whitelist, then
interpreted by walking it with numpy; nothing is ever passed to ``eval``, ``exec`` or
``compile``. Limits on length, size, depth, literals and exponents refuse
``9**9**9`` and the like before anything is computed.

Grammar (everything else is refused with an :class:`~bnn.errors.ExpressionError`):

- numbers (``2``, ``0.5``, ``1e-3``), the variable ``x``, the constants ``pi`` and ``e``;
- unary ``+ -``; binary ``+ - * / % **``; ``^`` also means power (``x^2`` is ``x**2``,
  with the precedence of ``**``, so ``-x^4`` is ``-(x^4)``);
- comparisons ``< <= > >= == !=`` (chains such as ``0 < x < 1`` too), giving 1.0 or 0.0,
  so ``(x > 0) * x`` is a ReLU;
- ``where(cond, a, b)``: a where cond is non-zero, else b (both sides are evaluated);
- calls to the numpy functions in :data:`FUNCTIONS`, with positional arguments only.
"""

from __future__ import annotations

import ast
import difflib
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from bnn.errors import ExpressionError

MAX_LENGTH = 200  # characters
MAX_NODES = 100  # AST nodes: a 200-character sum of x's has ~200, far more than any formula needs
MAX_DEPTH = 30  # nesting of operations and calls
MAX_EXPONENT = 100  # |p| for a constant exponent; x^100 is finite for |x| < 1e3
MAX_LITERAL = 1e12  # |c| for a number typed in the text

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}

# name -> (numpy function, number of arguments)
FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int]] = {
    **{name: (getattr(np, name), 1) for name in (
        "sin", "cos", "tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "tanh",
        "arcsinh", "arccosh", "arctanh", "exp", "expm1", "log", "log2", "log10", "log1p",
        "sqrt", "cbrt", "abs", "sign", "floor", "ceil", "trunc", "round")},
    # the short names people type
    "asin": (np.arcsin, 1), "acos": (np.arccos, 1), "atan": (np.arctan, 1),
    "asinh": (np.arcsinh, 1), "acosh": (np.arccosh, 1), "atanh": (np.arctanh, 1), "ln": (np.log, 1),
    "minimum": (np.minimum, 2), "maximum": (np.maximum, 2), "min": (np.minimum, 2), "max": (np.maximum, 2),
    "arctan2": (np.arctan2, 2), "atan2": (np.arctan2, 2), "hypot": (np.hypot, 2), "mod": (np.mod, 2),
    "where": (lambda cond, a, b: np.where(cond != 0, a, b), 3),
    "clip": (lambda v, lo, hi: np.minimum(np.maximum(v, lo), hi), 3),
}

_BINARY: dict[type[ast.operator], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide,
    ast.Mod: np.mod, ast.Pow: np.power,
}
_UNARY: dict[type[ast.unaryop], Callable[[np.ndarray], np.ndarray]] = {ast.UAdd: np.positive, ast.USub: np.negative}
_COMPARE: dict[type[ast.cmpop], Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
_OPERATOR_TEXT = {ast.FloorDiv: "//", ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
                  ast.RShift: ">>", ast.MatMult: "@", ast.Invert: "~", ast.Not: "not", ast.Is: "is",
                  ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
# Node kinds that are refused outright, with the reason a person should read.
_REFUSED: dict[type[ast.AST], str] = {
    ast.Attribute: "attribute access (a.b) is not allowed",
    ast.Subscript: "subscripts (a[i]) are not allowed",
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed", ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed", ast.GeneratorExp: "comprehensions are not allowed",
    ast.List: "lists are not allowed", ast.Tuple: "tuples are not allowed", ast.Set: "sets are not allowed",
    ast.Dict: "dicts are not allowed", ast.JoinedStr: "strings are not allowed",
    ast.BoolOp: "'and'/'or' are not allowed; multiply comparisons instead, e.g. (x > 0) * (x < 1)",
    ast.IfExp: "'a if c else b' is not allowed; write where(c, a, b)",
    ast.NamedExpr: "assignment (:=) is not allowed", ast.Starred: "* arguments are not allowed",
    ast.Await: "await is not allowed", ast.Yield: "yield is not allowed", ast.YieldFrom: "yield is not allowed",
    ast.Slice: "slices are not allowed",
}


@dataclass(frozen=True)
class Expression:
    """A checked formula of x; calling it evaluates it on an array (same shape out)."""

    text: str
    tree: ast.Expression = field(repr=False, compare=False)

    def __call__(self, x: ArrayLike) -> np.ndarray:
        """Values at x (any shape), float64; ExpressionError where not a finite number."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):  # overflow and domain errors are reported below, once
            y = np.broadcast_to(_evaluate(self.tree.body, x), x.shape).astype(np.float64)
        bad = ~np.isfinite(y)
        if bad.any():
            at = x[bad].flat[0]
            kind = "not a number (e.g. log or sqrt of a negative number, or 0/0)" if np.isnan(y[bad].flat[0]) \
                else "infinite (e.g. a division by zero or an overflow)"
            raise ExpressionError(f"{self.text!r} is {kind} at x = {at:g}")
        return y


def compile_expression(text: str) -> Expression:
    """Check ``text`` and return it as a vectorised numpy function of x.

    ``^`` is accepted as power. Raises :class:`~bnn.errors.ExpressionError` with a
    message for people on anything outside the grammar of the module docstring.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"an expression must be text, got {type(text).__name__}")
    text = text.strip()
    if not text:
        raise ExpressionError("the expression is empty; type a formula of x such as sin(3*x) + 0.3*x^2")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression too long ({len(text)} > {MAX_LENGTH} characters)")
    if "\n" in text or "\r" in text:
        raise ExpressionError("the expression must be on one line")
    control = next((i for i, c in enumerate(text) if not c.isprintable()), None)
    if control is not None:
        raise ExpressionError(f"the expression holds a control character at column {control + 1}")
    tree = _parse(text)
    nodes = sum(isinstance(node, ast.expr) for node in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ExpressionError(f"expression too large ({nodes} > {MAX_NODES} parts)")
    depth = _depth(tree)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"expression nested too deeply ({depth} > {MAX_DEPTH} levels)")
    _check(tree.body)
    return Expression(text, tree)


def allowed_names() -> list[str]:
    """Every name an expression may use: x, the constants, then the functions."""
    return ["x", *CONSTANTS, *FUNCTIONS]


def _parse(text: str) -> ast.Expression:
    # '^' becomes '**' before parsing (Python's '^' is xor, with the wrong precedence).
    # No strings are allowed, so a '^' can only be an operator.
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for '1in': the error says enough
            warnings.simplefilter("ignore")
            return ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(_syntax_message(text, exc)) from None
    except (ValueError, MemoryError, RecursionError):  # parser limits
        raise ExpressionError("the expression cannot be read (nested too deeply)") from None


def _syntax_message(text: str, exc: SyntaxError) -> str:
    msg = exc.msg or "invalid syntax"
    hint = " (write 3*x, not 3x)" if "decimal literal" in msg else ""
    offset = exc.offset or 0
    if exc.lineno != 1 or not 1 <= offset <= len(text.replace("^", "**")):
        return f"syntax error at the end of the expression: {msg}{hint}"
    # Map the column back from the '**'-for-'^' text to what the person typed.
    column, seen = 0, 0
    while seen < offset - 1 and column < len(text):
        seen += 2 if text[column] == "^" else 1
        column += 1
    return f"syntax error at column {column + 1}: {msg}{hint}"


def _depth(tree: ast.Expression) -> int:
    """Levels of sub-expressions (operators and contexts are not counted)."""
    # Iterative, so a pathological tree cannot exhaust Python's recursion.
    deepest, stack = 0, [(tree.body, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((c, level + 1) for c in ast.iter_child_nodes(node) if isinstance(c, ast.expr))
    return deepest


def _check(node: ast.AST) -> None:
    """Refuse anything outside the grammar; post-order, so children are checked first."""
    if type(node) in _REFUSED:
        raise ExpressionError(_REFUSED[type(node)])
    if isinstance(node, ast.Constant):
        _check_literal(node.value)
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            raise ExpressionError(f"{node.id!r} is a function: call it like {node.id}(x)")
        if node.id != "x" and node.id not in CONSTANTS:
            raise ExpressionError(f"unknown name {node.id!r}{_suggest(node.id)}; allowed names: "
                                  f"{', '.join(allowed_names())}")
    elif isinstance(node, ast.UnaryOp):
        _check_operator(node.op, _UNARY)
        _check(node.operand)
    elif isinstance(node, ast.BinOp):
        _check_operator(node.op, _BINARY)
        _check(node.left)
        _check(node.right)
        if isinstance(node.op, ast.Pow):
            _check_exponent(node.right)
    elif isinstance(node, ast.Compare):
        for op in node.ops:
            _check_operator(op, _COMPARE)
        for child in (node.left, *node.comparators):
            _check(child)
    elif isinstance(node, ast.Call):
        _check_call(node)
    else:
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def _check_literal(value: object) -> None:
    if isinstance(value, str | bytes):
        raise ExpressionError("strings are not allowed")
    if isinstance(value, bool) or value is None or value is Ellipsis:
        raise ExpressionError(f"{value!r} is not allowed; only numbers")
    if isinstance(value, complex):
        raise ExpressionError(f"complex numbers such as {value!r} are not allowed")
    if not isinstance(value, int | float) or not abs(value) <= MAX_LITERAL:  # also refuses inf and nan
        shown = f"{value:.3g}" if isinstance(value, float) or value.bit_length() < 1000 else f"{str(value)[:6]}..."
        raise ExpressionError(f"the number {shown} is too large (at most {MAX_LITERAL:g} in magnitude)")


def _check_operator(op: ast.AST, allowed: dict) -> None:
    if type(op) not in allowed:
        raise ExpressionError(f"the operator {_OPERATOR_TEXT.get(type(op), type(op).__name__)!r} is not allowed")


def _check_exponent(exponent: ast.AST) -> None:
    """A constant exponent must be small: ``10^1000`` or ``9^9^9`` is refused, not computed."""
    if any(isinstance(n, ast.Name) and n.id == "x" for n in ast.walk(exponent)):
        return  # depends on x: any overflow shows as a non-finite value when evaluated
    with np.errstate(all="ignore"):
        value = float(_evaluate(exponent, np.zeros(())))  # the subtree is checked, so it is small
    if not math.isfinite(value):
        raise ExpressionError("an exponent is not a finite number")
    if abs(value) > MAX_EXPONENT:
        raise ExpressionError(f"the exponent {value:.6g} is too large (at most {MAX_EXPONENT} in magnitude)")


def _suggest(name: str) -> str:
    close = difflib.get_close_matches(name, allowed_names(), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError("only named functions may be called, such as sin(x)")
    name = node.func.id
    if name not in FUNCTIONS:
        raise ExpressionError(f"unknown function {name!r}{_suggest(name)}; allowed functions: {', '.join(FUNCTIONS)}")
    if node.keywords:
        raise ExpressionError(f"keyword arguments are not allowed: write {name}(x), not {name}(name=x)")
    arity = FUNCTIONS[name][1]
    if len(node.args) != arity:
        plural = "s" if arity > 1 else ""
        raise ExpressionError(f"{name} takes {arity} argument{plural}, got {len(node.args)}")
    for arg in node.args:
        _check(arg)


def _evaluate(node: ast.AST, x: np.ndarray) -> np.ndarray:
    """Interpret a checked tree at x, numpy broadcasting doing the vectorisation."""
    if isinstance(node, ast.Constant):
        return np.float64(node.value)
    if isinstance(node, ast.Name):
        return x if node.id == "x" else np.float64(CONSTANTS[node.id])
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_evaluate(node.operand, x))
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_evaluate(node.left, x), _evaluate(node.right, x))
    if isinstance(node, ast.Compare):
        values = [_evaluate(v, x) for v in (node.left, *node.comparators)]
        truth = np.ones_like(x, dtype=bool)
        for op, a, b in zip(node.ops, values, values[1:]):
            truth = truth & _COMPARE[type(op)](a, b)
        return truth.astype(np.float64)
    if isinstance(node, ast.Call):
        fn = FUNCTIONS[node.func.id][0]  # type: ignore[attr-defined]
        return np.asarray(fn(*(_evaluate(a, x) for a in node.args)), dtype=np.float64)
    raise AssertionError(f"unchecked node {type(node).__name__}")  # _check refuses every other kind

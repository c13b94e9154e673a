"""The true function as drawn (dashboard.model.truth): gaps where it is undefined or too large, and
a note that says where, checked against grids whose answers are known."""

from __future__ import annotations

import numpy as np

from dashboard.model.truth import drawable


def test_a_function_drawn_everywhere_has_no_note() -> None:
    x = np.linspace(-5, 5, 100)
    drawn = drawable(x, np.sin(x))
    assert drawn.note == "" and np.array_equal(drawn.y, np.sin(x))


def test_exp_on_a_wide_range_says_where_it_overflows_and_where_it_is_too_large() -> None:
    x = np.linspace(-1000, 1000, 100)  # 20.2 apart: ..., 10.1, 30.3, ..., 697, 717.2, ...
    with np.errstate(over="ignore"):
        y = np.exp(x)  # inf past x = 709.8, as a formula's values are once their error is caught
    drawn = drawable(x, y)
    assert drawn.note == ("The true function is not drawn where it is undefined or infinite for x in [717.2, 1000] "
                          "and lies beyond ±1e6 for x in [30.3, 697].")
    kept = x < 20  # up to 10.1: exp(10.1) = 24,000; exp(30.3) = 1.4e13
    assert np.array_equal(drawn.y[kept], y[kept]) and np.isnan(drawn.y[~kept]).all()


def test_stretches_are_named_singly_and_counted_past_three() -> None:
    x = np.linspace(-5, 5, 11)  # -5, -4, ..., 5
    assert drawable(x, np.where(x == 0, np.nan, x)).note.endswith("undefined or infinite for x = 0.")
    holes = np.where(np.isin(x, [-4, -2, 0, 2, 4]), np.nan, x)
    assert drawable(x, holes).note.endswith("for x = -4, x = -2, x = 0 and 2 more stretches.")
    assert drawable(x, np.where(x > 2, np.nan, x)).note.endswith("for x in [3, 5].")


def test_the_bound_is_the_one_given() -> None:
    x = np.array([0.0, 1.0, 2.0])
    drawn = drawable(x, np.array([5.0, 50.0, -500.0]), limit=10.0)
    assert drawn.note == "The true function is not drawn where it lies beyond ±10 for x in [1, 2]."
    assert drawn.y[0] == 5.0 and np.isnan(drawn.y[1:]).all()

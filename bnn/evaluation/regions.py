"""Comparing inference methods on one point set: where the band is, and how good it is.

Foong et al. 2019 ("'In-Between' Uncertainty in Bayesian Neural Networks") show that
mean-field variational inference is over-confident between clusters of data. To see
that on a person's own points, every input of a 1-D grid is put in one region by its
distance to the training inputs, with ``radius`` half the median spacing of the
sorted training inputs:

- ``near``: within ``radius`` of a training input;
- ``gap``: not near, inside an interval between consecutive training inputs that is
  wider than ``gap_factor`` times the median spacing (a gap between clusters);
- ``far``: beyond the outermost training inputs by more than ``radius``;
- ``other``: the rest (short stretches between neighbouring points).

The gap score is the mean epistemic std in the gaps divided by the mean at the data,
about 1 when a method sees no more doubt between the clusters than on them. The
scores per method read the same (S, N) function draws as the table: log-likelihood and
coverage of held-out points (:mod:`bnn.evaluation.metrics`), and the mean width of the band of f
in each region.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bnn.errors import PointsError
from bnn.evaluation import metrics
from bnn.methods.base import FittedMethod

REGIONS = ("near", "gap", "far", "other")
GAP_FACTOR = 2.0


def regions(x: ArrayLike, x_train: ArrayLike, gap_factor: float = GAP_FACTOR) -> np.ndarray:
    """The region of each input of a 1-D grid (see the module docstring): (N,) strings."""
    grid = np.asarray(x, dtype=np.float64).ravel()
    train = np.unique(np.asarray(x_train, dtype=np.float64).ravel())
    if train.size == 0:
        raise PointsError("regions need at least one training input")
    spacing = np.diff(train)
    median = float(np.median(spacing)) if spacing.size else 1.0
    radius = 0.5 * median
    distance = np.abs(grid[:, None] - train[None, :]).min(axis=1)
    out = np.full(grid.shape, "other", dtype=object)
    for left, right in zip(train[:-1], train[1:]):
        if right - left > gap_factor * median:
            out[(grid > left) & (grid < right)] = "gap"
    out[(grid < train[0] - radius) | (grid > train[-1] + radius)] = "far"
    out[distance <= radius] = "near"
    return out


def has_gap(x_train: ArrayLike, gap_factor: float = GAP_FACTOR) -> bool:
    """Whether some interval between consecutive training inputs counts as a gap."""
    train = np.unique(np.asarray(x_train, dtype=np.float64).ravel())
    spacing = np.diff(train)
    return bool(spacing.size and (spacing > gap_factor * np.median(spacing)).any())


def gap_score(table: pd.DataFrame, x_train: ArrayLike, gap_factor: float = GAP_FACTOR) -> float:
    """Mean epistemic std in the gaps / mean epistemic std near the data; NaN without a gap.

    ``table`` is a prediction table (column ``x`` and ``epistemic_std``) on a grid that
    crosses the gaps and the data.
    """
    where = regions(table["x"], x_train, gap_factor)
    std = table["epistemic_std"].to_numpy()
    gap, near = std[where == "gap"], std[where == "near"]
    if gap.size == 0 or near.size == 0:
        return float("nan")
    return float(gap.mean() / near.mean())


def band_widths(table: pd.DataFrame, x_train: ArrayLike, gap_factor: float = GAP_FACTOR) -> dict[str, float]:
    """Mean width of the band of f (f_upper - f_lower) in each region; NaN where a region is empty."""
    where = regions(table["x"], x_train, gap_factor)
    width = (table["f_upper"] - table["f_lower"]).to_numpy()
    return {r: float(width[where == r].mean()) if (where == r).any() else float("nan") for r in REGIONS}


def method_scores(fitted: FittedMethod, grid: ArrayLike, x_train: ArrayLike, x_test: ArrayLike,
                  y_test: ArrayLike, level: float = 0.95, samples: int = 200, seed: int = 0) -> dict[str, float]:
    """One row of the comparison: held-out log-likelihood and coverage at ``level``, band widths
    by region on ``grid``, the gap score, and the fit's wall time."""
    table = fitted.predict(grid, samples=samples, level=level, seed=seed)
    f_test = fitted.sample_functions(x_test, samples=samples, seed=seed)
    noise = fitted.scoring_noise(x_test, samples=samples, seed=seed)
    y = np.asarray(y_test, dtype=np.float64)
    widths = band_widths(table, x_train)
    return {
        "test_ll": float(metrics.log_likelihood(f_test, noise, y).mean()),
        "coverage": metrics.coverage(f_test, noise, y, (level,))[float(level)],
        "width_near": widths["near"],
        "width_gap": widths["gap"],
        "width_far": widths["far"],
        "gap_score": gap_score(table, x_train),
        "seconds": float(fitted.seconds),
    }


def comparison(fitted: dict[str, FittedMethod], grid: ArrayLike, x_train: ArrayLike, x_test: ArrayLike,
               y_test: ArrayLike, level: float = 0.95, samples: int = 200, seed: int = 0) -> pd.DataFrame:
    """:func:`method_scores` for each method, one row per method (index: the method's name)."""
    rows = {name: method_scores(f, grid, x_train, x_test, y_test, level, samples, seed) for name, f in fitted.items()}
    return pd.DataFrame.from_dict(rows, orient="index")

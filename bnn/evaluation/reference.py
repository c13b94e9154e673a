"""How far a method's band is from the reference's, as numbers.

Both read prediction tables on one 1-D grid (columns ``x``, ``mean``, ``epistemic_std``: the
mean and std of f over posterior draws, :func:`bnn.predict`'s columns).

- **Distance to the reference**: at each grid input, the 2-Wasserstein distance between the
  Gaussian summaries N(mean, std^2) of f under the method and under the reference, which for
  two 1-D Gaussians is sqrt((m1 - m2)^2 + (s1 - s2)^2) (Givens & Shortt 1984); averaged over the
  grid and divided by the reference's average std, so 0 is the reference and 1 is an error the
  size of the reference's own spread.
- **Width ratio**: the reference's mean std of f away from the data (in the gaps between
  clusters and beyond the outermost points, :mod:`bnn.evaluation.regions`) over the method's
  there: how many times wider the reference's band is where the data say least.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bnn.evaluation.regions import GAP_FACTOR, regions

AWAY = ("gap", "far")  # the regions where the data say least


def gaussian_w2(mean_a: ArrayLike, std_a: ArrayLike, mean_b: ArrayLike, std_b: ArrayLike) -> np.ndarray:
    """The 2-Wasserstein distance between N(mean_a, std_a^2) and N(mean_b, std_b^2), elementwise."""
    ma, sa, mb, sb = (np.asarray(v, dtype=np.float64) for v in (mean_a, std_a, mean_b, std_b))
    return np.sqrt((ma - mb) ** 2 + (sa - sb) ** 2)


def _same_grid(table: pd.DataFrame, reference: pd.DataFrame) -> None:
    if len(table) != len(reference) or not np.allclose(table["x"].to_numpy(), reference["x"].to_numpy()):
        raise ValueError("the method's table and the reference's must be on the same grid")


def distance_to_reference(table: pd.DataFrame, reference: pd.DataFrame) -> float:
    """Grid mean of the W2 distance between the Gaussian summaries of f, over the reference's mean std."""
    _same_grid(table, reference)
    w2 = gaussian_w2(table["mean"], table["epistemic_std"], reference["mean"], reference["epistemic_std"])
    return float(w2.mean() / reference["epistemic_std"].to_numpy().mean())


def width_ratio(table: pd.DataFrame, reference: pd.DataFrame, x_train: ArrayLike,
                gap_factor: float = GAP_FACTOR) -> float:
    """The reference's mean std of f in the gaps and beyond the data over the method's there; NaN
    when the grid has no input away from the data."""
    _same_grid(table, reference)
    away = np.isin(regions(table["x"], x_train, gap_factor), AWAY)
    if not away.any():
        return float("nan")
    method = float(table["epistemic_std"].to_numpy()[away].mean())
    ref = float(reference["epistemic_std"].to_numpy()[away].mean())
    return ref / method if method > 0 else float("inf")

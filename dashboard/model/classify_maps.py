"""What the Classify page draws, as arrays: a classifier's predictive on a square grid.

From S posterior draws of the class probabilities on the grid (the same draws, for the same
seed, as ``bnn.predict`` takes, so the page's CSV is the engine's table) it keeps, per cell, the
mean probabilities, the predicted class and its probability, and the three uncertainties of
:func:`bnn.uncertainty.decompose` (entropy = aleatoric + epistemic, in nats); and a few draws
whose decision boundaries the page draws as thin lines. Plain NumPy: plain pytest checks it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bnn.predict import Predictive, input_columns
from bnn.uncertainty import classification_table
from dashboard.model.classify_state import BOUNDARY_DRAWS, GRID, SAMPLES, Square


@dataclass(frozen=True, eq=False)
class Maps:
    """A classifier's predictive on the grid ``axis`` × ``axis`` (x0 along columns, x1 along rows)."""

    axis: np.ndarray  # (n,)
    table: pd.DataFrame  # bnn.predict's table on the n² grid inputs (x0 fastest)
    draws: np.ndarray  # (B, n, n, K): the class probabilities of a few posterior draws

    @property
    def n(self) -> int:
        return int(self.axis.shape[0])

    @property
    def classes(self) -> int:
        return int(self.draws.shape[-1])

    def grid(self, column: str) -> np.ndarray:
        """One column of the table as an (n, n) image: row i is x1 = axis[i]."""
        return self.table[column].to_numpy().reshape(self.n, self.n)

    @property
    def probabilities(self) -> np.ndarray:
        """(n, n, K) mean class probabilities."""
        return np.stack([self.grid(f"p{k}") for k in range(self.classes)], axis=-1)

    @property
    def label(self) -> np.ndarray:
        return self.grid("label")

    @property
    def confidence(self) -> np.ndarray:
        """The predicted class's mean probability, in [1/K, 1]."""
        return self.probabilities.max(axis=-1)


def maps_of(fitted: Predictive, square: Square, n: int = GRID, samples: int = SAMPLES,
            boundary_draws: int = BOUNDARY_DRAWS, level: float = 0.95) -> Maps:
    """The maps of ``fitted`` (a classifier) over ``square``: ``samples`` draws, seeded by its config."""
    grid = square.grid(n)
    probs = fitted.sample_probabilities(grid, samples=samples)  # (S, n², K), as bnn.predict draws them
    table = classification_table(grid, probs, level, input_columns(2))
    b = min(boundary_draws, samples)
    return Maps(square.axis(n), table, probs[:b].reshape(b, n, n, -1))


def margins(probabilities: np.ndarray) -> np.ndarray:
    """(..., K) probabilities -> (K, ...) margins p_k - max_{j != k} p_j: class k's region is where
    its margin is > 0, so its boundary is the margin's zero line. For K = 2 both margins are
    ±(p1 - p0), the same line."""
    p = np.moveaxis(np.asarray(probabilities, dtype=np.float64), -1, 0)  # (K, ...)
    out = np.empty_like(p)
    for k in range(p.shape[0]):
        out[k] = p[k] - np.delete(p, k, axis=0).max(axis=0)
    return out


def boundary_fields(probabilities: np.ndarray) -> list[np.ndarray]:
    """The fields whose zero lines are the decision boundaries: one for K = 2, one per class else."""
    m = margins(probabilities)
    return [m[1]] if m.shape[0] == 2 else list(m)

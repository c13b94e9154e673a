"""Two runs side by side: the numbers that say how a pinned fit and the current one differ.

The dashboard's "Pin this run" keeps a fit and compares it with the next ones: their
final loss, noise σ, and the mean epistemic std of f near the data, in the gaps between
clusters of points and far from them. The regions and the gap score (mean std in the
gaps over mean std near the data) are those of :mod:`bnn.evaluation.regions`, after Foong et al.
2019 ("'In-Between' Uncertainty in Bayesian Neural Networks"): mean-field variational
inference, which Bayes-by-Backprop is, tends to be too sure between clusters. Each run's
regions come from its own training points, on the same grid for both.
"""

from __future__ import annotations

import dataclasses
import math
from enum import Enum

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bnn.config import Config
from bnn.evaluation.regions import gap_score, regions

METRICS = {
    "final_loss": "final loss (negative ELBO)",
    "noise_sigma": "noise σ",
    "std_near": "epistemic std near the data",
    "std_gap": "epistemic std in gaps",
    "std_far": "epistemic std far from the data",
    "gap_score": "gap score (gaps / near)",
}


def run_metrics(table: pd.DataFrame, x_train: ArrayLike, final_loss: float, noise_sigma: float) -> dict[str, float]:
    """The :data:`METRICS` of one run from its prediction table on a 1-D grid (columns ``x``,
    ``epistemic_std``); NaN for a region the grid does not reach (no gap, no far side)."""
    where = regions(table["x"], x_train)
    std = table["epistemic_std"].to_numpy(dtype=np.float64)

    def mean_in(region: str) -> float:
        inside = where == region
        return float(std[inside].mean()) if inside.any() else math.nan

    return {
        "final_loss": float(final_loss),
        "noise_sigma": float(noise_sigma),
        "std_near": mean_in("near"),
        "std_gap": mean_in("gap"),
        "std_far": mean_in("far"),
        "gap_score": gap_score(table, x_train),
    }


def comparison(pinned: dict[str, float], current: dict[str, float]) -> pd.DataFrame:
    """One row per metric (labelled): pinned, current, and current - pinned."""
    rows = [(METRICS[name], pinned[name], current[name], current[name] - pinned[name]) for name in METRICS]
    return pd.DataFrame(rows, columns=["metric", "pinned", "current", "difference"]).set_index("metric")


def describe(config: Config, n_points: int) -> str:
    """A run in one line: "1-32-1 sigmoid net, prior σ 10, noise σ 0.1, 2,000 epochs, seed 0, 6 points"."""
    layers = "-".join(map(str, (1, *config.hidden, 1)))
    noise = f"learned noise σ from {config.noise_sigma:g}" if config.learn_noise else f"noise σ {config.noise_sigma:g}"
    return (f"{layers} {config.activation.value} net, prior σ {config.prior_sigma:g}, {noise}, "
            f"{config.epochs:,} epochs, seed {config.seed}, {n_points:,} point{'s' if n_points != 1 else ''}")


def config_changes(before: Config, after: Config) -> list[str]:
    """The settings that differ, as "seed 0 → 3" (in the config's field order)."""
    changes = []
    for field in dataclasses.fields(Config):
        a, b = getattr(before, field.name), getattr(after, field.name)
        if a != b:
            changes.append(f"{field.name} {_shown(a)} → {_shown(b)}")
    return changes


def _shown(value: object) -> str:
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, tuple):
        return "-".join(map(str, value)) or "none"
    if value is None:
        return "all"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return f"{value:g}" if isinstance(value, float) else str(value)

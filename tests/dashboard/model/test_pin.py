"""The numbers of "Pin this run" (dashboard.model.pin) against hand-built tables whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

import bnn
from dashboard.model import pin


def table_with_known_std() -> tuple[pd.DataFrame, np.ndarray]:
    """Training inputs in two clusters, [-2, -1] and [1, 2] in steps of 0.25, on a grid over
    [-5, 5], with the epistemic std set by hand, region by region, from the rule of
    bnn.evaluation.regions written out: the median spacing is 0.25, so points within 0.125 of an input
    are near (the clusters widened by 0.125: std 1), the stretch between the clusters is a
    gap (std 3) and beyond +-2.125 is far (std 7). The grid's step (10/399) keeps every grid
    point off those edges."""
    x_train = np.r_[np.arange(-2, -0.99, 0.25), np.arange(1, 2.01, 0.25)]
    grid = np.linspace(-5, 5, 400)
    std = np.where(np.abs(grid) > 2.125, 7.0, np.where(np.abs(grid) < 0.875, 3.0, 1.0))
    return pd.DataFrame({"x": grid, "epistemic_std": std}), x_train


def test_metrics_read_each_region_of_the_grid() -> None:
    table, x_train = table_with_known_std()
    metrics = pin.run_metrics(table, x_train, final_loss=12.5, noise_sigma=0.1)
    assert metrics == {"final_loss": 12.5, "noise_sigma": 0.1, "std_near": 1.0, "std_gap": 3.0, "std_far": 7.0,
                       "gap_score": 3.0}


def test_a_region_the_grid_does_not_reach_is_nan() -> None:
    table, _ = table_with_known_std()
    x_train = np.linspace(-6, 6, 49)  # evenly spaced beyond the grid: no gap and no far side
    metrics = pin.run_metrics(table, x_train, final_loss=1.0, noise_sigma=1.0)
    assert math.isnan(metrics["std_gap"]) and math.isnan(metrics["std_far"]) and math.isnan(metrics["gap_score"])


def test_comparison_gives_current_minus_pinned_per_metric() -> None:
    pinned = {"final_loss": 10.0, "noise_sigma": 0.1, "std_near": 1.0, "std_gap": 3.0, "std_far": 7.0,
              "gap_score": 3.0}
    current = {**pinned, "final_loss": 8.0, "std_gap": 1.5, "gap_score": 1.5}
    table = pin.comparison(pinned, current)
    assert list(table.index) == list(pin.METRICS.values())
    diff = table["difference"].to_dict()
    assert diff[pin.METRICS["final_loss"]] == -2.0 and diff[pin.METRICS["std_gap"]] == -1.5
    assert diff[pin.METRICS["noise_sigma"]] == 0.0 and table.loc[pin.METRICS["gap_score"], "pinned"] == 3.0


def test_a_run_in_one_line_and_what_changed() -> None:
    assert pin.describe(bnn.Config(), 6) == ("1-32-1 sigmoid net, prior σ 10, noise σ 0.1, 2,000 epochs, seed 0, "
                                             "6 points")
    deep = pin.describe(bnn.Config(hidden=(16, 8), activation="tanh"), 1)
    assert deep.startswith("1-16-8-1 tanh net") and deep.endswith("1 point")
    assert pin.describe(bnn.Config(hidden=(), learn_noise=True), 1).startswith("1-1 sigmoid net, prior σ 10, learned")
    before = bnn.Config()
    after = bnn.Config(seed=3, epochs=500, activation="tanh", hidden=(16, 8), batch_size=4)
    assert pin.config_changes(before, after) == ["hidden 32 → 16-8", "activation sigmoid → tanh", "epochs 2,000 → 500",
                                                 "batch_size all → 4", "seed 0 → 3"]
    assert pin.config_changes(before, before) == []

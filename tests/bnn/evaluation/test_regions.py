"""Regions, gap score and per-method scores of bnn.evaluation.regions, on hand-made oracles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import norm

import bnn
from bnn import toys
from bnn.data import Scaling
from bnn.evaluation import regions as compare
from bnn.methods import fit_method
from bnn.methods.base import FittedMethod


def test_regions_of_the_article_points(article_points):
    x, _ = article_points
    # sorted spacings 0.2, 0.8, 2.0, 0.8, 0.2: median 0.8, radius 0.4; only (-1, 1) is a gap (2.0 > 1.6)
    grid = [0.0, -0.5, -0.7, -1.4, 2.3, 2.45, -3.0, 0.55]
    assert compare.regions(grid, x).tolist() == ["gap", "gap", "near", "near", "near", "far", "far", "gap"]
    assert compare.has_gap(x)
    assert not compare.has_gap(np.linspace(0, 1, 11))


def test_gap_score_is_the_ratio_of_mean_stds():
    x_train = np.array([-3.0, -2.5, -2.0, 2.0, 2.5, 3.0])
    grid = np.linspace(-5, 5, 101)
    where = compare.regions(grid, x_train)
    std = np.where(where == "gap", 6.0, np.where(where == "near", 2.0, 100.0))
    table = pd.DataFrame({"x": grid, "epistemic_std": std})
    assert compare.gap_score(table, x_train) == pytest.approx(3.0)
    even = np.linspace(-3, 3, 7)
    assert np.isnan(compare.gap_score(pd.DataFrame({"x": grid, "epistemic_std": std}), even))


@dataclass
class _Fixed(FittedMethod):
    """A 'method' whose draws are f_s(x) = offsets[s] everywhere: a known mixture."""

    offsets: np.ndarray | None = None

    def draw(self, x, samples, generator):
        return torch.as_tensor(self.offsets[:samples, None]).expand(samples, x.shape[0])


def test_method_scores_against_the_closed_form():
    offsets = np.array([-1.0, 1.0])
    fitted = _Fixed(name="fixed", config=bnn.Config(), method_config=None, scaling=Scaling.identity(1), n_train=2,
                    noise_sigma_model=0.5, seconds=1.25, offsets=offsets)
    x_test, y_test = np.array([0.0, 3.0]), np.array([0.0, 1.0])
    scores = compare.method_scores(fitted, np.linspace(-4, 4, 41), [-2.0, -1.9, 1.9, 2.0], x_test, y_test,
                                   level=0.9, samples=2)
    density = 0.5 * (norm.pdf(y_test, -1, 0.5) + norm.pdf(y_test, 1, 0.5))
    assert scores["test_ll"] == pytest.approx(np.log(density).mean())
    cdf = 0.5 * (norm.cdf(y_test, -1, 0.5) + norm.cdf(y_test, 1, 0.5))
    assert scores["coverage"] == np.mean(np.abs(cdf - 0.5) <= 0.45)
    # the band of f spans the 5th to 95th percentile of {-1, 1}: 2 * 0.9 wide, the same everywhere
    for region in ("width_near", "width_gap", "width_far"):
        assert scores[region] == pytest.approx(1.8)
    assert scores["gap_score"] == pytest.approx(1.0) and scores["seconds"] == 1.25


def test_comparison_on_the_gap_toy_shows_in_between_doubt():
    """Foong et al. 2019: an ensemble's members disagree between clusters, so its gap score
    is well above 1; the table has one row per method."""
    x, y = toys.get("gap").default_points(0)
    fitted = {"ensemble": fit_method("ensemble", x, y, bnn.Config(), {"members": 5, "epochs": 1000})}
    grid = np.linspace(-5, 5, 101)
    table = compare.comparison(fitted, grid, x, grid, toys.get("gap")(grid), level=0.95, samples=50)
    assert list(table.index) == ["ensemble"]
    assert table.loc["ensemble", "gap_score"] > 3
    assert table.loc["ensemble", "width_gap"] > table.loc["ensemble", "width_near"]

"""Distance to the reference and the width ratio, against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bnn.evaluation.reference import distance_to_reference, gaussian_w2, width_ratio


def _table(x: np.ndarray, mean: np.ndarray, std: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"x": x, "mean": mean, "epistemic_std": std})


def test_w2_of_gaussians_in_closed_form() -> None:
    # W2 between N(0, 1) and N(3, 5^2): sqrt(3^2 + 4^2) = 5; equal Gaussians are 0 apart
    assert gaussian_w2(0.0, 1.0, 3.0, 5.0) == pytest.approx(5.0)
    assert gaussian_w2([1.0, 2.0], [0.5, 0.5], [1.0, 2.0], [0.5, 0.5]).tolist() == [0.0, 0.0]
    # against the quantile coupling it is the optimum of: W2^2 = int_0^1 (F^-1(u) - G^-1(u))^2 du
    from scipy.stats import norm

    u = (np.arange(200_000) + 0.5) / 200_000
    numeric = np.sqrt(np.mean((norm.ppf(u, 0.3, 1.2) - norm.ppf(u, -1.0, 0.4)) ** 2))
    assert gaussian_w2(0.3, 1.2, -1.0, 0.4) == pytest.approx(numeric, rel=1e-3)  # midpoint rule error


def test_distance_is_zero_for_the_reference_and_scales_with_its_spread() -> None:
    x = np.linspace(-1, 1, 5)
    ref = _table(x, np.zeros(5), np.full(5, 2.0))
    assert distance_to_reference(ref, ref) == 0.0
    # the mean off by 2 everywhere, the std right: W2 = 2 everywhere, over the reference's std 2
    assert distance_to_reference(_table(x, np.full(5, 2.0), np.full(5, 2.0)), ref) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same grid"):
        distance_to_reference(_table(x + 1, np.zeros(5), np.ones(5)), ref)


def test_width_ratio_reads_only_the_gaps_and_beyond() -> None:
    x_train = np.array([-3.0, -2.5, -2.0, 2.0, 2.5, 3.0])  # two clusters, a gap (-2, 2)
    x = np.linspace(-5, 5, 101)
    near = np.abs(x[:, None] - x_train[None]).min(axis=1) <= 0.25
    method = _table(x, np.zeros_like(x), np.where(near, 0.1, 0.5))
    reference = _table(x, np.zeros_like(x), np.where(near, 0.1, 5.0))
    assert width_ratio(method, reference, x_train) == pytest.approx(10.0)
    # no input away from the data: no ratio
    inside = np.linspace(-2.1, -1.9, 5)
    flat = _table(inside, np.zeros(5), np.ones(5))
    assert np.isnan(width_ratio(flat, flat, np.array([-2.1, -2.0, -1.9])))

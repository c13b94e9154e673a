"""Oracle: Bayesian linear regression (hidden=()) with known noise.

With a Gaussian prior N(0, s^2 I) and Gaussian noise sigma, the posterior over
(w, b) is Gaussian with precision Lambda = I/s^2 + X~^T X~ / sigma^2 (X~ = [X, 1]) and mean
Lambda^-1 X~^T y / sigma^2. The best fully factorised Gaussian (the mean-field optimum of
the ELBO) has exactly that mean and variances 1/Lambda_ii (Bishop 2006, section 10.1.2), so
the trained mu and softplus(rho)^2 must land there, and the epistemic std of f at x* must be
sqrt(sum_i x~*_i^2 / Lambda_ii).
"""

from __future__ import annotations

import numpy as np
import pytest

import bnn


@pytest.fixture(scope="module")
def problem() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    n, noise, prior = 20, 0.3, 1.0
    x = rng.uniform(-2, 2, (n, 2))
    y = x @ np.array([1.5, -0.7]) - 0.5 + noise * rng.standard_normal(n)
    design = np.hstack([x, np.ones((n, 1))])
    precision = np.eye(3) / prior**2 + design.T @ design / noise**2
    mean = np.linalg.solve(precision, design.T @ y / noise**2)
    config = bnn.Config(hidden=(), prior_sigma=prior, noise_sigma=noise, lr=0.003, epochs=5000,
                        train_samples=1024, init="scaled", seed=1)
    fitted = bnn.fit(x, y, config)
    return {"x": x, "mean": mean, "var": 1 / np.diag(precision), "fitted": fitted}


def test_means_and_variances_reach_the_mean_field_optimum(problem: dict) -> None:
    q = problem["fitted"].model.posterior
    mu, var = q.mu.detach().double().numpy(), q.sigma.detach().double().numpy() ** 2  # order: w0, w1, b
    # Adam with a fixed lr leaves stationary noise around the optimum; with 1024 samples a
    # step and lr 0.003 it was measured at < 0.02 posterior stds for the means and < 1 % for the
    # variances across seeds; the bounds below are 5x that, far below any real bias.
    np.testing.assert_array_less(np.abs(mu - problem["mean"]) / np.sqrt(problem["var"]), 0.1)
    np.testing.assert_allclose(var, problem["var"], rtol=0.05)


def test_epistemic_std_matches_the_mean_field_value(problem: dict) -> None:
    x_new = np.array([[0.0, 0.0], [2.0, -1.0], [-3.0, 4.0]])
    table = bnn.predict(problem["fitted"], x_new, samples=10_000, level=0.9)
    design = np.hstack([x_new, np.ones((3, 1))])
    expected = np.sqrt(design**2 @ problem["var"])
    # 10,000 draws estimate a std to ~0.7 %; 5 % also covers the optimiser's 1 % noise.
    np.testing.assert_allclose(table["epistemic_std"], expected, rtol=0.05)
    # The mean: 1 % of a std of Monte Carlo error plus the parameters' < 0.02 std noise.
    np.testing.assert_array_less(np.abs(table["mean"] - design @ problem["mean"]), 0.1 * expected)
    assert list(table.columns[:2]) == ["x0", "x1"]
    np.testing.assert_allclose(table["aleatoric_std"], 0.3, rtol=1e-6)
    np.testing.assert_allclose(table["std"], np.sqrt(table["epistemic_std"] ** 2 + 0.3**2))

"""Exact GP regression against closed forms computed here in numpy.

Oracles: the posterior of f at test inputs (Rasmussen & Williams 2006, eq. 2.25-2.26) and the
log marginal likelihood (eq. 2.30) written out independently with numpy's solve and slogdet; the
marginal-likelihood optimum found by scipy's L-BFGS-B on that formula.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import optimize

import bnn
from bnn.methods import fit_method, gp
from bnn.methods.base import prepare
from bnn.predict import SUMMARY_COLUMNS

REPO = Path(__file__).resolve().parents[3]


def kernel(a: np.ndarray, b: np.ndarray, signal: float, lengthscale: float) -> np.ndarray:
    return signal**2 * np.exp(-0.5 * ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / lengthscale**2)


def standardised(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = x.reshape(len(x), -1)
    return (x - x.mean(0)) / x.std(0), (y - y.mean()) / y.std()


def log_ml(x: np.ndarray, y: np.ndarray, signal: float, lengthscale: float, noise: float) -> float:
    cov = kernel(x, x, signal, lengthscale) + noise**2 * np.eye(len(y))
    return -0.5 * (y @ np.linalg.solve(cov, y) + np.linalg.slogdet(cov)[1] + len(y) * np.log(2 * np.pi))


@pytest.fixture(scope="module")
def wave():
    rng = np.random.default_rng(0)
    x = np.sort(rng.uniform(-3, 3, 15))
    return x, np.sin(2 * x) + 0.5 * x + 0.2 * rng.standard_normal(15)


@pytest.fixture(scope="module")
def fitted(wave):
    return fit_method("gp", *wave, bnn.Config(learn_noise=True, seed=4))


def test_posterior_is_the_closed_form_gp_posterior(wave, fitted):
    x, y = wave
    xs, ys = standardised(x, y)
    x_new = np.array([-5.0, -1.3, 0.0, 0.2, 2.9, 6.0])
    xn = (x_new[:, None] - x.mean()) / x.std()
    s, ell, noise = fitted.signal, fitted.lengthscale, fitted.noise_sigma_model
    k_inv = np.linalg.inv(kernel(xs, xs, s, ell) + noise**2 * np.eye(len(x)))
    cross = kernel(xs, xn, s, ell)
    mean = cross.T @ k_inv @ ys * y.std() + y.mean()
    cov = (kernel(xn, xn, s, ell) - cross.T @ k_inv @ cross) * y.std() ** 2
    ours_mean, ours_cov = fitted.posterior(x_new)
    # Exact formulas both; the fit's 1e-8 signal^2 jitter against a noise^2 of ~3e-2 moves them by ~1e-6
    np.testing.assert_allclose(ours_mean, mean, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ours_cov, cov, rtol=1e-5, atol=1e-5 * cov.max())
    # The draws have that mean and covariance: 10,000 joint draws, so the sample std's relative
    # sd is 1/sqrt(2 S) = 0.7 %, the mean's error sd is std/100 and a correlation's sd is at most
    # 1/sqrt(S) = 0.01; bounds at 5 sd
    f = fitted.sample_functions(x_new, samples=10_000, seed=0)
    std = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(f.std(axis=0), std, rtol=0.035)
    np.testing.assert_array_less(np.abs(f.mean(axis=0) - mean), 5 * std / 100)
    np.testing.assert_allclose(np.corrcoef(f.T)[1, 2], cov[1, 2] / (std[1] * std[2]), atol=0.05)


def test_marginal_likelihood_optimum_matches_scipy_and_beats_every_start(wave, fitted):
    x, y = wave
    xs, ys = standardised(x, y)
    data = prepare(x, y, bnn.Config(standardize=True), dtype=torch.float64)
    for start in gp.starts(data.x, data.noise_sigma, 3):
        assert fitted.log_marginal_likelihood >= log_ml(xs, ys, *start)
    results = [optimize.minimize(lambda v: -log_ml(xs, ys, *np.exp(v)), np.log(start), method="L-BFGS-B",
                                 bounds=list(zip(gp.LOW, gp.HIGH)), options={"ftol": 1e-14, "gtol": 1e-10})
               for start in ([1.0, 1.0, 0.3], [1.0, 0.3, 0.1], [2.0, 3.0, 0.5])]
    best = min(results, key=lambda r: r.fun)
    # the same maximum of a smooth function; the hyperparameters within the flatness of its top
    np.testing.assert_allclose(fitted.log_marginal_likelihood, -best.fun, atol=1e-6)
    np.testing.assert_allclose([fitted.signal, fitted.lengthscale, fitted.noise_sigma_model], np.exp(best.x),
                               rtol=1e-3)
    np.testing.assert_allclose(fitted.log_marginal_likelihood, log_ml(xs, ys, fitted.signal, fitted.lengthscale,
                                                                      fitted.noise_sigma_model), atol=1e-6)


def test_same_seed_same_table_other_seed_other_draws(wave, fitted):
    x, y = wave
    grid = np.linspace(-4, 4, 9)
    again = fit_method("gp", x, y, bnn.Config(learn_noise=True, seed=4))
    pd.testing.assert_frame_equal(again.predict(grid, samples=30), fitted.predict(grid, samples=30))
    other = fit_method("gp", x, y, bnn.Config(learn_noise=True, seed=5))
    assert other.lengthscale == fitted.lengthscale  # the fit is deterministic; the seed is the draws'
    assert not np.allclose(other.sample_functions(grid, 30), fitted.sample_functions(grid, 30))
    assert list(fitted.predict(grid).columns) == ["x", *SUMMARY_COLUMNS]


def test_fixed_noise_and_lengthscale_are_kept(wave):
    x, y = wave
    fixed = fit_method("gp", x, y, bnn.Config(noise_sigma=0.3), {"lengthscale": 0.5})
    assert fixed.noise_sigma == pytest.approx(0.3, rel=1e-12) and fixed.lengthscale == 0.5
    np.testing.assert_allclose(fixed.predict([0.0])["aleatoric_std"], 0.3)
    with pytest.raises(bnn.ConfigError, match="lengthscale must be in"):
        gp.GPConfig(lengthscale=0.0)


def test_more_points_than_the_limit_are_refused():
    x = np.linspace(0, 1, gp.MAX_POINTS + 1)
    with pytest.raises(bnn.ConfigError, match=f"at most {gp.MAX_POINTS:,} training points"):
        fit_method("gp", x, np.sin(x))


def test_python_m_bnn_fit_method_gp(tmp_path):
    out = tmp_path / "gp.csv"
    done = subprocess.run([sys.executable, "-m", "bnn", "fit", "--method", "gp", "--grid", "-3:3:7", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out)
    assert list(table.columns) == ["x", *SUMMARY_COLUMNS] and len(table) == 7
    assert "GP (RBF)" in done.stderr and "lengthscale" in done.stderr


def test_uci_protocol_runs_the_gp():
    from bnn.evaluation.uci_protocol import Protocol, method_settings, run_split

    rng = np.random.default_rng(0)
    x = rng.standard_normal((120, 3))
    y = 2.0 * x[:, 0] - x[:, 1] + 0.3 * rng.standard_normal(120)
    config = Protocol(steps=600).config(10, y[:100], split=0)
    assert method_settings("gp", config) == {}
    result = run_split(x[:100], y[:100], x[100:], y[100:], config, predict_samples=50, method="gp")
    # a linear target with noise 0.3 (target std ~2.2): a smooth GP with a long lengthscale fits it
    assert result.scores.rmse < 0.6 and 0.2 < result.noise_sigma < 0.45

"""The Laplace approximation's prior and noise tuned by the evidence of the linearised network.

Oracles: for Bayesian linear regression (hidden=()) the linearised model is the model, so the
tuned prior and noise are the maximiser of the closed-form evidence log N(y; 0, prior^2 Phi Phi^T
+ noise^2 I), found here by scipy's Nelder-Mead on that formula, and the tuned covariance is the
closed-form posterior's at the tuned values; for a network, the weight-space evidence equals the
same N x N formula with J in place of Phi.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from oracles import blr_posterior
from scipy import optimize, stats

import bnn
from bnn import toys
from bnn.methods import evidence, fit_method, laplace


def blr_log_evidence(x: np.ndarray, y: np.ndarray, prior: float, noise: float) -> float:
    """log N(y; 0, prior^2 Phi Phi^T + noise^2 I), Phi = [x, 1] (Bishop 2006, eq. 3.86)."""
    phi = np.stack([x, np.ones_like(x)], axis=1)
    cov = prior**2 * phi @ phi.T + noise**2 * np.eye(len(x))
    return -0.5 * (len(x) * np.log(2 * np.pi) + np.linalg.slogdet(cov)[1] + y @ np.linalg.solve(cov, y))


@pytest.fixture(scope="module")
def line():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, 20)
    return x, 0.7 * x - 0.3 + 0.5 * rng.standard_normal(20)


def test_tuned_prior_and_noise_are_the_closed_form_evidence_maximiser(line):
    x, y = line
    # the linearised model of a linear model is itself, whatever the MAP: a short fit will do
    config = bnn.Config(hidden=(), noise_sigma=0.5, prior_sigma=2.0, learn_noise=True)
    fitted = fit_method("laplace", x, y, config, {"epochs": 200})
    best = min((optimize.minimize(lambda v: -blr_log_evidence(x, y, *np.exp(v)), start, method="Nelder-Mead",
                                  options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 4000})
                for start in ([0.0, 0.0], [2.0, -2.0])), key=lambda r: r.fun)
    prior, noise = np.exp(best.x)
    assert 0.1 < prior < 10 and 0.1 < noise < 5  # an interior optimum, far from the search's bounds
    # Both optimisers stop where the gradient is ~1e-9 on a smooth, locally quadratic surface of
    # curvature O(N): the hyperparameters agree to ~1e-6; 1e-4 leaves room for Nelder-Mead's simplex
    np.testing.assert_allclose([fitted.prior_sigma_model, fitted.noise_sigma], [prior, noise], rtol=1e-4)
    np.testing.assert_allclose(fitted.log_evidence, -best.fun, rtol=1e-9)  # the same number at the same point
    # ... and H is the closed-form posterior precision at the tuned values (GGN = Hessian here)
    _, cov = blr_posterior(x, y, fitted.noise_sigma, fitted.prior_sigma_model)
    np.testing.assert_allclose(fitted.covariance().numpy(), cov, rtol=1e-9)


def test_weight_space_evidence_equals_the_function_space_formula(article_points):
    # Woodbury and the determinant lemma with K = 97 weights > N = 6 points, a random J and t
    g = torch.Generator().manual_seed(0)
    jac = torch.randn((6, 97), generator=g, dtype=torch.float64)
    t = torch.randn(6, generator=g, dtype=torch.float64)
    data = evidence.LinearisedData.of(jac, t)
    for prior, noise in [(10.0, 0.1), (0.7, 3.0), (1e-2, 1e-3)]:
        cov = prior**2 * jac @ jac.T + noise**2 * torch.eye(6, dtype=torch.float64)
        direct = stats.multivariate_normal(np.zeros(6), cov.numpy()).logpdf(t.numpy())
        ours = float(evidence.log_evidence(data, np.log(prior), np.log(noise)))
        np.testing.assert_allclose(ours, direct, rtol=1e-9)  # float64 round-off of two exact formulas


@pytest.fixture(scope="module")
def gap_fits():
    x, y = toys.get("gap").default_points()
    config = bnn.Config(hidden=(8,), activation="tanh")
    return {(tune, learn): fit_method("laplace", x, y, config.replace(learn_noise=learn),
                                      {"epochs": 300, "tune": tune})
            for tune in ("none", "evidence") for learn in (False, True)}


@pytest.mark.parametrize("learn_noise", [False, True])
def test_tuned_evidence_beats_the_untuned_on_the_same_map(gap_fits, learn_noise):
    untuned, tuned = gap_fits["none", learn_noise], gap_fits["evidence", learn_noise]
    torch.testing.assert_close(tuned.w_map, untuned.w_map, rtol=0, atol=0)  # one seed, one MAP
    assert untuned.prior_sigma_model == 10.0  # the config's, as trained
    assert untuned.log_evidence < tuned.log_evidence
    assert tuned.diagnostics() == {"prior sigma": tuned.prior_sigma_model, "noise sigma": tuned.noise_sigma,
                                   "log evidence": tuned.log_evidence}
    if learn_noise:  # the evidence picks the noise, near the toy's 0.1
        assert tuned.noise_sigma != untuned.noise_sigma and 0.05 < tuned.noise_sigma < 0.2
    else:  # a fixed noise is the user's and is kept
        assert tuned.noise_sigma == untuned.noise_sigma == 0.1


def test_the_band_uses_the_tuned_noise(gap_fits):
    tuned = gap_fits["evidence", True]
    table = tuned.predict([-3.0, 0.0, 3.0], samples=50, seed=0)
    np.testing.assert_allclose(table["aleatoric_std"], tuned.noise_sigma)


def test_tune_must_be_a_known_value():
    assert laplace.LaplaceConfig().tune is laplace.Tune.EVIDENCE  # the tuned approximation is the default
    with pytest.raises(bnn.ConfigError, match="tune must be one of"):
        laplace.LaplaceConfig(tune="marglik")


def test_a_precision_that_round_off_makes_indefinite_is_factored_with_a_jitter():
    # naval's gap splits: an input column constant in the training rows leaves directions held by
    # 1 / prior^2 alone, far below float64's precision beside J^T J / noise^2 for a small tuned noise
    import torch

    from bnn.methods.laplace import factor

    generator = torch.Generator().manual_seed(0)
    jac = torch.randn((40, 6), generator=generator, dtype=torch.float64)
    jac[:, 2] = 0.0  # a weight the data never move
    jac[:, 4] = jac[:, 3] * (1 + 1e-17)  # and two the data move together, to round-off
    precision = jac.T @ jac / 1e-6**2 + torch.eye(6, dtype=torch.float64) / 10.0**2
    precision[3, 4] = precision[4, 3] = precision[3, 3] * (1 + 1e-15)  # indefinite by a rounding error
    assert int(torch.linalg.cholesky_ex(precision)[1]) != 0  # the plain factorisation fails
    chol = factor(precision)
    assert torch.isfinite(chol).all()
    rebuilt = chol @ chol.T
    assert torch.allclose(rebuilt, precision, rtol=1e-6, atol=1e-6 * float(precision.diagonal().mean()))
    # a precision that needs none is factored exactly as before
    well = jac[:, :2].T @ jac[:, :2] + torch.eye(2, dtype=torch.float64)
    assert torch.equal(factor(well), torch.linalg.cholesky(well))

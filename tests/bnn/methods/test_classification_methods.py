"""The methods for classification (likelihood="categorical"): oracles, then behaviour on moons.

Oracle: Bayesian logistic regression, ``hidden=()``, one input, K = 2 softmax outputs, ten
points. The likelihood sees only d = W_1 - W_0 and c = b_1 - b_0; under the N(0, s^2) prior on
all four weights they are independent N(0, 2 s^2) a priori, and the orthogonal directions
W_1 + W_0 and b_1 + b_0 keep their prior. So the exact posterior predictive
p(1 | x) = E[sigmoid(d x + c)] is a 2-D integral, done here by quadrature on a grid, and the
Laplace approximation of the four weights marginalises exactly to the 2-D Laplace approximation
of (d, c) (Newton's method here, written independently of bnn). The gradients the methods write
by hand (the MAP trainer's fast engine, the sampler's log-likelihood) are checked against autograd.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy.special import expit, log_expit

import bnn
from bnn import datasets2d
from bnn.errors import ConfigError, PointsError
from bnn.methods import fit_method, hmc, laplace, optimise
from bnn.methods.base import prepare
from bnn.methods.diagnostics import ess_bulk
from bnn.methods.likelihood import model_layout

X = np.array([-2.0, -1.5, -1.0, -0.6, -0.2, 0.2, 0.6, 1.0, 1.5, 2.0])
LABELS = np.array([0, 0, 1, 0, 0, 1, 1, 0, 1, 1])
PRIOR = 1.5  # prior std of each of the four weights
PRIOR_VAR = 2 * PRIOR**2  # of d and c
X_STAR = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0])
BLR = bnn.Config(likelihood="categorical", hidden=(), prior_sigma=PRIOR, seed=0)


def _newton() -> tuple[np.ndarray, np.ndarray]:
    """The MAP of (d, c) and the Hessian of -log posterior there (strictly convex: Newton converges)."""
    phi = np.stack([X, np.ones_like(X)], axis=1)
    theta = np.zeros(2)
    for _ in range(50):
        p = expit(phi @ theta)
        hess = (phi * (p * (1 - p))[:, None]).T @ phi + np.eye(2) / PRIOR_VAR
        theta = theta - np.linalg.solve(hess, phi.T @ (p - LABELS) + theta / PRIOR_VAR)
    p = expit(phi @ theta)
    return theta, (phi * (p * (1 - p))[:, None]).T @ phi + np.eye(2) / PRIOR_VAR


def _quadrature() -> tuple[np.ndarray, np.ndarray]:
    """The exact predictive p(1 | x*) and its std over the posterior, by an 801 x 801 grid of (d, c)
    at +-16 Laplace standard deviations around the MAP: the posterior is skewed, and there it is
    < e^-30 of its peak (checked)."""
    theta, hess = _newton()
    sd = np.sqrt(np.diag(np.linalg.inv(hess)))
    d = np.linspace(theta[0] - 16 * sd[0], theta[0] + 16 * sd[0], 801)
    c = np.linspace(theta[1] - 16 * sd[1], theta[1] + 16 * sd[1], 801)
    dd, cc = np.meshgrid(d, c, indexing="ij")
    sign = 2 * LABELS - 1
    log_post = log_expit(sign * (dd[..., None] * X + cc[..., None])).sum(-1) - (dd**2 + cc**2) / (2 * PRIOR_VAR)
    edge = np.concatenate([log_post[0], log_post[-1], log_post[:, 0], log_post[:, -1]])
    assert edge.max() < log_post.max() - 30  # the grid holds the whole posterior
    weights = np.exp(log_post - log_post.max())
    weights /= weights.sum()
    p = expit(dd[..., None] * X_STAR + cc[..., None])  # (801, 801, X*)
    mean = (weights[..., None] * p).sum(axis=(0, 1))
    return mean, np.sqrt((weights[..., None] * (p - mean) ** 2).sum(axis=(0, 1)))


def _laplace_oracle() -> tuple[np.ndarray, np.ndarray]:
    """The Laplace approximation's GLM predictive p(1 | x*) (1-D Gauss-Hermite over d x* + c, exact
    to ~1e-12), and its multiclass probit: each of the two logits has mean +-m/2 and variance
    (v + 2 s^2 (x*^2 + 1)) / 4, the second term from the direction the likelihood does not see."""
    theta, hess = _newton()
    cov = np.linalg.inv(hess)
    phi = np.stack([X_STAR, np.ones_like(X_STAR)], axis=1)
    m, v = phi @ theta, np.einsum("ni,ij,nj->n", phi, cov, phi)
    nodes, gh_weights = np.polynomial.hermite_e.hermegauss(80)
    glm = (gh_weights * expit(m[:, None] + np.sqrt(v)[:, None] * nodes)).sum(1) / gh_weights.sum()
    var_k = (v + 2 * PRIOR**2 * (X_STAR**2 + 1)) / 4
    return glm, expit(m / np.sqrt(1 + np.pi / 8 * var_k))


@pytest.fixture(scope="module")
def quadrature() -> tuple[np.ndarray, np.ndarray]:
    return _quadrature()


def test_hmc_matches_the_quadrature_posterior_predictive(quadrature) -> None:
    # Plain HMC on 4 weights (two temperatures: the ladder code runs too). The error allowed is
    # 4 Monte Carlo standard errors, sd_s(p) / sqrt(bulk ESS of p), both from the run itself at each
    # x* (a 4-sigma bound fails by chance ~6e-5 of the time per point), plus 0.002 for the
    # quadrature and the ESS estimate's own error.
    fitted = fit_method("hmc", X, LABELS, BLR, {"chains": 8, "temperatures": 2, "warmup": 300, "draws": 400,
                                                "thin": 2, "steps": 10})
    pool = fitted.pooled().shape[0]
    table = fitted.predict(X_STAR, samples=pool)  # every kept state once
    exact, _ = quadrature
    c, d = fitted.samples.shape[:2]
    probs = fitted.sample_probabilities(X_STAR, samples=pool)[..., 1]  # (S, X*)
    chains = torch.softmax(fitted.layout.forward(torch.as_tensor(X_STAR[:, None]), fitted.pooled()), -1)[..., 1]
    ess = np.array([ess_bulk(chains[:, k].reshape(c, d).numpy()) for k in range(len(X_STAR))])
    tol = 4 * probs.std(axis=0) / np.sqrt(ess) + 0.002
    assert np.all(np.abs(table["p1"].to_numpy() - exact) < tol), (table["p1"].to_numpy(), exact, tol)
    assert fitted.certified, fitted.certificate().line()  # the centred logits converged too


def test_laplace_matches_an_independent_laplace_and_nearly_the_quadrature(quadrature) -> None:
    # The MAP by the trainer's Adam, converged: (d, c) within 1e-6 of Newton's (measured 1e-9).
    settings = {"tune": "none", "epochs": 3000, "lr": 0.05}
    fitted = fit_method("laplace", X, LABELS, BLR, settings)
    w = fitted.w_map.numpy()  # the flat (in, out) block then the bias: [W_0, W_1, b_0, b_1]
    theta, _ = _newton()
    np.testing.assert_allclose([w[1] - w[0], w[3] - w[2]], theta, atol=1e-6)
    glm, probit = _laplace_oracle()
    # MC form: 10,000 independent draws, so 4 standard errors sd_s(p) / sqrt(10,000) (0.006-0.008;
    # measured errors <= 0.0031), plus 0.001 for the MAP's remaining error
    samples = 10_000
    probs = fitted.sample_probabilities(X_STAR, samples=samples)[..., 1]
    table = fitted.predict(X_STAR, samples=samples)
    tol = 4 * probs.std(axis=0) / np.sqrt(samples) + 1e-3
    assert np.all(np.abs(table["p1"].to_numpy() - glm) < tol)
    # probit: deterministic, so only the MAP's error (measured 2e-10; bound 1e-6)
    probit_fit = fit_method("laplace", X, LABELS, BLR, {**settings, "predictive": "probit"})
    got = probit_fit.predict(X_STAR, samples=200)
    np.testing.assert_allclose(got["p1"].to_numpy(), probit, atol=1e-6)
    np.testing.assert_allclose(got["entropy"], got["aleatoric"] + got["epistemic"], atol=1e-12)
    assert (got["epistemic"] >= 0).all()
    # Against the exact predictive, the Laplace approximation's own error (10 points: the posterior
    # is skewed, the Gaussian too narrow on its long side): measured max 0.047 for the MC form; bound
    # 0.08. The probit is further (0.137 at x* = +-3): with two softmax outputs each logit's variance
    # carries the prior-only direction W_1 + W_0, which the softmax ignores (docs/classification.md).
    exact, _ = quadrature
    assert np.abs(table["p1"].to_numpy() - exact).max() < 0.08


def test_laplace_tunes_the_prior_of_a_classifier_by_its_evidence() -> None:
    fitted = fit_method("laplace", X, LABELS, BLR, {"epochs": 1000, "lr": 0.05})
    assert fitted.prior_sigma_model != PRIOR and np.isfinite(fitted.log_evidence)
    untuned = fit_method("laplace", X, LABELS, BLR, {"epochs": 1000, "lr": 0.05, "tune": "none"})
    assert fitted.log_evidence >= untuned.log_evidence - 1e-9  # the start is a candidate
    assert np.isnan(fitted.noise_sigma)  # a classifier has no noise std


def test_the_softmax_ggn_is_the_sum_of_per_point_hessians() -> None:
    gen = torch.Generator().manual_seed(0)
    jac = torch.randn((7, 3, 5), generator=gen, dtype=torch.float64)
    probs = torch.softmax(torch.randn((7, 3), generator=gen, dtype=torch.float64), -1)
    want = sum(j.T @ (torch.diag(p) - torch.outer(p, p)) @ j for j, p in zip(jac, probs))
    torch.testing.assert_close(laplace.softmax_ggn(jac, probs), want, rtol=0, atol=1e-12)


def _labelled(dim: int, classes: int, n: int = 12):
    rng = np.random.default_rng(dim + classes)
    x = rng.uniform(-2, 2, (n, dim))
    labels = np.arange(n) % classes
    return x, labels, bnn.Config(likelihood="categorical", classes=classes)


def test_the_fast_map_gradient_of_a_classifier_equals_autograds() -> None:
    # float64: the same sums in another order (measured <= 1e-15 of the largest entry); bound 1e-10
    for hidden, act, classes, decay in itertools.product([(), (6,), (5, 4)], ["sigmoid", "tanh", "relu"], [2, 3],
                                                          [0.05, "per-weight"]):
        x, labels, config = _labelled(2, classes)
        data = prepare(x, labels, config, dtype=torch.float64)
        layout = model_layout(2, config.replace(hidden=hidden, activation=act))
        wd = torch.linspace(0.01, 0.2, layout.size) if decay == "per-weight" else decay
        w0 = torch.randn((3, layout.size), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
        trainer = optimise.FastTrainer(layout, w0, data, weight_decay=wd, lr=0.01, batch_size=None,
                                       learn_noise=False)
        trainer.gradient(None, data.n)
        w = w0.clone().requires_grad_(True)
        idx = torch.arange(data.n).expand(3, data.n)
        nll = optimise.layer_nll(layout, categorical=True)(w, data.x[idx], data.y[idx], torch.tensor(1.0))
        (nll + 0.5 * (wd * w * w).sum(dim=1)).sum().backward()
        got = trainer.grad[:-1].view_as(w)
        assert (got - w.grad).abs().max() <= 1e-10 * w.grad.abs().max(), (hidden, act, classes, decay)


def test_a_classifier_trains_by_the_fast_engine_and_autograd_alike() -> None:
    x, labels, config = _labelled(2, 3, n=30)
    config = config.replace(hidden=(6,), activation="tanh")
    data = prepare(x, labels, config, dtype=torch.float64)
    layout = model_layout(2, config)
    w0 = torch.randn((2, layout.size), generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    kwargs = dict(weight_decay=0.01, epochs=60, lr=0.02, batch_size=None, learn_noise=False, method="t")
    runs = {e: optimise.train(w0, data, optimise.layer_nll(layout, categorical=True), engine=e,
                              generator=torch.Generator(), **kwargs) for e in ("fast", "autograd")}
    assert runs["fast"].engine == "fast"
    # 60 Adam steps from the same start: measured 1e-14 apart; the losses reported agree too
    torch.testing.assert_close(runs["fast"].weights, runs["autograd"].weights, rtol=0, atol=1e-9)
    np.testing.assert_allclose(runs["fast"].history["loss"], runs["autograd"].history["loss"], rtol=1e-9)
    # minibatches of a classifier go to autograd, saying why
    mini = optimise.train(w0, data, optimise.layer_nll(layout, categorical=True), generator=torch.Generator(),
                          **{**kwargs, "batch_size": 8, "epochs": 2})
    assert mini.engine.startswith("autograd: a classifier on minibatches")


def test_the_samplers_fast_log_likelihood_equals_autograds() -> None:
    x, labels, config = _labelled(2, 3)
    data = prepare(x, labels, config.replace(hidden=(5,)), dtype=torch.float64)
    layout = model_layout(2, config.replace(hidden=(5,)))
    w = torch.randn((4, layout.size), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    fast_ll, fast_grad = hmc.log_likelihood(layout, data, chains=4)(w)
    auto_ll, auto_grad = hmc.log_likelihood(layout, data)(w)
    torch.testing.assert_close(fast_ll, auto_ll, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fast_grad, auto_grad, rtol=1e-10, atol=1e-12)


def test_refusals() -> None:
    with pytest.raises(ConfigError, match="gp: .*categorical"):
        fit_method("gp", X, LABELS, BLR)
    with pytest.raises(ConfigError, match="probit.*categorical"):
        fit_method("laplace", X, X**2, bnn.Config(hidden=()), {"predictive": "probit", "epochs": 1})


# Behaviour on moons: small nets and short runs (each fit ~0.1-3 s on one core), N(0, 1) prior, ReLU.
MOONS = bnn.Config(likelihood="categorical", hidden=(16,), activation="relu", prior_sigma=1.0, seed=0)
SETTINGS = {
    "bbb": ({"init": "scaled", "lr": 0.02, "epochs": 600}, {}),
    # two layers: with one, the five members' linear ReLU extrapolations agreed at (+-6, +-6) (0.005 nats)
    "ensemble": ({"hidden": (16, 16)}, {"members": 5, "epochs": 500, "lr": 0.02}),
    "dropout": ({}, {"epochs": 300, "lr": 0.03}),
    "laplace": ({}, {"epochs": 500, "lr": 0.02}),
    "hmc": ({}, {"chains": 4, "temperatures": 4, "warmup": 150, "draws": 100, "thin": 1, "steps": 10}),
    # the full Cholesky factor (1,378 numbers here) reached 0.85-0.91 in 500-600 epochs; rank 5: 0.99
    "fullcov": ({}, {"rank": 5, "epochs": 500, "lr": 0.02, "train_samples": 4}),
}
FAR = np.array([[6.0, 6.0], [-6.0, 6.0], [6.0, -6.0], [-6.0, -6.0]])


@pytest.fixture(scope="module")
def moons():
    x, labels = datasets2d.moons(300, noise=0.1, seed=0)
    x_test, labels_test = datasets2d.moons(300, noise=0.1, seed=1)
    return x, labels, x_test, labels_test


@pytest.fixture(scope="module")
def moon_fits(moons):
    x, labels = moons[:2]
    return {name: fit_method(name, x, labels, MOONS.replace(**model), settings)
            for name, (model, settings) in SETTINGS.items()}


@pytest.mark.parametrize("name", list(SETTINGS))
def test_every_method_classifies_the_moons(name, moons, moon_fits) -> None:
    # measured 0.980-0.997 on a fresh 300 points over seeds 0-2 (docs/classification.md); bound 0.9
    x, _, x_test, labels_test = moons
    fitted = moon_fits[name]
    table = bnn.predict(fitted, x_test, samples=100, seed=1)
    assert (table["label"].to_numpy() == labels_test).mean() >= 0.9
    assert fitted.config.classes == 2 and np.isnan(fitted.noise_sigma)
    probs = fitted.sample_probabilities(x_test[:5], samples=7)
    assert probs.shape == (7, 5, 2) and np.allclose(probs.sum(-1), 1)
    np.testing.assert_allclose(table["entropy"], table["aleatoric"] + table["epistemic"], atol=1e-12)


@pytest.mark.parametrize("name", ["ensemble", "hmc"])
def test_epistemic_uncertainty_grows_away_from_the_moons(name, moons, moon_fits) -> None:
    # measured mean epistemic (nats) at the training points / at (+-6, +-6): ensemble 0.0001 / 0.08,
    # hmc 0.010 / 0.21 (seeds 0-2: ensemble far 0.047-0.080, hmc 0.21-0.26); bound: far > 3x the
    # data's and > 0.03
    x = moons[0]
    at_data = bnn.predict(moon_fits[name], x, samples=100)["epistemic"].mean()
    far = bnn.predict(moon_fits[name], FAR, samples=100)["epistemic"].mean()
    assert far > 3 * at_data and far > 0.03, (at_data, far)


def test_laplace_probit_table_on_the_moons(moons, moon_fits) -> None:
    x, labels, x_test, labels_test = moons
    fitted = fit_method("laplace", x, labels, MOONS, {**SETTINGS["laplace"][1], "predictive": "probit"})
    table = bnn.predict(fitted, x_test, samples=50)
    assert (table["label"].to_numpy() == labels_test).mean() >= 0.9
    np.testing.assert_allclose(table[["p0", "p1"]].sum(axis=1), 1.0)
    assert (table["epistemic"] >= 0).all()


TINY = {"bbb": {}, "ensemble": {"members": 2, "epochs": 5, "batch_size": 7},
        "dropout": {"epochs": 5, "batch_size": 7}, "laplace": {"epochs": 5, "subset": "last_layer"},
        "hmc": {"chains": 2, "temperatures": 2, "warmup": 4, "draws": 4, "steps": 2},
        "fullcov": {"epochs": 3, "batch_size": 7, "train_samples": 2}}


@pytest.mark.parametrize("name", list(TINY))
def test_three_classes_three_inputs_minibatches_and_standardised_inputs(name) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)) * [1.0, 10.0, 100.0]
    labels = np.arange(20) % 3
    config = bnn.Config(likelihood="categorical", hidden=(4,), standardize=True, epochs=5, batch_size=7)
    fitted = fit_method(name, x, labels, config, TINY[name])
    assert fitted.config.classes == 3
    table = bnn.predict(fitted, x[:4], samples=6)
    assert list(table.columns[:6]) == ["x0", "x1", "x2", "p0", "p1", "p2"]
    np.testing.assert_allclose(table[["p0", "p1", "p2"]].sum(axis=1), 1.0)
    assert fitted.sample_probabilities(x[:4], samples=6).shape == (6, 4, 3)
    with pytest.raises(PointsError, match="0..2"):  # a label outside the fitted K
        fit_method(name, x, labels + 1, config.replace(classes=3), TINY[name])

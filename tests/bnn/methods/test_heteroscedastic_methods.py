"""A heteroscedastic noise in the inference methods: the hand-written gradients against autograd, the
refusals, the draws' shape, and what each supporting method learns of sigma(x).

Oracles: autograd on the MAP trainer's objective (the fast engine's gradient and whole fits),
autograd and torch.distributions.Normal for the sampler's log likelihood, and the known
sigma(x) = 0.1 + 0.2|x| of synthetic data, as tests/bnn/test_heteroscedastic.py uses for Bayes-by-Backprop.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from oracles import heteroscedastic_data as synthetic
from oracles import heteroscedastic_sigma as true_sigma

import bnn
from bnn.errors import ConfigError
from bnn.methods import fit_method, hmc, likelihood, optimise
from bnn.methods.base import prepare

HETERO = bnn.Config(noise="heteroscedastic", noise_sigma=0.4)


def _problem(dim: int, dtype: torch.dtype, hidden: tuple[int, ...] = (6,), act: str = "tanh", n: int = 12):
    rng = np.random.default_rng(dim)
    x = rng.uniform(-2, 2, (n, dim))
    y = np.sin(x.sum(axis=1)) + 0.3 * rng.standard_normal(n)
    config = HETERO.replace(hidden=hidden, activation=act)
    return prepare(x, y, config, dtype=dtype), likelihood.model_layout(dim, config)


# ---- the likelihood and its gradients ----------------------------------------------------
def test_the_likelihood_is_normal_with_a_std_per_point() -> None:
    gen = torch.Generator().manual_seed(0)
    out = torch.randn(3, 7, 2, generator=gen, dtype=torch.float64)
    y = torch.randn(7, generator=gen, dtype=torch.float64)
    sigma = bnn.noise.noise_std(out[..., 1], 0.4)
    log_p = torch.distributions.Normal(out[..., 0], sigma).log_prob(y)  # (3, 7)
    nll = likelihood.mean_nll(out, y, 0.4, categorical=False, heteroscedastic=True)
    torch.testing.assert_close(nll, -log_p.mean(dim=1), rtol=1e-14, atol=0)
    ll = likelihood.log_likelihood(out, y, 0.4, categorical=False, heteroscedastic=True)
    torch.testing.assert_close(ll, log_p.sum(dim=1) + 7 * 0.5 * np.log(2 * np.pi), rtol=1e-14, atol=0)
    assert likelihood.outputs(HETERO) == 2


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_fast_map_gradient_equals_autograds(dtype: torch.dtype) -> None:
    # float64: the same sums in another order (measured <= 1e-15 of the largest entry); bound 1e-10.
    # float32: sums of 12 x 6 products rounded at 6e-8, partly cancelling; bound 2e-5 (as
    # test_optimise_fast.py).
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    for hidden, act, dim, decay in itertools.product([(), (6,), (5, 4)], ["sigmoid", "tanh", "relu"], [1, 3],
                                                     ["float", "per-weight"]):
        data, layout = _problem(dim, dtype, hidden, act)
        wd = torch.linspace(0.01, 0.2, layout.size) if decay == "per-weight" else 0.05
        w0 = torch.randn((3, layout.size), generator=torch.Generator().manual_seed(1), dtype=dtype)
        trainer = optimise.FastTrainer(layout, w0, data, weight_decay=wd, lr=0.01, batch_size=None,
                                       learn_noise=False, heteroscedastic=True)
        trainer.gradient(None, data.n)
        w = w0.clone().requires_grad_(True)
        idx = torch.arange(data.n).expand(3, data.n)
        nll = optimise.layer_nll(layout, heteroscedastic=True)(w, data.x[idx], data.y[idx],
                                                               torch.tensor(data.noise_sigma, dtype=dtype))
        (nll + 0.5 * (wd * w * w).sum(dim=1)).sum().backward()
        got = trainer.grad[:-1].view_as(w)
        err = float((got - w.grad).abs().max() / w.grad.abs().max())
        assert err <= tol, (hidden, act, dim, decay, err)


def test_fast_and_autograd_fits_agree_and_minibatches_fall_back() -> None:
    data, layout = _problem(2, torch.float64, (8,), n=30)
    w0 = optimise.init_weights(layout, 3, torch.Generator().manual_seed(2)).double()
    kwargs = dict(weight_decay=0.01, epochs=60, lr=0.02, batch_size=None, learn_noise=False, method="t")
    nll = optimise.layer_nll(layout, heteroscedastic=True)
    runs = {e: optimise.train(w0, data, nll, engine=e, generator=torch.Generator(), **kwargs)
            for e in ("fast", "autograd")}
    assert runs["fast"].engine == "fast"
    # 60 Adam steps from the same start: measured ~1e-15 apart; the reported losses agree too
    torch.testing.assert_close(runs["fast"].weights, runs["autograd"].weights, rtol=0, atol=1e-9)
    np.testing.assert_allclose(runs["fast"].history["loss"], runs["autograd"].history["loss"], rtol=1e-9)
    mini = optimise.train(w0, data, nll, generator=torch.Generator(), **{**kwargs, "batch_size": 8, "epochs": 2})
    assert mini.engine == "autograd: a heteroscedastic noise on minibatches (each member its own) is not covered"


def test_the_samplers_fast_log_likelihood_equals_autograds() -> None:
    for hidden, act in [((), "tanh"), ((5,), "tanh"), ((4, 3), "relu")]:
        data, layout = _problem(2, torch.float64, hidden, act)
        w = torch.randn((4, layout.size), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
        fast_ll, fast_grad = hmc.log_likelihood(layout, data, chains=4, heteroscedastic=True)(w)
        auto_ll, auto_grad = hmc.log_likelihood(layout, data, heteroscedastic=True)(w)
        # the same float64 sums in another order: measured <= 1e-15 relative
        torch.testing.assert_close(fast_ll, auto_ll, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(fast_grad, auto_grad, rtol=1e-10, atol=1e-12)


# ---- which methods fit it -----------------------------------------------------------------
@pytest.mark.parametrize("name,why", [("laplace", "GGN"), ("gp", "one noise std")])
def test_the_methods_that_assume_one_noise_refuse(name: str, why: str) -> None:
    x, y = synthetic(20, 0)
    with pytest.raises(ConfigError, match=f"{name}: noise='heteroscedastic' is not supported: .*{why}"):
        fit_method(name, x, y, HETERO.replace(hidden=(4,)), {"epochs": 1} if name == "laplace" else None)


TINY = {
    "bbb": None,
    "ensemble": {"members": 3, "epochs": 5},
    "dropout": {"epochs": 5},
    "hmc": {"chains": 2, "temperatures": 2, "warmup": 0, "draws": 5, "steps": 2, "thin": 1},
    "fullcov": {"epochs": 5, "train_samples": 2},
}


@pytest.mark.parametrize("name", list(TINY))
def test_every_supporting_method_draws_the_mean_and_the_noise_head(name: str) -> None:
    x, y = synthetic(40, 1)
    fitted = fit_method(name, x, y, HETERO.replace(hidden=(6,), epochs=5, standardize=True), TINY[name])
    grid = np.linspace(-3, 3, 7)
    out = fitted.draw(fitted.scaling.x(fitted.checked_inputs(grid), fitted.dtype), 4, torch.Generator())
    assert out.shape == (4, 7, 2)
    assert np.isnan(fitted.noise_sigma)
    f, s = fitted.sample_functions(grid, samples=6, seed=1), fitted.sample_noise_std(grid, samples=6, seed=1)
    assert f.shape == s.shape == (6, 7) and np.all(s > 0)
    table = fitted.predict(grid, samples=6, seed=1)
    np.testing.assert_allclose(table["aleatoric_std"], np.sqrt((s**2).mean(0)), rtol=1e-12)


# ---- what each method learns (slow: a minute or more each on a shared two-core machine) ------------
LEARN = bnn.Config(hidden=(32,), activation="tanh", prior_sigma=1.0, noise_sigma=0.5, noise="heteroscedastic")
# Each method's settings, and the one-noise model it is compared with: a learned noise, except for HMC,
# which refuses one (it has no prior); there a fixed noise at the truth's RMS over [-3, 3],
# sqrt(E(0.1 + 0.2|x|)^2) = sqrt(0.19) = 0.436, the best one noise can do.
SETTINGS = {
    "ensemble": ({"members": 5, "epochs": 2000, "lr": 0.01}, {"noise": "learned"}),
    "dropout": ({"epochs": 2000, "lr": 0.01}, {"noise": "learned"}),
    # lr 0.01 with the Cholesky factor's slower steps (fullcov._groups); the default 0.1 drifts to a huge sigma
    "fullcov": ({"epochs": 1000, "lr": 0.01, "train_samples": 8}, {"noise": "learned"}),
    # a short run (4 chains, no tempering: not a certified reference, R-hat of f 1.8), enough for sigma(x)
    "hmc": ({"chains": 4, "temperatures": 1, "warmup": 300, "draws": 100, "thin": 1, "steps": 10},
            {"noise": "fixed", "noise_sigma": 0.436}),
}
_FITS: dict[str, tuple] = {}


def _fits(name: str) -> tuple:
    """(heteroscedastic fit, one-noise fit) of ``name`` on 1,000 points, each made once."""
    if name not in _FITS:
        x, y = synthetic(1000, 0)
        settings, one_noise = SETTINGS[name]
        hetero = LEARN.replace(**{k: v for k, v in one_noise.items() if k != "noise"})  # the same noise scale
        _FITS[name] = (fit_method(name, x, y, hetero, settings),
                       fit_method(name, x, y, LEARN.replace(**one_noise), settings))
    return _FITS[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SETTINGS))
def test_the_learned_noise_follows_the_truth(name: str) -> None:
    """Posterior mean of sigma(x) within 25 % of 0.1 + 0.2|x| at |x| in [0.75, 2.75] (away from the
    kink at 0, which a smooth tanh net cannot follow). Measured (seed 0), sigma / truth: ensemble
    0.92-1.04, dropout 0.97-1.15, fullcov 0.91-1.06, hmc 0.96-1.06. 25 %, not the engine test's 20 %:
    these are 1,000 points, not 2,000, the MAP methods' sigma is a point estimate of each member
    (biased low where a member overfits, up to ~P/N), MC dropout's is a mean over masks whose spread
    the noise head partly absorbs (its largest error, 15 %, is where f changes fastest), and HMC's is
    a short, uncertified run."""
    grid = np.concatenate([np.linspace(-2.75, -0.75, 5), np.linspace(0.75, 2.75, 5)])
    sigma = _fits(name)[0].sample_noise_std(grid, samples=200).mean(axis=0)
    ratio = sigma / true_sigma(grid)
    assert np.all(np.abs(ratio - 1) <= 0.25), ratio.round(3)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SETTINGS))
def test_the_y_interval_covers_better_than_one_noise(name: str) -> None:
    """95 % y-intervals on 600 fresh points per third of [-3, 3]: the heteroscedastic model's worst
    third is closer to 95 % than the one-noise model's worst, and so is the sum over thirds; each third
    lies in [90 %, 99.5 %]. Measured (seed 0), thirds left, middle, right:
    ensemble 96.3, 96.8, 94.2 % against 90.5, 99.8, 88.0 %; dropout 97.8, 99.2, 96.0 against 93.2, 100,
    91.3 (one noise is closer in the left third: dropout's mask spread adds to a sigma already near the
    truth, so it over-covers); fullcov 97.8, 97.3, 94.7 against 99.8, 100, 99.0 (its learned noise, 0.83,
    has not come down in 1,000 epochs); hmc 96.7, 97.2, 94.8 against 91.2, 100, 88.3 (the RMS noise)."""
    rng = np.random.default_rng(99)
    covered: list[list[float]] = [[], []]
    for low, high in ((-3, -1), (-1, 1), (1, 3)):
        x = rng.uniform(low, high, 600)
        y = np.sin(x) + true_sigma(x) * rng.standard_normal(600)
        for k, fitted in enumerate(_fits(name)):
            t = fitted.predict(x, samples=200)
            covered[k].append(float(((y >= t["lower"]) & (y <= t["upper"])).mean()))
    het, one = np.abs(np.array(covered) - 0.95)
    assert het.max() < one.max() and het.sum() < one.sum(), covered
    assert all(0.90 <= c <= 0.995 for c in covered[0]), covered

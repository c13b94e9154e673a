"""A heteroscedastic noise head: its NLL and gradients against oracles, the config's alias, and what it learns.

Oracles: torch.distributions.Normal with a std per point for the loss and its gradients; autograd on
bnn.loss.negative_elbo for the fast step; the known sigma(x) = 0.1 + 0.2|x| of synthetic data.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from oracles import heteroscedastic_data as synthetic
from oracles import heteroscedastic_sigma as true_sigma

import bnn
from bnn import noise
from bnn.errors import ConfigError
from bnn.loss import expected_heteroscedastic_nll
from bnn.train import prepare

HETERO = bnn.Config(noise="heteroscedastic")


# ---- the loss ---------------------------------------------------------------------------
def test_the_nll_and_its_gradients_are_normal_log_probs_with_a_std_per_point():
    gen = torch.Generator().manual_seed(0)
    f = torch.randn(3, 7, generator=gen, dtype=torch.float64, requires_grad=True)
    sigma = (torch.rand(3, 7, generator=gen, dtype=torch.float64) + 0.05).requires_grad_()
    y = torch.randn(7, generator=gen, dtype=torch.float64)
    ours = expected_heteroscedastic_nll(f, sigma, y, scale=2.5)
    oracle = -torch.distributions.Normal(f, sigma).log_prob(y).sum() * 2.5 / 3
    torch.testing.assert_close(ours, oracle, rtol=1e-14, atol=0)
    g_ours = torch.autograd.grad(ours, (f, sigma))
    g_oracle = torch.autograd.grad(oracle, (f, sigma))
    for a, b in zip(g_ours, g_oracle):
        torch.testing.assert_close(a, b, rtol=1e-13, atol=1e-15)


def test_the_head_starts_at_the_configs_noise_and_never_goes_below_the_floor():
    base = 0.37
    zero, far = torch.zeros((), dtype=torch.float64), torch.tensor(-1e4, dtype=torch.float64)
    assert float(noise.noise_std(zero, base)) == pytest.approx(base, rel=1e-12)
    assert float(noise.noise_std(far, base)) == pytest.approx(noise.floor(base), rel=1e-12)
    g = torch.linspace(-5, 5, 11, dtype=torch.float64, requires_grad=True)
    (d,) = torch.autograd.grad(noise.noise_std(g, base).sum(), g)
    torch.testing.assert_close(d, noise.noise_std_grad(g.detach(), base))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("changes", [
    {}, {"kl": "mc"}, {"train_samples": 3}, {"train_samples": 2, "kl": "mc", "kl_weight": 0.3}, {"hidden": ()},
    {"hidden": (5, 4), "activation": "relu"}, {"batch_size": 10, "standardize": True}, {"init": "article"},
])
def test_the_fast_step_equals_autograd(dtype, changes):
    torch.set_default_dtype(dtype)
    try:
        rng = np.random.default_rng(1)
        x, y = rng.uniform(-3, 3, (37, 2)), rng.standard_normal(37)
        config = HETERO.replace(**{"hidden": (8,), "init": "scaled", "noise_sigma": 0.4, **changes})
        fast, slow = prepare(x, y, config, engine="fast"), prepare(x, y, config, engine="autograd")
        assert fast.engine == "fast"
        xb, yb = fast.x[:10], fast.y[:10]
        t_fast, t_slow = fast.stepper.gradient(xb, yb), slow.stepper.gradient(xb, yb)
        q = slow.fitted.model.posterior
        g_fast, g_slow = fast.stepper.grad[:2 * fast.stepper.p], torch.cat([q.mu.grad, q.rho.grad])
        tol = 1e-12 if dtype == torch.float64 else 2e-4  # float32: the sums of ~1e2-1e3 terms round at ~1e-5
        scale = float(g_slow.abs().max())
        assert float((g_fast - g_slow).abs().max()) <= tol * scale
        for a, b in zip(t_fast, t_slow):
            assert float(a) == pytest.approx(float(b.detach()), rel=tol)
    finally:
        torch.set_default_dtype(torch.float32)


def test_local_reparameterisation_falls_back_to_autograd():
    run = prepare([0.0, 1.0, 2.0], [0.0, 1.0, 0.5], HETERO.replace(local_reparam=True))
    assert run.engine == "autograd: local reparameterisation is not covered for a heteroscedastic noise"


# ---- the config ---------------------------------------------------------------------------
def test_learn_noise_is_an_alias_of_the_learned_noise():
    assert bnn.Config(learn_noise=True) == bnn.Config(noise="learned")
    assert bnn.Config(noise="learned").learn_noise and not HETERO.learn_noise
    learned = bnn.Config(learn_noise=True)
    assert learned.replace(noise="fixed").noise == "fixed"
    assert learned.replace(learn_noise=False) == bnn.Config()
    assert HETERO.replace(epochs=5).noise == "heteroscedastic"
    old = json.loads(bnn.Config().to_json())
    del old["noise"]
    assert bnn.Config.from_dict({**old, "learn_noise": True}).noise == "learned"  # a config saved before
    with pytest.raises(ConfigError, match="does not go with noise='heteroscedastic'"):
        bnn.Config(learn_noise=True, noise="heteroscedastic")
    with pytest.raises(ConfigError, match="noise='heteroscedastic' is for likelihood='gaussian' only"):
        bnn.Config(likelihood="categorical", noise="heteroscedastic")


def test_a_saved_heteroscedastic_model_predicts_the_same(tmp_path):
    x, y = synthetic(60, 0)
    fitted = bnn.fit(x, y, HETERO.replace(epochs=50, hidden=(8,), standardize=True))
    bnn.save(fitted, tmp_path / "m.pt")
    again = bnn.load(tmp_path / "m.pt")
    grid = np.linspace(-4, 4, 9)
    assert again.config == fitted.config
    pd_equal = bnn.predict(again, grid).equals(bnn.predict(fitted, grid))
    assert pd_equal and np.array_equal(again.sample_noise_std(grid), fitted.sample_noise_std(grid))


def test_the_table_keeps_its_columns_and_the_noise_varies():
    x, y = synthetic(80, 0)
    fitted = bnn.fit(x, y, HETERO.replace(epochs=100, hidden=(8,), init="scaled"))
    table = bnn.predict(fitted, np.linspace(-3, 3, 7), samples=50)
    assert list(table.columns) == list(bnn.predict(bnn.fit(x, y, bnn.Config(epochs=5)), [0.0]).columns)
    f = fitted.sample_functions(np.linspace(-3, 3, 7), samples=50)
    s = fitted.sample_noise_std(np.linspace(-3, 3, 7), samples=50)
    np.testing.assert_allclose(table["aleatoric_std"], np.sqrt((s**2).mean(0)), rtol=1e-12)
    np.testing.assert_allclose(table["std"] ** 2, f.var(0) + (s**2).mean(0), rtol=1e-10)
    assert np.isnan(fitted.noise_sigma) and table["aleatoric_std"].std() > 0


# ---- the mean warm-up (Config.noise_warmup) ------------------------------------------------
# Recorded at commit 11c48f3, before the warm-up existed, by the fits of the test below: the last reported
# total loss and the sums of the predicted mean and std on 5 points.
BEFORE_WARMUP = {
    "article": (13657.166015625, 0.08688400228507809, 8.696454222524217),
    "hetero_fast": (171.6144561767578, 0.2831408975641093, 3.322673361904282),
    "hetero_local": (168.6978759765625, 0.3366295118899092, 3.1764466406800573),
}
SMALL = HETERO.replace(hidden=(8,), init="scaled", standardize=True, prior_sigma=1.0, lr=0.01, epochs=30,
                       batch_size=16, noise_sigma=0.3)


def _toy(n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.uniform(-3, 3, n)
    return x, np.sin(x) + (0.1 + 0.2 * np.abs(x)) * rng.standard_normal(n)


@pytest.mark.parametrize("name", sorted(BEFORE_WARMUP))
def test_without_a_warm_up_the_fits_are_bit_identical_to_before(name):
    """The default article run, and a heteroscedastic one by the fast step and by autograd with local
    reparameterisation: every figure equal to the last bit (noise_warmup=0 stated or left out)."""
    config = {"article": bnn.Config(epochs=40), "hetero_fast": SMALL,
              "hetero_local": SMALL.replace(local_reparam=True)}[name]
    x, y = _toy(60)
    for stated in (config, config.replace(noise_warmup=0.0)):
        fitted = bnn.fit(x, y, stated, callback_every=7)
        table = bnn.predict(fitted, np.linspace(-3, 3, 5))
        got = (fitted.history["total"].tolist()[-1], float(table["mean"].sum()), float(table["std"].sum()))
        assert got == BEFORE_WARMUP[name]


@pytest.mark.parametrize("local", [False, True])
def test_during_the_warm_up_sigma_is_one_std_and_after_it_depends_on_x(local):
    """At the posterior mean, g(x) (hence sigma(x)) is the same for every x to the last bit through the
    warm-up's last step, the switched-off weights unmoved; after it sigma(x) varies."""
    x, y = _toy(200)
    config = SMALL.replace(epochs=40, batch_size=20, local_reparam=local, noise_warmup=0.5)  # 400 steps
    run = prepare(x, y, config)
    assert run.engine == "autograd: " + ("local reparameterisation is not covered for a heteroscedastic noise"
                                         if local else "the noise warm-up (noise_warmup) is trained by autograd")
    held = noise.head_weights(run.fitted.model.layout)
    grid = torch.linspace(-2, 2, 9).unsqueeze(1)
    spread, moved = {}, {}

    def watch(progress: bnn.train.Progress) -> None:
        q = progress.fitted.model.posterior
        g = progress.fitted.model.layout.forward(grid, q.mu.detach().unsqueeze(0))[0, :, 1]
        spread[progress.step] = float(g.max() - g.min())
        moved[progress.step] = bool(q.mu[held].any()) or bool((q.rho[held] != -5.0).any())

    bnn.fit(x, y, config, callback=watch, callback_every=50)
    assert all(spread[s] == 0.0 and not moved[s] for s in (50, 100, 200)), spread
    assert spread[250] > 0 and spread[400] > 1e-2 and moved[400], spread


def test_the_warm_up_is_for_a_heteroscedastic_noise_and_old_configs_load_without_it():
    x, y = _toy(60)
    learned = bnn.Config(noise="learned", epochs=20)
    plain, warm = bnn.fit(x, y, learned), bnn.fit(x, y, learned.replace(noise_warmup=0.5))  # nothing to warm up
    assert plain.history.equals(warm.history) and prepare(x, y, learned.replace(noise_warmup=0.5)).engine == "fast"
    with pytest.raises(ConfigError, match=r"noise_warmup must be in \[0, 1\)"):
        HETERO.replace(noise_warmup=1.0)
    with pytest.raises(ValueError, match="noise warm-up"):
        prepare([0.0, 1.0, 2.0], [0.0, 1.0, 0.5], HETERO.replace(noise_warmup=0.3), engine="fast")
    old = json.loads(HETERO.to_json())
    del old["noise_warmup"]
    assert bnn.Config.from_dict(old) == HETERO and HETERO.noise_warmup == 0.0


# ---- what it learns -----------------------------------------------------------------------
LEARN = HETERO.replace(hidden=(32,), activation="tanh", init="scaled", prior_sigma=1.0, lr=0.01, epochs=3000,
                       noise_sigma=0.5)


@pytest.fixture(scope="module")
def fits() -> dict[str, bnn.Fitted]:
    x, y = synthetic(2000, 0)  # ~2 s of CPU each
    return {name: bnn.fit(x, y, LEARN.replace(noise=name)) for name in ("heteroscedastic", "learned")}


def test_the_learned_noise_follows_the_truth(fits):
    """Posterior mean of sigma(x) within 20 % of 0.1 + 0.2|x| on 2,000 points of [-3, 3], away from
    the kink at 0 (|x| >= 0.75), where a smooth tanh net cannot follow a corner. Measured (seed 0):
    within 0-10 % (the largest at the edge of the data, x = -2.75). 20 % is the issue's tolerance."""
    grid = np.concatenate([np.linspace(-2.75, -0.75, 5), np.linspace(0.75, 2.75, 5)])
    sigma = fits["heteroscedastic"].sample_noise_std(grid, samples=500).mean(axis=0)
    ratio = sigma / true_sigma(grid)
    assert np.all(np.abs(ratio - 1) <= 0.20), ratio.round(3)


def test_the_y_interval_covers_fresh_draws_in_every_third(fits):
    """95 % y-intervals on 600 fresh points per third of [-3, 3]: the heteroscedastic model's coverage
    lies within 95 % +- 3 binomial SE (SE = sqrt(.95 .05 / 600) = 0.9 %: [92.3 %, 97.7 %]) in each third;
    the one-noise model over-covers the middle third and under-covers the outer ones (by more than 3 SE
    in at least one). Measured (seed 0):
    heteroscedastic 97.5, 96.3, 96.3 % (mean-field VI errs on the wide side, most at the data's edge);
    one noise 92.8, 100, 91.3 %."""
    rng = np.random.default_rng(99)
    se = np.sqrt(0.95 * 0.05 / 600)
    covered: dict[str, list[float]] = {"heteroscedastic": [], "learned": []}
    for low, high in ((-3, -1), (-1, 1), (1, 3)):
        x = rng.uniform(low, high, 600)
        y = np.sin(x) + true_sigma(x) * rng.standard_normal(600)
        for name, fitted in fits.items():
            t = bnn.predict(fitted, x, samples=200)
            covered[name].append(float(((y >= t["lower"]) & (y <= t["upper"])).mean()))
    assert all(abs(c - 0.95) <= 3 * se for c in covered["heteroscedastic"]), covered
    outer_left, middle, outer_right = covered["learned"]
    assert middle > 0.95 + 3 * se and min(outer_left, outer_right) < 0.95 - 3 * se, covered
    assert max(outer_left, outer_right) < 0.95 < middle

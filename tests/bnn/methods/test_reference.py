"""The certified reference: replica exchange HMC (bnn.methods.tempering) against oracles.

- Bayesian linear regression (hidden=()) has a Gaussian posterior in closed form: the
  tempered sample's mean and covariance match it within Monte Carlo error.
- A two-component Gaussian mixture with unequal weights and widths, its modes so far apart
  that HMC never crosses: the tempered sample recovers the weights, pooled independent chains
  (temperatures=1) do not.
- The rank-normalised R-hat and bulk/tail ESS equal ArviZ's (arviz-stats, dev only).
- On the article's problem: a short run in the default suite (certificate API, agreement
  with the stored Pyro NUTS fixture at a loose tolerance); the full default run's two-seed
  agreement and its NUTS agreement are ``slow``.

Tolerances are z = 4 standard errors with standard errors from the effective sample sizes,
as in test_hmc.py (a false alarm among these comparisons is unlikely, p = 6e-5 each).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from oracles import blr_posterior

import bnn
from bnn.methods import fit_method, hmc, sampler, tempering
from bnn.methods.diagnostics import ess_bulk, ess_stan, ess_tail, rank_normalise, rank_rhat

Z = 4.0
# NumPyro's NUTS (scripts/nuts_numpyro.py, then scripts/nuts_fixture.py --from-npz): 15 chains x (1,000 +
# 4,000), tree depth <= 10, rank R-hat <= 1.002 and bulk ESS >= 7,184 at every probe (docs/hmc-reference.md).
# The earlier Pyro runs (nuts_article*.json) were short of converged.
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "nuts_article_numpyro.json"
needs_fixture = pytest.mark.skipif(not FIXTURE.exists(), reason="run scripts/nuts_fixture.py to make the NUTS fixture")


# --- rank-normalised diagnostics -------------------------------------------------------------------

def _awkward_chains(seed: int, shift: float) -> np.ndarray:
    """Four autocorrelated, heavy-tailed chains of 101 draws (odd: the split drops the middle),
    the chains' locations shifted apart by ``shift``."""
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal((4, 101)), axis=1) * 0.1
    return walk + rng.standard_t(2, (4, 101)) + np.arange(4)[:, None] * shift


@pytest.mark.parametrize("shift", [0.0, 0.3, 1.0])
def test_rank_diagnostics_equal_arviz(shift):
    stats = pytest.importorskip("arviz_stats.base").array_stats
    for seed in range(3):
        x = _awkward_chains(seed, shift)
        assert rank_rhat(x) == pytest.approx(float(stats.rhat(x)), rel=1e-12)
        assert ess_bulk(x) == pytest.approx(float(stats.ess(x, method="bulk")), rel=1e-10)
        assert ess_tail(x) == pytest.approx(float(stats.ess(x, method="tail", prob=0.05)), rel=1e-10)
    assert rank_rhat(_awkward_chains(0, 1.0)) > 1.05 > rank_rhat(_awkward_chains(0, 0.0))


def test_rank_diagnostics_by_hand():
    # Ranks with ties averaged, Blom's offset: (rank - 3/8) / (S + 1/4) -> normal scores
    z = rank_normalise(np.array([[3.0, 1.0], [1.0, 2.0]]))
    ranks = np.array([[4.0, 1.5], [1.5, 3.0]])
    expected = torch.special.ndtri(torch.tensor((ranks - 0.375) / 4.25)).numpy()
    np.testing.assert_allclose(z, expected, rtol=1e-12)
    # Independent draws: ESS ~ the number of draws; chains that differ only in spread are seen
    # by the folded R-hat, not the bulk's
    rng = np.random.default_rng(0)
    iid = rng.standard_normal((4, 1000))
    assert ess_bulk(iid) == pytest.approx(4000, rel=0.1)
    assert ess_stan(np.ones((2, 10))) == 20.0
    spread = rng.standard_normal((4, 1000)) * np.array([[1.0], [1.0], [3.0], [3.0]])
    assert rank_rhat(spread) > 1.05
    assert math.isnan(rank_rhat(iid[:1]))  # one chain: no R-hat


# --- closed-form posterior ----------------------------------------------------------------------------

def test_tempered_sample_recovers_the_bayesian_linear_regression_posterior():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 3, 15)  # off-centre: slope and intercept correlate
    y = 1.5 * x - 0.5 + 0.4 * rng.standard_normal(15)
    config = bnn.Config(hidden=(), noise_sigma=0.4, prior_sigma=3.0, seed=1)
    fitted = fit_method("hmc", x, y, config, {"chains": 16, "temperatures": 6, "warmup": 200, "draws": 600,
                                              "steps": 10, "thin": 1})
    draws = fitted.samples.numpy()  # (C, D, 2): [slope, intercept], the beta = 1 chains
    mean, cov = blr_posterior(x, y, 0.4, 3.0)
    sd = np.sqrt(np.diag(cov))
    for k in range(2):
        d = draws[:, :, k]
        ess, ess_sq = ess_stan(d), ess_stan((d - d.mean()) ** 2)
        assert ess > 1000 and ess_sq > 500
        assert abs(d.mean() - mean[k]) < Z * sd[k] / np.sqrt(ess)
        assert abs(d.var() / cov[k, k] - 1) < Z * np.sqrt(2 / ess_sq)  # Gaussian: var's rel. sd sqrt(2 / ESS)
    corr = np.corrcoef(draws.reshape(-1, 2).T)[0, 1]
    exact = cov[0, 1] / (sd[0] * sd[1])
    assert abs(corr - exact) < Z * (1 - exact**2) / np.sqrt(ess_stan(draws[:, :, 0] * draws[:, :, 1]))
    run = fitted.run
    assert run.betas[0] == 1.0 and run.betas[-1] == 0.0 and bool((run.betas[1:] < run.betas[:-1]).all())
    assert float(run.swap_accept.min()) > 0.3
    assert fitted.certified


# --- a bimodal target in which the mode weights matter ---------------------------------------------

MIX = dict(weights=(0.8, 0.2), means=(-3.0, 3.0), sds=(0.3, 0.5), prior=4.0)
_MIX_T = (torch.tensor(MIX["means"], dtype=torch.float64), torch.tensor(MIX["sds"], dtype=torch.float64),
          torch.tensor(MIX["weights"], dtype=torch.float64).log() - torch.tensor(MIX["sds"], dtype=torch.float64).log())


def _mixture_log_lik_grad(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log (mixture(w) / prior(w)) and its gradient, w (C, 1): tempering's pi_beta ∝ mixture^beta prior^(1 - beta)."""
    m, s, log_norm = _MIX_T
    comps = log_norm - 0.5 * ((w - m) / s).square()  # (C, 2)
    log_mix = torch.logsumexp(comps, dim=1)
    resp = torch.softmax(comps, dim=1)
    prior_var = MIX["prior"] ** 2
    log_lik = log_mix + 0.5 * w[:, 0] ** 2 / prior_var + math.log(MIX["prior"])
    grad = -(resp * (w - m) / s**2).sum(dim=1, keepdim=True) + w / prior_var
    return log_lik, grad


def _mixture_run(temperatures: int, warmup: int, draws: int, seed: int = 0) -> tuple[np.ndarray, sampler.Run]:
    """The beta = 1 chains' draws (G, D) and the run."""
    groups = 16
    generator = torch.Generator().manual_seed(seed)
    w0 = torch.randn((groups * temperatures, 1), generator=generator, dtype=torch.float64) * MIX["prior"]
    run = tempering.sample(_mixture_log_lik_grad, MIX["prior"], w0,
                           sampler.SamplerSettings(warmup, draws, 8, 0.8, True, temperatures=temperatures), generator)
    return run.draws[:, :, 0].numpy(), run


def test_tempering_weights_the_modes_where_independent_chains_do_not():
    """The modes are 6 apart with sds 0.3 and 0.5: the density between them is e^-50 of the
    peaks', so HMC never crosses, and pooled independent chains weight each mode by the
    chains that started on its side (about half each, from a symmetric start). Replica
    exchange must recover the 0.2 weight of the right-hand mode within Z standard errors,
    the standard error from the ESS of the mode indicator, itself required below 0.03 so
    that the check has power (the pooled chains' ~0.5 is then > 10 standard errors away)."""
    draws, run = _mixture_run(temperatures=6, warmup=200, draws=1000)
    right = (draws > 0).astype(float)
    weight = right.mean()
    se = math.sqrt(weight * (1 - weight) / ess_stan(right))
    assert se < 0.03
    assert abs(weight - MIX["weights"][1]) < Z * se, f"tempered weight {weight:.3f} ± {se:.3f}"
    # within each mode the draws are the component: its mean and sd within 10 % (thousands of draws)
    for side, m, s in ((draws < 0, -3.0, 0.3), (draws > 0, 3.0, 0.5)):
        assert abs(draws[side].mean() - m) < 0.1 * s and abs(draws[side].std() / s - 1) < 0.1
    assert run.round_trips > 100 and float(run.swap_accept.min()) > 0.3

    plain, _ = _mixture_run(temperatures=1, warmup=100, draws=300)
    per_chain = (plain > 0).mean(axis=1)
    assert set(np.unique(per_chain)) <= {0.0, 1.0}  # no chain ever crossed
    assert abs(per_chain.mean() - MIX["weights"][1]) > 0.15  # and the pooled weight is wrong
    assert rank_rhat(plain) > 1.5  # which R-hat sees


# --- the article's problem ------------------------------------------------------------------------

def _grid_std(fitted: hmc.FittedHMC, x: np.ndarray) -> np.ndarray:
    f = fitted.chain_functions(torch.as_tensor(x, dtype=torch.float64)[:, None]).numpy()
    return f.reshape(-1, len(x)).std(axis=0)


def test_a_short_run_on_the_article_problem_reports_and_is_not_certified(article_points):
    x, y = article_points
    settings = hmc.HMCConfig(chains=4, temperatures=8, warmup=100, draws=100, thin=1)
    fitted = hmc.fit(x, y, bnn.Config(), settings)
    cert = fitted.certificate()
    assert not cert.certified and not fitted.certified
    assert cert.reason.startswith(("R-hat of f", "bulk ESS of f")) and "\n" not in cert.reason
    assert cert.line() == f"not converged: {cert.reason}"
    assert cert.probes == 21 and -5.0 <= cert.worst_x <= 5.0
    d = fitted.diagnostics()
    assert all(isinstance(v, float) for v in d.values())  # the CLI prints them with :.4g
    assert d["certified"] == 0.0 and d["chains"] == 4 and d["draws_per_chain"] == 100 and d["temperatures"] == 8
    assert d["swap_accept_min"] > 0.0 and d["max_rhat_f"] == cert.max_rhat
    # probes given in the data's units: the certificate is computed there
    assert fitted.certificate([0.0, 4.0]).probes == 2
    assert fitted.run.betas.shape == (8,)


@needs_fixture
def test_the_default_reference_agrees_with_nuts_at_a_short_run(article_points):
    """A ~2 s run (a tenth of the default) against the stored NUTS summary: std f within
    35 % on 80 % of [-5, 5] (the short run's own standard error is ~15 %; the fixture's ~1 %;
    the full run's 10 % check is the slow test below)."""
    fixture = json.loads(FIXTURE.read_text())
    x, y = article_points
    grid = np.array(fixture["x"])
    fitted = hmc.fit(x, y, bnn.Config(seed=3), hmc.HMCConfig(chains=8, warmup=300, draws=200))
    ours, nuts = _grid_std(fitted, grid), np.array(fixture["std"])
    ratio = np.maximum(ours, nuts) / np.minimum(ours, nuts) - 1
    assert np.mean(ratio < 0.35) > 0.8, f"worst {ratio.max():.2f} at x = {grid[ratio.argmax()]}"
    pinned = np.min(np.abs(grid[:, None] - x[None]), axis=1) < 1e-9
    assert np.all(ours[pinned] < 0.2)  # pinned at the six points (noise 0.1)


def test_stopping_keeps_what_was_drawn_and_is_never_certified(article_points):
    x, y = article_points
    seen = []

    def callback(progress):
        seen.append(progress)
        return progress.phase == "sampling" and progress.step >= 40

    fitted = hmc.fit(x, y, bnn.Config(), hmc.HMCConfig(chains=4, temperatures=4, warmup=30, draws=100, thin=2),
                     callback)
    assert fitted.stopped_early and seen[-1].step == 40 and seen[-1].steps == 200  # iterations: draws x thin
    assert fitted.samples.shape == (4, 20, 97)
    assert fitted.certificate().reason == "stopped before the end of the run"


@pytest.mark.slow  # two default runs, ~15 s of CPU each
def test_two_seeds_agree_and_are_certified(article_points):
    """The issue's acceptance criterion: two default runs with different seeds agree within 10 %
    in std f on at least 90 % of an even grid of 201 points over [-5, 5], and within 25 %
    everywhere; both are certified."""
    from benchmarks.reference_bench import GRID, agreement

    x, y = article_points
    runs = [fit_method("hmc", x, y, bnn.Config(seed=seed)) for seed in (0, 1)]
    for fitted in runs:
        assert fitted.certified, fitted.certificate().line()
    result = agreement(_grid_std(runs[0], GRID), _grid_std(runs[1], GRID), GRID)
    assert result["within_10"] >= 0.9 and result["max"] <= 0.25, result


@pytest.mark.slow
@needs_fixture
def test_the_default_reference_against_the_stored_nuts_run(article_points):
    """The full default run against NUTS (the fixture: NumPyro, chains from prior draws): the issue's 25 %
    everywhere, for seed 1 (seed 0 meets the 10 % criterion in the next test)."""
    from benchmarks.reference_bench import agreement

    fixture = json.loads(FIXTURE.read_text())
    x, y = article_points
    grid = np.array(fixture["x"])
    fitted = fit_method("hmc", x, y, bnn.Config(seed=1))
    result = agreement(_grid_std(fitted, grid), np.array(fixture["std"]), grid)
    assert result["max"] <= 0.25 and result["within_10"] >= 0.9, result  # measured: 100 %, largest 8.2 %


@pytest.mark.slow
@needs_fixture
def test_the_default_reference_meets_the_10_percent_criterion_against_nuts(article_points):
    """The issue's criterion against an independent implementation: std f within 10 % of NUTS's on at least
    90 % of [-5, 5] and within 25 % everywhere. The fixture's own error is small (bulk ESS >= 7,184: the
    std of f is known to ~1 %), so what is tested is the reference. Measured: seeds 0 and 1 within 10 % on
    100 % of the grid, largest 7.4 % and 8.2 %."""
    from benchmarks.reference_bench import agreement

    fixture = json.loads(FIXTURE.read_text())
    x, y = article_points
    grid = np.array(fixture["x"])
    fitted = fit_method("hmc", x, y, bnn.Config(seed=0))
    result = agreement(_grid_std(fitted, grid), np.array(fixture["std"]), grid)
    assert result["within_10"] >= 0.9 and result["max"] <= 0.25, result

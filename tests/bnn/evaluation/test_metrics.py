"""Scores of the predictive mixture against oracles: scipy densities, closed forms, quadrature."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from bnn import PointsError
from bnn.evaluation import metrics as M
from bnn.predict import mixture_quantiles


def test_single_sample_log_likelihood_is_the_gaussian_log_density() -> None:
    rng = np.random.default_rng(0)
    f, y = rng.normal(size=(1, 50)), rng.normal(size=50) * 3
    expected = stats.norm.logpdf(y, loc=f[0], scale=0.7)
    np.testing.assert_allclose(M.log_likelihood(f, 0.7, y), expected, rtol=1e-12)
    # With one draw the moment-matched Gaussian is the same distribution.
    np.testing.assert_allclose(M.gaussian_log_likelihood(f, 0.7, y), expected, rtol=1e-12)


def test_mixture_log_likelihood_equals_the_explicit_mixture_density() -> None:
    rng = np.random.default_rng(1)
    f, y = rng.normal(size=(7, 30)) * 2, rng.normal(size=30)
    density = np.mean([stats.norm.pdf(y, loc=f[s], scale=0.4) for s in range(7)], axis=0)
    np.testing.assert_allclose(M.log_likelihood(f, 0.4, y), np.log(density), rtol=1e-10)


def test_log_sum_exp_stays_finite_far_in_the_tail() -> None:
    # exp(-0.5 * 100^2) underflows to 0 in float64; the log-sum-exp must not.
    f = np.array([[0.0], [1.0]])
    out = M.log_likelihood(f, 0.01, np.array([1.0]))
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, stats.norm.logpdf(1.0, 1.0, 0.01) - math.log(2), rtol=1e-12)


def test_many_draws_from_a_gaussian_give_the_convolved_gaussian() -> None:
    """f_s ~ N(m, tau^2) and noise sigma: the mixture tends to N(m, tau^2 + sigma^2)."""
    rng = np.random.default_rng(2)
    m, tau, sigma, s = np.array([0.0, 1.0, -2.0]), 0.8, 0.5, 200_000
    f = m + tau * rng.standard_normal((s, 3))
    y = np.array([0.3, 2.0, -2.5])
    expected = stats.norm.logpdf(y, m, math.hypot(tau, sigma))
    # The density is a Monte Carlo mean of bounded terms: relative SE < sqrt(var/S)/mean,
    # about 1e-3 within 1.5 predictive std; 1e-2 in log leaves a wide margin.
    np.testing.assert_allclose(M.log_likelihood(f, sigma, y), expected, atol=1e-2)
    np.testing.assert_allclose(M.gaussian_log_likelihood(f, sigma, y), expected, atol=1e-2)


def test_gaussian_log_likelihood_is_moment_matched() -> None:
    rng = np.random.default_rng(3)
    f, y = rng.normal(size=(40, 25)), rng.normal(size=25)
    expected = stats.norm.logpdf(y, f.mean(axis=0), np.sqrt(f.var(axis=0) + 0.3**2))
    np.testing.assert_allclose(M.gaussian_log_likelihood(f, 0.3, y), expected, rtol=1e-12)


def test_bimodal_mixture_beats_its_moment_matched_gaussian_at_the_modes() -> None:
    f = np.array([[-3.0], [3.0]])
    y = np.array([3.0])
    assert M.log_likelihood(f, 0.2, y)[0] > M.gaussian_log_likelihood(f, 0.2, y)[0] + 1.0


def test_coverage_of_exact_intervals_is_nominal() -> None:
    rng = np.random.default_rng(4)
    n, sigma = 20_000, 1.3
    mean = rng.normal(size=n)
    y = mean + sigma * rng.standard_normal(n)
    cover = M.coverage(mean[None, :], sigma, y)
    for level, share in cover.items():
        # The count inside is Binomial(n, level): 4 binomial SE (at most 0.014) is a
        # two-sided tail of 6e-5 per level.
        assert abs(share - level) < 4 * math.sqrt(level * (1 - level) / n), (level, share)


def test_coverage_matches_the_mixture_quantile_interval() -> None:
    """Second computation: the interval from bisection on the mixture CDF (bnn.predict)."""
    rng = np.random.default_rng(5)
    f, y = rng.normal(size=(30, 400)), rng.normal(size=400) * 1.5
    for level in (0.5, 0.9, 0.95):
        lower, upper = mixture_quantiles(f, 0.6, np.array([(1 - level) / 2, (1 + level) / 2]))
        inside = np.mean((y >= lower) & (y <= upper))
        assert M.coverage(f, 0.6, y, (level,))[level] == pytest.approx(inside, abs=1 / 400 + 1e-12)


def test_overconfident_predictions_undercover() -> None:
    rng = np.random.default_rng(6)
    y = rng.standard_normal(5000)
    assert M.coverage(np.zeros((1, 5000)), 0.5, y, (0.95,))[0.95] < 0.75  # true 95 % of N(0,.25) is P(|Z|<.98)=.67


def test_crps_of_one_gaussian_is_the_closed_form() -> None:
    """Gneiting & Raftery (2007), eq. 21: CRPS(N(m, s^2), y) = s [z(2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)]."""
    rng = np.random.default_rng(7)
    f, y, s = rng.normal(size=(1, 40)), rng.normal(size=40) * 2, 0.9
    z = (y - f[0]) / s
    expected = s * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / math.sqrt(math.pi))
    np.testing.assert_allclose(M.crps(f, s, y), expected, rtol=1e-10)


def test_crps_of_a_mixture_equals_the_integral_definition() -> None:
    """CRPS = integral of (F(t) - 1{t >= y})^2 dt, by adaptive quadrature (an independent computation)."""
    f = np.array([[-1.0, 0.2], [0.5, 0.3], [2.0, 4.0]])
    y, sigma = np.array([0.4, -1.0]), 0.7
    got = M.crps(f, sigma, y)
    for j in range(2):
        def cdf(t: float, j: int = j) -> float:
            return float(stats.norm.cdf(t, f[:, j], sigma).mean())

        below, _ = integrate.quad(lambda t: cdf(t) ** 2, -30, y[j], epsabs=1e-11)
        above, _ = integrate.quad(lambda t: (1 - cdf(t)) ** 2, y[j], 30, epsabs=1e-11)
        assert got[j] == pytest.approx(below + above, abs=1e-8)


def test_crps_chunking_does_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    f, y = rng.normal(size=(20, 50)), rng.normal(size=50)
    whole = M.crps(f, 0.5, y)
    monkeypatch.setattr(M, "_CRPS_CHUNK", 20 * 20 * 3)  # blocks of 3 points
    np.testing.assert_allclose(M.crps(f, 0.5, y), whole, rtol=1e-12)


def test_score_collects_every_metric() -> None:
    rng = np.random.default_rng(9)
    f, y = rng.normal(size=(10, 60)), rng.normal(size=60)
    out = M.score(f, 0.8, y)
    assert out.n == 60
    assert out.rmse == pytest.approx(np.sqrt(np.mean((f.mean(axis=0) - y) ** 2)))
    assert out.test_ll == pytest.approx(M.log_likelihood(f, 0.8, y).mean())
    assert set(out.coverage) == set(M.CALIBRATION_LEVELS)
    as_dict = out.to_dict()
    assert as_dict["coverage"]["0.95"] == out.coverage[0.95]
    # Nested intervals: coverage cannot fall as the level rises.
    assert list(out.coverage.values()) == sorted(out.coverage.values())


@pytest.mark.parametrize(
    ("f", "y", "sigma", "match"),
    [
        (np.zeros((3, 4)), np.zeros(5), 1.0, "shape"),
        (np.zeros((3, 0)), np.zeros(0), 1.0, "shape"),
        (np.zeros((3, 4)), np.zeros(4), 0.0, "noise"),
        (np.zeros((3, 4)), np.zeros(4), float("nan"), "noise"),
    ],
)
def test_bad_inputs_are_refused_with_a_message(f: np.ndarray, y: np.ndarray, sigma: float, match: str) -> None:
    with pytest.raises(PointsError, match=match):
        M.score(f, sigma, y)


def test_bad_level_is_refused() -> None:
    with pytest.raises(PointsError, match="between 0 and 1"):
        M.coverage(np.zeros((1, 3)), 1.0, np.zeros(3), (1.0,))


# ---- a noise std per draw and point (heteroscedastic) ----------------------------------------
def test_scores_with_a_noise_per_draw_and_point_against_direct_sums():
    from scipy.stats import norm

    from bnn.evaluation import metrics as m

    rng = np.random.default_rng(3)
    f, sd, y = rng.normal(size=(40, 25)), rng.uniform(0.1, 2.0, (40, 25)), rng.normal(size=25) * 2
    density = norm.pdf(y[None, :], f, sd).mean(axis=0)
    np.testing.assert_allclose(m.log_likelihood(f, sd, y), np.log(density), rtol=1e-12)
    np.testing.assert_allclose(m.pit(f, sd, y), norm.cdf(y[None, :], f, sd).mean(axis=0), rtol=1e-12)
    var = f.var(axis=0) + (sd**2).mean(axis=0)
    np.testing.assert_allclose(m.gaussian_log_likelihood(f, sd, y), norm.logpdf(y, f.mean(0), np.sqrt(var)), rtol=1e-12)
    # CRPS = E|Y - y| - E|Y - Y'| / 2 by Monte Carlo from the mixture (seeded; 2e5 pairs: SE ~ 0.3 %)
    cols = np.arange(25)

    def draw() -> np.ndarray:
        k = rng.integers(0, 40, (200_000, 25))  # a component per draw, independently for Y and Y'
        return f[k, cols] + sd[k, cols] * rng.standard_normal((200_000, 25))

    a, b = draw(), draw()
    mc = np.abs(a - y).mean(0) - 0.5 * np.abs(a - b).mean(0)
    np.testing.assert_allclose(m.crps(f, sd, y), mc, rtol=0.03)
    # a constant array is the scalar noise
    const = np.full(f.shape, 0.7)
    assert m.score(f, const, y) == m.score(f, 0.7, y)
    with pytest.raises(PointsError, match="shape"):
        m.score(f, sd[:, :3], y)
    with pytest.raises(PointsError, match="positive"):
        m.score(f, -sd, y)

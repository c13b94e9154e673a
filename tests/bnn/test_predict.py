"""The predictive summaries against closed forms."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from bnn.predict import mixture_quantiles, summarise


def test_one_component_mixture_quantiles_are_gaussian_quantiles() -> None:
    f = np.array([[0.3, -2.0, 10.0]])
    q = mixture_quantiles(f, 0.7, np.array([0.025, 0.5, 0.975]))
    expected = f[0] + 0.7 * norm.ppf([0.025, 0.5, 0.975])[:, None]
    np.testing.assert_allclose(q, expected, atol=1e-9)


def test_two_component_mixture_quantiles_solve_the_cdf() -> None:
    f = np.array([[-1.0], [2.0]])
    q = mixture_quantiles(f, 0.5, np.array([0.05, 0.9]))[:, 0]
    cdf = 0.5 * (norm.cdf(q, -1.0, 0.5) + norm.cdf(q, 2.0, 0.5))
    np.testing.assert_allclose(cdf, [0.05, 0.9], atol=1e-12)


def test_summary_columns_follow_their_definitions() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(1.0, 2.0, (5000, 4))
    s = summarise(f, 0.5, level=0.9)
    np.testing.assert_allclose(s["mean"], f.mean(0))
    np.testing.assert_allclose(s["epistemic_std"], f.std(0))
    np.testing.assert_allclose(s["std"], np.sqrt(f.std(0) ** 2 + 0.25))
    np.testing.assert_allclose(s["f_lower"], np.percentile(f, 5, axis=0))
    # f ~ N(1, 4) plus noise N(0, 0.25): y ~ N(1, 4.25); 5000 draws put the 5 % / 95 %
    # quantiles within ~0.06 of the exact ones (their standard error); 0.15 is 2.5 of those.
    exact = 1.0 + np.sqrt(4.25) * norm.ppf([0.05, 0.95])
    np.testing.assert_allclose(s["lower"], exact[0], atol=0.15)
    np.testing.assert_allclose(s["upper"], exact[1], atol=0.15)

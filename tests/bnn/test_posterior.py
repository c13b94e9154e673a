"""The variational posterior's densities and KL against torch.distributions."""

from __future__ import annotations

import torch
from torch.distributions import Normal, kl_divergence

from bnn.posterior import MeanFieldGaussian, gaussian_kl, gaussian_log_prob


def _posterior(p: int = 50, seed: int = 0) -> MeanFieldGaussian:
    g = torch.Generator().manual_seed(seed)
    mu = torch.randn(p, generator=g, dtype=torch.float64) * 3
    rho = torch.randn(p, generator=g, dtype=torch.float64) * 2 - 1
    return MeanFieldGaussian(mu, rho)


def test_closed_form_kl_equals_torch_kl_divergence() -> None:
    q = _posterior()
    for prior_sigma in (0.1, 1.0, 10.0):
        torch.testing.assert_close(gaussian_kl(q.mu, q.sigma, prior_sigma), q.kl(prior_sigma), rtol=1e-12, atol=1e-9)
        prior = Normal(torch.tensor(0.0, dtype=torch.float64), torch.tensor(prior_sigma, dtype=torch.float64))
        expected = kl_divergence(Normal(q.mu, q.sigma), prior).sum()
        torch.testing.assert_close(q.kl(prior_sigma), expected, rtol=1e-12, atol=1e-10)


def test_log_prob_equals_torch_normal() -> None:
    q = _posterior()
    w = q.sample(7, torch.Generator().manual_seed(1)).double()
    torch.testing.assert_close(q.log_q(w), Normal(q.mu, q.sigma).log_prob(w).sum(-1))
    torch.testing.assert_close(MeanFieldGaussian.log_prior(w, 10.0), Normal(0.0, 10.0).log_prob(w).sum(-1))
    torch.testing.assert_close(gaussian_log_prob(w, 1.5, 0.3), Normal(1.5, 0.3).log_prob(w))


def test_softplus_sigma_is_stable_for_large_rho() -> None:
    # log(1 + exp(rho)) overflows to inf at rho ~ 89 in float32; softplus returns rho.
    q = MeanFieldGaussian(torch.zeros(2), torch.tensor([100.0, -10.0]))
    assert torch.isfinite(q.sigma).all()
    torch.testing.assert_close(q.sigma[0], torch.tensor(100.0))


def test_monte_carlo_kl_estimator_agrees_with_closed_form_on_average() -> None:
    q = _posterior(p=20)
    prior_sigma = 2.0
    samples = 200_000
    w = q.sample(samples, torch.Generator().manual_seed(2))
    estimates = q.log_q(w) - MeanFieldGaussian.log_prior(w, prior_sigma)  # (S,)
    exact = q.kl(prior_sigma)
    # The estimator is unbiased; its mean over S draws has standard error std/sqrt(S).
    # 5 standard errors: a false alarm has probability < 1e-6 under the seeded draw.
    se = estimates.std() / samples**0.5
    assert abs(estimates.mean() - exact) < 5 * se, (float(estimates.mean()), float(exact), float(se))


def test_gaussian_kl_is_zero_when_q_equals_prior() -> None:
    assert float(gaussian_kl(torch.zeros(5), torch.full((5,), 3.0), 3.0)) == 0.0


def test_mc_kl_from_the_noise_equals_log_q_minus_log_prior_with_gradients() -> None:
    q = _posterior(p=30)
    draw = q.draw(9, torch.Generator().manual_seed(3))
    w = draw.w
    fast = q.mc_kl(draw, 2.5)
    plain = (q.log_q(w) - MeanFieldGaussian.log_prior(w, 2.5)).mean()
    # eps is float32 (torch.randn's default): its squared sum carries float32 rounding, ~1e-7 relative.
    torch.testing.assert_close(fast, plain, rtol=1e-6, atol=1e-6)
    fast_grads = torch.autograd.grad(fast, [q.mu, q.rho], retain_graph=True)  # w's graph is shared
    for a, b in zip(fast_grads, torch.autograd.grad(plain, [q.mu, q.rho])):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)

"""The vectorised negative ELBO against a per-sample computation with the same noise."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

import bnn
from bnn.loss import negative_elbo
from bnn.model import BayesMLP


def _model(config: bnn.Config) -> BayesMLP:
    g = torch.Generator().manual_seed(3)
    model = BayesMLP(2, config, generator=g)
    with torch.no_grad():  # random, not the article's all-zero start, so every term matters
        model.posterior.mu.normal_(0.0, 1.0, generator=g)
        model.posterior.rho.normal_(-1.0, 0.5, generator=g)
    return model


def _per_sample_loss(model: BayesMLP, x: torch.Tensor, y: torch.Tensor, eps: torch.Tensor, n_total: int,
                     kl: str, kl_weight: float) -> torch.Tensor:
    """A plain loop over samples with torch.distributions and F.linear: the oracle."""
    mu, sigma = model.posterior.mu, model.posterior.sigma
    q, prior = Normal(mu, sigma), Normal(0.0, model.prior_sigma)
    losses = []
    for s in range(eps.shape[0]):
        w = mu + sigma * eps[s]
        h, start = x, 0
        shapes = model.layout.shapes
        for k, (out_f, in_f) in enumerate(shapes):
            weight = w[start:start + out_f * in_f].reshape(in_f, out_f).t()  # stored (in, out)
            start += out_f * in_f
            bias = w[start:start + out_f]
            start += out_f
            h = F.linear(h, weight, bias)
            if k < len(shapes) - 1:
                h = torch.tanh(h)
        log_lik = Normal(h[:, 0], model.noise_sigma).log_prob(y).sum()
        kl_s = kl_divergence(q, prior).sum() if kl == "closed" else q.log_prob(w).sum() - prior.log_prob(w).sum()
        losses.append(kl_weight * kl_s - n_total / x.shape[0] * log_lik)
    return torch.stack(losses).mean()


@pytest.mark.parametrize("kl", ["closed", "mc"])
@pytest.mark.parametrize("n_total", [7, 70])  # full batch, and a batch of a 10x larger data set
def test_vectorised_loss_and_gradients_equal_per_sample_mean(kl: str, n_total: int) -> None:
    config = bnn.Config(hidden=(5, 4), activation="tanh", kl=kl, noise_sigma=0.3, prior_sigma=2.0)
    model = _model(config)
    g = torch.Generator().manual_seed(11)
    x, y = torch.randn(7, 2, generator=g), torch.randn(7, generator=g)
    samples, kl_weight = 6, 0.7

    terms = negative_elbo(model, x, y, n_total=n_total, samples=samples, kl=config.kl, kl_weight=kl_weight,
                          generator=torch.Generator().manual_seed(5))
    grads = torch.autograd.grad(terms.total, [model.posterior.mu, model.posterior.rho])
    # The engine's first draw is the (S, P) weight noise: replay it for the loop.
    eps = torch.randn((samples, model.layout.size), generator=torch.Generator().manual_seed(5))
    expected = _per_sample_loss(model, x, y, eps, n_total, kl, kl_weight)
    expected_grads = torch.autograd.grad(expected, [model.posterior.mu, model.posterior.rho])

    # float32 sums of ~100 terms: agreement to ~1e-5 relative is rounding, not a difference.
    torch.testing.assert_close(terms.total, expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(terms.total, terms.nll + kl_weight * terms.kl)
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)


def test_minibatch_scaling_is_unbiased_for_fixed_weights() -> None:
    # For fixed weights, the N/B-scaled batch NLL averaged over a partition of the data
    # into batches equals the full-data NLL exactly: the scaling lives in one place.
    model = _model(bnn.Config(hidden=(3,), noise_sigma=0.5))
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(12, 2, generator=g), torch.randn(12, generator=g)
    w = model.sample_weights(4, torch.Generator().manual_seed(1))
    full = -torch.distributions.Normal(model(x, weights=w), 0.5).log_prob(y).sum(1).mean()
    parts = []
    for idx in torch.arange(12).split(4):
        f = model(x[idx], weights=w)
        parts.append(-(12 / 4) * torch.distributions.Normal(f, 0.5).log_prob(y[idx]).sum(1).mean())
    torch.testing.assert_close(torch.stack(parts).mean(), full)


def test_local_reparameterisation_has_the_same_expected_nll() -> None:
    # Local reparameterisation changes the noise, not the expectation: the mean NLL over many
    # draws agrees with weight sampling. Tolerance: 5 combined standard errors of the two means.
    base = bnn.Config(hidden=(4,), activation="tanh", noise_sigma=0.5)
    g = torch.Generator().manual_seed(2)
    x, y = torch.randn(5, 2, generator=g), torch.randn(5, generator=g)
    draws = []
    for local in (False, True):
        model = _model(base.replace(local_reparam=local))
        with torch.no_grad():
            f = model(x, samples=40_000, generator=torch.Generator().manual_seed(4))
            draws.append(-Normal(f, 0.5).log_prob(y).sum(1))
    se = (draws[0].var() / draws[0].numel() + draws[1].var() / draws[1].numel()).sqrt()
    assert abs(draws[0].mean() - draws[1].mean()) < 5 * se

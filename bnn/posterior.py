"""The variational posterior: a mean-field Gaussian over the flat vector of all weights.

Bayes-by-Backprop (Blundell et al. 2015, section 3.2) gives every weight and bias its
own q = N(mu, sigma^2) with sigma = softplus(rho), computed by
``torch.nn.functional.softplus`` (stable for large rho, unlike log(1 + exp(rho))).
Holding all P of them in two flat vectors lets one step draw S weight vectors, (S, P),
and evaluate the KL, in a handful of tensor operations: the per-layer alternative costs
one small kernel per layer and parameter, which dominates on networks this small.
``bnn.network`` maps a flat weight vector onto the layers.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def gaussian_kl(mu: Tensor, sigma: Tensor, prior_sigma: float) -> Tensor:
    """Sum over elements of KL(N(mu, sigma^2) || N(0, prior_sigma^2)), in closed form.

    Written out rather than built from ``torch.distributions.kl_divergence`` because it
    runs every training step and building Distribution objects costs more than the
    arithmetic; ``tests/test_posterior.py`` checks it against ``kl_divergence``.
    """
    ratio = (sigma / prior_sigma) ** 2
    return 0.5 * (ratio + (mu / prior_sigma) ** 2 - 1.0 - torch.log(ratio)).sum()


def gaussian_log_prob(x: Tensor, mu: Tensor | float, sigma: Tensor | float) -> Tensor:
    """Elementwise log N(x; mu, sigma^2); checked against ``torch.distributions.Normal``."""
    z = (x - mu) / sigma
    log_sigma = torch.log(sigma) if isinstance(sigma, Tensor) else math.log(sigma)
    return -0.5 * z * z - log_sigma - _HALF_LOG_2PI


class MeanFieldGaussian(nn.Module):
    """q(w) = prod_j N(w_j; mu_j, softplus(rho_j)^2) over P weights."""

    def __init__(self, mu: Tensor, rho: Tensor) -> None:
        super().__init__()
        self.mu = nn.Parameter(mu.clone())
        self.rho = nn.Parameter(rho.clone())

    @property
    def sigma(self) -> Tensor:
        return F.softplus(self.rho)

    def sample(self, samples: int, generator: torch.Generator | None = None) -> Tensor:
        """S weight vectors by reparameterisation, w = mu + sigma * eps: (S, P)."""
        eps = torch.randn((samples, self.mu.shape[0]), generator=generator)
        return self.mu + self.sigma * eps

    def kl(self, prior_sigma: float) -> Tensor:
        """Closed-form KL(q || N(0, prior_sigma^2 I)), summed over all P weights."""
        return gaussian_kl(self.mu, self.sigma, prior_sigma)

    def log_q(self, w: Tensor) -> Tensor:
        """log q(w) of each sample: (S, P) -> (S,)."""
        return gaussian_log_prob(w, self.mu, self.sigma).sum(dim=-1)

    @staticmethod
    def log_prior(w: Tensor, prior_sigma: float) -> Tensor:
        """log N(w; 0, prior_sigma^2 I) of each sample: (S, P) -> (S,)."""
        return gaussian_log_prob(w, 0.0, prior_sigma).sum(dim=-1)

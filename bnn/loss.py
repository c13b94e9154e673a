"""The negative ELBO of Bayes-by-Backprop, returned term by term.

For data D of N points and a minibatch B of it (B = D for full batch),

    loss = kl_weight * KL(q || p)  -  (N / |B|) * E_q[ sum_{i in B} log N(y_i; f_w(x_i), noise^2) ]

(Blundell et al. 2015, eq. 1-2; the minibatch scaling makes the loss an unbiased
estimate of the full-data negative ELBO). The expectation is a Monte Carlo mean over
S weight samples pushed through the network in one batched pass. The KL is either
closed form or the article's estimate mean_s [log q(w_s) - log p(w_s)] at the same
samples. This is the one place where N/|B| and the KL weight are applied.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from bnn.config import KLEstimator
from bnn.model import BayesMLP
from bnn.posterior import gaussian_log_prob


class LossTerms(NamedTuple):
    """The scaled terms of one loss evaluation; total = nll + kl_weight * kl."""

    nll: Tensor  # (N/|B|) * negative expected log-likelihood of the batch
    kl: Tensor  # KL(q || p) estimate, unweighted
    total: Tensor  # what the optimiser minimises


def negative_elbo(model: BayesMLP, x: Tensor, y: Tensor, *, n_total: int, samples: int,
                  kl: KLEstimator = KLEstimator.CLOSED, kl_weight: float = 1.0,
                  generator: torch.Generator | None = None) -> LossTerms:
    """x: (B, D), y: (B,) a batch of a data set of ``n_total`` points."""
    if kl is KLEstimator.MC:
        weights = model.sample_weights(samples, generator)
        f = model(x, weights=weights)  # (S, B)
        kl_term = model.log_q_minus_log_prior(weights).mean()
    else:
        f = model(x, samples=samples, generator=generator)  # (S, B)
        kl_term = model.kl()
    log_lik = gaussian_log_prob(y, f, model.noise_sigma).sum(dim=1).mean()  # mean over S of batch sums
    nll = -(n_total / x.shape[0]) * log_lik
    return LossTerms(nll=nll, kl=kl_term, total=nll + kl_weight * kl_term)

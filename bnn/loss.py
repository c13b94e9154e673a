"""The negative ELBO of Bayes-by-Backprop, returned term by term.

For data D of N points and a minibatch B of it (B = D for full batch),

    loss = kl_weight * KL(q || p)  -  (N / |B|) * E_q[ sum_{i in B} log N(y_i; f_w(x_i), noise^2) ]

(Blundell et al. 2015, eq. 1-2; the minibatch scaling makes the loss an unbiased
estimate of the full-data negative ELBO). The expectation is a Monte Carlo mean over
S weight samples pushed through the network in one batched pass. The KL is either
closed form or the article's estimate mean_s [log q(w_s) - log p(w_s)] at the same
samples. This is the one place where N/|B| and the KL weight are applied.

A classifier (``likelihood="categorical"``) has K logits f_w(x) per point and labels c_i; its
likelihood term is the same Monte Carlo mean of the summed cross-entropy,

    (N / |B|) * mean_s sum_{i in B} -log softmax(f_{w_s}(x_i))_{c_i},

with the same KL, so every estimator, sampling and minibatching option applies unchanged.

With a heteroscedastic noise (``noise="heteroscedastic"``) the network's second output g sets a
std per point, sigma_i = :func:`bnn.noise.noise_std` (g_i), and the Gaussian term takes it in
place of the one noise std: (N / |B|) mean_s sum_i [(y_i - f_si)^2 / (2 sigma_si^2) + log sigma_si]
+ const.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from bnn.config import KLEstimator, Likelihood
from bnn.model import BayesMLP
from bnn.noise import noise_std

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class LossTerms(NamedTuple):
    """The scaled terms of one loss evaluation; total = nll + kl_weight * kl."""

    nll: Tensor  # (N/|B|) * negative expected log-likelihood of the batch
    kl: Tensor  # KL(q || p) estimate, unweighted
    total: Tensor  # what the optimiser minimises


def negative_elbo(model: BayesMLP, x: Tensor, y: Tensor, *, n_total: int, samples: int,
                  kl: KLEstimator = KLEstimator.CLOSED, kl_weight: float = 1.0,
                  generator: torch.Generator | None = None, keep: Tensor | None = None) -> LossTerms:
    """x: (B, D), y: (B,) a batch of a data set of ``n_total`` points (y int64 labels for a classifier).
    ``keep`` (P,), if given, multiplies the weights in the forward only (the KL sees them all): the noise
    warm-up's switch (:class:`bnn.noise.NoiseWarmup`)."""
    q = model.posterior
    if model.local_reparam:  # no weights are drawn, so only the closed form applies
        sigma = q.sigma
        mu, sd = (q.mu, sigma) if keep is None else (q.mu * keep, sigma * keep)
        f = model.layout.forward_local(x, mu, sd, samples, generator)
        kl_term = q.kl(model.prior_sigma, sigma)
    else:
        draw = q.draw(samples, generator)  # one softplus(rho) a step, shared by the draw and the KL
        f = model.layout.forward(x, draw.w if keep is None else draw.w * keep)  # (S, B)
        kl_term = q.kl(model.prior_sigma, draw.sigma) if kl is KLEstimator.CLOSED else q.mc_kl(draw, model.prior_sigma)
    if model.likelihood is Likelihood.CATEGORICAL:
        nll = expected_categorical_nll(f, y, scale=n_total / x.shape[0])
    elif model.heteroscedastic:
        sigma = noise_std(f[..., 1], model.fixed_noise)
        nll = expected_heteroscedastic_nll(f[..., 0], sigma, y, scale=n_total / x.shape[0])
    else:
        nll = expected_gaussian_nll(f, y, model.loss_noise, scale=n_total / x.shape[0])
    # Multiplying by a weight of 1 would still cost a kernel and its backward every step.
    total = nll + kl_term if kl_weight == 1.0 else nll + kl_weight * kl_term
    return LossTerms(nll=nll, kl=kl_term, total=total)


def expected_gaussian_nll(f: Tensor, y: Tensor, noise: Tensor | float, scale: float = 1.0) -> Tensor:
    """-scale * mean_s sum_i log N(y_i; f_si, noise^2) for f (S, B), y (B,), in few tensor ops."""
    samples, batch = f.shape
    log_noise = math.log(noise) if isinstance(noise, float) else noise.log()
    return (f - y).square().sum() * (0.5 * scale / noise**2 / samples) + scale * batch * (log_noise + _HALF_LOG_2PI)


def expected_heteroscedastic_nll(f: Tensor, sigma: Tensor, y: Tensor, scale: float = 1.0) -> Tensor:
    """-scale * mean_s sum_i log N(y_i; f_si, sigma_si^2) for f and sigma (S, B), y (B,): a std per point."""
    samples, batch = f.shape
    z = (f - y) / sigma
    return (0.5 * z.square() + sigma.log()).sum() * (scale / samples) + scale * batch * _HALF_LOG_2PI


def expected_categorical_nll(logits: Tensor, labels: Tensor, scale: float = 1.0) -> Tensor:
    """-scale * mean_s sum_i log softmax(logits_si)[labels_i] for logits (S, B, K), labels (B,) int64."""
    samples, batch, classes = logits.shape
    flat = labels.expand(samples, batch).reshape(-1)
    return F.cross_entropy(logits.reshape(-1, classes), flat, reduction="sum") * (scale / samples)

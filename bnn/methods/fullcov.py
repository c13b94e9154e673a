"""Full-covariance Gaussian variational inference: q(w) = N(mu, Sigma) over all P weights and biases.

Mean-field VI (Bayes-by-Backprop) gives every weight its own variance, so it cannot
express that two weights move together, which Foong et al. 2019 ("'In-Between'
Uncertainty in Bayesian Neural Networks") blame for its narrow band between clusters of
points. Here Sigma is a full matrix in one of two forms:

- ``rank=None``: Sigma = L L^T with L lower-triangular and a softplus-positive diagonal,
  the Cholesky parameterisation of Titsias & Lazaro-Gredilla 2014 ("Doubly stochastic
  variational Bayes for non-conjugate inference"); P (P + 1) / 2 scale parameters.
- ``rank=k``: Sigma = D + V V^T with D diagonal (softplus std) and V (P, k), the
  low-rank-plus-diagonal family of Ong, Nott & Smith 2018 ("Gaussian variational
  approximation with a factor covariance structure"); P (k + 1) scale parameters.

The ELBO is the engine's (:mod:`bnn.loss`): (N / |B|) times the batch's expected Gaussian
negative log-likelihood, by reparameterised draws w = mu + L eps (S, P), plus the KL to
the N(0, prior_sigma^2 I) prior in closed form,

    KL = 0.5 * [ (tr Sigma + |mu|^2) / s^2 - P + P log s^2 - log det Sigma ].

A classifier (``likelihood="categorical"``) swaps the Gaussian term for the engine's expected
cross-entropy of K logits (:func:`bnn.loss.expected_categorical_nll`); everything else is unchanged.
A heteroscedastic noise (``noise="heteroscedastic"``) adds the noise head g as a second output whose
weights join the others in the one full-covariance q (so q can correlate the mean's weights with the
noise's), and the likelihood term is the engine's :func:`bnn.loss.expected_heteroscedastic_nll` with
sigma = :func:`bnn.noise.noise_std` (g), as in Bayes-by-Backprop's heteroscedastic ELBO.

tr Sigma and log det Sigma are O(P^2) for the Cholesky form and O(P k^2) for the low-rank
form (matrix determinant lemma), where ``torch.distributions.kl_divergence`` would solve
a (P, P) triangular system, O(P^3), every step; and ``torch.distributions`` samplers take no
``torch.Generator``. The closed forms are checked against ``kl_divergence`` in the tests.

What a full covariance buys, measured at the defaults (seeds 0-2, std of f): on the article's
points the band beyond the data is about twice Bayes-by-Backprop's (x = +-4: 1.3-1.6 against
0.56-0.97) but between the clusters it is not wider (x = 0: 0.14-0.16 against 0.13-0.15), and on
the gap toy's points neither is the gap (x = 0: 0.37-0.41 against 0.40-0.46). The ELBO is
better (-35 per point against -47 on the article's points): a closer q in KL(q || p), which is
mode-seeking, not a wider band. ``rank=5`` widens the gap toy's gap (x = 0: 0.75-1.03) and the
article's flanks (x = +-4: 2.4-2.9) but not the article's middle (0.16-0.18).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor, nn

from bnn.config import Config
from bnn.errors import ConfigError, TrainingDiverged
from bnn.loss import LossTerms, expected_categorical_nll, expected_gaussian_nll, expected_heteroscedastic_nll
from bnn.methods import likelihood
from bnn.methods.base import FittedMethod, MethodCallback, MethodProgress, Prepared, Stopwatch, prepare
from bnn.methods.config_checks import check_float, check_int
from bnn.methods.optimise import init_weights
from bnn.model import softplus_inverse
from bnn.network import Layout
from bnn.noise import noise_std

# A full Cholesky factor costs P^2 numbers four times over (the factor, its gradient and Adam's
# two moments: 32 P^2 bytes in float64), S P^2 multiply-adds per draw and again per backward,
# and a dozen P^2-sized passes a step (the mask, the trace, Adam). Measured with 8 draws on a busy
# two-core machine: 6.5 ms a step at 401 weights, 72 ms at 997, 540 ms at 2,998 (rank 20 there:
# 4.4 ms). Above 1,200 weights a few thousand steps take tens of minutes: use ``rank``. Every net
# of the UCI protocol (at most 1,101 weights: protein, 9 inputs, 100 units) is below it, slowly.
MAX_FULL_WEIGHTS = 1200
MAX_RANK = 1000
INIT_STD = 1e-3  # q starts nearly a point mass at mu, so the first steps fit the data (as Init.SCALED)
FINAL_LR_FRACTION = 0.01  # the cosine schedule's last learning rate, as a fraction of lr
CALLBACK_EVERY = 10


class Draw(NamedTuple):
    """S weight vectors w = mu + (scale) eps, and the two numbers of Sigma the KL needs."""

    w: Tensor  # (S, P)
    trace: Tensor  # tr Sigma
    log_det: Tensor  # log det Sigma


@dataclass(frozen=True)
class FullCovConfig:
    """Full-covariance VI's own settings; the model, noise and seed come from :class:`bnn.Config`."""

    rank: int | None = None  # None: a full Cholesky factor; k: Sigma = D + V V^T with V (P, k)
    # The defaults fit the article's problem in 3,000 steps of 1.5-2 ms (4-5 s of CPU, measured on a
    # busy two-core machine): ELBO -35 per point (mean-field's run: -47) with max |mean - y| 0.11-0.2
    # at the six points (seeds 0-2). 2,000 epochs reach -42;
    # 10,000 reach -25 and fit the points to 0.01. 64 draws cost little more per step than 16 (the
    # kernels are small) and their less noisy gradient gains more: 16 at lr 0.05 reached -43 to -49.
    epochs: int = 3000
    lr: float = 0.1  # Adam's first learning rate, cosine-annealed to 1 % of it by the last step
    train_samples: int = 64  # reparameterised draws per step
    batch_size: int | None = None  # None: full batch

    def __post_init__(self) -> None:
        if self.rank is not None:
            check_int(self, "rank", 1, MAX_RANK)
        check_int(self, "epochs", 1, 1_000_000)
        check_float(self, "lr", 0.0, 10.0, open_low=True)
        check_int(self, "train_samples", 1, 4096)
        if self.batch_size is not None:
            check_int(self, "batch_size", 1, 10**9)


class FullGaussian(nn.Module):
    """q = N(mu, L L^T), L = strictly-lower part of ``lower`` + diag(softplus(rho))."""

    def __init__(self, mu: Tensor, init_std: float) -> None:
        super().__init__()
        p = mu.shape[0]
        self.mu = nn.Parameter(mu.clone())
        self.rho = nn.Parameter(torch.full((p,), softplus_inverse(init_std), dtype=mu.dtype))
        self.lower = nn.Parameter(torch.zeros((p, p), dtype=mu.dtype))

    def scale_tril(self) -> Tensor:
        """L (P, P)."""
        return torch.tril(self.lower, diagonal=-1) + torch.diag(F.softplus(self.rho))

    def draw(self, samples: int, generator: torch.Generator) -> Draw:
        """w = mu + L eps, with tr(L L^T) = |L|_F^2 and log det(L L^T) = 2 sum log diag L."""
        scale = self.scale_tril()
        eps = torch.randn((samples, self.mu.shape[0]), generator=generator, dtype=self.mu.dtype)
        return Draw(self.mu + eps @ scale.T, *self._moments(scale))

    def moments(self) -> tuple[Tensor, Tensor]:
        """tr Sigma and log det Sigma."""
        return self._moments(self.scale_tril())

    @staticmethod
    def _moments(scale: Tensor) -> tuple[Tensor, Tensor]:
        return scale.square().sum(), 2 * scale.diagonal().log().sum()

    def covariance(self) -> Tensor:
        scale = self.scale_tril()
        return scale @ scale.T

    def distribution(self) -> torch.distributions.MultivariateNormal:
        return torch.distributions.MultivariateNormal(self.mu, scale_tril=self.scale_tril())


class LowRankGaussian(nn.Module):
    """q = N(mu, D + V V^T), D = diag(softplus(rho)^2), V (P, k)."""

    def __init__(self, mu: Tensor, init_std: float, rank: int, generator: torch.Generator) -> None:
        super().__init__()
        p = mu.shape[0]
        self.mu = nn.Parameter(mu.clone())
        self.rho = nn.Parameter(torch.full((p,), softplus_inverse(init_std), dtype=mu.dtype))
        # V = 0 is a saddle of the ELBO (its gradient vanishes in expectation): start it small and random
        factor = torch.randn((p, rank), generator=generator, dtype=mu.dtype) * (init_std / math.sqrt(rank))
        self.factor = nn.Parameter(factor)

    def draw(self, samples: int, generator: torch.Generator) -> Draw:
        """w = mu + sqrt(D) eps_1 + V eps_2, with tr Sigma = sum d + |V|_F^2 and
        log det Sigma = sum log d + log det(I_k + V^T D^-1 V) (the matrix determinant lemma)."""
        p, k = self.factor.shape
        std = F.softplus(self.rho)
        eps = torch.randn((samples, p + k), generator=generator, dtype=self.mu.dtype)
        return Draw(self.mu + std * eps[:, :p] + eps[:, p:] @ self.factor.T, *self._moments(std))

    def moments(self) -> tuple[Tensor, Tensor]:
        """tr Sigma and log det Sigma."""
        return self._moments(F.softplus(self.rho))

    def _moments(self, std: Tensor) -> tuple[Tensor, Tensor]:
        scaled = self.factor / std.unsqueeze(1)  # D^-1/2 V (P, k)
        capacitance = torch.eye(self.factor.shape[1], dtype=std.dtype) + scaled.T @ scaled
        log_det = 2 * std.log().sum() + 2 * torch.linalg.cholesky(capacitance).diagonal().log().sum()
        return std.square().sum() + self.factor.square().sum(), log_det

    def covariance(self) -> Tensor:
        return torch.diag(F.softplus(self.rho).square()) + self.factor @ self.factor.T

    def distribution(self) -> torch.distributions.LowRankMultivariateNormal:
        return torch.distributions.LowRankMultivariateNormal(self.mu, self.factor, F.softplus(self.rho).square())


Gaussian = FullGaussian | LowRankGaussian


def kl_to_prior(mu: Tensor, trace: Tensor, log_det: Tensor, prior_sigma: float) -> Tensor:
    """KL(N(mu, Sigma) || N(0, prior_sigma^2 I)) from tr Sigma and log det Sigma (module docstring)."""
    p, s2 = mu.shape[0], prior_sigma**2
    return 0.5 * ((trace + mu.square().sum()) / s2 - p + p * math.log(s2) - log_det)


def kl(q: Gaussian, prior_sigma: float) -> Tensor:
    """KL(q || N(0, prior_sigma^2 I)) in closed form."""
    return kl_to_prior(q.mu, *q.moments(), prior_sigma)


def negative_elbo(q: Gaussian, layout: Layout, x: Tensor, y: Tensor, noise: Tensor, *, n_total: int, samples: int,
                  kl_weight: float, prior_sigma: float, generator: torch.Generator,
                  heteroscedastic: bool = False) -> LossTerms:
    """The engine's loss (:func:`bnn.loss.negative_elbo`) for this q: x (B, D), y (B,) a batch of n_total;
    with ``heteroscedastic`` the outputs are (f, g) and ``noise`` is the noise head's base."""
    draw = q.draw(samples, generator)  # one scale factor a step, shared by the draw and the KL
    f = layout.forward(x, draw.w)  # (S, B), (S, B, 2) = (f, g), or (S, B, K) logits
    if heteroscedastic:
        sigma = noise_std(f[..., 1], float(noise))
        nll = expected_heteroscedastic_nll(f[..., 0], sigma, y, scale=n_total / x.shape[0])
    elif f.dim() == 3:  # a classifier (y int64 labels): the engine's cross-entropy term
        nll = expected_categorical_nll(f, y, scale=n_total / x.shape[0])
    else:
        nll = expected_gaussian_nll(f, y, noise, scale=n_total / x.shape[0])
    kl_term = kl_to_prior(q.mu, draw.trace, draw.log_det, prior_sigma)
    return LossTerms(nll=nll, kl=kl_term, total=nll + kl_weight * kl_term)


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedFullCov(FittedMethod):
    layout: Layout
    q: Gaussian

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    def covariance(self) -> Tensor:
        """Sigma (P, P), model units."""
        with torch.no_grad():
            return self.q.covariance()

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        return self.layout.forward(x.to(torch.float64), self.q.draw(samples, generator).w)


def make_posterior(layout: Layout, rank: int | None, generator: torch.Generator) -> Gaussian:
    """q at its start, or a ConfigError when the full factor would be too large."""
    p = layout.size
    if rank is None and p > MAX_FULL_WEIGHTS:
        raise ConfigError(
            f"full covariance over {p:,} weights needs a {p:,} x {p:,} Cholesky factor "
            f"({32 * p * p / 2**20:,.0f} MB with its gradient and Adam's moments) and O(P^2) work per draw; "
            f"it is allowed up to {MAX_FULL_WEIGHTS:,} weights: set a rank, e.g. {{\"rank\": 20}}, for "
            f"Sigma = D + V V^T")
    if rank is not None and rank > p:
        raise ConfigError(f"rank must be at most the number of weights ({p}), got {rank}")
    mu = init_weights(layout, 1, generator)[0].double()
    return FullGaussian(mu, INIT_STD) if rank is None else LowRankGaussian(mu, INIT_STD, rank, generator)


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: FullCovConfig | None = None,
        callback: MethodCallback | None = None) -> FittedFullCov:
    """Maximise the ELBO of q over the config's model by Adam on reparameterised draws."""
    settings = method_config or FullCovConfig()
    clock = Stopwatch()
    config = likelihood.resolve(config, x, y)
    data = prepare(x, y, config, dtype=torch.float64)
    layout = likelihood.model_layout(data.x.shape[1], config)
    generator = torch.Generator().manual_seed(config.seed)
    q = make_posterior(layout, settings.rank, generator)
    noise_rho = torch.tensor(softplus_inverse(data.noise_sigma), dtype=torch.float64,
                             requires_grad=config.learn_noise)
    history, stopped = _optimise(q, noise_rho, layout, data, config, settings, generator, callback)
    noise = float(F.softplus(noise_rho.detach())) if config.learn_noise else data.noise_sigma
    if likelihood.is_heteroscedastic(config):
        noise = math.nan  # a std per input, drawn with f (bnn.predict)
    q.requires_grad_(False)
    return FittedFullCov(name="fullcov", config=config, method_config=settings, scaling=data.scaling,
                         n_train=data.n, noise_sigma_model=noise, seconds=clock.seconds(), stopped_early=stopped,
                         history=history, layout=layout, q=q)


def _optimise(q: Gaussian, noise_rho: Tensor, layout: Layout, data: Prepared, config: Config,
              settings: FullCovConfig, generator: torch.Generator,
              callback: MethodCallback | None) -> tuple[pd.DataFrame, bool]:
    """Adam with a cosine-annealed step (a constant step leaves a noisy gradient's iterate hovering
    at a distance set by lr; Robbins & Monro 1951): the history (epoch, loss, nll, kl per point)."""
    params = [*q.parameters(), *([noise_rho] if config.learn_noise else [])]
    optimiser = torch.optim.Adam(_groups(q, params, settings.lr, likelihood.is_heteroscedastic(config)),
                                 lr=settings.lr, foreach=True)
    n = data.n
    batch = n if settings.batch_size is None else min(settings.batch_size, n)
    total_steps = settings.epochs * -(-n // batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=total_steps,
                                                          eta_min=settings.lr * FINAL_LR_FRACTION)
    rows: list[tuple[int, float, float, float]] = []
    for epoch in range(1, settings.epochs + 1):
        order = torch.randperm(n, generator=generator) if batch < n else torch.arange(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            optimiser.zero_grad(set_to_none=True)
            terms = negative_elbo(q, layout, data.x[idx], data.y[idx], F.softplus(noise_rho), n_total=n,
                                  samples=settings.train_samples, kl_weight=config.kl_weight,
                                  prior_sigma=config.prior_sigma, generator=generator,
                                  heteroscedastic=likelihood.is_heteroscedastic(config))
            terms.total.backward()
            optimiser.step()
            schedule.step()
        loss = float(terms.total.detach()) / n
        if not math.isfinite(loss):
            raise TrainingDiverged(f"fullcov: training diverged: the loss became {loss} at epoch {epoch}; "
                                   f"lower the learning rate (now {settings.lr:g})")
        if epoch % CALLBACK_EVERY == 0 or epoch == settings.epochs:
            rows.append((epoch, loss, float(terms.nll.detach()) / n, float(terms.kl.detach()) / n))
            if callback is not None and callback(MethodProgress("fullcov", "train", epoch, settings.epochs, loss)):
                return pd.DataFrame(rows, columns=["epoch", "loss", "nll", "kl"]), epoch < settings.epochs
    return pd.DataFrame(rows, columns=["epoch", "loss", "nll", "kl"]), False


def _groups(q: Gaussian, params: list[Tensor], lr: float, heteroscedastic: bool) -> list[dict]:
    """Adam's parameter groups: one at lr, except that with a heteroscedastic noise a full Cholesky
    factor's strictly-lower entries step at lr / sqrt(P). Adam moves each of their P (P - 1) / 2
    entries by about lr at once, so a weight's std jumps by about lr sqrt(P) in a step: a drawn noise
    head g then swings by tens, sigma(x) hits the floor on some draws and the ELBO blows up (measured
    at lr 0.01 and 0.002 on 300 points: the per-point loss jumps to 1e2-1e4 within ten steps). Steps of
    lr / sqrt(P) move a weight's std by about lr, as its mean. A one-noise model keeps its tuned
    behaviour (one group)."""
    if not heteroscedastic or not isinstance(q, FullGaussian):
        return [{"params": params}]
    slow = [q.lower]
    return [{"params": [p for p in params if p is not q.lower]},
            {"params": slow, "lr": lr / math.sqrt(q.mu.shape[0])}]

"""Hamiltonian Monte Carlo for C chains at once (Neal 2011, "MCMC using Hamiltonian
dynamics"), with per-chain step sizes tuned by dual averaging (Hoffman & Gelman 2014,
"The No-U-Turn Sampler", section 3.2) and a per-chain diagonal mass matrix.

The target is any log density given as ``log_prob_grad(w (C, P)) -> (log p (C,), grad (C, P))``,
so the C chains advance through one batched tensor computation per leapfrog step. Each
iteration draws one number of leapfrog steps for all chains, uniformly between half the
maximum and the maximum, so no chain keeps a trajectory length that happens to resonate
with the target (Neal 2011, section 5.4.2.3). Warm-up, as in Stan: step size only during
the first quarter; then the mass matrix is the chains' own variance over the next half
(shrunk towards 1e-3 as Stan does); then the step size is tuned again for that mass matrix
over the last quarter, and fixed at its dual-averaging mean for the draws.

The reference (:mod:`bnn.methods.hmc`) runs :mod:`bnn.methods.tempering`, replica exchange
built from this module's pieces (:class:`SamplerSettings`, :class:`Run`,
:class:`DualAveraging`, the progress report); :func:`sample` here is the plain sampler for any
log density, per-chain adaptation and no swaps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from bnn.methods.base import MethodCallback, MethodProgress

LogProbGrad = Callable[[Tensor], tuple[Tensor, Tensor]]
DIVERGENCE = 1000.0  # an energy error above this marks a divergent trajectory (Stan's threshold)
CALLBACK_EVERY = 10


@dataclass(frozen=True)
class SamplerSettings:
    """The sampler's schedule and adaptation targets (built by :mod:`bnn.methods.hmc` from its config)."""

    warmup: int
    draws: int
    steps: int  # maximum leapfrog steps per iteration
    target_accept: float
    adapt_mass: bool
    initial_step: float = 0.01
    temperatures: int = 1  # replica exchange over this many likelihood temperatures (bnn.methods.tempering)
    hottest: float = 1e-6  # the smallest nonzero beta of the initial ladder
    thin: int = 1  # keep every thin-th draw (bnn.methods.tempering)


@dataclass(frozen=True)
class Run:
    draws: Tensor  # (C, D, P)
    step_size: Tensor  # (C,) the step sizes used for the draws
    accept: Tensor  # (C,) mean acceptance probability over the draws
    divergences: int  # divergent trajectories among the draws
    stopped_early: bool
    # replica exchange (bnn.methods.tempering) only; the fields above are then those of the beta = 1 chains
    betas: Tensor | None = None  # (K,) the tuned ladder, 1 first, 0 last
    slot_step: Tensor | None = None  # (K,) step size per temperature
    slot_accept: Tensor | None = None  # (K,) mean HMC acceptance per temperature over the draws
    swap_accept: Tensor | None = None  # (K - 1,) mean swap acceptance of each adjacent pair over the draws
    round_trips: int = 0  # states that reached beta = 1 from the prior (the hot end) during the draws
    divergences_all: int = 0  # divergent trajectories at any temperature during the draws


class DualAveraging:
    """Hoffman & Gelman (2014), algorithm 5's step-size adaptation, one state per chain."""

    def __init__(self, step: Tensor, target: float) -> None:
        self.restart(step)
        self.target = target

    def restart(self, step: Tensor) -> None:
        self.mu = torch.log(10 * step)  # bias towards larger steps than the start
        self.h_bar = torch.zeros_like(step)
        self.log_avg = torch.zeros_like(step)
        self.m = 0

    def update(self, accept: Tensor) -> Tensor:
        """Fold in this iteration's acceptance probabilities (C,); return the next step sizes."""
        self.m += 1
        eta = 1.0 / (self.m + 10)  # t0 = 10
        self.h_bar = (1 - eta) * self.h_bar + eta * (self.target - accept)
        log_step = self.mu - math.sqrt(self.m) / 0.05 * self.h_bar  # gamma = 0.05
        weight = self.m**-0.75  # kappa = 0.75
        self.log_avg = weight * log_step + (1 - weight) * self.log_avg
        return torch.exp(log_step)

    @property
    def averaged(self) -> Tensor:
        return torch.exp(self.log_avg)


def leapfrog(w: Tensor, p: Tensor, grad: Tensor, step: Tensor, inv_mass: Tensor, n: int,
             log_prob_grad: LogProbGrad) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """n leapfrog steps of sizes step (C, 1) under the kinetic energy p^T M^-1 p / 2."""
    p = p + 0.5 * step * grad
    for i in range(n):
        w = w + step * inv_mass * p
        log_p, grad = log_prob_grad(w)
        p = p + (step if i < n - 1 else 0.5 * step) * grad
    return w, p, log_p, grad


def transition(w: Tensor, log_p: Tensor, grad: Tensor, step: Tensor, inv_mass: Tensor, n: int,
               log_prob_grad: LogProbGrad, generator: torch.Generator) -> tuple[Tensor, ...]:
    """One HMC iteration for every chain: (w, log_p, grad, acceptance probability, divergent)."""
    p = torch.randn(w.shape, generator=generator, dtype=w.dtype) / inv_mass.sqrt()
    energy = -log_p + 0.5 * (p * p * inv_mass).sum(dim=1)
    w_new, p_new, log_p_new, grad_new = leapfrog(w, p, grad, step, inv_mass, n, log_prob_grad)
    error = -log_p_new + 0.5 * (p_new * p_new * inv_mass).sum(dim=1) - energy
    error = torch.nan_to_num(error, nan=math.inf)
    accept_prob = torch.exp(torch.clamp(-error, max=0.0))
    accept = torch.rand(accept_prob.shape, generator=generator, dtype=w.dtype) < accept_prob
    w = torch.where(accept[:, None], w_new, w)
    log_p = torch.where(accept, log_p_new, log_p)
    grad = torch.where(accept[:, None], grad_new, grad)
    return w, log_p, grad, accept_prob, error > DIVERGENCE


class MassWindow:
    """Running per-chain mean and variance of the positions (Welford), for the mass matrix."""

    def __init__(self, w: Tensor) -> None:
        self.n, self.mean, self.m2 = 0, torch.zeros_like(w), torch.zeros_like(w)

    def add(self, w: Tensor) -> None:
        self.n += 1
        delta = w - self.mean
        self.mean = self.mean + delta / self.n
        self.m2 = self.m2 + delta * (w - self.mean)

    def inverse_mass(self) -> Tensor:
        """Stan's regularised variance estimate: the inverse mass matrix (C, P)."""
        var = self.m2 / max(self.n - 1, 1)
        return self.n / (self.n + 5.0) * var + 1e-3 * 5.0 / (self.n + 5.0)


class Warmup:
    """The warm-up schedule of the module docstring: the step sizes (C, 1) and inverse mass (C, P) to use."""

    def __init__(self, w: Tensor, settings: SamplerSettings) -> None:
        self.settings = settings
        self.step = torch.full((w.shape[0], 1), settings.initial_step, dtype=w.dtype)
        self.inv_mass = torch.ones_like(w)
        self.adapt = DualAveraging(self.step, settings.target_accept)
        self.mass = MassWindow(w)
        warmup = settings.warmup
        self.window = (warmup // 4, warmup * 3 // 4) if settings.adapt_mass else (-1, -1)

    def update(self, it: int, w: Tensor, accept_prob: Tensor) -> None:
        """Fold in warm-up iteration ``it`` (0-based) that ended at w with these acceptance probabilities."""
        self.step = self.adapt.update(accept_prob.unsqueeze(1))
        if self.window[0] <= it < self.window[1]:
            self.mass.add(w)
        if it == self.window[1] - 1:
            self.inv_mass = self.mass.inverse_mass()
            self.adapt.restart(self.step)  # the step size must be found again for the new metric
        if it == self.settings.warmup - 1:
            self.step = self.adapt.averaged


def _report(callback: MethodCallback | None, it: int, settings: SamplerSettings, log_p: Tensor, n_data: int) -> bool:
    """Tell the callback every ``CALLBACK_EVERY`` iterations and at the end; True if it asks to stop."""
    total = settings.warmup + settings.draws
    if callback is None or ((it + 1) % CALLBACK_EVERY and it + 1 < total):
        return False
    warm = it < settings.warmup
    phase, done, of = ("warmup", it + 1, settings.warmup) if warm else (
        "sampling", it + 1 - settings.warmup, settings.draws)
    return bool(callback(MethodProgress("hmc", phase, done, of, float(-log_p.mean()) / n_data)))


def sample(log_prob_grad: LogProbGrad, w0: Tensor, settings: SamplerSettings, generator: torch.Generator,
           callback: MethodCallback | None = None, n_data: int = 1) -> Run:
    """Warm up, then draw ``settings.draws`` states per chain from w0 (C, P)."""
    w = w0.clone()
    log_p, grad = log_prob_grad(w)
    warmup = Warmup(w, settings)
    kept, accepts, divergent, stopped = [], [], 0, False
    total = settings.warmup + settings.draws
    low = max(1, math.ceil(settings.steps / 2))
    for it in range(total):
        n = int(torch.randint(low, settings.steps + 1, (1,), generator=generator))
        w, log_p, grad, accept_prob, div = transition(w, log_p, grad, warmup.step, warmup.inv_mass, n,
                                                      log_prob_grad, generator)
        if it < settings.warmup:
            warmup.update(it, w, accept_prob)
        else:
            kept.append(w.clone())
            accepts.append(accept_prob)
            divergent += int(div.sum())
        if _report(callback, it, settings, log_p, n_data):
            stopped = it + 1 < total
            break
    if not kept:  # stopped during warm-up: the current states are all there is
        kept, accepts = [w.clone()], [torch.full((w.shape[0],), math.nan, dtype=w.dtype)]
    return Run(torch.stack(kept, dim=1), warmup.step.squeeze(1), torch.stack(accepts).mean(dim=0), divergent,
               stopped)

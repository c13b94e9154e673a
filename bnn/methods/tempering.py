"""Replica exchange (parallel tempering) over likelihood temperatures, batched like the chains.

Independent HMC chains on a network's posterior settle in different modes and never cross
between them, so pooling them weights each mode by how many chains happened to fall into
it, not by its posterior mass. Replica exchange fixes the weighting by construction: K
replicas sample the tempered posteriors

    pi_k(w) ∝ p(D | w)^beta_k p(w),   1 = beta_0 > beta_1 > ... > beta_{K-1} = 0,

and adjacent replicas propose to swap states with the Metropolis probability
min(1, exp((beta_k - beta_{k+1}) (log p(D | w_{k+1}) - log p(D | w_k)))), which leaves the
product of the pi_k invariant (Swendsen & Wang 1986; Geyer 1991). The hot end is the prior
N(0, prior_sigma^2 I), drawn exactly afresh every iteration, so a state that travels from
the hot end to beta = 1 is a new draw that knows nothing of the modes the chain sat in: the
chains at beta = 1 weight the modes by their mass because states flow into them from the
prior through the ladder, not because a chain found its way over a barrier.

Swaps follow the non-reversible "deterministic even/odd" scheme of Syed, Bouchard-Côté,
Deligiannidis & Doucet (2019, "Non-reversible parallel tempering: a scalable highly
parallel MCMC scheme", JRSS B 2022): even pairs (0,1), (2,3), ... at even iterations, odd
pairs at odd ones, so a state keeps moving in one direction along the ladder until a swap
is rejected, and the round trip time grows linearly, not quadratically, in the number of
temperatures. The ladder is tuned during warm-up by their procedure (section 5.3, algorithm
4): the swap rejection rates r_k estimate the communication barrier Lambda(beta) (the
cumulative rejection), and the new betas are placed at equal steps of Lambda, which
equalises the rejection rates. Lambda itself says how many temperatures are needed: the
swap acceptance of an equalised ladder is 1 - Lambda / (K - 1).

Everything runs as one (K G, P) tensor of G groups times K temperature slots, slot-major
(row k G + g is group g at slot k), so every leapfrog step is one batched gradient. The
step size (dual averaging) and diagonal mass matrix belong to the temperature slot and are
shared by the G groups at that slot; states, not temperatures, are swapped. Warm-up: rounds
of doubling length (the last ends at three quarters of the warm-up), each ending with a new
ladder, a new mass matrix per slot from the round's states at that slot, and a restart of
the step-size adaptation; then the step size alone is tuned for the last quarter and fixed
at its dual-averaging mean for the draws. With K = 1 this is plain HMC on independent
chains (no swaps, no ladder).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from bnn.methods.base import MethodCallback
from bnn.methods.sampler import DIVERGENCE, DualAveraging, Run, SamplerSettings, _report

LogLikGrad = Callable[[Tensor], tuple[Tensor, Tensor]]  # w (C, P) -> (log p(D | w) (C,), its gradient (C, P))
ROUNDS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 3 / 4)  # warm-up fractions at which the adaptation rounds end


def initial_ladder(temperatures: int, hottest: float) -> Tensor:
    """1, then geometric down to ``hottest``, then 0 (the prior): the start of the ladder tuning."""
    if temperatures == 1:
        return torch.ones(1, dtype=torch.float64)
    if temperatures == 2:
        return torch.tensor([1.0, 0.0], dtype=torch.float64)
    geometric = torch.logspace(0.0, math.log10(hottest), temperatures - 1, dtype=torch.float64)
    return torch.cat([geometric, torch.zeros(1, dtype=torch.float64)])


def barrier(betas: Tensor, rejection: Tensor) -> Tensor:
    """Lambda at each beta of the ladder (K,): the cumulative swap rejection from beta = 1."""
    return torch.cat([torch.zeros(1, dtype=rejection.dtype), torch.cumsum(rejection, 0)])


def equalised_ladder(betas: Tensor, rejection: Tensor) -> Tensor:
    """Syed et al.'s update: betas at equal steps of the barrier Lambda, interpolated linearly in
    log beta between the current betas (linearly in beta on the last segment, which ends at 0)."""
    k = betas.shape[0]
    lam = barrier(betas, rejection.clamp(min=1e-4)).numpy()  # strictly increasing
    targets = np.linspace(0.0, lam[-1], k)
    new = np.empty(k)
    for j, t in enumerate(targets):
        i = min(int(np.searchsorted(lam, t, side="right")) - 1, k - 2)
        frac = (t - lam[i]) / (lam[i + 1] - lam[i])
        b0, b1 = float(betas[i]), float(betas[i + 1])
        new[j] = b0 + frac * (b1 - b0) if b1 == 0.0 else math.exp(math.log(b0) + frac * (math.log(b1) - math.log(b0)))
    new[0], new[-1] = float(betas[0]), float(betas[-1])
    return torch.as_tensor(new, dtype=torch.float64)


class SlotMoments:
    """Per-slot mean and variance of the states, pooled over the groups and iterations of a round."""

    def __init__(self, k: int, p: int) -> None:
        self.n, self.s1, self.s2 = 0, torch.zeros((k, p), dtype=torch.float64), torch.zeros((k, p), dtype=torch.float64)

    def add(self, w: Tensor) -> None:  # w (K, G, P)
        self.n += w.shape[1]
        self.s1 += w.sum(dim=1)
        self.s2 += (w * w).sum(dim=1)

    def inverse_mass(self) -> Tensor:
        """Stan's regularised variance (K, P), as :class:`bnn.methods.sampler.MassWindow`."""
        mean = self.s1 / self.n
        var = (self.s2 / self.n - mean * mean).clamp(min=0.0) * self.n / max(self.n - 1, 1)
        return self.n / (self.n + 5.0) * var + 1e-3 * 5.0 / (self.n + 5.0)


class Replicas:
    """The batched state: positions (C, P) with their log likelihoods and its gradient."""

    def __init__(self, w: Tensor, betas: Tensor, groups: int, log_lik_grad: LogLikGrad, prior_sigma: float) -> None:
        self.groups, self.prior_var = groups, prior_sigma**2
        self.log_lik_grad = log_lik_grad
        self.w = w.clone()
        self.set_betas(betas)
        self.ll, self.gll = log_lik_grad(self.w)
        self.labels = torch.arange(w.shape[0])  # which replica is where (for the round trips)

    def set_betas(self, betas: Tensor) -> None:
        self.betas = betas
        self.beta_rows = betas.repeat_interleave(self.groups).unsqueeze(1)  # (C, 1)

    def target(self, w: Tensor, ll: Tensor, gll: Tensor) -> tuple[Tensor, Tensor]:
        """log pi_k and its gradient at every row, from the log likelihood and its gradient."""
        beta = self.beta_rows
        log_p = beta[:, 0] * ll - (w * w).sum(dim=1) / (2 * self.prior_var)
        return log_p, beta * gll - w / self.prior_var

    def transition(self, step: Tensor, inv_mass: Tensor, mass_sqrt: Tensor, n: int,
                   generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """One HMC iteration of every row (as :func:`bnn.methods.sampler.transition`, with the
        likelihood kept), step (C, 1), inverse mass (C, P) and the mass's square root (C, P):
        (acceptance probability (C,), divergent (C,))."""
        w0 = self.w
        beta, prior_prec = self.beta_rows, 1.0 / self.prior_var
        log_p0, grad = self.target(w0, self.ll, self.gll)
        # Momenta drawn in float32 (5x faster than float64's normal sampler here), then used in
        # float64: a Gaussian rounded at 1e-7 relative, far below any Monte Carlo error.
        p = torch.randn(w0.shape, generator=generator, dtype=torch.float32).to(w0.dtype).mul_(mass_sqrt)
        energy = -log_p0 + 0.5 * (p * p * inv_mass).sum(dim=1)
        move = step * inv_mass
        w = w0
        p = p.addcmul_(grad, step, value=0.5)
        for i in range(n):
            w = torch.addcmul(w, move, p)
            ll, gll = self.log_lik_grad(w)
            grad = torch.mul(gll, beta).sub_(w, alpha=prior_prec)
            p = p.addcmul_(grad, step, value=1.0 if i < n - 1 else 0.5)
        log_p = beta[:, 0] * ll - (w * w).sum(dim=1) / (2 * self.prior_var)
        error = -log_p + 0.5 * (p * p * inv_mass).sum(dim=1) - energy
        error = torch.nan_to_num(error, nan=math.inf)
        accept_prob = torch.exp(torch.clamp(-error, max=0.0))
        accept = torch.rand(accept_prob.shape, generator=generator, dtype=w.dtype) < accept_prob
        self.w = torch.where(accept[:, None], w, w0)
        self.ll = torch.where(accept, ll, self.ll)
        self.gll = torch.where(accept[:, None], gll, self.gll)
        return accept_prob, error > DIVERGENCE

    def refresh_hot(self, generator: torch.Generator) -> None:
        """Replace the states at beta = 0 by exact draws from the prior. Their likelihood is then
        unknown: the next :meth:`transition` must give that slot step size 0, which leaves them
        in place (the energy is unchanged, so the move is accepted) and evaluates it there."""
        g = self.groups
        fresh = torch.randn((g, self.w.shape[1]), generator=generator, dtype=self.w.dtype) * math.sqrt(self.prior_var)
        self.w = torch.cat([self.w[:-g], fresh])
        self.ll[-g:] = 0.0  # beta = 0 ignores it; no NaN from 0 * inf
        self.gll[-g:] = 0.0

    def swap(self, parity: int, generator: torch.Generator) -> Tensor:
        """Propose to swap the states of the pairs (k, k + 1) with k = parity mod 2; their
        acceptance probabilities (pairs, G), pair j being slots (parity + 2 j, parity + 2 j + 1)."""
        k, g = self.betas.shape[0], self.groups
        lower = torch.arange(parity, k - 1, 2)
        if lower.numel() == 0:
            return torch.empty((0, g), dtype=self.w.dtype)
        ll = self.ll.view(k, g)
        log_ratio = (self.betas[lower] - self.betas[lower + 1])[:, None] * (ll[lower + 1] - ll[lower])
        prob = torch.exp(torch.clamp(torch.nan_to_num(log_ratio, nan=-math.inf), max=0.0))
        accept = torch.rand(prob.shape, generator=generator, dtype=prob.dtype) < prob
        rows = torch.arange(k * g).view(k, g)
        perm = rows.clone()
        perm[lower] = torch.where(accept, rows[lower + 1], rows[lower])
        perm[lower + 1] = torch.where(accept, rows[lower], rows[lower + 1])
        perm = perm.view(-1)
        self.w, self.ll, self.gll, self.labels = self.w[perm], self.ll[perm], self.gll[perm], self.labels[perm]
        return prob


class Tours:
    """Counts states that reach beta = 1 having last been at the hot end: fresh prior draws
    arriving at the sample (the round trips of the PT literature, counted at the cold end)."""

    def __init__(self, k: int, g: int) -> None:
        self.k, self.g = k, g
        self.from_hot = torch.zeros(k * g, dtype=torch.bool)  # indexed by replica label
        self.arrivals = 0

    def update(self, labels: Tensor) -> None:
        slots = labels.view(self.k, self.g)
        self.from_hot[slots[-1]] = True
        cold = slots[0]
        self.arrivals += int(self.from_hot[cold].sum())
        self.from_hot[cold] = False


def sample(log_lik_grad: LogLikGrad, prior_sigma: float, w0: Tensor, settings: SamplerSettings,
           generator: torch.Generator, callback: MethodCallback | None = None, n_data: int = 1) -> Run:
    """Warm up, then draw ``settings.draws`` states of each of the G = C / K chains at beta = 1,
    from w0 (C, P), C = K G, slot-major."""
    k = settings.temperatures
    c, p = w0.shape
    if c % k:
        raise ValueError(f"{c} rows are not a whole number of groups of {k} temperatures")
    g = c // k
    tempered = k > 1
    reps = Replicas(w0, initial_ladder(k, settings.hottest), g, log_lik_grad, prior_sigma)
    step = torch.full((k, 1), settings.initial_step, dtype=w0.dtype)
    inv_mass = torch.full((k, p), prior_sigma**2 if tempered else 1.0, dtype=w0.dtype)
    adapt = DualAveraging(step, settings.target_accept)
    ends = sorted({int(settings.warmup * f) for f in ROUNDS} - {0}) if settings.warmup >= 16 else []
    moments = SlotMoments(k, p)
    swap_sum, swap_n = torch.zeros(max(k - 1, 0), dtype=w0.dtype), torch.zeros(max(k - 1, 0), dtype=w0.dtype)
    tours = Tours(k, g)
    kept, accepts = [], []
    inv_mass_rows = mass_sqrt_rows = None  # inv_mass expanded to the rows, remade when it changes
    divergent_cold = divergent_all = 0
    stopped = False
    total = settings.warmup + settings.draws
    low = max(1, math.ceil(settings.steps / 2))
    for it in range(total):
        n = int(torch.randint(low, settings.steps + 1, (1,), generator=generator))
        if tempered:
            reps.refresh_hot(generator)
            step[-1] = 0.0  # the fresh prior draws stay put; the leapfrog's last evaluation is their likelihood
        if inv_mass_rows is None:
            inv_mass_rows = inv_mass.repeat_interleave(g, 0)
            mass_sqrt_rows = inv_mass_rows.rsqrt()
        accept_prob, div = reps.transition(step.repeat_interleave(g, 0), inv_mass_rows, mass_sqrt_rows, n, generator)
        if tempered:
            prob = reps.swap(it % 2, generator)
            lower = torch.arange(it % 2, k - 1, 2)
            swap_sum[lower] += prob.mean(dim=1)
            swap_n[lower] += 1
            tours.update(reps.labels)
        warm = it < settings.warmup
        if warm:
            step = adapt.update(accept_prob.view(k, g).mean(dim=1, keepdim=True))
            moments.add(reps.w.view(k, g, p))
            if it + 1 in ends:
                if tempered:
                    rejection = 1.0 - swap_sum / swap_n.clamp(min=1)
                    reps.set_betas(equalised_ladder(reps.betas, rejection))
                if settings.adapt_mass:
                    inv_mass = moments.inverse_mass()
                    if tempered:
                        inv_mass[-1] = prior_sigma**2
                    inv_mass_rows = None
                moments = SlotMoments(k, p)
                swap_sum.zero_()
                swap_n.zero_()
                adapt.restart(torch.where(step > 0, step, torch.ones_like(step)))  # the hot slot's is 0
            if it == settings.warmup - 1:
                step = adapt.averaged
                swap_sum.zero_()
                swap_n.zero_()
                tours.arrivals = 0
        elif (it - settings.warmup) % settings.thin == 0:
            kept.append(reps.w[:g].clone())
        if not warm:
            accepts.append(accept_prob.view(k, g))
            divergent_cold += int(div[:g].sum())
            divergent_all += int(div.sum())
        log_p_cold = reps.ll[:g] - (reps.w[:g] ** 2).sum(dim=1) / (2 * prior_sigma**2)
        if _report(callback, it, settings, log_p_cold, n_data):
            stopped = it + 1 < total
            break
    if not kept:  # stopped during warm-up: the current states at beta = 1 are all there is
        kept, accepts = [reps.w[:g].clone()], [torch.full((k, g), math.nan, dtype=w0.dtype)]
    acc = torch.stack(accepts)  # (D, K, G)
    return Run(torch.stack(kept, dim=1), step[0, 0].expand(g).clone(), acc[:, 0].mean(dim=0), divergent_cold, stopped,
               betas=reps.betas, slot_step=step[:, 0].clone(), slot_accept=acc.mean(dim=(0, 2)),
               swap_accept=swap_sum / swap_n.clamp(min=1) if tempered else torch.zeros(0, dtype=w0.dtype),
               round_trips=tours.arrivals, divergences_all=divergent_all)

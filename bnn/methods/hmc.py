"""The reference posterior: HMC on the exact posterior of the model, many chains at once.

The model of :class:`bnn.Config`, p(w) = N(0, prior_sigma^2 I) on all P weights and
p(y | x, w) = N(f(x; w), noise^2), has the unnormalised log posterior

    log p(w | D) = -sum_i (y_i - f(x_i; w))^2 / (2 noise^2) - ||w||^2 / (2 prior_sigma^2) + const,

which :mod:`bnn.methods.sampler` samples with C chains batched as one (C, P) tensor
through :class:`bnn.network.Layout`, the gradient by autograd on the sum over chains
(the chains do not interact, so that sum's gradient is each chain's own). Chains start
at draws from the prior: the posterior of a network is multimodal, chains rarely cross
between its modes, and the pooled draws mix the modes the chains settled in (so split
R-hat of f stays well above 1; a short run also keeps some of the prior's spread, see the
docs/hmc-reference.md). No variational family stands between the model and the answer, so on small
problems this is the reference the approximations are judged against (Izmailov et al.
2021, "What are Bayesian neural network posteriors really like?"). Runs in float64: long trajectories in
float32 lose the energy conservation that the acceptance step relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config
from bnn.errors import ConfigError
from bnn.methods import sampler
from bnn.methods.base import FittedMethod, MethodCallback, Prepared, Stopwatch, prepare
from bnn.methods.config_checks import check_float, check_int
from bnn.methods.diagnostics import effective_sample_size, split_rhat
from bnn.netgrad import WeightPass
from bnn.network import Layout

MAX_CHAINS = 4096
PROBES = 9  # inputs at which the function-space diagnostics are computed (1-D problems)


@dataclass(frozen=True)
class HMCConfig:
    """The sampler's own settings; the model and seed come from :class:`bnn.Config`.

    The defaults run the article's problem (97 weights, 6 points) in ~4 s of one core's
    time; their std of f at x = 0 (~18) is inside the issue's NUTS range (10-18) at its top,
    ~20 % above a 13 times longer run and Pyro's NUTS (docs/hmc-reference.md).
    """

    chains: int = 64
    warmup: int = 300  # iterations per chain spent tuning, then discarded
    draws: int = 200  # iterations kept per chain
    steps: int = 30  # most leapfrog steps per iteration (each iteration draws from [steps/2, steps])
    target_accept: float = 0.8  # dual averaging's target acceptance probability
    adapt_mass: bool = True  # per-chain diagonal mass matrix from the warm-up
    init_scale: float = 1.0  # chains start at w ~ N(0, (init_scale * prior_sigma)^2)

    def __post_init__(self) -> None:
        check_int(self, "chains", 1, MAX_CHAINS)
        check_int(self, "warmup", 0, 100_000)
        check_int(self, "draws", 1, 100_000)
        check_int(self, "steps", 1, 10_000)
        check_float(self, "target_accept", 0.05, 0.99)
        check_float(self, "init_scale", 0.0, 10.0, open_low=True)
        if not isinstance(self.adapt_mass, bool):
            raise ConfigError(f"adapt_mass must be true or false, got {self.adapt_mass!r}")


def log_posterior(layout: Layout, data: Prepared, prior_sigma: float, chains: int | None = None) -> sampler.LogProbGrad:
    """w (C, P) -> (log p(w | D) up to a constant (C,), its gradient (C, P)).

    With ``chains`` given, the gradient is :class:`bnn.netgrad.WeightPass`'s hand-written
    backward pass on buffers made once (the leapfrog calls this thousands of times: ~4x less
    time than autograd on the article's net at 64 chains); any other batch of states, and
    ``chains=None``, go through autograd, the oracle it is tested against.
    """
    noise_var, prior_var = data.noise_sigma**2, prior_sigma**2
    fast = None
    if chains is not None:
        w_buf = torch.empty((chains, layout.size), dtype=data.x.dtype)
        g_buf = torch.empty_like(w_buf)
        fast = WeightPass(layout, chains, data.n, w_buf, g_buf)
        fast.load(data.x, data.y)

    def log_prob_grad(w: Tensor) -> tuple[Tensor, Tensor]:
        if fast is not None and w.shape == w_buf.shape:
            w_buf.copy_(w)
            fast.forward()
            r = fast.residual()  # f - y (C, N, 1)
            fast.backward(-1.0 / noise_var)  # d/dw of -sum r^2 / (2 noise^2)
            grad = g_buf.clone().sub_(w, alpha=1.0 / prior_var)
            log_p = r.square().sum(dim=(1, 2)).div_(-2 * noise_var) - (w * w).sum(dim=1) / (2 * prior_var)
            return log_p, grad
        with torch.enable_grad():
            w = w.detach().requires_grad_(True)
            f = layout.forward(data.x, w)  # (C, N)
            log_p = -((data.y - f) ** 2).sum(dim=1) / (2 * noise_var) - (w * w).sum(dim=1) / (2 * prior_var)
            (grad,) = torch.autograd.grad(log_p.sum(), w)
        return log_p.detach(), grad

    return log_prob_grad


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedHMC(FittedMethod):
    layout: Layout
    samples: Tensor  # (C, D, P) the kept states of every chain
    run: sampler.Run
    probes: np.ndarray  # model-unit inputs of the diagnostics

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    def pooled(self) -> Tensor:
        """Every kept state: (C * D, P)."""
        return self.samples.reshape(-1, self.samples.shape[-1])

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        """S states drawn from the pooled chains, without replacement while there are enough."""
        pool = self.pooled()
        if samples <= pool.shape[0]:
            idx = torch.randperm(pool.shape[0], generator=generator)[:samples]
        else:
            idx = torch.randint(pool.shape[0], (samples,), generator=generator)
        return self.layout.forward(x.to(pool.dtype), pool[idx])

    def chain_functions(self, x: Tensor) -> Tensor:
        """f at model-unit inputs x for every kept state: (C, D, N)."""
        c, d, p = self.samples.shape
        with torch.no_grad():
            return self.layout.forward(x.to(self.samples.dtype), self.samples.reshape(-1, p)).reshape(c, d, -1)

    def diagnostics(self) -> dict[str, float]:
        """Acceptance, step size, divergences, and the worst split R-hat and smallest ESS of f
        over the probe inputs (on f, not weights: see :mod:`bnn.methods.diagnostics`)."""
        f = self.chain_functions(torch.as_tensor(self.probes)).numpy()  # (C, D, K)
        rhat = [split_rhat(f[:, :, k]) for k in range(f.shape[2])]
        ess = [effective_sample_size(f[:, :, k]) for k in range(f.shape[2])]
        return {
            "chains": float(self.samples.shape[0]),
            "draws_per_chain": float(self.samples.shape[1]),
            "accept": float(torch.nanmean(self.run.accept)),
            "step_size": float(self.run.step_size.median()),
            "divergences": float(self.run.divergences),
            "max_rhat_f": float(np.nanmax(rhat)) if not np.all(np.isnan(rhat)) else float("nan"),
            "min_ess_f": float(np.nanmin(ess)) if not np.all(np.isnan(ess)) else float("nan"),
        }


def probe_inputs(x: Tensor) -> np.ndarray:
    """Where to check convergence: for 1-D inputs an even grid over the data's span and half
    as much again on each side; otherwise (up to 50 of) the training inputs."""
    if x.shape[1] == 1:
        low, high = float(x.min()), float(x.max())
        pad = 0.5 * (high - low) or 1.0
        return np.linspace(low - pad, high + pad, PROBES)[:, None]
    return x[:50].double().numpy()


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: HMCConfig | None = None,
        callback: MethodCallback | None = None) -> FittedHMC:
    """Sample the posterior of the config's model at (x, y)."""
    settings = method_config or HMCConfig()
    if config.learn_noise:
        raise ConfigError("the HMC sampler needs a fixed noise std (learn_noise = false): "
                          "a learned noise has no prior in this model")
    clock = Stopwatch()
    data = prepare(x, y, config, dtype=torch.float64)
    layout = Layout.of(data.x.shape[1], config.hidden, config.activation)
    generator = torch.Generator().manual_seed(config.seed)
    w0 = torch.randn((settings.chains, layout.size), generator=generator, dtype=torch.float64)
    w0 = w0 * settings.init_scale * config.prior_sigma
    run = sampler.sample(log_posterior(layout, data, config.prior_sigma, settings.chains), w0,
                         sampler.SamplerSettings(settings.warmup, settings.draws, settings.steps,
                                                 settings.target_accept, settings.adapt_mass),
                         generator, callback, n_data=data.n)
    return FittedHMC(name="hmc", config=config, method_config=settings, scaling=data.scaling, n_train=data.n,
                     noise_sigma_model=data.noise_sigma, seconds=clock.seconds(), stopped_early=run.stopped_early,
                     layout=layout, samples=run.draws, run=run, probes=probe_inputs(data.x))

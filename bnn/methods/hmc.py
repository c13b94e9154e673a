"""The reference posterior: HMC with replica exchange on the exact posterior of the model.

The model of :class:`bnn.Config`, p(w) = N(0, prior_sigma^2 I) on all P weights and
p(y | x, w) = N(f(x; w), noise^2), has the unnormalised log posterior

    log p(w | D) = -sum_i (y_i - f(x_i; w))^2 / (2 noise^2) - ||w||^2 / (2 prior_sigma^2) + const.

The posterior of a network is multimodal and HMC chains do not cross between its modes, so
independent chains pooled together weight the modes by where the chains happened to start.
:mod:`bnn.methods.tempering` runs ``chains`` groups of ``temperatures`` replicas, from the
prior (beta = 0, drawn exactly) to the posterior (beta = 1), batched as one tensor and swapped
by the non-reversible scheme of Syed et al. (2019); the chains at beta = 1 are the sample, and
states reach them from the prior through the ladder, which weights the modes by their mass.
The leapfrog's gradient is :class:`bnn.netgrad.WeightPass`'s hand-written backward pass.

:meth:`FittedHMC.certificate` checks the sample on function values f(x) at probe inputs
across the plotted range: rank-normalised split R-hat < 1.05 and bulk ESS > 200 at every
probe (Vehtari et al. 2021; :mod:`bnn.methods.certificate`).

A classifier (``likelihood="categorical"``) samples log p(w | D) = sum_i log softmax(f(x_i; w))_{c_i}
- ||w||^2 / (2 prior_sigma^2) + const the same way. Its certificate checks the centred logits
f_k(x) - mean_j f_j(x) at the probes, one series per probe and class: the logits themselves are
not identified (adding one number to all K leaves the likelihood unchanged, so only the prior
holds that direction), while the centred logits are exactly what the softmax sees and, unlike
the probabilities, do not saturate at 0 or 1 (where R-hat is undefined). Only then is the run a
reference; docs/hmc-reference.md has the measured two-seed and NUTS agreement. No
variational family stands between the model and the answer, so on small problems this is
the reference the approximations are judged against (Izmailov et al. 2021, "What are
Bayesian neural network posteriors really like?"). Runs in float64: long trajectories in
float32 lose the energy conservation that the acceptance step relies on.

A heteroscedastic noise (``noise="heteroscedastic"``) is one more output g of the same network, its
weights under the same N(0, prior_sigma^2) prior, and the log likelihood is
-sum_i [(y_i - f_i)^2 / (2 sigma_i^2) + log sigma_i] with sigma_i = :func:`bnn.noise.noise_std` (g_i):
the sampler draws f and sigma(x) jointly from the exact posterior, and the hand-written gradient is
:class:`bnn.fast_hetero.HeteroscedasticPass`'s. The certificate stays on the f values (the noise head
is checked by nothing but the likelihood's mixing through them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config
from bnn.errors import ConfigError
from bnn.fast_categorical import CategoricalPass
from bnn.fast_hetero import HeteroscedasticPass
from bnn.methods import likelihood, sampler, tempering
from bnn.methods.base import FittedMethod, MethodCallback, Prepared, Stopwatch, prepare
from bnn.methods.certificate import Certificate, certify
from bnn.methods.config_checks import check_float, check_int
from bnn.netgrad import WeightPass
from bnn.netgrad import run as run_ops
from bnn.network import Layout

MAX_CHAINS = 4096  # rows of the batched state: chains x temperatures
PROBES = 21  # inputs at which the function-space diagnostics are computed (1-D problems)


@dataclass(frozen=True)
class HMCConfig:
    """The sampler's own settings; the model and seed come from :class:`bnn.Config`.

    The defaults are the certified reference on the article's problem (97 weights, 6 points):
    12 chains at beta = 1, each with 16 temperatures (192 replicas), 500 warm-up and 7,000
    sampling iterations (1,750 kept) of 3-6 leapfrog steps, ~15 s of one core's CPU;
    measured figures in docs/hmc-reference.md. ``temperatures=1`` is plain HMC on independent
    chains (no swaps): the old sampler, whose modes are not weighted.
    """

    chains: int = 12  # chains at beta = 1: the sample (each is one group of `temperatures` replicas)
    warmup: int = 500  # iterations spent tuning step sizes, mass matrices and the ladder, then discarded
    draws: int = 1750  # draws kept per chain (after `thin`: draws x thin sampling iterations)
    steps: int = 6  # most leapfrog steps per iteration (each iteration draws from [steps/2, steps])
    target_accept: float = 0.9  # dual averaging's target (0.8 gave 5x the divergences at beta < 1)
    adapt_mass: bool = True  # per-temperature diagonal mass matrix from the warm-up
    init_scale: float = 1.0  # replicas start at w ~ N(0, (init_scale * prior_sigma)^2)
    temperatures: int = 16  # replicas per chain, beta from 1 down to 0 (the prior); 1 = no tempering
    thin: int = 4  # keep every thin-th sampling iteration (neighbours are nearly equal: saves memory, not ESS)

    def __post_init__(self) -> None:
        check_int(self, "chains", 1, MAX_CHAINS)
        check_int(self, "warmup", 0, 100_000)
        check_int(self, "draws", 1, 100_000)
        check_int(self, "steps", 1, 10_000)
        check_float(self, "target_accept", 0.05, 0.99)
        check_float(self, "init_scale", 0.0, 10.0, open_low=True)
        check_int(self, "temperatures", 1, 256)
        check_int(self, "thin", 1, 1000)
        if not isinstance(self.adapt_mass, bool):
            raise ConfigError(f"adapt_mass must be true or false, got {self.adapt_mass!r}")
        if self.chains * self.temperatures > MAX_CHAINS:
            raise ConfigError(f"chains x temperatures must be at most {MAX_CHAINS}, "
                              f"got {self.chains} x {self.temperatures}")

    @property
    def iterations(self) -> int:
        """Sampling iterations per chain after the warm-up."""
        return self.draws * self.thin


def log_likelihood(layout: Layout, data: Prepared, chains: int | None = None,
                   heteroscedastic: bool = False) -> sampler.LogProbGrad:
    """w (C, P) -> (log p(D | w) up to a constant (C,), its gradient (C, P)).

    With ``chains`` given, the gradient is :class:`bnn.netgrad.WeightPass`'s hand-written
    backward pass on buffers made once (the leapfrog calls this thousands of times: ~4x less
    time than autograd on the article's net at 64 chains), for a classifier
    :class:`bnn.fast_categorical.CategoricalPass`'s (d log p / d f = onehot - softmax(f)), with
    ``heteroscedastic`` (outputs (f, g), ``data.noise_sigma`` the noise head's base)
    :class:`bnn.fast_hetero.HeteroscedasticPass`'s; any
    other batch of states, and ``chains=None``, go through autograd
    (:func:`bnn.methods.likelihood.log_likelihood`), the oracle it is tested against.
    """
    categorical = data.classes is not None
    fast = None
    if chains is not None:
        w_buf = torch.empty((chains, layout.size), dtype=data.x.dtype)
        g_buf = torch.empty_like(w_buf)
        if heteroscedastic:
            fast = HeteroscedasticPass(layout, chains, data.n, w_buf, g_buf, data.noise_sigma)
        else:
            fast = (CategoricalPass if categorical else WeightPass)(layout, chains, data.n, w_buf, g_buf)
        fast.load(data.x, data.y)

    def log_lik_grad(w: Tensor) -> tuple[Tensor, Tensor]:
        if fast is not None and w.shape == w_buf.shape:
            w_buf.copy_(w)
            return _fast_log_lik(fast, data.noise_sigma), g_buf.clone()
        with torch.enable_grad():
            w = w.detach().requires_grad_(True)
            f = layout.forward(data.x, w)  # (C, N), or (C, N, K) logits
            log_l = likelihood.log_likelihood(f, data.y, data.noise_sigma, categorical, heteroscedastic)
            (grad,) = torch.autograd.grad(log_l.sum(), w)
        return log_l.detach(), grad

    return log_lik_grad


def _fast_log_lik(fast: WeightPass | CategoricalPass, noise_sigma: float) -> Tensor:
    """Run the pass at the weights in its buffer: log p(D | w) (C,), the gradient left in its ``gw``."""
    run_ops(fast.forward_ops)
    run_ops(fast.residual_ops)
    if isinstance(fast, HeteroscedasticPass):  # r = d(-log p) / d(f, g); the pass sums log p over chains
        run_ops(fast.backward_ops(-1.0))
        return likelihood.log_likelihood(fast.f, fast.y, noise_sigma, False, True)
    if isinstance(fast, CategoricalPass):  # r = softmax(f) - onehot = -d log p / d f
        run_ops(fast.backward_ops(-1.0))
        return (torch.log_softmax(fast.f, dim=-1) * fast.onehot).sum(dim=(1, 2))
    noise_var = noise_sigma**2
    run_ops(fast.backward_ops(-1.0 / noise_var))  # d/dw of -sum r^2 / (2 noise^2)
    return fast.r.square().sum(dim=(1, 2)).div_(-2 * noise_var)


def log_posterior(layout: Layout, data: Prepared, prior_sigma: float, chains: int | None = None) -> sampler.LogProbGrad:
    """w (C, P) -> (log p(w | D) up to a constant (C,), its gradient (C, P)): the likelihood of
    :func:`log_likelihood` (fast with ``chains`` given) plus the N(0, prior_sigma^2 I) prior."""
    log_lik_grad, prior_var = log_likelihood(layout, data, chains), prior_sigma**2

    def log_prob_grad(w: Tensor) -> tuple[Tensor, Tensor]:
        log_l, grad = log_lik_grad(w)
        return log_l - (w * w).sum(dim=1) / (2 * prior_var), grad.sub_(w, alpha=1.0 / prior_var)

    return log_prob_grad


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedHMC(FittedMethod):
    layout: Layout
    samples: Tensor  # (C, D, P) the kept states of every chain
    run: sampler.Run
    probes: np.ndarray  # model-unit inputs of the diagnostics
    _certificate: Certificate | None = field(default=None, repr=False)

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    def pooled(self) -> Tensor:
        """Every kept state of the chains at beta = 1: (C * D, P)."""
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
        """f at model-unit inputs x for every kept state: (C, D, N) (the mean alone with a heteroscedastic
        noise); a classifier's centred logits f_k - mean_j f_j (C, D, N, K), the part of the logits the
        softmax sees."""
        c, d, p = self.samples.shape
        with torch.no_grad():
            f = self.layout.forward(x.to(self.samples.dtype), self.samples.reshape(-1, p))
        if self.is_classifier:
            return (f - f.mean(dim=-1, keepdim=True)).reshape(c, d, *f.shape[1:])
        if self.is_heteroscedastic:
            f = f[..., 0]
        return f.reshape(c, d, -1)

    def probe_functions(self, probes: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(model-unit probe inputs (K, D_in), f in model units there for every kept state (C, D, K));
        ``probes`` in the data's own units (K,) or (K, D_in), by default :attr:`probes`."""
        if probes is None:
            x = self.probes
        else:
            raw = np.asarray(probes, dtype=float)
            raw = raw.reshape(raw.shape[0], -1)
            x = (raw - np.asarray(self.scaling.x_mean)) / np.asarray(self.scaling.x_std)
        return x, self.chain_functions(torch.as_tensor(x)).numpy()

    def certificate(self, probes: ArrayLike | None = None) -> Certificate:
        """Check R-hat < 1.05 and bulk ESS > 200 of f at every probe input (in the data's units, as
        for ``predict``; by default :attr:`probes`, which span the dashboard's default plot on 1-D data).
        The sample is the chains at beta = 1, as :meth:`draw` uses them."""
        if probes is None and self._certificate is not None:
            return self._certificate
        x, f = self.probe_functions(probes)
        if f.ndim == 4:  # a classifier: (C, D, probes, K) centred logits, one series per probe and class
            x, f = np.repeat(x, f.shape[3], axis=0), f.reshape(*f.shape[:2], -1)
        cert = certify(f, x[:, 0] * self.scaling.x_std[0] + self.scaling.x_mean[0], self.stopped_early)
        if probes is None:
            self._certificate = cert
        return cert

    @property
    def certified(self) -> bool:
        return self.certificate().certified

    def diagnostics(self) -> dict[str, float]:
        """Numbers only (the CLI prints them as such): acceptance, step size and divergences of
        the beta = 1 chains; the worst rank-normalised R-hat and smallest bulk/tail ESS of f over
        the probes; the replica exchange's swap acceptance and round trips; and ``certified``
        (1.0 or 0.0; :meth:`certificate` has the reason)."""
        cert = self.certificate()
        run = self.run
        out = {
            "chains": float(self.samples.shape[0]),
            "draws_per_chain": float(self.samples.shape[1]),
            "accept": float(torch.nanmean(run.accept)),
            "step_size": float(run.step_size.median()),
            "divergences": float(run.divergences),
            "max_rhat_f": cert.max_rhat,
            "min_ess_f": cert.min_ess_bulk,
            "min_ess_tail_f": cert.min_ess_tail,
            "temperatures": float(self.method_config.temperatures),
        }
        if run.swap_accept is not None and run.swap_accept.numel():
            out["swap_accept_min"] = float(run.swap_accept.min())
            out["swap_accept_mean"] = float(run.swap_accept.mean())
            out["round_trips"] = float(run.round_trips)
            out["divergences_all"] = float(run.divergences_all)
        out["certified"] = float(cert.certified)
        return out


def probe_inputs(x: Tensor) -> np.ndarray:
    """Where to check convergence: for 1-D inputs an even grid over the data's span and three
    quarters of it again on each side (the article's points span [-2, 2]: [-5, 5], the
    dashboard's default plot); otherwise (up to 50 of) the training inputs."""
    if x.shape[1] == 1:
        low, high = float(x.min()), float(x.max())
        pad = 0.75 * (high - low) or 1.0
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
    config = likelihood.resolve(config, x, y)
    data = prepare(x, y, config, dtype=torch.float64)
    layout = likelihood.model_layout(data.x.shape[1], config)
    generator = torch.Generator().manual_seed(config.seed)
    rows = settings.chains * settings.temperatures
    w0 = torch.randn((rows, layout.size), generator=generator, dtype=torch.float64)
    w0 = w0 * settings.init_scale * config.prior_sigma
    hetero = likelihood.is_heteroscedastic(config)
    run = tempering.sample(log_likelihood(layout, data, rows, hetero), config.prior_sigma, w0,
                           sampler.SamplerSettings(settings.warmup, settings.iterations, settings.steps,
                                                   settings.target_accept, settings.adapt_mass,
                                                   temperatures=settings.temperatures, thin=settings.thin),
                           generator, callback, n_data=data.n)
    noise = math.nan if hetero else data.noise_sigma  # a heteroscedastic noise's std per input is drawn with f
    return FittedHMC(name="hmc", config=config, method_config=settings, scaling=data.scaling, n_train=data.n,
                     noise_sigma_model=noise, seconds=clock.seconds(), stopped_early=run.stopped_early,
                     layout=layout, samples=run.draws, run=run, probes=probe_inputs(data.x))

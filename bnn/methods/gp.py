"""Exact Gaussian-process regression (Rasmussen & Williams 2006, ch. 2 and 5): a different model
from the network's, a smooth prior on functions, shown for what it says between and beyond the data.

    f ~ GP(0, k),   k(x, x') = signal^2 exp(-|x - x'|^2 / (2 lengthscale^2)),   y = f(x) + N(0, noise^2),

on standardised x and y (so the zero mean is the data's mean and one lengthscale serves every
input). The three hyperparameters maximise the log marginal likelihood

    log p(y) = -1/2 y^T (K + noise^2 I)^-1 y - sum log diag L - N/2 log 2pi,   L L^T = K + noise^2 I,

by L-BFGS in float64 from a few starts (lengthscales spread around the median distance between
inputs; the signal at the targets' std; the noise at the config's), each bounded by a sigmoid
map. The noise is among them only when the config learns it (``learn_noise=True``); a fixed
noise is kept, as every method keeps it. ``sample_functions`` draws f jointly from the exact
posterior at the requested inputs, in blocks of ``JOINT_BLOCK`` inputs (joint within a block,
independent between blocks).

On the article's six points the marginal likelihood prefers a lengthscale far below the
spacing of the points (0.018 in standardised x): it finds no evidence that they lie on one
smooth curve, and the band is the prior's between them. ``lengthscale`` fixes it instead.

Every evaluation factorises an N x N matrix, O(N^3) time and O(N^2) memory, and the fit makes
a few hundred of them with their gradients: ``fit`` refuses more than ``MAX_POINTS`` points.

A heteroscedastic noise (``noise="heteroscedastic"``) is refused: exact GP regression has one noise
std (K + noise^2 I); a noise that varies with x needs a second latent GP and approximate inference
(Goldberg et al. 1998; Lazaro-Gredilla & Titsias 2011), a different method.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config, Likelihood
from bnn.errors import ConfigError
from bnn.methods.base import FittedMethod, MethodCallback, MethodProgress, Stopwatch, prepare
from bnn.methods.config_checks import check_float, check_int
from bnn.methods.evidence import maximise_bounded
from bnn.methods.likelihood import refuse_heteroscedastic

# About 1 s of CPU per evaluation with its gradient at N = 2,000 (a 2,000^3 / 3 Cholesky and its
# backward pass), times some 50-100 evaluations per start: measured 250 s for the three starts at
# N = 2,000, D = 13 (100 s at wine's 1,439 rows, 3 s at boston's 455) on a shared two-core machine.
# kin8nm, naval, power and protein (7,000-41,000 rows) would take hours to days and gigabytes.
MAX_POINTS = 2000
JOINT_BLOCK = 2000  # prediction inputs drawn jointly at once: an O(M^3) Cholesky of their covariance
JITTER = 1e-8  # added to K's diagonal, relative to signal^2, so the factorisation never fails
# bounds in standardised units: log of (signal, lengthscale, noise)
LOW = (math.log(1e-2), math.log(1e-2), math.log(1e-4))
HIGH = (math.log(1e2), math.log(1e2), math.log(10.0))


@dataclass(frozen=True)
class GPConfig:
    """The GP's own settings; the seed (of the draws), the noise and whether it is learned come from
    :class:`bnn.Config`."""

    restarts: int = 3  # L-BFGS starts, lengthscales 0.3x, 1x and 3x the median input distance
    iterations: int = 100  # most L-BFGS iterations per start
    lengthscale: float | None = None  # None: by marginal likelihood; a number fixes it (standardised x)

    def __post_init__(self) -> None:
        check_int(self, "restarts", 1, 16)
        check_int(self, "iterations", 1, 10_000)
        if self.lengthscale is not None:
            check_float(self, "lengthscale", math.exp(LOW[1]), math.exp(HIGH[1]))


def rbf(a: Tensor, b: Tensor, signal: Tensor | float, lengthscale: Tensor | float) -> Tensor:
    """signal^2 exp(-|a_i - b_j|^2 / (2 lengthscale^2)) for a (N, D), b (M, D): (N, M)."""
    # |a|^2 + |b|^2 - 2 a.b: (N, M) memory, not the (N, M, D) of the differences
    sq = ((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T).clamp(min=0.0)
    return signal**2 * torch.exp(-0.5 * sq / lengthscale**2)


def factor(x: Tensor, signal: Tensor | float, lengthscale: Tensor | float, noise: Tensor | float) -> Tensor:
    """The lower Cholesky factor of K + (noise^2 + jitter) I: (N, N)."""
    k = rbf(x, x, signal, lengthscale)
    return torch.linalg.cholesky(k + (noise**2 + JITTER * signal**2) * torch.eye(x.shape[0], dtype=x.dtype))


def log_marginal_likelihood(x: Tensor, y: Tensor, signal: Tensor | float, lengthscale: Tensor | float,
                            noise: Tensor | float) -> Tensor:
    """log N(y; 0, K + noise^2 I) (model units)."""
    chol = factor(x, signal, lengthscale, noise)
    alpha = torch.cholesky_solve(y[:, None], chol)[:, 0]
    return -0.5 * y @ alpha - torch.log(torch.diagonal(chol)).sum() - 0.5 * y.shape[0] * math.log(2 * math.pi)


def starts(x: Tensor, noise: float, restarts: int) -> list[tuple[float, float, float]]:
    """(signal, lengthscale, noise) starting points: lengthscales spread around the median distance."""
    distances = torch.cdist(x, x)[torch.triu_indices(x.shape[0], x.shape[0], offset=1).unbind()]
    median = float(distances.median()) if distances.numel() else 1.0
    factors = [1.0] if restarts == 1 else np.geomspace(0.3, 3.0, restarts).tolist()
    return [(1.0, median * f, noise) for f in factors]


def clip(values: tuple[float, float, float]) -> Tensor:
    return torch.tensor([min(max(math.log(v), lo), hi) for v, lo, hi in zip(values, LOW, HIGH)],
                        dtype=torch.float64)


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedGP(FittedMethod):
    x_train: Tensor  # (N, D) model units
    cholesky: Tensor  # (N, N) of K + noise^2 I at the fitted hyperparameters
    alpha: Tensor  # (N,) (K + noise^2 I)^-1 y
    signal: float  # model units, as is the lengthscale
    lengthscale: float
    log_marginal_likelihood: float  # model units

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    def diagnostics(self) -> dict[str, float]:
        return {"signal": self.signal, "lengthscale": self.lengthscale, "noise sigma": self.noise_sigma,
                "log marginal likelihood": self.log_marginal_likelihood}

    def posterior_model(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Mean (M,) and covariance (M, M) of f at model-unit inputs x (M, D)."""
        cross = rbf(self.x_train, x, self.signal, self.lengthscale)  # (N, M)
        v = torch.linalg.solve_triangular(self.cholesky, cross, upper=False)
        return cross.T @ self.alpha, rbf(x, x, self.signal, self.lengthscale) - v.T @ v

    def posterior(self, x: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Mean (M,) and covariance (M, M) of f at inputs x, in the target's original units."""
        mean, cov = self.posterior_model(self.scaling.x(self.checked_inputs(x), torch.float64))
        s = self.scaling.y_std
        return mean.numpy() * s + self.scaling.y_mean, cov.numpy() * s**2

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        x = x.to(torch.float64)
        blocks = []
        for start in range(0, x.shape[0], JOINT_BLOCK):
            mean, cov = self.posterior_model(x[start:start + JOINT_BLOCK])
            z = torch.randn((mean.shape[0], samples), generator=generator, dtype=torch.float64)
            blocks.append(mean[:, None] + jittered_cholesky(cov, self.signal**2) @ z)  # (M, S)
        return torch.cat(blocks).T


def jittered_cholesky(cov: Tensor, scale: float, what: str = "gp: the posterior covariance",
                      unit: str = "signal^2") -> Tensor:
    """Cholesky factor of cov + jitter I, the jitter growing tenfold from 1e-10 scale until it works
    (a posterior covariance at nearby inputs is singular up to round-off)."""
    eye = torch.eye(cov.shape[0], dtype=cov.dtype)
    for power in range(-10, -3):
        chol, info = torch.linalg.cholesky_ex(cov + 10.0**power * scale * eye)
        if int(info) == 0:
            return chol
    raise ConfigError(f"{what} is not positive definite even with jitter 1e-4 {unit}")


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: GPConfig | None = None,
        callback: MethodCallback | None = None) -> FittedGP:
    """Maximise the marginal likelihood from each start; keep the best; factorise once more there."""
    settings = method_config or GPConfig()
    if config.likelihood is Likelihood.CATEGORICAL:
        raise ConfigError("gp: exact GP regression has a Gaussian likelihood only; it does not fit "
                          "likelihood='categorical' (classification): choose another method")
    refuse_heteroscedastic(config, "gp", "exact GP regression has one noise std (K + noise^2 I); a noise "
                           "that varies with x needs a second latent GP and approximate inference")
    clock = Stopwatch()
    data = prepare(x, y, replace(config, standardize=True), dtype=torch.float64)
    if data.n > MAX_POINTS:
        raise ConfigError(f"gp: exact GP regression takes at most {MAX_POINTS:,} training points (its cost "
                          f"grows as N^3), got {data.n:,}")
    # log (signal, lengthscale, noise); those fixed by the configs are left out of the search
    fixed = {1: settings.lengthscale, 2: data.noise_sigma if not config.learn_noise else None}
    free = [i for i in range(3) if fixed.get(i) is None]
    low, high = torch.tensor(LOW, dtype=torch.float64)[free], torch.tensor(HIGH, dtype=torch.float64)[free]

    def full(v: Tensor) -> list[Tensor | float]:
        values: list[Tensor | float] = [fixed[i] if fixed.get(i) is not None else 0.0 for i in range(3)]
        for j, i in enumerate(free):
            values[i] = torch.exp(v[j])
        return values

    def objective(v: Tensor) -> Tensor:
        return log_marginal_likelihood(data.x, data.y, *full(v))

    best, best_value, rows, stopped = None, -math.inf, [], False
    initial = starts(data.x, data.noise_sigma, settings.restarts) if settings.lengthscale is None else [
        (1.0, settings.lengthscale, data.noise_sigma)]
    for i, start in enumerate(initial):
        v0 = clip(start)[free]
        value0 = float(objective(v0))
        v, value = maximise_bounded(objective, v0, low, high, settings.iterations)
        v, value = (v, value) if value >= value0 else (v0, value0)
        rows.append((i + 1, -value / data.n))
        if value > best_value:
            best, best_value = v, value
        if callback is not None and callback(MethodProgress("gp", "train", i + 1, len(initial), -value / data.n)):
            stopped = i + 1 < len(initial)
            break
    signal, lengthscale, noise = (float(t) for t in full(best))
    chol = factor(data.x, signal, lengthscale, noise)
    alpha = torch.cholesky_solve(data.y[:, None], chol)[:, 0]
    return FittedGP(name="gp", config=config, method_config=settings, scaling=data.scaling, n_train=data.n,
                    noise_sigma_model=noise, seconds=clock.seconds(), stopped_early=stopped,
                    history=pd.DataFrame(rows, columns=["epoch", "loss"]), x_train=data.x, cholesky=chol,
                    alpha=alpha, signal=signal, lengthscale=lengthscale, log_marginal_likelihood=best_value)

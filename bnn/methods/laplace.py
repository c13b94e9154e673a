"""A Laplace approximation around the MAP (MacKay 1992; Immer et al. 2021, "Improving
predictions of Bayesian neural nets via local linearization"): a Gaussian
N(w_map, H^-1) with H the generalised Gauss-Newton matrix of the negative log posterior,

    H = J^T J / noise^2 + I / prior_sigma^2,    J = d f(x_i; w) / d w at w_map  (N, P),

which for a Gaussian likelihood is the Hessian with the residual term dropped, so it is
positive definite. Draws use the linearised network (the "GLM predictive" of Immer et
al.), f_s(x) = f(x; w_map) + J(x) (w_s - w_map), by default; ``predictive="nn"`` pushes
w_s through the network instead. ``subset="last_layer"`` treats only the output layer's
weights as random (Kristiadi et al. 2020), the rest fixed at the MAP.

``tune="evidence"`` (the default) then chooses the prior std, and the noise std when the config
learns it (``learn_noise=True``), to maximise the marginal likelihood of the linearised model
(:mod:`bnn.methods.evidence`; Immer et al. 2021), post hoc: the MAP stays the one trained under
the config's prior, and the tuned values set H and the noise of the predictive. A fixed noise
(``learn_noise=False``, the article's) is kept: it is the user's statement about the data, every
other method uses it, and on the article's six noise-free points the evidence would otherwise
explain them as noise of std 3.5 around a nearly flat function. ``tune="none"`` is the untuned
approximation.

Computed here with ``torch.func.jacrev`` rather than through laplace-torch: with torch
pinned to 2.13.0 that package brings in torchvision, backpack, asdfghjkl and curvlinops,
and on these networks (about a hundred weights) the full matrix is a (P, P) product.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.checks import as_enum
from bnn.config import Config
from bnn.methods import evidence, optimise
from bnn.methods.base import FittedMethod, MethodCallback, Stopwatch
from bnn.methods.config_checks import check_training
from bnn.methods.gp import jittered_cholesky
from bnn.network import Layout


class Subset(StrEnum):
    """Which weights the Laplace approximation treats as random."""

    ALL = "all"
    """Every weight and bias: the full GGN over P weights."""
    LAST_LAYER = "last_layer"
    """The output layer only (Kristiadi et al. 2020); the rest stay at the MAP."""


class LaplacePredictive(StrEnum):
    """How a weight draw becomes a function draw."""

    GLM = "glm"
    """The network linearised at the MAP (Immer et al. 2021's GLM predictive): f_map + J (w - w_map)."""
    NN = "nn"
    """The network itself at the sampled weights."""


class Tune(StrEnum):
    """Which hyperparameters the marginal likelihood of the linearised model chooses."""

    EVIDENCE = "evidence"
    """The prior std, and the noise std if the config learns it (the default)."""
    NONE = "none"
    """Neither: the config's prior and noise, as trained (the untuned Laplace approximation)."""


JACOBIAN_CHUNK = 4096  # inputs per Jacobian evaluation: bounds memory at (chunk, P)


@dataclass(frozen=True)
class LaplaceConfig:
    """The Laplace approximation's own settings; the model and seed come from :class:`bnn.Config`."""

    subset: Subset = Subset.ALL
    predictive: LaplacePredictive = LaplacePredictive.GLM
    tune: Tune = Tune.EVIDENCE
    epochs: int = 2000  # of the MAP fit
    lr: float = 0.01
    batch_size: int | None = None
    weight_decay: float | None = None  # None: 1/(N prior_sigma^2), the MAP of the model's prior

    def __post_init__(self) -> None:
        object.__setattr__(self, "subset", as_enum(Subset, self.subset, "subset"))
        object.__setattr__(self, "predictive", as_enum(LaplacePredictive, self.predictive, "predictive"))
        object.__setattr__(self, "tune", as_enum(Tune, self.tune, "tune"))
        check_training(self)


def jacobian(layout: Layout, x: Tensor, w: Tensor) -> Tensor:
    """d f(x_n; w) / d w for a single weight vector w (P,): (N, P)."""

    def f(v: Tensor, xc: Tensor) -> Tensor:
        return layout.forward(xc, v.unsqueeze(0))[0]

    chunks = [torch.func.jacrev(f)(w, x[i:i + JACOBIAN_CHUNK]) for i in range(0, x.shape[0], JACOBIAN_CHUNK)]
    return torch.cat(chunks)


def factor(precision: Tensor) -> Tensor:
    """The Cholesky factor of the posterior precision, with a jitter only if it needs one.

    Directions the data never move (weights of an input column that is constant in the training
    rows: two of naval's) are held positive by 1 / prior^2 alone; beside the J^T J / noise^2 of a
    small tuned noise that is below float64's relative precision, and the plain factorisation
    fails. The jitter (from 1e-10 of the mean diagonal up) changes only such directions, which
    the training inputs cannot see."""
    chol, info = torch.linalg.cholesky_ex(precision)
    if int(info) == 0:
        return chol
    return jittered_cholesky(precision, float(precision.diagonal().mean()), what="laplace: the posterior precision",
                             unit="of its mean diagonal")


def ggn_precision(jac: Tensor, noise_sigma: float, prior_sigma: float) -> Tensor:
    """J^T J / noise^2 + I / prior_sigma^2: (P, P)."""
    eye = torch.eye(jac.shape[1], dtype=jac.dtype)
    return jac.T @ jac / noise_sigma**2 + eye / prior_sigma**2


def random_indices(layout: Layout, subset: Subset) -> Tensor:
    """The flat indices of the weights treated as random."""
    if subset is Subset.ALL:
        return torch.arange(layout.size)
    o, i = layout.shapes[-1]
    return torch.arange(layout.size - (o * i + o), layout.size)


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedLaplace(FittedMethod):
    layout: Layout
    w_map: Tensor  # (P,)
    indices: Tensor  # (K,) indices of the random weights
    cholesky: Tensor  # (K, K) lower Cholesky factor of the precision over them
    prior_sigma_model: float  # the prior std H was computed with (tuned unless tune="none")
    log_evidence: float  # of the linearised model at the hyperparameters used, in model units

    @property
    def dtype(self) -> torch.dtype:
        return torch.float64

    def diagnostics(self) -> dict[str, float]:
        return {"prior sigma": self.prior_sigma_model, "noise sigma": self.noise_sigma,
                "log evidence": self.log_evidence}

    def covariance(self) -> Tensor:
        """The posterior covariance over the random weights: (K, K)."""
        return torch.cholesky_inverse(self.cholesky)

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        z = torch.randn((self.indices.shape[0], samples), generator=generator, dtype=self.w_map.dtype)
        # precision = L L^T, so L^-T z has covariance (L L^T)^-1
        delta = torch.linalg.solve_triangular(self.cholesky.T, z, upper=True).T  # (S, K)
        x = x.to(self.w_map.dtype)
        if self.method_config.predictive is LaplacePredictive.GLM:
            jac = jacobian(self.layout, x, self.w_map)[:, self.indices]  # (N, K)
            f_map = self.layout.forward(x, self.w_map.unsqueeze(0))  # (1, N)
            return f_map + delta @ jac.T
        w = self.w_map.expand(samples, -1).clone()
        w[:, self.indices] += delta
        return self.layout.forward(x, w)


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: LaplaceConfig | None = None,
        callback: MethodCallback | None = None) -> FittedLaplace:
    """MAP fit of the config's model, then the GGN Laplace approximation around it, with the prior
    and noise tuned by the linearised model's evidence unless ``tune="none"``."""
    settings = method_config or LaplaceConfig()
    clock = Stopwatch()
    nets = optimise.train_networks(x, y, config, settings, members=1, method="laplace", callback=callback,
                                   dtype=torch.float64, decay=settings.weight_decay)
    w_map = nets.trained.weights[0]
    indices = random_indices(nets.layout, settings.subset)
    x, y = nets.data.x, nets.data.y
    jac = jacobian(nets.layout, x, w_map)[:, indices]  # (N, K)
    targets = y - nets.layout.forward(x, w_map.unsqueeze(0))[0] + jac @ w_map[indices]
    linearised = evidence.LinearisedData.of(jac, targets)
    # the model's prior, whatever weight decay found the mode
    prior, noise = config.prior_sigma, nets.trained.noise_sigma
    if settings.tune is Tune.NONE:
        log_ev = float(evidence.log_evidence(linearised, math.log(prior), math.log(noise)))
    else:
        prior, noise, log_ev = evidence.maximise_evidence(linearised, prior, noise, float(y.std()) or 1.0,
                                                          tune_noise=config.learn_noise)
    cholesky = factor(ggn_precision(jac, noise, prior))
    fields = {**nets.fitted_fields("laplace", config, settings, clock), "noise_sigma_model": noise}
    return FittedLaplace(**fields, layout=nets.layout, w_map=w_map, indices=indices, cholesky=cholesky,
                         prior_sigma_model=prior, log_evidence=log_ev)

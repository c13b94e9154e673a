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

A classifier (``likelihood="categorical"``, K logits) uses the GGN of the softmax likelihood,
whose Hessian in the logits is Lambda_n = diag(p_n) - p_n p_n^T at p_n = softmax(f(x_n; w_map)):

    H = sum_n J_n^T Lambda_n J_n + I / prior_sigma^2,    J_n = d f(x_n; w) / d w  (K, P),

the Fisher of the categorical likelihood (Immer et al. 2021; Daxberger et al. 2021, "Laplace
Redux"). Its predictives: ``glm`` (the MC form) draws logits from the Gaussian linearised
predictive N(f_map(x), J(x) H^-1 J(x)^T); ``probit`` gives the class probabilities in closed form
by the multiclass ("extended") probit approximation, softmax_k(f_map,k / sqrt(1 + pi/8 var_k))
with var_k the diagonal of that covariance (MacKay 1992; Daxberger et al. 2021, the laplace-torch
``link_approx="probit"``). In the table the probit gives ``p0..`` and ``label``, and the entropy is
that of those probabilities; the expected entropy (``aleatoric``), hence the epistemic part, and
the intervals come from draws of the MC form (:meth:`FittedLaplace.predict`). ``tune="evidence"``
tunes the prior std alone (a classifier has no noise) by the Laplace evidence at the MAP
(:func:`bnn.methods.evidence.softmax_log_evidence`).

Computed here with ``torch.func.jacrev`` rather than through laplace-torch: with torch
pinned to 2.13.0 that package brings in torchvision, backpack, asdfghjkl and curvlinops,
and on these networks (about a hundred weights) the full matrix is a (P, P) product.

A heteroscedastic noise (``noise="heteroscedastic"``) is refused with a ConfigError: the GGN above,
the evidence that tunes the prior and noise, and the linearised predictive all assume one noise std
(its GGN would need the Fisher of (f, g) per point, a 2 x 2 block that depends on sigma(x), and a
predictive for g: a different method, not this one's options).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.checks import as_enum
from bnn.config import Config
from bnn.errors import ConfigError
from bnn.methods import evidence, likelihood, optimise
from bnn.methods.base import FittedMethod, MethodCallback, Stopwatch
from bnn.methods.config_checks import check_training
from bnn.methods.gp import jittered_cholesky
from bnn.network import Layout
from bnn.uncertainty import entropy, probability_columns


class Subset(StrEnum):
    """Which weights the Laplace approximation treats as random."""

    ALL = "all"
    """Every weight and bias: the full GGN over P weights."""
    LAST_LAYER = "last_layer"
    """The output layer only (Kristiadi et al. 2020); the rest stay at the MAP."""


class LaplacePredictive(StrEnum):
    """How a weight draw becomes a function draw."""

    GLM = "glm"
    """The network linearised at the MAP (Immer et al. 2021's GLM predictive): f_map + J (w - w_map);
    for a classifier, the MC predictive: logits drawn from the Gaussian linearised predictive."""
    NN = "nn"
    """The network itself at the sampled weights."""
    PROBIT = "probit"
    """Classifiers only: the multiclass probit approximation of the GLM predictive's probabilities
    (the module docstring); draws, intervals and the entropy split are the GLM's."""


class Tune(StrEnum):
    """Which hyperparameters the marginal likelihood of the linearised model chooses."""

    EVIDENCE = "evidence"
    """The prior std, and the noise std if the config learns it (the default); a classifier's prior std alone."""
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
    """d f(x_n; w) / d w for a single weight vector w (P,): (N, P), or (N, K, P) for K outputs."""

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


def softmax_ggn(jac: Tensor, probs: Tensor) -> Tensor:
    """sum_n J_n^T (diag(p_n) - p_n p_n^T) J_n for J (N, K, P) and p (N, K): (P, P), as
    (sqrt(p) J)^T (sqrt(p) J) - (p^T J)^T (p^T J), with no (N, K, K) tensor."""
    scaled = (jac * probs.sqrt().unsqueeze(-1)).reshape(-1, jac.shape[-1])  # (N K, P)
    mixed = torch.einsum("nk,nkp->np", probs, jac)  # (N, P)
    return scaled.T @ scaled - mixed.T @ mixed


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
        noise = {} if self.is_classifier else {"noise sigma": self.noise_sigma}  # a classifier has none
        return {"prior sigma": self.prior_sigma_model, **noise, "log evidence": self.log_evidence}

    def covariance(self) -> Tensor:
        """The posterior covariance over the random weights: (K, K)."""
        return torch.cholesky_inverse(self.cholesky)

    def probit_probabilities(self, x: Tensor) -> Tensor:
        """A classifier's probit class probabilities at model-unit inputs x (N, D): (N, C) (module docstring)."""
        x = x.to(self.w_map.dtype)
        jac = jacobian(self.layout, x, self.w_map)[..., self.indices]  # (N, C, K)
        n, c, k = jac.shape
        # J H^-1 J^T's diagonal: |L^-1 J_nc^T|^2, with H = L L^T
        z = torch.linalg.solve_triangular(self.cholesky, jac.reshape(n * c, k).T, upper=False)  # (K, N C)
        var = z.square().sum(dim=0).reshape(n, c)
        f_map = self.layout.forward(x, self.w_map.unsqueeze(0))[0]  # (N, C)
        return torch.softmax(f_map / torch.sqrt(1 + math.pi / 8 * var), dim=-1)

    def predict(self, x_new: ArrayLike, samples: int = 100, level: float = 0.95, seed: int | None = None,
                generator: torch.Generator | None = None) -> pd.DataFrame:
        """:meth:`bnn.predict.Predictive.predict`; with ``predictive="probit"``, ``p0..`` and ``label`` are
        the probit's, ``entropy`` theirs and ``epistemic`` = max(entropy - aleatoric, 0), with
        ``aleatoric`` and the intervals from the GLM's draws."""
        table = super().predict(x_new, samples=samples, level=level, seed=seed, generator=generator)
        if self.method_config.predictive is not LaplacePredictive.PROBIT:
            return table
        with torch.no_grad():
            probs = self.probit_probabilities(self.scaling.x(self.checked_inputs(x_new), self.dtype)).numpy()
        for k, name in enumerate(probability_columns(probs.shape[1])):
            table[name] = probs[:, k]
        table["label"] = probs.argmax(axis=1)
        table["entropy"] = np.maximum(entropy(probs), table["aleatoric"].to_numpy())
        table["epistemic"] = table["entropy"] - table["aleatoric"]
        return table

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        z = torch.randn((self.indices.shape[0], samples), generator=generator, dtype=self.w_map.dtype)
        # precision = L L^T, so L^-T z has covariance (L L^T)^-1
        delta = torch.linalg.solve_triangular(self.cholesky.T, z, upper=True).T  # (S, K)
        x = x.to(self.w_map.dtype)
        if self.method_config.predictive is not LaplacePredictive.NN:  # the GLM (probit's draws too)
            jac = jacobian(self.layout, x, self.w_map)[..., self.indices]  # (N, K) or (N, C, K) for C classes
            f_map = self.layout.forward(x, self.w_map.unsqueeze(0))  # (1, N) or (1, N, C)
            return f_map + torch.tensordot(delta, jac, dims=([1], [jac.dim() - 1]))
        w = self.w_map.expand(samples, -1).clone()
        w[:, self.indices] += delta
        return self.layout.forward(x, w)


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: LaplaceConfig | None = None,
        callback: MethodCallback | None = None) -> FittedLaplace:
    """MAP fit of the config's model, then the GGN Laplace approximation around it, with the prior
    (and a learned noise) tuned by the evidence unless ``tune="none"``."""
    settings = method_config or LaplaceConfig()
    categorical = likelihood.is_categorical(config)
    likelihood.refuse_heteroscedastic(config, "laplace", "its GGN precision J^T J / noise^2 + I / prior^2, "
                                      "the evidence that tunes it and its linearised predictive assume one noise std")
    if settings.predictive is LaplacePredictive.PROBIT and not categorical:
        raise ConfigError("laplace: predictive='probit' approximates class probabilities, so it needs "
                          "likelihood='categorical'; a regression uses 'glm' or 'nn'")
    clock = Stopwatch()
    nets = optimise.train_networks(x, y, config, settings, members=1, method="laplace", callback=callback,
                                   dtype=torch.float64, decay=settings.weight_decay)
    w_map = nets.trained.weights[0]
    indices = random_indices(nets.layout, settings.subset)
    jac = jacobian(nets.layout, nets.data.x, w_map)[..., indices]  # (N, K), or (N, C, K) for C classes
    posterior = _softmax_posterior if categorical else _gaussian_posterior
    cholesky, prior, noise, log_ev = posterior(nets, jac, w_map[indices], config, settings)
    fields = {**nets.fitted_fields("laplace", config, settings, clock), "noise_sigma_model": noise}
    return FittedLaplace(**fields, layout=nets.layout, w_map=w_map, indices=indices, cholesky=cholesky,
                         prior_sigma_model=prior, log_evidence=log_ev)


def _gaussian_posterior(nets: optimise.Networks, jac: Tensor, w_random: Tensor, config: Config,
                        settings: LaplaceConfig) -> tuple[Tensor, float, float, float]:
    """(Cholesky factor of H, prior std, noise std, log evidence) of the linearised Gaussian model."""
    x, y = nets.data.x, nets.data.y
    targets = y - nets.layout.forward(x, nets.trained.weights)[0] + jac @ w_random
    linearised = evidence.LinearisedData.of(jac, targets)
    # the model's prior, whatever weight decay found the mode
    prior, noise = config.prior_sigma, nets.trained.noise_sigma
    if settings.tune is Tune.NONE:
        log_ev = float(evidence.log_evidence(linearised, math.log(prior), math.log(noise)))
    else:
        prior, noise, log_ev = evidence.maximise_evidence(linearised, prior, noise, float(y.std()) or 1.0,
                                                          tune_noise=config.learn_noise)
    return factor(ggn_precision(jac, noise, prior)), prior, noise, log_ev


def _softmax_posterior(nets: optimise.Networks, jac: Tensor, w_random: Tensor, config: Config,
                       settings: LaplaceConfig) -> tuple[Tensor, float, float, float]:
    """The same for a classifier: the softmax GGN, the prior tuned alone; the noise is NaN."""
    logits = nets.layout.forward(nets.data.x, nets.trained.weights)[0]  # (N, C)
    ggn = softmax_ggn(jac, torch.softmax(logits, dim=-1))
    log_lik = float(-torch.nn.functional.cross_entropy(logits, nets.data.y, reduction="sum"))
    eigenvalues = torch.linalg.eigvalsh(ggn)
    norm2 = float(w_random @ w_random)
    prior = config.prior_sigma
    if settings.tune is Tune.NONE:
        log_ev = float(evidence.softmax_log_evidence(eigenvalues.clamp(min=0.0), norm2, log_lik,
                                                     torch.tensor(math.log(prior))))
    else:
        prior, log_ev = evidence.maximise_softmax_evidence(eigenvalues, norm2, log_lik, prior)
    eye = torch.eye(ggn.shape[0], dtype=ggn.dtype)
    return factor(ggn + eye / prior**2), prior, math.nan, log_ev

"""The run's configuration: one frozen dataclass, validated once, defaults = the article's run.

The article (a Chinese blog post re-implementing Blundell et al. 2015, "Weight
Uncertainty in Neural Networks") trains a 1-32-1 sigmoid network whose weights all
have a Gaussian posterior N(mu, softplus(rho)^2), mu = rho = 0 at the start, under a
N(0, 10^2) prior and a Gaussian likelihood with sigma 0.1, by Adam (lr 0.1) for 2000
full-batch epochs with one Monte Carlo sample. ``Config()`` is that run. The one
default that differs is the KL estimator: the closed form (``kl="closed"``) has the
same expectation as the article's single-sample ``log q - log p`` and less variance;
``kl="mc"`` is the article's estimator exactly.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from enum import Enum, StrEnum
from typing import Any

from bnn.checks import as_enum, as_float, as_int, require
from bnn.data import steps_per_epoch
from bnn.errors import ConfigError


class Activation(StrEnum):
    """Hidden-unit nonlinearity."""

    SIGMOID = "sigmoid"
    """The article's choice: smooth, saturating, so the band flattens far from the data."""
    TANH = "tanh"
    """Zero-centred sigmoid."""
    RELU = "relu"
    """Piecewise linear: the band grows linearly away from the data."""


class KLEstimator(StrEnum):
    """How KL(q || p) enters the loss."""

    CLOSED = "closed"
    """Closed-form Gaussian KL, summed over parameters (no sampling noise)."""
    MC = "mc"
    """The article's Monte Carlo estimate log q(w) - log p(w) at the sampled weights."""


class Likelihood(StrEnum):
    """What the network's outputs model."""

    GAUSSIAN = "gaussian"
    """Regression: one output f, y ~ N(f, noise_sigma^2) (the article's)."""
    CATEGORICAL = "categorical"
    """Classification: K outputs, labels 0..K-1 ~ Categorical(softmax(f)); K = 2 is binary."""


class NoiseModel(StrEnum):
    """The observation noise of a Gaussian likelihood."""

    FIXED = "fixed"
    """One std, noise_sigma, never trained (the article's)."""
    LEARNED = "learned"
    """One std, starting at noise_sigma, optimised with the weights (what ``learn_noise=True`` meant)."""
    HETEROSCEDASTIC = "heteroscedastic"
    """A std per input, sigma(x) = softplus(g(x) + c) + floor, g a second output of the network,
    Bayesian like the rest; c makes g = 0 give noise_sigma (see :mod:`bnn.noise`)."""


class Init(StrEnum):
    """Initialisation of the variational parameters."""

    ARTICLE = "article"
    """mu = 0 and rho = 0 (sigma = softplus(0) = 0.693) everywhere, as in the article."""
    SCALED = "scaled"
    """mu ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's Linear), rho = -5 (sigma ~ 0.0067)."""


# Engine-wide caps: they stop absurd requests, not reasonable ones. The dashboard
# applies tighter caps of its own.
MAX_LAYERS = 8
MAX_UNITS = 4096
MAX_EPOCHS = 1_000_000
MAX_SAMPLES = 4096
MAX_CLASSES = 1000


@dataclass(frozen=True)
class Config:
    """Everything that decides a Bayes-by-Backprop run. Defaults reproduce the article."""

    hidden: tuple[int, ...] = (32,)  # hidden widths; () is Bayesian linear regression
    activation: Activation = Activation.SIGMOID
    prior_sigma: float = 10.0  # std of the N(0, prior_sigma^2) prior (the article's `prior_var=10`)
    noise_sigma: float = 0.1  # likelihood std (the article's `noise_tol`); start value if learned; the
    # scale a heteroscedastic noise starts from
    learn_noise: bool = False  # kept for old configs and links: True is noise="learned"; mirrors noise
    noise: NoiseModel = NoiseModel.FIXED  # fixed, learned (one std) or heteroscedastic (a std per input)
    # the share of the optimiser steps, from the start, during which a heteroscedastic sigma(x) is one learned
    # std (the noise head's bias) and the mean is fitted first (bnn.noise.NoiseWarmup); 0 = none. Other noises
    # have nothing to warm up and ignore it (not refused: a link checks each field alone, before the noise)
    noise_warmup: float = 0.0
    init: Init = Init.ARTICLE
    lr: float = 0.1  # Adam learning rate
    epochs: int = 2000
    batch_size: int | None = None  # None: full batch, as in the article
    train_samples: int = 1  # Monte Carlo weight samples per step
    kl: KLEstimator = KLEstimator.CLOSED
    kl_weight: float = 1.0  # multiplies the KL term of the ELBO (1 = the true ELBO)
    local_reparam: bool = False  # sample pre-activations per example (Kingma et al. 2015)
    standardize: bool = False  # fit on standardised x and y, report in original units
    seed: int = 0
    likelihood: Likelihood = Likelihood.GAUSSIAN
    # categorical only: the number of classes K; None infers it from the labels (largest + 1)
    classes: int | None = None

    def __post_init__(self) -> None:
        # Coerce the JSON-friendly forms (lists, strings) to the typed ones, then check.
        object.__setattr__(self, "hidden", _as_hidden(self.hidden))
        object.__setattr__(self, "activation", as_enum(Activation, self.activation, "activation"))
        object.__setattr__(self, "kl", as_enum(KLEstimator, self.kl, "kl"))
        object.__setattr__(self, "init", as_enum(Init, self.init, "init"))
        object.__setattr__(self, "likelihood", as_enum(Likelihood, self.likelihood, "likelihood"))
        object.__setattr__(self, "noise", as_enum(NoiseModel, self.noise, "noise"))
        for name in ("prior_sigma", "noise_sigma", "lr", "kl_weight", "noise_warmup"):
            object.__setattr__(self, name, as_float(getattr(self, name), name))
        for name in ("epochs", "train_samples", "seed"):
            object.__setattr__(self, name, as_int(getattr(self, name), name))
        for name in ("learn_noise", "local_reparam", "standardize"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        self._merge_learn_noise()
        self._check_ranges()

    def _merge_learn_noise(self) -> None:
        """``learn_noise`` (the field before ``noise`` existed) is an alias kept so that old configs, saved
        models and links load unchanged: learn_noise=True is noise="learned", and afterwards the field
        mirrors ``noise`` (so code that reads it stays right). No deprecation warning: dataclasses.replace
        passes every field again, so a warning would fire on every copy of a learned-noise config."""
        if self.learn_noise and self.noise is NoiseModel.FIXED:
            object.__setattr__(self, "noise", NoiseModel.LEARNED)
        elif self.learn_noise and self.noise is NoiseModel.HETEROSCEDASTIC:
            raise ConfigError("learn_noise=true means one learned noise std; it does not go with "
                              "noise='heteroscedastic' (leave learn_noise out)")
        object.__setattr__(self, "learn_noise", self.noise is NoiseModel.LEARNED)

    def _check_ranges(self) -> None:
        require(0 < self.prior_sigma <= 1e6, "prior_sigma must be in (0, 1e6]", self.prior_sigma)
        require(0 < self.noise_sigma <= 1e6, "noise_sigma must be in (0, 1e6]", self.noise_sigma)
        require(0 < self.lr <= 10, "lr must be in (0, 10]", self.lr)
        require(0 <= self.kl_weight <= 1e6, "kl_weight must be in [0, 1e6]", self.kl_weight)
        require(0 <= self.noise_warmup < 1, "noise_warmup must be in [0, 1)", self.noise_warmup)
        require(1 <= self.epochs <= MAX_EPOCHS, f"epochs must be in [1, {MAX_EPOCHS}]", self.epochs)
        require(
            1 <= self.train_samples <= MAX_SAMPLES,
            f"train_samples must be in [1, {MAX_SAMPLES}]",
            self.train_samples,
        )
        require(0 <= self.seed < 2**63, "seed must be in [0, 2^63)", self.seed)
        if self.batch_size is not None:
            bs = as_int(self.batch_size, "batch_size")
            object.__setattr__(self, "batch_size", bs)
            require(bs >= 1, "batch_size must be at least 1 (or null for full batch)", bs)
        if self.local_reparam and self.kl is KLEstimator.MC:
            raise ConfigError(
                "local_reparam samples pre-activations, not weights, so log q(w) is not "
                "available: use kl='closed' with local_reparam"
            )
        self._check_likelihood()

    def _check_likelihood(self) -> None:
        if self.classes is not None:
            k = as_int(self.classes, "classes")
            object.__setattr__(self, "classes", k)
            if self.likelihood is not Likelihood.CATEGORICAL:
                raise ConfigError(f"classes is for likelihood='categorical' only, got classes={k!r} with "
                                  f"likelihood={self.likelihood.value!r}")
            require(2 <= k <= MAX_CLASSES, f"classes must be in [2, {MAX_CLASSES}] (or null to infer it)", k)
        if self.likelihood is Likelihood.CATEGORICAL and self.noise is not NoiseModel.FIXED:
            what = "learn_noise" if self.learn_noise else f"noise={self.noise.value!r}"
            raise ConfigError(f"{what} is for likelihood='gaussian' only: a categorical likelihood has "
                              "no noise std")

    # ---- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = (
                value.value if isinstance(value, Enum) else list(value) if isinstance(value, tuple) else value
            )
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Config:
        if not isinstance(data, dict):
            raise ConfigError(f"a config must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Config:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config is not valid JSON: {exc}") from None
        except RecursionError:  # "[[[[..." nested deeper than Python's stack
            raise ConfigError("config is not valid JSON: it is nested too deeply") from None
        return cls.from_dict(data)

    def total_steps(self, n_points: int) -> int:
        """Optimiser steps of a run on ``n_points`` points: epochs x minibatches per epoch."""
        return self.epochs * steps_per_epoch(n_points, self.batch_size)

    def replace(self, **changes: Any) -> Config:
        """A copy with some fields changed (validated again). A new ``noise`` is taken as given (the
        mirrored ``learn_noise`` of this config does not turn it back into "learned"); a new
        ``learn_noise`` alone switches between a fixed and a learned noise, as it always did."""
        if "noise" in changes and "learn_noise" not in changes:
            changes["learn_noise"] = False
        elif "learn_noise" in changes and "noise" not in changes and self.noise is not NoiseModel.HETEROSCEDASTIC:
            changes["noise"] = NoiseModel.LEARNED if changes["learn_noise"] else NoiseModel.FIXED
        return dataclasses.replace(self, **changes)


def _as_hidden(value: object) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (tuple, list)):
        raise ConfigError(f"hidden must be a list of layer widths such as [32], got {value!r}")
    widths = tuple(as_int(v, "hidden width") for v in value)
    if len(widths) > MAX_LAYERS:
        raise ConfigError(f"hidden may have at most {MAX_LAYERS} layers, got {len(widths)}")
    for w in widths:
        require(1 <= w <= MAX_UNITS, f"each hidden width must be in [1, {MAX_UNITS}]", w)
    return widths

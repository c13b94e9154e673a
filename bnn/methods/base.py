"""What every inference method shares: the fitted-method protocol and its progress report.

A method turns points (x, y) and the model of :class:`bnn.Config` (network widths,
activation, N(0, prior_sigma^2) prior, Gaussian likelihood of std noise_sigma, or a softmax
over K logits for ``likelihood="categorical"``: :mod:`bnn.methods.likelihood`) into
something that can draw functions f_s(x*) (S, N), or a classifier's logits (S, N, K), or with a
heteroscedastic noise (``noise="heteroscedastic"``) the mean and the noise head (f_s, g_s) (S, N, 2),
whose noise std per draw and input :class:`bnn.predict.Predictive` computes; such a fit has no one
noise std (``noise_sigma`` is NaN). Laplace and the GP refuse it
(:func:`bnn.methods.likelihood.refuse_heteroscedastic`).
Everything downstream, the table of :func:`bnn.predict.summarise` (a classifier's
:func:`bnn.uncertainty.classification_table`), the metrics and the pages, is computed from those draws,
so two methods differ only in how they draw functions, never in how they are scored.
"""

from __future__ import annotations

import math
import time
from abc import ABC
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config, Likelihood
from bnn.data import Scaling, to_model_units, to_model_units_labels
from bnn.predict import Predictive


@dataclass(frozen=True)
class MethodProgress:
    """What a method's callback sees; returning True from the callback stops the method."""

    method: str
    phase: str  # "train" (an optimiser), "warmup" or "sampling" (the HMC sampler)
    step: int  # steps (epochs or sampler iterations) done in this phase
    steps: int  # steps planned in this phase
    loss: float  # the phase's objective (a negative log density, per point), or NaN


MethodCallback = Callable[[MethodProgress], "bool | None"]


@dataclass(frozen=True)
class Prepared:
    """Checked training data in model units (standardised when the config asks)."""

    x: Tensor  # (N, D)
    y: Tensor  # (N,) targets, or int64 labels 0..K-1 for a classifier
    scaling: Scaling
    noise_sigma: float  # likelihood std in model units; NaN for a classifier, which has none
    classes: int | None = None  # K for a classifier, None for a regression

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def prepare(x: ArrayLike, y: ArrayLike, config: Config, dtype: torch.dtype | None = None) -> Prepared:
    """Validate points as :func:`bnn.fit` does and move them to model units; a classifier's labels
    are checked against ``config.classes`` (or K is inferred) and only x is standardised."""
    if config.likelihood is Likelihood.CATEGORICAL:
        scaling, x_model, labels, classes = to_model_units_labels(x, y, config.standardize, config.classes, dtype)
        return Prepared(x_model, labels, scaling, math.nan, classes)
    scaling, x_model, y_model = to_model_units(x, y, config.standardize, dtype)
    return Prepared(x_model, y_model, scaling, scaling.model_noise(config.noise_sigma))


@dataclass
class FittedMethod(Predictive, ABC):
    """A fitted inference method. Subclasses implement ``draw`` in model units; sampling and the
    prediction table come from :class:`bnn.predict.Predictive`, as for :class:`bnn.Fitted`."""

    name: str
    config: Config
    method_config: Any
    scaling: Scaling
    n_train: int
    noise_sigma_model: float  # likelihood std in model units (learned or fixed; NaN if heteroscedastic)
    seconds: float = 0.0
    stopped_early: bool = False
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    def diagnostics(self) -> dict[str, float]:
        """Method-specific numbers worth showing (acceptance, R-hat, ...); none by default."""
        return {}

    @property
    def noise_sigma(self) -> float:
        """The likelihood's std in the target's original units."""
        return self.noise_sigma_model * self.scaling.y_std


class Stopwatch:
    """Wall time of a fit, started at construction."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start

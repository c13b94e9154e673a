"""What every inference method shares: the fitted-method protocol, its progress report,
and the common prediction table.

A method turns points (x, y) and the model of :class:`bnn.Config` (network widths,
activation, N(0, prior_sigma^2) prior, Gaussian likelihood of std noise_sigma) into
something that can draw functions f_s(x*) (S, N). Everything downstream, the table of
:func:`bnn.predict.summarise`, the metrics and the pages, is computed from those draws,
so two methods differ only in how they draw functions, never in how they are scored.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config
from bnn.data import Scaling, as_inputs, as_targets
from bnn.errors import PointsError
from bnn.predict import SUMMARY_COLUMNS, check_level, check_samples, input_columns, summarise


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
    y: Tensor  # (N,)
    scaling: Scaling
    noise_sigma: float  # likelihood std in model units

    @property
    def n(self) -> int:
        return int(self.x.shape[0])


def prepare(x: ArrayLike, y: ArrayLike, config: Config, dtype: torch.dtype | None = None) -> Prepared:
    """Validate points as :func:`bnn.fit` does and move them to model units."""
    x_np = as_inputs(x)
    y_np = as_targets(y, n=x_np.shape[0])
    scaling = Scaling.from_data(x_np, y_np) if config.standardize else Scaling.identity(x_np.shape[1])
    dtype = dtype or torch.get_default_dtype()
    y_model = torch.as_tensor((y_np - scaling.y_mean) / scaling.y_std, dtype=dtype)
    return Prepared(model_inputs(scaling, x_np, dtype), y_model, scaling, config.noise_sigma / scaling.y_std)


def model_inputs(scaling: Scaling, x: np.ndarray, dtype: torch.dtype) -> Tensor:
    """``scaling.x`` in the method's own precision (float64 methods must not round x to float32)."""
    return torch.as_tensor((x - np.asarray(scaling.x_mean)) / np.asarray(scaling.x_std), dtype=dtype)


@dataclass
class FittedMethod(ABC):
    """A fitted inference method. Subclasses implement ``draw`` in model units."""

    name: str
    config: Config
    method_config: Any
    scaling: Scaling
    n_train: int
    noise_sigma_model: float  # likelihood std in model units (learned or fixed)
    seconds: float = 0.0
    stopped_early: bool = False
    history: pd.DataFrame = field(default_factory=pd.DataFrame)

    @abstractmethod
    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        """S function draws at model-unit inputs x (N, D): (S, N), model units."""

    def diagnostics(self) -> dict[str, float]:
        """Method-specific numbers worth showing (acceptance, R-hat, ...); none by default."""
        return {}

    @property
    def dtype(self) -> torch.dtype:
        """The precision the method computes in (float64 for the sampler and Laplace)."""
        return torch.get_default_dtype()

    @property
    def input_dim(self) -> int:
        return len(self.scaling.x_mean)

    @property
    def noise_sigma(self) -> float:
        """The likelihood's std in the target's original units."""
        return self.noise_sigma_model * self.scaling.y_std

    def sample_functions(self, x: ArrayLike, samples: int = 100, seed: int | None = None,
                         generator: torch.Generator | None = None) -> np.ndarray:
        """S function draws at x in original units: (S, N); seeded like :func:`bnn.sample_functions`."""
        check_samples(samples)
        x_np = self._checked(x)
        if generator is None:
            generator = torch.Generator().manual_seed(self.config.seed if seed is None else seed)
        with torch.no_grad():
            f = self.draw(model_inputs(self.scaling, x_np, self.dtype), samples, generator)
        return f.double().numpy() * self.scaling.y_std + self.scaling.y_mean

    def predict(self, x_new: ArrayLike, samples: int = 100, level: float = 0.95, seed: int | None = None,
                generator: torch.Generator | None = None) -> pd.DataFrame:
        """The table of :func:`bnn.predict`: inputs, then ``SUMMARY_COLUMNS``."""
        check_level(level)
        x_np = self._checked(x_new)
        f = self.sample_functions(x_np, samples=samples, seed=seed, generator=generator)
        table = pd.DataFrame(x_np, columns=input_columns(x_np.shape[1]))
        summary = summarise(f, self.noise_sigma, level)
        for column in SUMMARY_COLUMNS:
            table[column] = summary[column]
        return table

    def _checked(self, x: ArrayLike) -> np.ndarray:
        x_np = as_inputs(x, name="x_new")
        if x_np.shape[1] != self.input_dim:
            raise PointsError(f"the model takes {self.input_dim} input column(s), x_new has {x_np.shape[1]}")
        return x_np


class Stopwatch:
    """Wall time of a fit, started at construction."""

    def __init__(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start

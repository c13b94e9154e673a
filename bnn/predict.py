"""The posterior predictive: sample network functions, summarise them in a table.

For each input x*, S weight samples w_s ~ q give functions f_s(x*). The predictive of
an observation is the mixture p(y* | x*) = mean_s N(y*; f_s(x*), noise^2). The table
reports, in the target's original units:

- ``mean``: mean_s f_s (the predictive mean of f and of y);
- ``epistemic_std``: the spread of f_s (what more data would remove);
- ``aleatoric_std``: the noise std (what no data removes);
- ``std``: sqrt(epistemic^2 + aleatoric^2), the std of the mixture;
- ``f_lower``/``f_upper``: percentiles of f_s at the central ``level`` (the article's band);
- ``lower``/``upper``: the central ``level`` interval of y, the exact quantiles of the
  mixture above (found by bisection on its CDF), so they include the noise.

A classifier (``likelihood="categorical"``) has its own table, of class probabilities
softmax(f_s(x*)) and the entropy's split into aleatoric and epistemic parts: see
:func:`bnn.uncertainty.classification_table`.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numpy as np
import pandas as pd
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config, Likelihood, NoiseModel
from bnn.data import Scaling, as_inputs
from bnn.errors import ConfigError, PointsError
from bnn.noise import noise_std
from bnn.uncertainty import classification_table

MAX_PREDICT_SAMPLES = 10_000
SUMMARY_COLUMNS = ("mean", "std", "lower", "upper", "epistemic_std", "aleatoric_std", "f_lower", "f_upper")


def input_columns(dim: int) -> list[str]:
    """'x' for one input, else 'x0'..'x{D-1}'."""
    return ["x"] if dim == 1 else [f"x{i}" for i in range(dim)]


class Predictive(ABC):
    """Anything that draws posterior functions: a Bayes-by-Backprop fit (:class:`bnn.Fitted`) and every
    fitted inference method (:class:`bnn.methods.FittedMethod`).

    A subclass says how it draws S functions at inputs in model units (``draw``); sampling at the
    user's inputs, their checks, the units and the prediction table are written once, here."""

    config: Config
    scaling: Scaling

    @abstractmethod
    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        """S function draws at model-unit inputs x (N, D): (S, N), model units; a classifier's logits (S, N, K)."""

    @property
    @abstractmethod
    def noise_sigma(self) -> float:
        """The likelihood's std in the target's original units."""

    @property
    def dtype(self) -> torch.dtype:
        """The precision the model computes in (float64 for the sampler and Laplace)."""
        return torch.get_default_dtype()

    @property
    def input_dim(self) -> int:
        return len(self.scaling.x_mean)

    @property
    def is_classifier(self) -> bool:
        """True for a categorical likelihood: draws are logits (S, N, K), the table holds probabilities."""
        return self.config.likelihood is Likelihood.CATEGORICAL

    def sample_probabilities(self, x: ArrayLike, samples: int = 100, seed: int | None = None,
                             generator: torch.Generator | None = None) -> np.ndarray:
        """A classifier's S posterior draws of the class probabilities at x: (S, N, K), float64.

        The draws come from ``generator`` if given, else from a generator seeded with ``seed``
        (default: the config's seed), so the same call gives the same draws."""
        if not self.is_classifier:
            raise ConfigError("class probabilities need likelihood='categorical'; this model is a regression")
        check_samples(samples)
        return self._draws(self.checked_inputs(x), samples, seed, generator)

    def sample_functions(self, x: ArrayLike, samples: int = 100, seed: int | None = None,
                         generator: torch.Generator | None = None) -> np.ndarray:
        """S posterior function draws at x, in original units: (S, N); a classifier's are its class
        probabilities (S, N, K), as :meth:`sample_probabilities`.

        The draws come from ``generator`` if given, else from a generator seeded with
        ``seed`` (default: the config's seed), so the same call gives the same draws.
        """
        check_samples(samples)
        return self._draws(self.checked_inputs(x), samples, seed, generator)

    @property
    def is_heteroscedastic(self) -> bool:
        """True when the noise std is a function of x: draws are (f, g) (S, N, 2), see :mod:`bnn.noise`."""
        return self.config.noise is NoiseModel.HETEROSCEDASTIC

    def sample_noise_std(self, x: ArrayLike, samples: int = 100, seed: int | None = None,
                         generator: torch.Generator | None = None) -> np.ndarray:
        """The noise std of each posterior draw at x, in original units: (S, N). For the same seed these
        are the draws :meth:`sample_functions` gives the functions of; a constant for a fixed or learned noise."""
        check_samples(samples)
        x_np = self.checked_inputs(x)
        if not self.is_heteroscedastic:
            return np.full((samples, x_np.shape[0]), self.noise_sigma)
        return self._draws(x_np, samples, seed, generator, noise=True)[1]

    def scoring_noise(self, x: ArrayLike, samples: int = 100, seed: int | None = None) -> float | np.ndarray:
        """The noise the scores (``bnn.evaluation.metrics``) take next to ``sample_functions(x, samples, seed)``:
        the one std, or for a heteroscedastic fit each of those draws' std at x, (S, N)."""
        return self.sample_noise_std(x, samples, seed) if self.is_heteroscedastic else self.noise_sigma

    def _draws(self, x_np: np.ndarray, samples: int, seed: int | None, generator: torch.Generator | None,
               noise: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """f (S, N) in original units (with ``noise``, also each draw's noise std (S, N)); a classifier's
        class probabilities (S, N, K)."""
        if generator is None:
            generator = torch.Generator().manual_seed(self.config.seed if seed is None else seed)
        with torch.no_grad():
            f = self.draw(self.scaling.x(x_np, self.dtype), samples, generator)  # (S, N), (S, N, 2) or (S, N, K)
        if self.is_heteroscedastic:
            if f.ndim != 3 or f.shape[-1] != 2:
                raise ConfigError(f"{type(self).__name__} does not support noise='heteroscedastic' yet: "
                                  "it drew no noise head")
            base = self.scaling.model_noise(self.config.noise_sigma)
            sigma = noise_std(f[..., 1].double(), base).numpy() * self.scaling.y_std
            f = f[..., 0].double().numpy() * self.scaling.y_std + self.scaling.y_mean
            return (f, sigma) if noise else f
        if self.is_classifier:  # the softmax in float64, so that tiny probabilities keep their digits
            if f.ndim != 3:  # a method or a prior that does not build K outputs yet
                raise ConfigError(f"{type(self).__name__} does not support likelihood='categorical' yet: "
                                  "it drew one output per input, not K logits")
            return torch.softmax(f.double(), dim=-1).numpy()
        return f.double().numpy() * self.scaling.y_std + self.scaling.y_mean

    def predict(self, x_new: ArrayLike, samples: int = 100, level: float = 0.95, seed: int | None = None,
                generator: torch.Generator | None = None) -> pd.DataFrame:
        """One row per input: the inputs, then ``SUMMARY_COLUMNS`` (see the module docstring); for a
        classifier, :func:`bnn.uncertainty.classification_table`'s columns."""
        check_level(level)
        check_samples(samples)
        x_np = self.checked_inputs(x_new)
        if self.is_classifier:
            probs = self._draws(x_np, samples, seed, generator)
            return classification_table(x_np, probs, level, input_columns(x_np.shape[1]))
        if self.is_heteroscedastic:
            f, sigma = self._draws(x_np, samples, seed, generator, noise=True)
            return predictive_table(x_np, f, sigma, level)
        return predictive_table(x_np, self._draws(x_np, samples, seed, generator), self.noise_sigma, level)

    def checked_inputs(self, x: ArrayLike) -> np.ndarray:
        """x as a checked (N, D) array with the model's D columns."""
        x_np = as_inputs(x, name="x_new")
        if x_np.shape[1] != self.input_dim:
            raise PointsError(f"the model takes {self.input_dim} input column(s), x_new has {x_np.shape[1]}")
        return x_np


def sample_functions(fitted: Predictive, x: ArrayLike, samples: int = 100,
                     generator: torch.Generator | None = None, seed: int | None = None) -> np.ndarray:
    """S posterior function draws at x, in original units: (S, N) (see :meth:`Predictive.sample_functions`)."""
    return fitted.sample_functions(x, samples=samples, seed=seed, generator=generator)


def predict(fitted: Predictive, x_new: ArrayLike, samples: int = 100, level: float = 0.95,
            seed: int | None = None, generator: torch.Generator | None = None) -> pd.DataFrame:
    """One row per input: the inputs, then ``SUMMARY_COLUMNS`` (see the module docstring); for a
    classifier, ``p0..p{K-1}``, ``label``, ``entropy``, ``aleatoric``, ``epistemic`` and each
    ``p{k}_lower``/``p{k}_upper`` (:func:`bnn.uncertainty.classification_table`)."""
    return fitted.predict(x_new, samples=samples, level=level, seed=seed, generator=generator)


def predictive_table(x: np.ndarray, f: np.ndarray, noise_sigma: float | np.ndarray, level: float = 0.95,
                     names: list[str] | None = None) -> pd.DataFrame:
    """The prediction table: inputs x (N, D) under ``names`` (default :func:`input_columns`), then the
    summaries of the draws f (S, N) under Gaussian noise of std ``noise_sigma`` (one number, or one
    per draw and input (S, N) for a heteroscedastic noise)."""
    table = pd.DataFrame(x, columns=names or input_columns(x.shape[1]))
    for name, values in summarise(f, noise_sigma, level).items():
        table[name] = values
    return table


def summarise(f: np.ndarray, noise_sigma: float | np.ndarray, level: float = 0.95) -> dict[str, np.ndarray]:
    """Summaries of function draws f (S, N) under Gaussian noise of std ``noise_sigma`` (a number, or
    (S, N): draw s's std at input n). The aleatoric std is sqrt(mean_s sigma_s^2), so that
    std^2 = epistemic^2 + aleatoric^2 is the mixture's variance either way."""
    tail = 100 * (1 - level) / 2
    epistemic = f.std(axis=0)
    if np.ndim(noise_sigma) == 0:
        aleatoric = np.full(f.shape[1], float(noise_sigma))
    else:
        aleatoric = np.sqrt(np.mean(np.square(noise_sigma), axis=0))
    lower, upper = mixture_quantiles(f, noise_sigma, np.array([(1 - level) / 2, (1 + level) / 2]))
    return {
        "mean": f.mean(axis=0),
        "std": np.sqrt(epistemic**2 + aleatoric**2),
        "lower": lower,
        "upper": upper,
        "epistemic_std": epistemic,
        "aleatoric_std": aleatoric,
        "f_lower": np.percentile(f, tail, axis=0),
        "f_upper": np.percentile(f, 100 - tail, axis=0),
    }


def mixture_quantiles(f: np.ndarray, noise_sigma: float | np.ndarray, probs: np.ndarray,
                      iters: int = 60) -> np.ndarray:
    """Quantiles of mean_s N(f_s, sigma_s^2) per column of f (S, N): (len(probs), N); ``noise_sigma``
    is one std or one per draw and column (S, N).

    The mixture CDF is monotone, so bisection between min f - 9 max sigma and max f + 9 max sigma
    converges; 60 halvings leave an error below 1e-15 of that bracket.
    """
    ft = torch.as_tensor(f, dtype=torch.float64)
    sd = torch.as_tensor(noise_sigma, dtype=torch.float64)
    widest = sd.max(dim=0).values if sd.ndim else sd
    shape = (len(probs), ft.shape[1])
    lo = (ft.min(dim=0).values - 9 * widest).expand(shape).clone()
    hi = (ft.max(dim=0).values + 9 * widest).expand(shape).clone()
    target = torch.as_tensor(probs, dtype=torch.float64)[:, None]
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        cdf = torch.special.ndtr((mid[:, None, :] - ft[None]) / sd).mean(dim=1)  # (P, N)
        below = cdf < target
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    return (0.5 * (lo + hi)).numpy()


def check_samples(samples: int) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= MAX_PREDICT_SAMPLES:
        raise ConfigError(f"samples must be a whole number in [1, {MAX_PREDICT_SAMPLES}], got {samples!r}")


def check_level(level: float) -> None:
    if isinstance(level, bool) or not isinstance(level, (int, float)) or not (0 < level < 1) or math.isnan(level):
        raise ConfigError(f"level must be a probability strictly between 0 and 1 (0.95 for 95 %), got {level!r}")


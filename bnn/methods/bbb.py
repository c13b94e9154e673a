"""Bayes-by-Backprop (Blundell et al. 2015) behind the methods' protocol: an adapter
over :func:`bnn.fit`, so the engine's run and this method's are the same run.

Its settings (epochs, learning rate, KL estimator, ...) are :class:`bnn.Config`'s own,
so :class:`BBBConfig` holds nothing; draws come from the trained mean-field posterior
exactly as :func:`bnn.sample_functions` draws them, and the table equals :func:`bnn.predict`'s.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config
from bnn.methods.base import FittedMethod, MethodCallback, MethodProgress
from bnn.train import Fitted, Progress
from bnn.train import fit as fit_bbb


@dataclass(frozen=True)
class BBBConfig:
    """Nothing of its own: Bayes-by-Backprop is configured by :class:`bnn.Config`."""


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedBBB(FittedMethod):
    fitted: Fitted

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        return self.fitted.draw(x, samples, generator)


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: BBBConfig | None = None,
        callback: MethodCallback | None = None) -> FittedBBB:
    """:func:`bnn.fit`, its progress reported as :class:`MethodProgress` (loss per point)."""

    def relay(progress: Progress) -> bool | None:
        n = progress.fitted.n_train
        return callback(MethodProgress("bbb", "train", progress.epoch, progress.epochs, progress.total / n))

    fitted = fit_bbb(x, y, config, callback=relay if callback is not None else None)
    # a classifier's config records K; it has no noise std, nor has a heteroscedastic noise one (NaN, as
    # bnn.Fitted.noise_sigma: the latter's std per input is drawn with f)
    noise = math.nan if fitted.is_classifier or fitted.is_heteroscedastic else float(fitted.model.noise_sigma)
    return FittedBBB(name="bbb", config=fitted.config, method_config=method_config or BBBConfig(),
                     scaling=fitted.scaling, n_train=fitted.n_train, noise_sigma_model=noise,
                     seconds=fitted.seconds, stopped_early=fitted.stopped_early, history=fitted.history,
                     fitted=fitted)

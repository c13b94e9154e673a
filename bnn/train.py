"""The optimisation driver: Adam on the negative ELBO, deterministic given the seed.

One ``torch.Generator`` seeded from the config drives the initialisation, the
minibatch order and every Monte Carlo draw, so a run is a function of (data, config).
A run is three short pieces, as in Pyro's ``SVI``: :func:`prepare` checks the points and
builds the model and its optimiser, :meth:`Training.step` takes one optimiser step on one
minibatch and returns the loss terms, and :func:`fit` loops over epochs and minibatches. A
callback sees the loss terms every ``callback_every`` steps and may stop the run (the
dashboard streams the curve through it and cancels through it). A loss that stops being a
finite number ends the run with :class:`bnn.errors.TrainingDiverged`, never a NaN model.

A step has two engines. :class:`bnn.fast.FastStep` computes the gradient by hand and covers
every model a :class:`Config` describes; autograd on :func:`bnn.loss.negative_elbo` is the
oracle it is tested against and the fallback for a model it does not cover (one the caller
replaced or froze, or a classifier with local reparameterisation: ``Training.engine`` says which
ran and why); a classifier's step is :class:`bnn.fast_categorical.CategoricalFastStep`. Both update with
:class:`bnn.adam.Adam`, which, unlike ``torch.optim``, does not import ``torch._dynamo``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn import fast
from bnn.adam import Adam
from bnn.config import Config, Likelihood, NoiseModel
from bnn.data import Scaling, batch_size_for, to_model_units, to_model_units_labels
from bnn.errors import TrainingDiverged
from bnn.fast_categorical import CategoricalFastStep
from bnn.fast_hetero import HeteroscedasticFastStep
from bnn.loss import LossTerms, negative_elbo
from bnn.model import BayesMLP
from bnn.noise import NoiseWarmup
from bnn.predict import Predictive

HISTORY_COLUMNS = ("epoch", "step", "nll", "kl", "total", "noise_sigma")


@dataclass
class Fitted(Predictive):
    """A trained model with everything needed to predict and to reproduce it."""

    model: BayesMLP
    config: Config
    scaling: Scaling
    n_train: int
    history_rows: list[tuple[float, ...]] = field(default_factory=list, repr=False)  # HISTORY_COLUMNS
    stopped_early: bool = False
    seconds: float = 0.0

    @property
    def history(self) -> pd.DataFrame:
        """The loss terms every ``callback_every`` steps, one row each (HISTORY_COLUMNS).

        Built when read (a few hundred rows: well under a millisecond), so a callback that
        reports often but redraws rarely pays for a table only when it draws one."""
        frame = pd.DataFrame(self.history_rows, columns=HISTORY_COLUMNS)
        return frame.astype({"epoch": "int64", "step": "int64"})

    @property
    def noise_sigma(self) -> float:
        """The likelihood's std in the target's original units (NaN for a classifier, which has none, and
        for a heteroscedastic noise, which has one per input: :meth:`sample_noise_std`)."""
        if self.config.likelihood is Likelihood.CATEGORICAL or self.model.heteroscedastic:
            return math.nan
        return float(self.model.noise_sigma.detach()) * self.scaling.y_std

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        """S function draws from the mean-field posterior at model-unit inputs x (N, D): (S, N), or
        logits (S, N, K) for a classifier."""
        return self.model(x, samples=samples, generator=generator)


@dataclass(frozen=True)
class Progress:
    """What the callback sees: the loss terms of the latest step, and the live model."""

    epoch: int  # 1-based, finished epochs
    step: int  # optimiser steps so far
    epochs: int
    nll: float
    kl: float
    total: float
    noise_sigma: float  # in original units (NaN for a classifier)
    fitted: Fitted  # the model as trained so far (not a copy: read it, don't keep it)


Callback = Callable[[Progress], "bool | None"]


def set_threads(n: int) -> None:
    """Set torch's intra-op threads. The nets here are tiny: one thread avoids spin
    overhead, and leaves the other cores to concurrent sessions (see README)."""
    torch.set_num_threads(max(1, int(n)))


class AutogradStep:
    """One optimiser step with autograd's gradient: the oracle of the fast step and its fallback."""

    def __init__(self, fitted: Fitted, generator: torch.Generator, warmup_steps: int = 0) -> None:
        self.fitted, self.generator = fitted, generator
        self.params = [p for p in fitted.model.parameters() if p.requires_grad]
        self.adam = Adam(self.params, lr=fitted.config.lr)
        # the heteroscedastic mean warm-up (Config.noise_warmup): one learned std for its first steps
        self.warmup = (NoiseWarmup(fitted.model.layout, warmup_steps, fitted.model.posterior.mu.dtype)
                       if warmup_steps else None)

    def step(self, x: Tensor, y: Tensor, terms: bool = True) -> LossTerms:
        out = self.gradient(x, y)
        self.adam.step([p.grad for p in self.params])
        if self.warmup is not None:
            self.warmup.taken += 1
        return out

    def gradient(self, x: Tensor, y: Tensor, terms: bool = True) -> LossTerms:
        """The loss terms, with their gradients left in each parameter's ``.grad``."""
        params = [p for p in self.fitted.model.parameters() if p.requires_grad]
        if any(a is not b for a, b in zip(params, self.params)):  # a caller replaced a parameter: train the new one
            self.params[:] = params
            self.adam.params[:] = params
        for p in self.params:  # what zero_grad(set_to_none=True) does, without its profiler hook (~10 us)
            p.grad = None
        config, model = self.fitted.config, self.fitted.model
        warm = self.warmup is not None and self.warmup.active
        out = negative_elbo(model, x, y, n_total=self.fitted.n_train, samples=config.train_samples,
                            kl=config.kl, kl_weight=config.kl_weight, generator=self.generator,
                            keep=self.warmup.keep if warm else None)
        out.total.backward()
        if warm:  # the switched-off weights stay where they started (no KL pull either)
            self.warmup.hold([model.posterior.mu.grad, model.posterior.rho.grad])
        return out


@dataclass
class Training:
    """One run between steps: the points in model units, the model being fitted, the engine of its steps."""

    fitted: Fitted
    x: Tensor  # (N, D)
    y: Tensor  # (N,)
    stepper: fast.FastStep | AutogradStep
    generator: torch.Generator
    engine: str  # "fast", or "autograd: <why the fast step does not cover this model>"

    @property
    def config(self) -> Config:
        return self.fitted.config

    @property
    def params(self) -> list[Tensor]:
        """The trained parameters (mu, rho, and the noise's rho when it is learned)."""
        return [p for p in self.fitted.model.parameters() if p.requires_grad]

    def batches(self) -> Iterator[tuple[Tensor, Tensor]]:
        """One epoch's minibatches (x (B, D), y (B,)), in an order drawn from the run's generator."""
        n = self.x.shape[0]
        batch = batch_size_for(n, self.config.batch_size)
        if batch == n:
            yield self.x, self.y
            return
        order = torch.randperm(n, generator=self.generator)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            yield self.x[idx], self.y[idx]

    def step(self, x: Tensor, y: Tensor) -> LossTerms:
        """One optimiser step on the minibatch (x, y): the loss terms and their gradients, then
        Adam's update. Returns the terms before the update (the analogue of Pyro's ``SVI.step``)."""
        return self.stepper.step(x, y)

    def update(self, x: Tensor, y: Tensor) -> None:
        """The same step without returning the loss terms (the fast engine then skips computing them)."""
        self.stepper.step(x, y, terms=False)


Engine = Literal["auto", "fast", "autograd"]


def prepare(x: ArrayLike, y: ArrayLike, config: Config, engine: Engine = "auto") -> Training:
    """Check the points, move them to model units, and build the model and its step for ``config``.

    ``engine="auto"`` takes the fast step whenever it covers the model (every model built here but
    a classifier with local reparameterisation, which falls back to autograd); "autograd" forces
    autograd (the tests' oracle, the benchmark's "before"); "fast" raises ``ValueError`` where the
    fast step does not apply.

    A classifier's y are labels 0..K-1 (:func:`bnn.data.as_labels`); when ``config.classes`` is None
    the fit's config records the K found in them, so that the saved config rebuilds the model.
    """
    if config.likelihood is Likelihood.CATEGORICAL:
        scaling, xt, yt, classes = to_model_units_labels(x, y, config.standardize, config.classes)
        config = config.replace(classes=classes)
    else:
        scaling, xt, yt = to_model_units(x, y, config.standardize)
    generator = torch.Generator().manual_seed(config.seed)
    model = BayesMLP(xt.shape[1], config.replace(noise_sigma=scaling.model_noise(config.noise_sigma)),
                     generator=generator)
    fitted = Fitted(model=model, config=config, scaling=scaling, n_train=xt.shape[0])
    stepper, description = make_stepper(fitted, generator, engine)
    return Training(fitted, xt, yt, stepper, generator, description)


def make_stepper(fitted: Fitted, generator: torch.Generator,
                 engine: Engine = "auto") -> tuple[fast.FastStep | AutogradStep, str]:
    """The engine of a run's steps, and its description for ``Training.engine``."""
    cfg = fitted.config
    why = fast.unsupported(fitted.model) if engine != "autograd" else "asked for"
    if why is None and cfg.noise_warmup and fitted.model.heteroscedastic:
        why = "the noise warm-up (noise_warmup) is trained by autograd"
    if why is None:
        kind = (CategoricalFastStep if cfg.likelihood is Likelihood.CATEGORICAL
                else HeteroscedasticFastStep if fitted.model.heteroscedastic else fast.FastStep)
        stepper = kind(fitted.model, n_total=fitted.n_train, samples=cfg.train_samples, kl=cfg.kl,
                       kl_weight=cfg.kl_weight, lr=cfg.lr, generator=generator)
        return stepper, "fast"
    if engine == "fast":
        raise ValueError(f"the fast step does not cover this model: {why}")
    warmup = round(cfg.noise_warmup * cfg.total_steps(fitted.n_train)) if fitted.model.heteroscedastic else 0
    return AutogradStep(fitted, generator, warmup), f"autograd: {why}"


def fit(x: ArrayLike, y: ArrayLike, config: Config | None = None, callback: Callback | None = None,
        callback_every: int = 10, engine: Engine = "auto") -> Fitted:
    """Train a Bayes-by-Backprop network on points (x, y).

    x: (N,) or (N, D); y: (N,) targets, or labels 0..K-1 for ``likelihood="categorical"``.
    ``callback(progress)`` runs every ``callback_every`` optimiser steps and after the last one;
    returning True stops training early.
    Raises :class:`bnn.errors.TrainingDiverged` when the loss stops being finite. ``engine``: see
    :func:`prepare`.
    """
    config = config or Config()
    run = prepare(x, y, config, engine)
    fitted, rows = run.fitted, run.fitted.history_rows
    steps = config.total_steps(fitted.n_train)
    start = time.perf_counter()
    step = 0
    for epoch in range(1, config.epochs + 1):
        for xb, yb in run.batches():
            step += 1
            if step % callback_every and step < steps:  # no report: the loss terms are not needed
                run.update(xb, yb)
                continue
            terms = run.step(xb, yb)
            row = (epoch, step, terms.nll.item(), terms.kl.item(), terms.total.item(), fitted.noise_sigma)
            _check_finite(row, config)
            rows.append(row)
            if callback is not None and callback(Progress(epoch, step, config.epochs, *row[2:], fitted=fitted)):
                fitted.stopped_early = step < steps
                break
        if fitted.stopped_early:
            break
    fitted.seconds = time.perf_counter() - start
    fitted.model.eval()
    if not all(bool(torch.isfinite(p).all()) for p in run.params):  # a last step can break the weights alone
        raise _diverged("the variational parameters were no longer finite numbers", rows[-1][0], config)
    return fitted


def _check_finite(row: tuple[float, ...], config: Config) -> None:
    """A NaN or infinite loss only grows from here: stop with a message saying what to lower."""
    epoch, step, nll, kl, total, noise = row
    if config.likelihood is Likelihood.CATEGORICAL or config.noise is NoiseModel.HETEROSCEDASTIC:
        noise = 0.0  # NaN by definition: no one noise std
    if not all(math.isfinite(v) for v in (nll, kl, total, noise)):
        raise _diverged(f"the loss was {total:g} (negative log-likelihood {nll:g}, KL {kl:g})", epoch, config)


def _diverged(what: str, epoch: float, config: Config) -> TrainingDiverged:
    # A wide prior lets the KL's gradient and the weights' scale explode along with a large step.
    prior = f", or the prior σ (now {config.prior_sigma:g})" if config.prior_sigma > 10 else ""
    return TrainingDiverged(f"training diverged: {what} by epoch {int(epoch):,} of {config.epochs:,}; "
                            f"lower the learning rate (now {config.lr:g}){prior}")

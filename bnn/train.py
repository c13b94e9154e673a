"""The optimisation driver: Adam on the negative ELBO, deterministic given the seed.

One ``torch.Generator`` seeded from the config drives the initialisation, the
minibatch order and every Monte Carlo draw, so a run is a function of (data, config).
A callback sees the loss terms every ``callback_every`` steps and may stop the run
(the dashboard streams the curve through it and cancels through it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import torch
from numpy.typing import ArrayLike

from bnn.config import Config
from bnn.data import Scaling, as_inputs, as_targets, batch_size_for, steps_per_epoch
from bnn.loss import negative_elbo
from bnn.model import BayesMLP

HISTORY_COLUMNS = ("epoch", "step", "nll", "kl", "total", "noise_sigma")


@dataclass
class Fitted:
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

        Built from ``history_rows`` when read, and kept until a row is added: a callback that
        reports often but redraws rarely should not pay for a DataFrame at every report.
        """
        cached = self.__dict__.get("_history")
        if cached is None or cached[0] != len(self.history_rows):
            cached = (len(self.history_rows), _history(self.history_rows))
            self.__dict__["_history"] = cached
        return cached[1]

    @property
    def input_dim(self) -> int:
        return self.model.input_dim

    @property
    def noise_sigma(self) -> float:
        """The likelihood's std in the target's original units."""
        return float(self.model.noise_sigma.detach()) * self.scaling.y_std


@dataclass(frozen=True)
class Progress:
    """What the callback sees: the loss terms of the latest step, and the live model."""

    epoch: int  # 1-based, finished epochs
    step: int  # optimiser steps so far
    epochs: int
    nll: float
    kl: float
    total: float
    noise_sigma: float  # in original units
    fitted: Fitted  # the model as trained so far (not a copy: read it, don't keep it)


Callback = Callable[[Progress], "bool | None"]


def set_threads(n: int) -> None:
    """Set torch's intra-op threads. The nets here are tiny: one thread avoids spin
    overhead, and leaves the other cores to concurrent sessions (see README)."""
    torch.set_num_threads(max(1, int(n)))


def fit(x: ArrayLike, y: ArrayLike, config: Config | None = None, callback: Callback | None = None,
        callback_every: int = 10) -> Fitted:
    """Train a Bayes-by-Backprop network on points (x, y).

    x: (N,) or (N, D); y: (N,). ``callback(progress)`` runs every ``callback_every``
    optimiser steps and after the last one; returning True stops training early.
    """
    config = config or Config()
    x_np = as_inputs(x)
    y_np = as_targets(y, n=x_np.shape[0])
    scaling = Scaling.from_data(x_np, y_np) if config.standardize else Scaling.identity(x_np.shape[1])
    xt, yt = scaling.x(x_np), scaling.y(y_np)
    n = xt.shape[0]

    generator = torch.Generator().manual_seed(config.seed)
    model_config = config.replace(noise_sigma=config.noise_sigma / scaling.y_std)
    model = BayesMLP(xt.shape[1], model_config, generator=generator)
    # fused: one kernel for all parameters instead of ~8 small ops each (CPU support since torch 2.4).
    params = [p for p in model.parameters() if p.requires_grad]
    optimiser = torch.optim.Adam(params, lr=config.lr, fused=True)
    rows: list[tuple[float, ...]] = []
    fitted = Fitted(model=model, config=config, scaling=scaling, n_train=n, history_rows=rows)

    batch = batch_size_for(n, config.batch_size)
    steps = steps_per_epoch(n, config.batch_size)
    start = time.perf_counter()
    step = 0
    stop = False
    for epoch in range(1, config.epochs + 1):
        order = torch.randperm(n, generator=generator) if batch < n else None
        for b in range(steps):
            idx = None if order is None else order[b * batch:(b + 1) * batch]
            xb, yb = (xt, yt) if idx is None else (xt[idx], yt[idx])
            for p in params:  # what zero_grad(set_to_none=True) does, without its profiler hook (~10 us)
                p.grad = None
            terms = negative_elbo(model, xb, yb, n_total=n, samples=config.train_samples, kl=config.kl,
                                  kl_weight=config.kl_weight, generator=generator)
            terms.total.backward()
            optimiser.step()
            step += 1
            last = epoch == config.epochs and b == steps - 1
            if step % callback_every == 0 or last:
                rows.append((epoch, step, terms.nll.item(), terms.kl.item(), terms.total.item(), fitted.noise_sigma))
                if callback is not None:
                    progress = Progress(epoch, step, config.epochs, *rows[-1][2:], fitted=fitted)
                    if callback(progress):
                        stop = not last
                        break
        if stop:
            break
    fitted.stopped_early = stop
    fitted.seconds = time.perf_counter() - start
    model.eval()
    return fitted


def _history(rows: list[tuple[float, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return frame.astype({"epoch": "int64", "step": "int64"})

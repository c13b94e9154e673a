"""The UCI benchmark protocol: one Bayes-by-Backprop run per fixed split, scored on its test part.

Hernández-Lobato & Adams (2015) protocol: for each split, train on the training rows
only (inputs and target standardised with the training rows' statistics, which the
engine's ``standardize`` does), predict the test rows, and score them in the target's
original units (``bnn.evaluation.metrics``); report mean ± standard error over the splits.

The same loop runs the gap splits of Foong et al. (2019) (``SplitProtocol.GAP``: split d
holds out the middle third of the rows along input feature d), where the mean over a
set's feature splits hides the splits on which a method is over-confident: ``worst``
names, for each score, the worst split and its value.

The hyperparameters (``protocol_config``) are one setting for all nine data sets,
chosen on a validation part carved out of the first training split of a few sets
(docs/uci-benchmark.md); never on a test split. The only per-set quantities are
the published network width and a number of epochs derived from the training size so
that every split gets about the same number of optimiser steps.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bnn.config import Config, NoiseModel
from bnn.data import steps_per_epoch
from bnn.errors import ConfigError
from bnn.evaluation.metrics import Scores, score
from bnn.evaluation.parallel import Backend, map_unordered
from bnn.evaluation.uci import SplitProtocol, UCIDataset, as_split_protocol
from bnn.methods import fit_method
from bnn.train import Progress, fit

SUMMARY_KEYS = ("rmse", "test_ll", "coverage95", "crps", "test_ll_gaussian")
# The direction in which each score is worse. For coverage the failure the gap splits probe is
# over-confidence, so the worst split is the one whose 95 % intervals cover least.
LOWER_IS_WORSE = {"rmse": False, "test_ll": True, "coverage95": True, "crps": False, "test_ll_gaussian": True}


@dataclass(frozen=True)
class Protocol:
    """The benchmark's fixed choices (the same for every data set)."""

    steps: int = 10_000  # optimiser steps per split; epochs = ceil(steps / steps-per-epoch)
    min_epochs: int = 20  # the large sets still see every row this often
    max_epochs: int = 4_000
    batch_size: int = 128
    lr: float = 1e-3
    prior_sigma: float = 1.0
    noise_sigma: float = 0.5  # start of the learned noise std, in units of the training target's std
    train_samples: int = 1
    predict_samples: int = 200  # posterior draws for the test predictive
    seed: int = 0
    # "learned": one noise std learned with the weights (the published-table run); "heteroscedastic": a
    # std per input (bnn.noise), its head's prior centred on noise_sigma
    noise: NoiseModel = NoiseModel.LEARNED
    # Local reparameterisation for either noise: on validation data (energy, concrete, naval) it was worth
    # 0.01-1.6 nats to the heteroscedastic net (docs/heteroscedastic.md), whose fast step does not cover
    # it, so that run trains by autograd
    local_reparam: bool = True
    # heteroscedastic only: the share of the steps during which sigma(x) is one learned std, the mean fitted
    # first (Config.noise_warmup, bnn.noise). Half, against none and a quarter, by the best mean validation
    # log-likelihood over yacht, concrete, energy, boston and kin8nm (docs/heteroscedastic.md)
    noise_warmup: float = 0.5

    def epochs(self, n_train: int) -> int:
        per_epoch = steps_per_epoch(n_train, self.batch_size)
        return int(min(self.max_epochs, max(self.min_epochs, math.ceil(self.steps / per_epoch))))

    def config(self, n_hidden: int, y_train: np.ndarray, split: int) -> Config:
        # Config.noise_sigma is in the target's units; the engine divides it by the std again.
        noise = self.noise_sigma * (float(np.std(y_train)) or 1.0)
        return Config(
            hidden=(n_hidden,), activation="relu", prior_sigma=self.prior_sigma, noise_sigma=noise,
            noise=self.noise, init="scaled", lr=self.lr, epochs=self.epochs(y_train.size),
            batch_size=self.batch_size, train_samples=self.train_samples, local_reparam=self.local_reparam,
            noise_warmup=self.noise_warmup if self.noise is NoiseModel.HETEROSCEDASTIC else 0.0,
            standardize=True, seed=self.seed + split,
        )


@dataclass
class SplitResult:
    split: int
    n_train: int
    seconds: float
    epochs: int
    noise_sigma: float
    scores: Scores

    def to_dict(self) -> dict[str, object]:
        return {"split": self.split, "n_train": self.n_train, "seconds": self.seconds, "epochs": self.epochs,
                "noise_sigma": self.noise_sigma, **self.scores.to_dict()}


@dataclass
class BenchResult:
    dataset: str
    protocol: Protocol
    splits: list[SplitResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time: the cost on one core, whatever else the machine runs
    split_protocol: SplitProtocol = SplitProtocol.STANDARD

    def summary(self) -> dict[str, dict[str, float]]:
        """{metric: {mean, se}} over the splits; se = sample std (ddof=1) / sqrt(K), 0 for K=1."""
        values = {key: [_metric(r.scores, key) for r in self.splits] for key in SUMMARY_KEYS}
        return {key: mean_se(v) for key, v in values.items()}

    def worst(self) -> dict[str, dict[str, float]]:
        """{metric: {value, split}}: the worst split's score (``LOWER_IS_WORSE``) and its index
        (for the gap splits, the input feature held out along)."""
        out: dict[str, dict[str, float]] = {}
        for key in SUMMARY_KEYS:
            values = [_metric(r.scores, key) for r in self.splits]
            at = int(np.argmin(values) if LOWER_IS_WORSE[key] else np.argmax(values))
            out[key] = {"value": values[at], "split": self.splits[at].split}
        return out


def mean_se(values: list[float]) -> dict[str, float]:
    arr = np.asarray(values, dtype=np.float64)
    se = float(arr.std(ddof=1) / math.sqrt(arr.size)) if arr.size > 1 else 0.0
    return {"mean": float(arr.mean()), "se": se}


def _metric(scores: Scores, key: str) -> float:
    return scores.coverage[0.95] if key == "coverage95" else float(getattr(scores, key))


def input_scaling(x_train: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The training rows' column means and stds (a constant column gets std 1)."""
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    return mean, std


def standardise_inputs(x_train: np.ndarray, x_other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Scale inputs by the training rows' statistics.

    The engine standardises too; doing it here first keeps raw magnitudes (protein has
    a feature in the millions) within the engine's input check. The engine's own
    scaling is then the identity up to rounding.
    """
    mean, std = input_scaling(x_train)
    return (x_train - mean) / std, (x_other - mean) / std


# the HMC sampler is for small problems only; gp refuses sets of more than 2,000 training rows
UCI_METHODS = ("bbb", "dropout", "ensemble", "laplace", "gp", "fullcov")
# Full-covariance VI under the protocol's optimiser with 8 draws a step: its step costs O(S P^2)
# and P^2-sized Adam updates, about 6.5 ms at yacht's 401 weights (66 s of CPU per split against
# bbb's 2 s) and 72 ms at 997 weights, so the wider sets (boston 751, protein 1,101 weights) take
# several minutes to a quarter of an hour per split; a rank would be cheaper (not offered here)
FULLCOV_SAMPLES = 8
DROPOUT_RATE = 0.05  # Gal & Ghahramani (2016)'s UCI rate
# Lakshminarayanan et al. (2017), section 3.3: 5 members, 40 epochs, batches of 100, Adam at 0.1.
# MAP networks have no KL to hold them back: under the 10,000-step protocol the shared learned
# noise shrinks with the training residuals (validation log-likelihood on split 0's training
# rows, 20 % held out: boston -6.85 against -2.55 with the paper's schedule, yacht -13.8
# against -2.19; concrete -3.22 against -3.27).
ENSEMBLE = {"members": 5, "epochs": 40, "batch_size": 100, "lr": 0.1}


def method_settings(method: str, config: Config) -> dict[str, object]:
    """The other methods' settings: MC dropout under the protocol's optimiser (``config``'s epochs,
    learning rate and minibatch) with Gal & Ghahramani's rate; the ensemble on its paper's schedule."""
    if method not in UCI_METHODS:
        raise ConfigError(f"the UCI benchmark runs {', '.join(UCI_METHODS)}, not {method!r}")
    common = {"epochs": config.epochs, "lr": config.lr, "batch_size": config.batch_size}
    settings = {"bbb": {}, "dropout": {**common, "rate": DROPOUT_RATE}, "ensemble": dict(ENSEMBLE),
                "laplace": common, "gp": {}, "fullcov": {**common, "train_samples": FULLCOV_SAMPLES}}
    return settings[method]


def method_settings_with(method: str, config: Config, options: Mapping[str, object] | None = None) -> dict[str, object]:
    """:func:`method_settings` with the user's own settings (``--method-options``) on top: a key given
    there replaces the protocol's (the method's config dataclass checks the result when it is built)."""
    return {**method_settings(method, config), **(options or {})}


def run_split(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray,
              config: Config, predict_samples: int, split: int = 0,
              callback: Callable[[Progress], bool | None] | None = None, method: str = "bbb",
              method_options: Mapping[str, object] | None = None) -> SplitResult:
    """Train on one training part and score the predictive mixture on the test part. ``method_options``:
    the method's own settings over the protocol's (:func:`method_settings_with`)."""
    xs_train, xs_test = standardise_inputs(x_train, x_test)
    fitted = (fit(xs_train, y_train, config, callback=callback, callback_every=200)
              if method == "bbb" and not method_options
              else fit_method(method, xs_train, y_train, config, method_settings_with(method, config, method_options)))
    f = fitted.sample_functions(xs_test, samples=predict_samples, seed=config.seed + 10_000)  # (S, N_test)
    # a heteroscedastic fit's noise std per draw and test point, from the same draws as f (the same seed)
    noise = fitted.scoring_noise(xs_test, samples=predict_samples, seed=config.seed + 10_000)
    scores = score(f, noise, y_test)
    return SplitResult(split, int(y_train.shape[0]), fitted.seconds, config.epochs, fitted.noise_sigma, scores)


def split_task(dataset: UCIDataset, protocol: Protocol, split: int, split_protocol: SplitProtocol,
               method: str = "bbb", method_options: Mapping[str, object] | None = None) -> dict[str, Any]:
    """The keyword arguments of :func:`run_split` for split ``split``: its data, config and method, all
    a worker needs (no file is read there)."""
    train, test = dataset.split(split, split_protocol)
    config = protocol.config(dataset.n_hidden, dataset.y[train], split)
    return {"x_train": dataset.x[train], "y_train": dataset.y[train], "x_test": dataset.x[test],
            "y_test": dataset.y[test], "config": config, "predict_samples": protocol.predict_samples,
            "split": split, "method": method, "method_options": dict(method_options or {})}


def run_task(task: dict[str, Any]) -> SplitResult:
    """:func:`run_split` on a :func:`split_task` (the function the parallel workers run)."""
    return run_split(**task)


def split_count(dataset: UCIDataset, split_protocol: SplitProtocol, splits: int | None) -> int:
    """How many splits a run fits: the first ``splits`` of the set's (all when None)."""
    available = dataset.count(split_protocol)
    return available if splits is None else min(splits, available)


class QueuedSets:
    """Every split of several data sets handed to worker processes at once
    (:func:`bnn.evaluation.parallel.map_unordered`: ``jobs`` at a time, loky or Ray), their results read
    back one set at a time with :meth:`collect`; a split of a later set that finishes early waits here."""

    def __init__(self, datasets: Sequence[UCIDataset], protocol: Protocol, splits: int | None = None,
                 method: str = "bbb", split_protocol: SplitProtocol | str = SplitProtocol.STANDARD,
                 method_options: Mapping[str, object] | None = None, jobs: int = 2,
                 backend: Backend | str = Backend.LOKY, address: str | None = None) -> None:
        self.protocol, self.split_protocol = protocol, as_split_protocol(split_protocol)
        self.names = [dataset.name for dataset in datasets]
        self.counts = [split_count(dataset, self.split_protocol, splits) for dataset in datasets]
        tasks = [split_task(dataset, protocol, i, self.split_protocol, method, method_options)
                 for dataset, count in zip(datasets, self.counts, strict=True) for i in range(count)]
        self._owner = [k for k, count in enumerate(self.counts) for _ in range(count)]  # task -> set
        self._stream = map_unordered(run_task, tasks, jobs, backend, address)
        self._early: dict[int, list[tuple[SplitResult, float]]] = {}

    def collect(self, k: int, on_split: Callable[[SplitResult], None] | None = None) -> BenchResult:
        """Set ``k``'s results, ``on_split`` called as each arrives. ``wall_seconds`` runs from this call
        to its last split; ``cpu_seconds`` adds the workers' CPU time to this process's."""
        result = BenchResult(self.names[k], self.protocol, split_protocol=self.split_protocol)
        start, cpu_start, worker_cpu = time.perf_counter(), time.process_time(), 0.0
        arrived = self._early.pop(k, [])
        try:
            while len(result.splits) < self.counts[k]:
                if not arrived:
                    index, outcome, cpu = next(self._stream)
                    self._early.setdefault(self._owner[index], []).append((outcome, cpu))
                    arrived = self._early.pop(k, [])
                    continue
                outcome, cpu = arrived.pop(0)
                result.splits.append(outcome)
                worker_cpu += cpu
                if on_split is not None:
                    on_split(outcome)
        except BaseException:  # an interrupt or a failed split: nothing else queued is wanted
            self.close()
            raise
        result.splits.sort(key=lambda r: r.split)
        result.wall_seconds = time.perf_counter() - start
        result.cpu_seconds = time.process_time() - cpu_start + worker_cpu
        return result

    def close(self) -> None:
        """Stop the splits still running or queued (a no-op once every set is collected)."""
        self._stream.close()


def run(dataset: UCIDataset, protocol: Protocol, splits: int | None = None,
        on_split: Callable[[SplitResult], None] | None = None,
        callback: Callable[[Progress], bool | None] | None = None, method: str = "bbb",
        split_protocol: SplitProtocol | str = SplitProtocol.STANDARD,
        method_options: Mapping[str, object] | None = None, jobs: int = 1,
        backend: Backend | str = Backend.LOKY, address: str | None = None) -> BenchResult:
    """The first ``splits`` splits (all by default) of one data set under ``split_protocol``, fitted by
    ``method`` with its protocol settings and ``method_options`` over them; the network, scores,
    standardisation and seeds are the same for both split protocols.

    ``jobs`` > 1 or the ray ``backend`` fits the splits in worker processes (:class:`QueuedSets`) with the
    same arguments and one torch thread, so the figures equal the serial run's; ``on_split`` then sees
    the splits as they finish and ``callback`` is not called."""
    if jobs != 1 or Backend(backend) is not Backend.LOKY:
        queued = QueuedSets([dataset], protocol, splits, method, split_protocol, method_options, jobs, backend,
                            address)
        try:
            return queued.collect(0, on_split)
        finally:
            queued.close()
    split_protocol = as_split_protocol(split_protocol)
    result = BenchResult(dataset.name, protocol, split_protocol=split_protocol)
    start, cpu_start = time.perf_counter(), time.process_time()
    for i in range(split_count(dataset, split_protocol, splits)):
        outcome = run_split(**split_task(dataset, protocol, i, split_protocol, method, method_options),
                            callback=callback)
        result.splits.append(outcome)
        if on_split is not None:
            on_split(outcome)
    result.wall_seconds = time.perf_counter() - start
    result.cpu_seconds = time.process_time() - cpu_start
    return result

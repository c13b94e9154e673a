"""Regression on any numeric table: the user's CSV or a UCI set, split, trained, scored.

The "Your data" page and its tests run the benchmark's recipe (:mod:`bnn.evaluation.uci_protocol`:
standardise with the training rows, Bayes-by-Backprop with learned noise, score the
predictive mixture with :mod:`bnn.evaluation.metrics`) on a table the user brings. Everything a
person can get wrong with a file — size, encoding, no header, text in a number column,
the target also chosen as an input, too few rows — is caught here with a message
(:class:`TableError`), so the page only shows it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bnn.config import Config
from bnn.errors import BNNError
from bnn.evaluation import uci
from bnn.evaluation.metrics import CALIBRATION_LEVELS, Scores, score
from bnn.evaluation.uci_protocol import Protocol
from bnn.io import safe_csv
from bnn.predict import SUMMARY_COLUMNS, predictive_table
from bnn.train import Fitted, Progress, fit
from dashboard.model.limits import LIMITS, check_config, training_work, weight_count
from dashboard.model.points import sniff_separator
from dashboard.model.text import clip

MAX_BYTES = LIMITS.upload_bytes  # the dashboard's upload cap (.streamlit/config.toml matches it)
MAX_ROWS = 20_000
MAX_COLUMNS = 200
MIN_TRAIN, MIN_TEST = 10, 5
TEST_FRACTION_RANGE = (0.05, 0.5)
# The UCI sets the page offers: $BNN_UCI_DIR, else the project's shared folder beside the repository.
UCI_DIR = uci.data_dir(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "uci")


class TableError(BNNError):
    """An uploaded table or a column choice that cannot be used, with the reason."""


def read_csv(data: bytes, max_bytes: int = MAX_BYTES) -> pd.DataFrame:
    """Bytes of a CSV file with a header row -> DataFrame (separator , ; or tab, sniffed)."""
    if len(data) > max_bytes:
        raise TableError(f"the file has {len(data):,} bytes; at most {max_bytes:,} are allowed")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise TableError("the file is not UTF-8 text: save it as CSV (UTF-8)") from None
    if not text.strip():
        raise TableError("the file is empty")
    sep = sniff_separator(text)  # the main page's points CSV is sniffed the same way
    header = [name.strip() for name in next(csv.reader(io.StringIO(text), delimiter=sep))]
    if len(header) < 2:
        raise TableError("the file needs a header row and at least two columns (inputs and a target), "
                         "separated by commas, semicolons or tabs")
    if len(header) > MAX_COLUMNS:
        raise TableError(f"the file has {len(header)} columns; at most {MAX_COLUMNS} are allowed")
    if "" in header:
        raise TableError(f"column {header.index('') + 1} has no name; give every column a name in the first row")
    if len(set(header)) < len(header):
        twice = next(name for name in header if header.count(name) > 1)
        raise TableError(f"two columns are named '{twice}'; give every column its own name")
    try:
        # Without a header first: pandas then refuses a row longer than the header at once, where with
        # one it makes a long first row's extra fields index columns (8 s of CPU for 120 kB).
        pd.read_csv(io.StringIO(text), sep=sep, header=None, dtype=str, nrows=MAX_ROWS + 2)
        frame = pd.read_csv(io.StringIO(text), sep=sep, nrows=MAX_ROWS + 1, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TableError(f"the file cannot be read as CSV: {first}") from None
    if len(frame) > MAX_ROWS:
        raise TableError(f"the file has more than {MAX_ROWS:,} rows; keep at most {MAX_ROWS:,}")
    frame.columns = header
    return frame


def numeric_columns(frame: pd.DataFrame) -> list[str]:
    """Columns whose every non-empty cell is a number (candidates for target and inputs)."""
    out = []
    for name in frame.columns:
        values = pd.to_numeric(frame[name], errors="coerce")
        if values.notna().sum() > 0 and values.notna().sum() == frame[name].notna().sum():
            out.append(name)
    return out


def select(frame: pd.DataFrame, target: str, inputs: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x (N, D), y (N,), 1-based file rows kept) from the chosen columns; rows with an empty cell are left out."""
    if not inputs:
        raise TableError("choose at least one input column")
    if target in inputs:
        raise TableError(f"'{target}' is the target, so it cannot also be an input")
    check_numeric(frame, [target], "a text target can only be predicted as classes: tick 'Treat the target as classes'")
    check_numeric(frame, inputs)
    table = frame[[*inputs, target]].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    complete = table.dropna()
    if not np.isfinite(complete.to_numpy()).all():
        raise TableError("the chosen columns hold infinite values")
    if len(complete) < MIN_TRAIN + MIN_TEST:
        raise TableError(f"only {len(complete)} rows have every chosen column filled; "
                         f"at least {MIN_TRAIN + MIN_TEST} are needed")
    rows = np.flatnonzero(table.notna().all(axis=1).to_numpy()) + 1
    return complete[inputs].to_numpy(), complete[target].to_numpy(), rows


def check_numeric(frame: pd.DataFrame, names: list[str], advice: str = "only numeric columns can be used") -> None:
    """Raise TableError naming the first of ``names`` that is missing or holds a non-number, and the cell."""
    for name in names:
        if name not in frame.columns:
            raise TableError(f"there is no column '{name}'")
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() & frame[name].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise TableError(f"column '{name}' holds text, e.g. '{clip(str(frame[name].iloc[row]))}' in row {row + 1}; "
                             + advice)


def split_rows(n: int, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random (train, test) partition of range(n)."""
    low, high = TEST_FRACTION_RANGE
    if not low <= test_fraction <= high:
        raise TableError(f"the test fraction must lie between {low} and {high}, got {test_fraction}")
    n_test = max(MIN_TEST, int(round(test_fraction * n)))
    if n - n_test < MIN_TRAIN:
        raise TableError(f"{n} rows leave fewer than {MIN_TRAIN} for training with {n_test} held out")
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


@dataclass(frozen=True)
class ExperimentChoices:
    """What the person chooses on the Your data page besides the columns (the held-out share, the
    interval level, the network and its training); defaults give a run of a few seconds."""

    test_fraction: float = 0.2
    level: float = 0.95  # central interval drawn as bars and written to the download
    hidden: int = 50  # units of the one hidden layer (the UCI benchmark's width)
    steps: int = 3000  # optimiser steps (the benchmark uses 10,000)
    lr: float = 3e-3  # a third of the benchmark's steps at three times its learning rate
    samples: int = 200  # posterior draws for the test predictive
    seed: int = 0  # seeds the split, the initialisation and every draw

    def config(self, y_train: np.ndarray) -> Config:
        """The benchmark's setting (:class:`bnn.evaluation.uci_protocol.Protocol`) with these choices."""
        protocol = replace(Protocol(), steps=self.steps, lr=self.lr, min_epochs=1, seed=self.seed)
        return protocol.config(self.hidden, y_train, split=0)


def check_page_run(config: Config, n_train: int, input_dim: int, outputs: int = 1) -> None:
    """The dashboard's caps (``dashboard.model.limits``) on the knobs and on the work of one run.

    The dashboard's cap on the number of points is for hand-made point sets; a table
    may have up to ``MAX_ROWS`` rows, because the work cap already bounds the run.
    ``outputs``: K for a classifier, whose last layer has K units (``training_work`` counts one).
    """
    check_config(config, LIMITS)
    one = weight_count(config, input_dim)
    last = config.hidden[-1] if config.hidden else input_dim
    work = training_work(config, n_train, LIMITS, input_dim) * (one + (outputs - 1) * (last + 1)) / one
    if work > LIMITS.training_work:
        raise TableError(f"this run is about {work / LIMITS.training_work:.1f} times heavier than one visitor may "
                         "ask of this server; lower the training steps or the hidden units")


@dataclass
class Experiment:
    """A trained model with its test predictions and scores."""

    fitted: Fitted
    inputs: list[str]
    target: str
    predictions: pd.DataFrame  # the test rows: row, inputs, actual, mean, std, lower, upper, ...
    scores: Scores
    level: float
    x_train: np.ndarray  # (N_train, D), for the band plot of one-input data
    y_train: np.ndarray

    def calibration(self) -> pd.DataFrame:
        """Nominal level against the share of test targets inside the central interval."""
        levels = list(self.scores.coverage)
        return pd.DataFrame({"level": levels, "observed": [self.scores.coverage[p] for p in levels]})


def run_experiment(x: np.ndarray, y: np.ndarray, inputs: list[str], target: str,
                   choices: ExperimentChoices = ExperimentChoices(), rows: np.ndarray | None = None,
                   callback: Callable[[Progress], bool | None] | None = None) -> Experiment:
    """Split, train on the training rows, and score the mixture predictive on the test rows.

    ``rows`` are the file's row numbers of x and y (from :func:`select`), shown beside
    each test prediction; by default 1..N.
    """
    train, test = split_rows(len(y), choices.test_fraction, choices.seed)
    config = choices.config(y[train])
    level = choices.level
    check_page_run(config, len(train), x.shape[1])
    # Raw inputs: the engine standardises them with the training rows (config.standardize),
    # so the fitted model takes inputs in the user's units, as the band plot needs.
    fitted = fit(x[train], y[train], config, callback=callback, callback_every=50)
    f = fitted.sample_functions(x[test], samples=choices.samples, seed=config.seed + 1)  # (S, N_test)
    noise = fitted.scoring_noise(x[test], samples=choices.samples, seed=config.seed + 1)  # sigma(x) if it varies
    levels = tuple(sorted({*CALIBRATION_LEVELS, level}))
    scores = score(f, noise, y[test], levels)
    reserved = {"row", "actual", *SUMMARY_COLUMNS, *_download_names(target, level).values()}
    names = [f"{c} (input)" if c in reserved else c for c in inputs]
    table = predictive_table(x[test], f, noise, level, names=names)
    table.insert(0, "row", (np.arange(1, len(y) + 1) if rows is None else rows)[test])
    table.insert(len(inputs) + 1, "actual", y[test])
    return Experiment(fitted, inputs, target, table, scores, level, x[train], y[train])


def predictions_csv(experiment: Experiment) -> bytes:
    """The test predictions with their intervals, as CSV bytes for a download.

    The column names are the visitor's (a header ``=cmd|' /C calc'!A0`` is a formula to a
    spreadsheet), so the table is written with :func:`bnn.io.safe_csv`."""
    out = experiment.predictions.rename(columns=_download_names(experiment.target, experiment.level))
    return safe_csv(out, float_format="%.6g").encode()


def _download_names(target: str, level: float) -> dict[str, str]:
    """Columns of the prediction table renamed for the download (inputs of these names are marked)."""
    percent = f"{100 * level:g}"
    return {"actual": f"{target} (actual)", "lower": f"lower_{percent}", "upper": f"upper_{percent}"}

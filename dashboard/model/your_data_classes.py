"""Classification on the user's table: a text or few-valued whole-number target treated as classes.

The classification counterpart of :mod:`dashboard.model.your_data`, with the same reading, caps,
work budget and messages (:class:`~dashboard.model.your_data.TableError`). The class values are
mapped to 0..K-1 in sorted order (numbers by value, text alphabetically), their names kept for
display. The held-out rows are drawn per class (a stratified split), so that every class is both
trained on and scored, and the download's (index, name) pairs list every class. A categorical
Bayes-by-Backprop net (``docs/classification.md``) is trained on the training rows, and the mean
predictive probabilities of the held-out rows are scored with :mod:`bnn.evaluation.classification`
(accuracy, NLL, Brier score, ECE of Guo et al. 2017, its reliability table, the confusion matrix).
Class names are the visitor's text: the page escapes them, the figures HTML-escape them, and the
download goes through :func:`bnn.io.safe_csv`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from bnn.config import Config
from bnn.evaluation.classification import (
    ClassificationScores,
    classification_scores,
    confusion_matrix,
    reliability_table,
)
from bnn.io import safe_csv
from bnn.train import Fitted, Progress, fit
from bnn.uncertainty import classification_table
from dashboard.model import your_data as yd
from dashboard.model.text import clip
from dashboard.model.your_data import TableError

MAX_CLASSES = 20  # a confusion matrix and a legend stay readable; more is rarely a class label
MAX_WHOLE_DISTINCT = MAX_CLASSES  # a whole-number target with at most this many values may be classes
MIN_CLASS_ROWS = 2  # one row to train on and one to hold out


class TargetKind(StrEnum):
    """What a target column allows."""

    TEXT = "text"  # classes only (regression needs numbers)
    FEW_WHOLE = "few whole numbers"  # regression, or classes
    NUMBER = "numbers"  # regression only


def target_kind(frame: pd.DataFrame, target: str) -> TargetKind:
    """TEXT if a non-empty cell of ``target`` is not a number (or it holds True/False); FEW_WHOLE if every
    value is a whole number and there are at most ``MAX_WHOLE_DISTINCT`` of them; else NUMBER."""
    column = frame[target]
    if pd.api.types.is_bool_dtype(column) or target not in yd.numeric_columns(frame[[target]]):
        return TargetKind.TEXT
    values = pd.to_numeric(column, errors="coerce").dropna().to_numpy(dtype=np.float64)
    whole = np.isfinite(values).all() and (values == np.round(values)).all()
    return TargetKind.FEW_WHOLE if whole and len(np.unique(values)) <= MAX_WHOLE_DISTINCT else TargetKind.NUMBER


def default_target(frame: pd.DataFrame) -> str:
    """The target a new table starts with: its last column if that is numeric or usable as classes (a
    label column usually comes last, as in iris), else its last numeric column, else its last column."""
    numeric = yd.numeric_columns(frame)
    last = frame.columns[-1]
    if last in numeric:
        return last
    try:
        class_labels(frame[last])
    except TableError:
        return numeric[-1] if numeric else last
    return last


def class_labels(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """(labels (N,) int in 0..K-1, or -1 for an empty cell; the K class names in label order).

    Whole numbers are sorted by value and named by it ("2", "10"); anything else (text, True/False)
    is stripped of surrounding spaces and sorted as text. Raises TableError for numbers that are
    not whole, one class only, more than ``MAX_CLASSES`` classes, or no value at all."""
    present = column.notna().to_numpy()
    if not present.any():
        raise TableError(f"column '{column.name}' is empty")
    numbers = pd.to_numeric(column, errors="coerce")
    if not pd.api.types.is_bool_dtype(column) and (numbers.notna().to_numpy() == present).all():
        values = numbers.to_numpy(dtype=np.float64)[present]
        if not np.isfinite(values).all() or (values != np.round(values)).any():
            bad = values[~np.isfinite(values) | (values != np.round(values))][0]
            raise TableError(f"column '{column.name}' holds {bad:g}, not a whole number: only text or whole "
                             "numbers can be classes")
        keys: np.ndarray = values + 0.0  # -0.0 + 0.0 is 0.0: one class, named "0"
    else:
        keys = np.array([str(v).strip() for v in column[present]], dtype=object)
    uniques, inverse = np.unique(keys, return_inverse=True)
    names = [f"{u:.0f}" if isinstance(u, float) else str(u) for u in uniques]  # 1e20 as digits, not 1e+20
    if len(names) < 2:
        raise TableError(f"column '{column.name}' has one class only ('{clip(names[0])}'): there is nothing to "
                         "tell apart")
    if len(names) > MAX_CLASSES:
        raise TableError(f"column '{column.name}' has {len(names):,} different values; at most {MAX_CLASSES} "
                         "classes are allowed")
    labels = np.full(len(column), -1, dtype=np.int64)
    labels[present] = inverse
    return labels, names


def select_classes(frame: pd.DataFrame, target: str, inputs: list[str]
                   ) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(x (N, D), labels (N,) in 0..K-1, the K class names, 1-based file rows kept); rows with an empty
    cell in the chosen columns are left out (the classes are those of the rows kept)."""
    if not inputs:
        raise TableError("choose at least one input column")
    if target in inputs:
        raise TableError(f"'{target}' is the target, so it cannot also be an input")
    if target not in frame.columns:
        raise TableError(f"there is no column '{target}'")
    yd.check_numeric(frame, inputs)
    x = frame[inputs].apply(pd.to_numeric, errors="coerce").astype(np.float64)
    keep = (x.notna().all(axis=1) & frame[target].notna()).to_numpy()
    if not np.isfinite(x.to_numpy()[keep]).all():
        raise TableError("the chosen columns hold infinite values")
    if keep.sum() < yd.MIN_TRAIN + yd.MIN_TEST:
        raise TableError(f"only {int(keep.sum())} rows have every chosen column filled; "
                         f"at least {yd.MIN_TRAIN + yd.MIN_TEST} are needed")
    labels, names = class_labels(frame[target][keep].rename(target))
    counts = np.bincount(labels, minlength=len(names))
    if counts.min() < MIN_CLASS_ROWS:
        rare = names[int(counts.argmin())]
        raise TableError(f"class '{clip(rare)}' of '{target}' has only {counts.min()} row; every class needs at "
                         f"least {MIN_CLASS_ROWS} (one to train on, one to hold out): remove or merge it")
    return x.to_numpy()[keep], labels, names, np.flatnonzero(keep) + 1


def split_classes(labels: np.ndarray, test_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A seeded stratified (train, test) partition of range(N): of each class's n rows, round(fraction n)
    are held out, at least one and at most n - 1, so that every class is trained on and scored."""
    low, high = yd.TEST_FRACTION_RANGE
    if not low <= test_fraction <= high:
        raise TableError(f"the test fraction must lie between {low} and {high}, got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for k in range(int(labels.max()) + 1):
        rows = rng.permutation(np.flatnonzero(labels == k))
        test.append(rows[:min(len(rows) - 1, max(1, round(test_fraction * len(rows))))])
    held = np.sort(np.concatenate(test))
    train = np.setdiff1d(np.arange(len(labels)), held)
    if len(held) < yd.MIN_TEST or len(train) < yd.MIN_TRAIN:
        raise TableError(f"{len(labels)} rows split by class leave {len(train)} to train on and {len(held)} to "
                         f"hold out; at least {yd.MIN_TRAIN} and {yd.MIN_TEST} are needed: change the held-out share")
    return train, held


def classes_config(choices: yd.ExperimentChoices, n_train: int, classes: int) -> Config:
    """The regression page's setting (:meth:`ExperimentChoices.config`) with a categorical likelihood:
    no learned noise, and no local reparameterisation (the fast engine does not cover it for classes)."""
    base = choices.config(np.zeros(n_train))  # only the target's size matters: it sets the epochs
    return base.replace(likelihood="categorical", classes=classes, learn_noise=False, local_reparam=False)


@dataclass
class ClassExperiment:
    """A trained classifier with its held-out predictions and scores."""

    fitted: Fitted
    inputs: list[str]
    target: str
    names: list[str]  # class k's name, as in the file
    predictions: pd.DataFrame  # row, inputs, actual, predicted (names), their indices, p0.., uncertainties, bounds
    labels: np.ndarray  # (N_test,) true labels 0..K-1
    scores: ClassificationScores
    reliability: pd.DataFrame  # bnn.evaluation.classification.reliability_table
    confusion: np.ndarray  # (K, K) counts, rows the true class
    level: float


def run_class_experiment(x: np.ndarray, labels: np.ndarray, names: list[str], inputs: list[str], target: str,
                         choices: yd.ExperimentChoices = yd.ExperimentChoices(), rows: np.ndarray | None = None,
                         callback: Callable[[Progress], bool | None] | None = None) -> ClassExperiment:
    """Split by class, train a categorical BNN on the training rows, score the held-out rows."""
    train, test = split_classes(labels, choices.test_fraction, choices.seed)
    config = classes_config(choices, len(train), len(names))
    yd.check_page_run(config, len(train), x.shape[1], outputs=len(names))
    fitted = fit(x[train], labels[train], config, callback=callback, callback_every=50)
    probs = fitted.sample_probabilities(x[test], samples=choices.samples, seed=config.seed + 1)  # (S, N_test, K)
    mean = probs.mean(axis=0)
    reserved = {*_TABLE_COLUMNS, *_download_names(target, choices.level).values()}
    column_names = [f"{c} (input)" if c in reserved or _probability(c) else c for c in inputs]
    table = classification_table(x[test], probs, choices.level, column_names)
    table.insert(0, "row", (np.arange(1, len(labels) + 1) if rows is None else rows)[test])
    at = len(inputs) + 1
    table.insert(at, "actual", [names[k] for k in labels[test]])
    table.insert(at + 1, "predicted", [names[k] for k in table["label"]])
    table.insert(at + 2, "actual_index", labels[test])
    table.insert(at + 3, "predicted_index", table.pop("label"))  # beside the true one
    y = labels[test]
    return ClassExperiment(fitted, inputs, target, names, table, y, classification_scores(mean, y),
                           reliability_table(mean, y), confusion_matrix(mean, y), choices.level)


# the table's own columns besides p0.., whose names an input of the same name would take
_TABLE_COLUMNS = {"row", "actual", "predicted", "actual_index", "predicted_index", "entropy", "aleatoric",
                  "epistemic"}


def _probability(name: str) -> bool:
    """p3, p3_lower, p3_upper and their download names (p3_lower_95): the table's own columns."""
    head = name.split("_")[0]
    return head[:1] == "p" and head[1:].isdigit()


def predictions_csv(experiment: ClassExperiment) -> bytes:
    """The held-out rows as CSV bytes: the file's row, the inputs, the true and predicted class by name
    (``<target> (actual)``, ``<target> (predicted)``) and by index (``actual_index``, ``predicted_index``),
    the class probabilities p0..p{K-1} in the index order, the entropy and its aleatoric and epistemic
    parts (nats), and each probability's central interval (``p{k}_lower_95``, ``p{k}_upper_95``).

    Column names and class names are the visitor's text, so the table goes through :func:`bnn.io.safe_csv`."""
    out = experiment.predictions.rename(columns=_download_names(experiment.target, experiment.level))
    return safe_csv(out, float_format="%.6g").encode()


def _download_names(target: str, level: float) -> dict[str, str]:
    percent = f"{100 * level:g}"
    bounds = {f"p{k}_{side}": f"p{k}_{side}_{percent}" for k in range(MAX_CLASSES) for side in ("lower", "upper")}
    return {"actual": f"{target} (actual)", "predicted": f"{target} (predicted)", **bounds}


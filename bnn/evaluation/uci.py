"""The UCI regression benchmark: the nine data sets, their fixed splits, published scores.

Hernández-Lobato & Adams (2015, "Probabilistic Backpropagation") fixed nine UCI data
sets, twenty 90/10 train/test splits each (five for protein) and a one-hidden-layer
network of 50 units (100 for protein); Gal & Ghahramani (2016) and most later papers
reuse them. This module reads that layout from a folder the caller names (one
``<folder>/data/`` per set: ``data.txt``, ``index_features.txt``, ``index_target.txt``,
``index_{train,test}_<i>.txt``, ``n_splits.txt``, ``n_hidden.txt``) and the published
scores from ``published_results.csv`` beside them. Nothing is copied into the project.

Each set may also hold ``<folder>/gap/`` with the "gap" splits of Foong et al. (2019,
"'In-Between' Uncertainty in Bayesian Neural Networks"): split d sorts the rows along
input feature d and holds out the middle third, so the test rows lie between two clusters
of training rows along that feature (``index_{train,test}_<d>.txt`` into the same
``data.txt``, and ``n_splits.txt``, one split per input feature).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import numpy as np

from bnn.errors import BNNError, InputFileError
from bnn.io import read_bounded

ENV_VAR = "BNN_UCI_DIR"
MAX_FILE_BYTES = 64 * 2**20  # each file of the layout; the largest real one is 3.5 MB

# Short name (as in published_results.csv) -> folder name in the data directory.
FOLDERS = {
    "boston": "bostonHousing",
    "concrete": "concrete",
    "energy": "energy",
    "kin8nm": "kin8nm",
    "naval": "naval-propulsion-plant",
    "power": "power-plant",
    "protein": "protein-tertiary-structure",
    "wine": "wine-quality-red",
    "yacht": "yacht",
}

# The three columns the benchmark table sets beside ours (method names as in the CSV).
PUBLISHED_METHODS = {
    "VI": "VI (Graves 2011; numbers from PBP paper)",
    "PBP": "PBP (numbers from PBP paper)",
    "MC dropout": "MC dropout (400 epochs, BO tau)",
}
PUBLISHED_SOURCE = "Gal&Ghahramani2016_arXiv1506.02142v6_Table1"


class UCIDataError(BNNError):
    """The UCI data folder is missing, incomplete, or names an unknown data set."""


class SplitProtocol(StrEnum):
    """Which fixed train/test splits of a data set to use."""

    STANDARD = "standard"
    """Hernández-Lobato & Adams (2015): random 90/10 splits (20; 5 for protein), in ``data/``."""
    GAP = "gap"
    """Foong et al. (2019): split d holds out the middle third along input feature d, in ``gap/``."""


@dataclass(frozen=True)
class UCIDataset:
    """One data set: inputs (N, D), target (N,), and its folder for the split files."""

    name: str  # short name, e.g. "boston"
    x: np.ndarray  # (N, D)
    y: np.ndarray  # (N,)
    n_splits: int
    n_hidden: int
    folder: Path

    @property
    def gap_folder(self) -> Path:
        return self.folder.parent / "gap"

    def count(self, protocol: SplitProtocol | str = SplitProtocol.STANDARD) -> int:
        """How many splits ``protocol`` has: ``n_splits``, or one gap split per input feature."""
        if as_split_protocol(protocol) is SplitProtocol.STANDARD:
            return self.n_splits
        if not self.gap_folder.is_dir():
            raise UCIDataError(f"{self.name} has no gap splits: {str(self.gap_folder)!r} does not exist")
        count = int(_read_ints(self.gap_folder / "n_splits.txt")[0])
        if count != self.x.shape[1]:
            raise UCIDataError(f"{self.name}: gap/n_splits.txt says {count}, but there is one gap split per input "
                               f"feature and the set has {self.x.shape[1]}")
        return count

    def split(self, i: int, protocol: SplitProtocol | str = SplitProtocol.STANDARD) -> tuple[np.ndarray, np.ndarray]:
        """0-based row indices (train, test) of split i of ``protocol`` (for the gap splits, i is the feature)."""
        protocol = as_split_protocol(protocol)
        count = self.count(protocol)
        label = self.name if protocol is SplitProtocol.STANDARD else f"{self.name} gap"
        if not 0 <= i < count:
            raise UCIDataError(f"{label} has splits 0..{count - 1}, not {i}")
        folder = self.folder if protocol is SplitProtocol.STANDARD else self.gap_folder
        train = _read_ints(folder / f"index_train_{i}.txt")
        test = _read_ints(folder / f"index_test_{i}.txt")
        n = self.y.shape[0]
        if train.size == 0 or test.size == 0 or max(train.max(), test.max()) >= n or min(train.min(), test.min()) < 0:
            raise UCIDataError(f"{label} split {i}: indices are empty or outside 0..{n - 1}")
        if np.intersect1d(train, test).size:
            raise UCIDataError(f"{label} split {i}: rows {np.intersect1d(train, test)[:5].tolist()} are in both "
                               "the training and the test part")
        return train, test


def as_split_protocol(value: SplitProtocol | str) -> SplitProtocol:
    """'standard' or 'gap' (or the member) -> the member; anything else is a UCIDataError."""
    try:
        return SplitProtocol(value)
    except ValueError:
        raise UCIDataError(f"unknown split protocol {value!r}; known: {', '.join(SplitProtocol)}") from None


def data_dir(fallback: str | os.PathLike[str]) -> Path:
    """The data folder a caller should read: ``$BNN_UCI_DIR`` when set, else ``fallback``.

    The library does not guess where the data lie; the command line and the dashboard each
    pass their own fallback."""
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(fallback)


def canonical_name(name: str) -> str:
    """'boston' or 'bostonHousing' (any case) -> 'boston'."""
    key = name.strip().lower()
    for short, folder in FOLDERS.items():
        if key in (short, folder.lower()):
            return short
    raise UCIDataError(f"unknown UCI data set {name!r}; known: {', '.join(FOLDERS)}")


def available(data_dir: str | os.PathLike[str]) -> list[str]:
    """Short names of the data sets whose folder exists under data_dir (may be empty)."""
    root = Path(data_dir)
    return [short for short, folder in FOLDERS.items() if (root / folder / "data" / "data.txt").is_file()]


def load(data_dir: str | os.PathLike[str], name: str) -> UCIDataset:
    """Read data set ``name`` from ``data_dir`` (the folder that holds ``bostonHousing/`` etc.)."""
    short = canonical_name(name)
    root = Path(data_dir)
    if not root.is_dir():
        raise UCIDataError(f"UCI data folder {str(root)!r} does not exist (pass --data-dir or set {ENV_VAR})")
    folder = root / FOLDERS[short] / "data"
    if not (folder / "data.txt").is_file():
        raise UCIDataError(f"{str(folder)!r} has no data.txt: is {str(root)!r} the UCI data folder?")
    table = _read_table(folder / "data.txt")
    features = _read_ints(folder / "index_features.txt")
    target = int(_read_ints(folder / "index_target.txt")[0])
    return UCIDataset(
        name=short,
        x=table[:, features],
        y=table[:, target],
        n_splits=int(_read_ints(folder / "n_splits.txt")[0]),
        n_hidden=int(_read_ints(folder / "n_hidden.txt")[0]),
        folder=folder,
    )


def published(data_dir: str | os.PathLike[str], name: str) -> dict[str, dict[str, tuple[float, float]]]:
    """Published scores for one data set: {method: {metric: (mean, se)}}, metric 'rmse' or 'test_ll'.

    Missing file or rows give an empty dict: the table then shows dashes.
    """
    path = Path(data_dir) / "published_results.csv"
    short = canonical_name(name)
    out: dict[str, dict[str, tuple[float, float]]] = {}
    if not path.is_file():
        return out
    wanted = {method: label for label, method in PUBLISHED_METHODS.items()}
    text = _read_text(path)
    try:
        for row in csv.DictReader(io.StringIO(text, newline="")):
            label = wanted.get(row.get("method", ""))
            if label is None or row.get("source") != PUBLISHED_SOURCE or row.get("dataset") != short:
                continue
            err = float(row["err"]) if row.get("err") else float("nan")
            out.setdefault(label, {})[row["metric"]] = (float(row["mean"]), err)
    except (csv.Error, KeyError, TypeError, ValueError) as exc:
        raise UCIDataError(f"{str(path)!r} is not a table of published results ({exc})") from None
    return out


def _read_text(path: Path) -> str:
    """A file of the data folder as text, read with a bound (the largest, protein's data.txt, is 3.5 MB)."""
    if not path.is_file():  # a folder, a FIFO or a device is not part of the layout
        raise UCIDataError(f"missing file {str(path)!r}")
    try:
        return read_bounded(path, MAX_FILE_BYTES, "a UCI data file").decode("utf-8")
    except InputFileError as exc:
        raise UCIDataError(str(exc)) from None
    except UnicodeDecodeError:
        raise UCIDataError(f"{str(path)!r} is not a text file") from None


def _read_table(path: Path) -> np.ndarray:
    text = _read_text(path)  # outside the try: its UCIDataError is a ValueError too
    try:
        return np.loadtxt(io.StringIO(text), ndmin=2)
    except ValueError:
        raise UCIDataError(f"{str(path)!r} must hold a table of numbers") from None


def _read_ints(path: Path) -> np.ndarray:
    text = _read_text(path)
    try:
        return np.atleast_1d(np.loadtxt(io.StringIO(text), dtype=np.int64))
    except ValueError:
        raise UCIDataError(f"{str(path)!r} must hold whole numbers, one per line") from None

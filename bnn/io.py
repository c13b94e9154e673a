"""Files in and out: a fitted model saved and loaded, input files read with a bound, CSV written safely.

A model file is a ``torch.save`` dictionary of plain tensors, numbers and strings, read
back with ``weights_only=True`` so loading a file never runs code from it. Every input
file is read through :func:`read_bounded`, so a huge file, a device such as /dev/zero or a
FIFO that never ends cannot exhaust memory. Every CSV written from user text goes through
:func:`safe_csv`: a spreadsheet opening it shows the text and never evaluates it.
"""

from __future__ import annotations

import io
import os
import typing
import warnings
from pathlib import Path

import pandas as pd
import torch

from bnn.config import Config
from bnn.data import Scaling
from bnn.errors import BNNError, InputFileError, ModelFileError
from bnn.model import BayesMLP
from bnn.train import HISTORY_COLUMNS, Fitted

FORMAT = "bnn-model/1"
# The largest network the engine builds (8 layers of 4,096 units) is about 1 GB of float32 mu and rho.
MAX_MODEL_BYTES = 2**31
ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive
READ_CHUNK = 2**20
# Cells a spreadsheet reads as a formula (OWASP, "CSV Injection"): "=cmd|' /C calc'!A0", "@SUM(1+1)", ...
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def read_bounded(path: str | os.PathLike[str], max_bytes: int, what: str = "the file",
                 magic: bytes | None = None) -> bytes:
    """The bytes of ``path``, refusing it (InputFileError) when it holds more than ``max_bytes``.

    Reads at most ``max_bytes + 1`` bytes whatever the file is (a device or a FIFO has no size to
    check first), so an endless input costs a bounded amount of memory and time (a FIFO with no
    writer yet waits for one, as ``cat`` does). With ``magic``,
    a file that does not start with those bytes is refused after reading only them."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(magic)) if magic is not None else b""
            if head != (magic or b""):
                raise InputFileError(f"{path} is not {what}")
            data = head + _read_upto(handle, max_bytes + 1 - len(head))
    except IsADirectoryError:
        raise InputFileError(f"{path} is a folder, not a file") from None
    if len(data) > max_bytes:
        raise InputFileError(f"{path}: {what} is larger than {max_bytes:,} bytes, the most this command reads")
    return data


def _read_upto(handle: typing.BinaryIO, limit: int) -> bytes:
    """At most ``limit`` bytes, in chunks: ``read(limit)`` would reserve the whole limit in memory
    first, 2 GiB for a 3 kB model file."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = handle.read(min(left, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def spreadsheet_safe(value: object) -> object:
    """Text that would start a spreadsheet formula gets a leading single quote; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_csv(frame: pd.DataFrame, **to_csv: object) -> str:
    """``frame.to_csv(index=False, ...)`` with every column name and text cell made spreadsheet-safe.

    Numbers stay numbers (a negative number is not text, so it keeps its minus sign)."""
    out = frame.rename(columns=lambda c: spreadsheet_safe(str(c)))
    for k in range(out.shape[1]):
        column = out.iloc[:, k]
        if pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column):
            out.iloc[:, k] = column.map(spreadsheet_safe)
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, **to_csv)  # type: ignore[arg-type]
    return buffer.getvalue()


def save(fitted: Fitted, path: str | os.PathLike[str]) -> Path:
    """Write ``fitted`` to ``path`` (conventionally ``*.pt``); returns the path."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "config": fitted.config.to_dict(),
        "input_dim": fitted.input_dim,
        "n_train": fitted.n_train,
        "scaling": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(fitted.scaling).items()},
        "state": {k: v.detach().clone() for k, v in fitted.model.state_dict().items()},
        "history": {c: fitted.history[c].tolist() for c in HISTORY_COLUMNS},
    }
    torch.save(payload, path)
    return path


def load(path: str | os.PathLike[str]) -> Fitted:
    """Read a model written by :func:`save`; raises ModelFileError on anything else."""
    try:
        data = read_bounded(path, MAX_MODEL_BYTES, "a bnn model file", magic=ZIP_MAGIC)
    except FileNotFoundError:
        raise ModelFileError(f"no such model file: {path}") from None
    except InputFileError as exc:
        raise ModelFileError(str(exc)) from None
    try:
        with warnings.catch_warnings():  # a foreign pickle makes torch warn before it refuses: one message is enough
            warnings.simplefilter("ignore")
            payload = torch.load(io.BytesIO(data), weights_only=True)
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise ModelFileError(f"{path} is not a bnn model file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a bnn model file (expected format {FORMAT})")
    try:
        config = Config.from_dict(payload["config"])
        scaling = Scaling(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload["scaling"].items()})
        model = BayesMLP(int(payload["input_dim"]), config.replace(noise_sigma=scaling.model_noise(config.noise_sigma)))
        model.load_state_dict(payload["state"])
    except (KeyError, TypeError, RuntimeError, BNNError) as exc:
        raise ModelFileError(f"{path} holds a damaged bnn model: {exc}") from None
    model.eval()
    return Fitted(model=model, config=config, scaling=scaling, n_train=int(payload["n_train"]),
                  history_rows=list(zip(*(payload["history"][c] for c in HISTORY_COLUMNS))))

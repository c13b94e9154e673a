"""Saving and loading a fitted model: weights, config and scaling in one file.

The file is a ``torch.save`` dictionary of plain tensors, numbers and strings, read
back with ``weights_only=True`` so loading a file never runs code from it.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from bnn.config import Config
from bnn.data import Scaling
from bnn.errors import BNNError, ModelFileError
from bnn.model import BayesMLP
from bnn.train import HISTORY_COLUMNS, Fitted

FORMAT = "bnn-model/1"


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
        payload = torch.load(Path(path), weights_only=True)
    except FileNotFoundError:
        raise ModelFileError(f"no such model file: {path}") from None
    except Exception as exc:  # torch raises many types for a corrupt or foreign file
        raise ModelFileError(f"{path} is not a bnn model file ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a bnn model file (expected format {FORMAT})")
    try:
        config = Config.from_dict(payload["config"])
        scaling = Scaling(**{k: tuple(v) if isinstance(v, list) else v for k, v in payload["scaling"].items()})
        model = BayesMLP(int(payload["input_dim"]), config.replace(noise_sigma=config.noise_sigma / scaling.y_std))
        model.load_state_dict(payload["state"])
    except (KeyError, TypeError, RuntimeError, BNNError) as exc:
        raise ModelFileError(f"{path} holds a damaged bnn model: {exc}") from None
    model.eval()
    return Fitted(model=model, config=config, scaling=scaling, n_train=int(payload["n_train"]),
                  history_rows=list(zip(*(payload["history"][c] for c in HISTORY_COLUMNS))))

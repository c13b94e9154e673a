"""Turning user arrays into checked tensors, and the standardisation of x and y.

Point sets are validated here once: finite numbers only, at least one point, at most
``MAX_POINTS`` of them and no magnitude above ``MAX_ABS``; each violation raises
:class:`bnn.errors.PointsError` with a message a person understands.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.errors import PointsError

MAX_POINTS = 1_000_000
# Real tables hold values in the millions (populations, prices, protein's 5.5e6 feature);
# with ``standardize=True`` they train fine. Beyond 1e9 a value is almost surely a typo.
MAX_ABS = 1e9
MAX_FEATURES = 10_000


def as_inputs(x: ArrayLike, name: str = "x") -> np.ndarray:
    """(N,) or (N, D) numbers -> float64 array (N, D), checked."""
    arr = _as_float_array(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise PointsError(f"{name} must be a list of numbers or a 2-D table, got {arr.ndim} dimensions")
    if arr.shape[1] < 1 or arr.shape[1] > MAX_FEATURES:
        raise PointsError(f"{name} must have between 1 and {MAX_FEATURES} columns, got {arr.shape[1]}")
    _check_values(arr, name)
    return arr


def as_targets(y: ArrayLike, n: int | None = None, name: str = "y") -> np.ndarray:
    """(N,) or (N, 1) numbers -> float64 array (N,), checked (and of length n if given)."""
    arr = _as_float_array(y, name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise PointsError(f"{name} must be one number per point, got shape {arr.shape}")
    _check_values(arr, name)
    if n is not None and arr.shape[0] != n:
        raise PointsError(f"x has {n} points but {name} has {arr.shape[0]}; they must match")
    return arr


def as_labels(y: ArrayLike, n: int | None = None, classes: int | None = None,
              name: str = "labels") -> tuple[np.ndarray, int]:
    """Class labels 0..K-1 -> (int64 array (N,), K), checked (and of length n if given).

    K is ``classes`` when given, else the largest label + 1, and must be at least 2. Labels may
    come as integers or as floats with whole values (a CSV column read as float); anything else
    raises :class:`PointsError` naming the first offending row."""
    arr = as_targets(y, n=n, name=name)
    whole = arr == np.round(arr)
    if not whole.all():
        row = int(np.argmin(whole))
        raise PointsError(f"{name} must be whole numbers 0..K-1 (class indices); "
                          f"row {row + 1} holds {float(arr[row]):g}")
    k = int(arr.max()) + 1 if classes is None else classes
    bad = (arr < 0) | (arr >= k)
    if bad.any():
        row = int(np.argmax(bad))
        raise PointsError(f"{name} must lie in 0..{k - 1} for {k} classes; row {row + 1} holds {int(arr[row])}")
    if k < 2:
        raise PointsError(f"{name}: a classifier needs at least 2 classes, but every label is 0 "
                          "(set classes=K to train on one class of K)")
    return arr.astype(np.int64), k


def _as_float_array(values: ArrayLike, name: str) -> np.ndarray:
    if isinstance(values, Tensor):
        values = values.detach().cpu().numpy()
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise PointsError(f"{name} must hold numbers only") from None
    return arr


def _check_values(arr: np.ndarray, name: str) -> None:
    n = arr.shape[0] if arr.ndim else 0
    if n < 1:
        raise PointsError(f"{name}: at least one point is needed")
    if n > MAX_POINTS:
        raise PointsError(f"{name}: at most {MAX_POINTS:,} points are allowed, got {n:,}")
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise PointsError(
            f"{name}: every value must be a finite number; row {row + 1} holds {arr.reshape(n, -1)[row].tolist()}"
        )
    big = np.abs(arr) > MAX_ABS
    if big.any():
        row = int(np.argwhere(big)[0][0])
        raise PointsError(
            f"{name}: values must lie within ±{MAX_ABS:g}; row {row + 1} holds {arr.reshape(n, -1)[row].tolist()}"
        )


def batch_size_for(n: int, batch_size: int | None) -> int:
    """The minibatch size of a run on ``n`` points: all of them for full batch (``None``), at most ``n``."""
    return n if batch_size is None else min(batch_size, n)


def steps_per_epoch(n: int, batch_size: int | None) -> int:
    """Optimiser steps in one pass over ``n`` points (the last minibatch may be smaller)."""
    return -(-n // batch_size_for(n, batch_size))


def to_model_units(x: ArrayLike, y: ArrayLike, standardize: bool,
                   dtype: torch.dtype | None = None) -> tuple[Scaling, Tensor, Tensor]:
    """Check points as every fit does, and move them to model units: (scaling, x (N, D), y (N,))."""
    x_np = as_inputs(x)
    y_np = as_targets(y, n=x_np.shape[0])
    scaling = Scaling.from_data(x_np, y_np) if standardize else Scaling.identity(x_np.shape[1])
    return scaling, scaling.x(x_np, dtype), scaling.y(y_np, dtype)


def to_model_units_labels(x: ArrayLike, y: ArrayLike, standardize: bool, classes: int | None = None,
                          dtype: torch.dtype | None = None) -> tuple[Scaling, Tensor, Tensor, int]:
    """The classifier's :func:`to_model_units`: (scaling, x (N, D), labels (N,) int64, K). Only x is
    standardised: labels are class indices, with no units to take out."""
    x_np = as_inputs(x)
    labels, k = as_labels(y, n=x_np.shape[0], classes=classes)
    scaling = Scaling.from_data(x_np, np.zeros(1)) if standardize else Scaling.identity(x_np.shape[1])
    return scaling, scaling.x(x_np, dtype), torch.as_tensor(labels), k


@dataclass(frozen=True)
class Scaling:
    """x -> (x - x_mean) / x_std and y -> (y - y_mean) / y_std; identity when not standardising."""

    x_mean: tuple[float, ...]
    x_std: tuple[float, ...]
    y_mean: float = 0.0
    y_std: float = 1.0

    @classmethod
    def identity(cls, dim: int) -> Scaling:
        return cls((0.0,) * dim, (1.0,) * dim)

    @classmethod
    def from_data(cls, x: np.ndarray, y: np.ndarray) -> Scaling:
        """Training statistics; a constant column (or a single point) gets std 1."""
        x_std = x.std(axis=0)
        x_std[x_std == 0] = 1.0
        y_std = float(y.std()) or 1.0
        return cls(tuple(x.mean(axis=0).tolist()), tuple(x_std.tolist()), float(y.mean()), y_std)

    def x(self, x: np.ndarray, dtype: torch.dtype | None = None) -> Tensor:
        """Inputs in model units, in ``dtype`` (default torch's; float64 methods must not round x to float32)."""
        out = (x - np.asarray(self.x_mean)) / np.asarray(self.x_std)
        return torch.as_tensor(out, dtype=dtype or torch.get_default_dtype())

    def y(self, y: np.ndarray, dtype: torch.dtype | None = None) -> Tensor:
        return torch.as_tensor((y - self.y_mean) / self.y_std, dtype=dtype or torch.get_default_dtype())

    def model_noise(self, sigma: float) -> float:
        """A noise std given in the target's units, in model units."""
        return sigma / self.y_std

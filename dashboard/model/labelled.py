"""A two-input, labelled point set as the Classify page holds it: (x0, x1) and a class per point.

The classification counterpart of :class:`dashboard.model.points.Points`: every way a point set
enters (the chart, a preset, a link) goes through :meth:`LabelledPoints.of`, which
checks the values with the engine's rules (finite inputs, whole labels in 0..K-1) plus the
dashboard's caps, and rounds the inputs to float32, so a fit on the points a link carries is the
same fit, bit for bit, as on the points that made it. In a link the points travel as the main
page's do (float32 bytes shuffled by significance, deflated, base64url), the labels as one byte
each after them.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bnn.data import as_inputs, as_labels
from bnn.errors import BNNError, PointsError
from dashboard.model.limits import LIMITS
from dashboard.model.link import inflate

MAX_CLASSES = 6  # the class buttons on the canvas (and the colours that stay distinguishable)
MAX_POINTS = 1_000  # a hand-made 2-D set: the canvas and the link stay quick
_BOUND = f"±{LIMITS.point_abs:g}".replace("e+0", "e")


@dataclass(frozen=True, eq=False)
class LabelledPoints:
    """x (N, 2) float64 holding float32 values, labels (N,) int64; compared by value."""

    x: np.ndarray
    labels: np.ndarray

    @classmethod
    def of(cls, x: ArrayLike, labels: ArrayLike, classes: int = MAX_CLASSES,
           max_points: int = MAX_POINTS) -> LabelledPoints:
        """Checked and rounded to float32; labels must lie in 0..``classes``-1. Raises PointsError."""
        x_np = np.asarray(x, dtype=np.float64)
        if x_np.size == 0 and np.asarray(labels).size == 0:
            return cls.none()
        x_np = as_inputs(x_np)
        if x_np.shape[1] != 2:
            raise PointsError(f"each point needs two inputs (x0, x1), got {x_np.shape[1]} column(s)")
        if x_np.shape[0] > max_points:
            raise PointsError(f"at most {max_points:,} points here, got {x_np.shape[0]:,}")
        big = np.argwhere(np.abs(x_np) > LIMITS.point_abs)
        if big.size:
            row, col = big[0]
            raise PointsError(f"x{col}: values must lie within {_BOUND}; row {row + 1} holds {x_np[row, col]:g}")
        y, _ = as_labels(labels, n=x_np.shape[0], classes=classes)
        x32 = x_np.astype(np.float32).astype(np.float64)
        y64 = y.astype(np.int64)
        x32.flags.writeable = y64.flags.writeable = False
        return cls(x32, y64)

    @classmethod
    def none(cls) -> LabelledPoints:
        x, y = np.empty((0, 2), dtype=np.float64), np.empty(0, dtype=np.int64)
        x.flags.writeable = y.flags.writeable = False
        return cls(x, y)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to_bytes(self) -> bytes:
        """float32 little-endian x0 then x1, then one byte per label: the identity of the set."""
        return (np.concatenate([self.x[:, 0], self.x[:, 1]]).astype("<f4").tobytes()
                + self.labels.astype(np.uint8).tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LabelledPoints) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    @property
    def classes_present(self) -> int:
        """The largest label + 1 (0 for no points)."""
        return int(self.labels.max()) + 1 if len(self) else 0

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"x0": self.x[:, 0], "x1": self.x[:, 1], "label": self.labels})


def to_csv(points: LabelledPoints) -> bytes:
    """x0,x1,label with the float32 values written exactly (repr of the float64 they widen to)."""
    lines = ["x0,x1,label"] + [f"{a!r},{b!r},{int(c)}" for (a, b), c in zip(points.x.tolist(), points.labels.tolist())]
    return ("\n".join(lines) + "\n").encode()


# ---- in a link ------------------------------------------------------------------------------
def encode(points: LabelledPoints) -> str:
    """The inputs as float32 bytes shuffled by significance, then the label bytes; deflated, base64url."""
    floats = np.concatenate([points.x[:, 0], points.x[:, 1]]).astype("<f4").tobytes()
    shuffled = np.frombuffer(floats, dtype=np.uint8).reshape(-1, 4).T.copy().tobytes()
    raw = shuffled + points.labels.astype(np.uint8).tobytes()
    return base64.urlsafe_b64encode(zlib.compress(raw, 9)).decode("ascii").rstrip("=")


def decode(text: str, classes: int = MAX_CLASSES, max_points: int = MAX_POINTS) -> LabelledPoints:
    """Inverse of :func:`encode`; raises a BNNError (PointsError) with a reason."""
    try:
        raw = inflate(text, max_points, 9)  # the main page's link reader: bounded, checked
    except BNNError as exc:
        raise PointsError(str(exc)) from None
    n = len(raw) // 9
    if not n:
        return LabelledPoints.none()
    values = np.frombuffer(raw[:8 * n], dtype=np.uint8).reshape(4, -1).T.copy().view("<f4").ravel()
    labels = np.frombuffer(raw[8 * n:], dtype=np.uint8).astype(np.int64)
    try:
        return LabelledPoints.of(np.stack([values[:n], values[n:]], axis=1), labels, classes=classes,
                                 max_points=max_points)
    except BNNError as exc:
        raise PointsError(str(exc)) from None

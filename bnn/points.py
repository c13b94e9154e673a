"""A one-input point set as the dashboard holds it: checked float32 values, and CSV.

Every way a point set enters (typed in a table, generated, uploaded, read from a
link) goes through :meth:`Points.of`, which checks the values with the engine's
rules (finite, at most 1e6 in size) plus the dashboard's cap on their number, and
rounds them to float32 (see :mod:`bnn.share` for why). :func:`from_csv` reads an
uploaded file defensively: a size cap, text only, an ``x`` and a ``y`` column, and
a message naming the first bad row.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bnn import toys
from bnn.data import as_inputs, as_targets
from bnn.errors import PointsError
from bnn.limits import LIMITS


@dataclass(frozen=True, eq=False)
class Points:
    """x and y, (N,) each, float64 arrays holding float32 values; compared by value."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def of(cls, x: ArrayLike, y: ArrayLike, max_points: int = LIMITS.points) -> Points:
        """Checked and rounded to float32; raises PointsError with a reason."""
        x_np = as_inputs(x)
        if x_np.shape[1] != 1:
            raise PointsError(f"x must be one number per point, got {x_np.shape[1]} columns")
        y_np = as_targets(y, n=x_np.shape[0])
        if x_np.shape[0] > max_points:
            raise PointsError(f"at most {max_points:,} points here, got {x_np.shape[0]:,}")
        x32, y32 = x_np[:, 0].astype(np.float32), y_np.astype(np.float32)
        x32.flags.writeable = y32.flags.writeable = False
        return cls(x32.astype(np.float64), y32.astype(np.float64))

    @classmethod
    def article(cls) -> Points:
        """The article's six points of -x^4 + 3x^2 + 1."""
        return cls.of(*toys.article_points())

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def to_bytes(self) -> bytes:
        """float32 little-endian, all x then all y: the identity of the point set."""
        return np.concatenate([self.x, self.y]).astype("<f4").tobytes()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Points) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"x": self.x, "y": self.y})


def to_csv(points: Points) -> bytes:
    """``x,y`` rows, each value the shortest text that reads back as the same float32."""
    rows = "".join(f"{_short(a)},{_short(b)}\n" for a, b in zip(points.x, points.y))
    return ("x,y\n" + rows).encode("ascii")


def _short(value: float) -> str:
    return np.format_float_positional(np.float32(value), unique=True, trim="-")


def from_frame(frame: pd.DataFrame, max_points: int = LIMITS.points) -> Points:
    """A table with columns x and y (as the dashboard's editor returns it) -> Points.

    Empty cells, text and non-finite numbers are reported with their row number."""
    if len(frame) > max_points:
        raise PointsError(f"at most {max_points:,} points here; the table has {len(frame):,} rows")
    if len(frame) == 0:
        raise PointsError("the table is empty: at least one point is needed")
    columns = {}
    for name in ("x", "y"):
        values = pd.to_numeric(frame[name], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.astype("float64"))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            shown = frame[name].iloc[row]
            raise PointsError(f"row {row + 1}: {name} must be a finite number, got {_cell(shown)}")
        columns[name] = values.astype("float64").to_numpy()
    return Points.of(columns["x"], columns["y"], max_points=max_points)


def from_csv(data: bytes, max_points: int = LIMITS.points, max_bytes: int = LIMITS.upload_bytes) -> Points:
    """Read an uploaded CSV with an ``x`` and a ``y`` column (other columns are ignored)."""
    if len(data) > max_bytes:
        raise PointsError(f"the file is {len(data) / 1e6:.1f} MB; files up to {max_bytes / 1e6:g} MB are accepted")
    if b"\x00" in data[:4096]:
        raise PointsError("the file is not a CSV text file (it holds binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PointsError("the file is not a UTF-8 text CSV file") from None
    try:
        frame = pd.read_csv(io.StringIO(text), dtype=str, nrows=max_points + 1, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise PointsError(f"the file is not a readable CSV table ({str(exc).strip() or 'empty'})") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("x", "y") if c not in frame.columns]
    if missing:
        found = ", ".join(map(repr, frame.columns[:6])) or "none"
        raise PointsError(f"the CSV needs a header row with columns x and y; found columns {found}")
    return from_frame(frame[["x", "y"]], max_points=max_points)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "an empty cell"
    text = str(value)
    return repr(text if len(text) <= 30 else text[:30] + "…")

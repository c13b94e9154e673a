"""A one-input point set as the dashboard holds it: checked float32 values, and CSV.

Every way a point set enters (typed in a table, generated, uploaded, read from a
link) goes through :meth:`Points.of`, which checks the values with the engine's
rules (finite) plus the dashboard's caps on their size and number, and
rounds them to float32 (see :mod:`dashboard.model.link` for why). Typed and uploaded cells are
text read by :func:`parse_number`, one strict grammar (plain decimals and scientific
notation, nothing else), so ``1e-3`` is 0.001 and ``abc``, ``nan`` or ``1e400`` are
refused with a message naming the row, the column and the text (``1,5`` with a hint to write
``1.5``). :func:`from_csv` reads an uploaded file defensively: a size cap, text only, a comma,
semicolon or tab between columns (:func:`sniff_separator`), an ``x`` and a ``y`` column.
The table editor shows values to 6 significant digits and keeps the exact ones beside
them (:func:`editor_frame`, :func:`from_editor`), so showing a point never rounds it.
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from bnn import toys
from bnn.data import as_inputs, as_targets
from bnn.errors import PointsError
from dashboard.model.limits import LIMITS
from dashboard.model.text import clip


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
        for name, values in (("x", x_np[:, 0]), ("y", y_np)):
            big = np.flatnonzero(np.abs(values) > LIMITS.point_abs)
            if big.size:
                raise PointsError(f"{name}: values must lie within {_BOUND}; row {big[0] + 1} holds {values[big[0]]:g}")
        x32, y32 = x_np[:, 0].astype(np.float32), y_np.astype(np.float32)
        x32.flags.writeable = y32.flags.writeable = False
        return cls(x32.astype(np.float64), y32.astype(np.float64))

    @classmethod
    def none(cls) -> Points:
        """No points: the chart shows the prior, and nothing is trained until a point is added."""
        empty = np.empty(0, dtype=np.float64)
        empty.flags.writeable = False
        return cls(empty, empty)

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


# a decimal number, optionally in scientific notation: what people type and CSV files hold
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NON_FINITE = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)
_DECIMAL_COMMA = re.compile(r"[+-]?\d*,\d+([eE][+-]?\d+)?")  # 1,5 as much of Europe writes 1.5
SHOWN_PROBLEMS = 5  # bad cells named in one message
_BOUND = f"±{LIMITS.point_abs:g}".replace("e+0", "e")  # "±1e6", as the sidebar's messages write it
SEPARATORS = ",;\t"  # between the columns of a CSV file: what spreadsheets write
DIGITS = 6  # significant digits the table editor shows


def parse_number(value: object) -> float:
    """One cell (text as typed or read, or a number) -> float within the engine's bounds.

    Raises PointsError saying what is wrong with it; Python's float() is not used on the
    text alone because it also takes "nan", "inf" and "1_000"."""
    if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_)):
        number, shown = float(value), f"{float(value):g}"
        if math.isnan(number):
            raise PointsError("the cell is empty")
    else:
        text = "" if value is None else str(value).strip().replace("\u2212", "-")  # a typographic minus
        shown = repr(clip(text, 30))
        if not text:
            raise PointsError("the cell is empty")
        if _NON_FINITE.fullmatch(text):
            raise PointsError(f"{shown} is not a finite number")
        if _DECIMAL_COMMA.fullmatch(text):
            raise PointsError(f"{shown} is not a number: {_decimal_point_hint(text)}")
        if not _NUMBER.fullmatch(text):
            raise PointsError(f"{shown} is not a number")
        number = float(text)
    if not math.isfinite(number):
        raise PointsError(f"{shown} is too large: values must lie within {_BOUND}")
    if abs(number) > LIMITS.point_abs:
        raise PointsError(f"{shown} is outside {_BOUND} (larger values are almost surely typos)")
    return number


def from_frame(frame: pd.DataFrame, max_points: int = LIMITS.points) -> Points:
    """A table with columns x and y (text or numbers) -> Points.

    A row with both cells empty is skipped (a row just added, not typed in yet); a table with no
    other rows holds no points (:meth:`Points.none`: the chart then shows the prior). Every bad
    cell is found; the message names the first few by row (as the table counts them),
    column and text."""
    if len(frame) > max_points:
        raise PointsError(f"at most {max_points:,} points here; the table has {len(frame):,} rows")
    rows = [(r, cells) for r, cells in enumerate(zip(frame["x"].tolist(), frame["y"].tolist()))
            if not all(_empty(c) for c in cells)]
    if not rows:
        return Points.none()
    columns: dict[str, np.ndarray] = {"x": np.empty(len(rows)), "y": np.empty(len(rows))}
    problems: list[str] = []
    for k, (row, cells) in enumerate(rows):
        for name, cell in zip(columns, cells):
            try:
                columns[name][k] = parse_number(cell)
            except PointsError as exc:
                problems.append(f"row {row + 1}, {name}: {exc}")
    if problems:
        more = len(problems) - SHOWN_PROBLEMS
        hint = ". Write numbers like 0.5, -2 or 1e-3" if any("is not a number" in p for p in problems) else ""
        raise PointsError("; ".join(problems[:SHOWN_PROBLEMS]) + (f"; and {more} more" if more > 0 else "") + hint)
    return Points.of(columns["x"], columns["y"], max_points=max_points)


def _decimal_point_hint(text: str) -> str:
    """What to write instead of a decimal comma; three digits after it may be thousands (1,500)."""
    hint = f"write {text.replace(',', '.')} (a point, not a comma, before the decimals)"
    if re.fullmatch(r"[+-]?\d+,\d{3}", text):
        hint += f", or {text.replace(',', '')} for thousands"
    return hint


def _empty(cell: object) -> bool:
    if isinstance(cell, str):
        return not cell.strip()
    return cell is None or (isinstance(cell, float) and math.isnan(cell))


def format_value(value: float) -> str:
    """How the table editor shows a value: at most 6 significant digits ("0.2224", "1e-05")."""
    return f"{value:.{DIGITS}g}"


def editor_frame(points: Points) -> pd.DataFrame:
    """The table the editor edits: x and y as text, and the exact values in hidden columns."""
    text = {name: pd.Series([format_value(v) for v in values], dtype=object)  # text even when empty
            for name, values in (("x", points.x), ("y", points.y))}
    return pd.DataFrame({**text, "x_value": points.x, "y_value": points.y})


def from_editor(frame: pd.DataFrame, max_points: int = LIMITS.points) -> Points:
    """Points from an edited :func:`editor_frame`: a cell that still shows its exact value's
    text keeps the exact value (6 digits shown must not round the points); the rest is parsed."""
    cells = {}
    for name in ("x", "y"):
        text = frame[name].tolist()
        exact = frame[f"{name}_value"].tolist() if f"{name}_value" in frame else [None] * len(text)
        cells[name] = [e if isinstance(t, str) and isinstance(e, float) and math.isfinite(e) and t == format_value(e)
                       else t for t, e in zip(text, exact)]
    return from_frame(pd.DataFrame(cells), max_points=max_points)


def sniff_separator(text: str) -> str:
    """The separator between the columns of CSV ``text``: a comma, a semicolon or a tab.

    :class:`csv.Sniffer` (limited to those three) reads the first 20,000 characters; when it
    cannot tell, the one of them found most often in the header row wins, and a comma if none is."""
    sample = text[:20_000]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only: a cut one would look inconsistent
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        header = sample.split("\n", 1)[0]
        best = max(SEPARATORS, key=header.count)
        return best if header.count(best) else ","


def from_csv(data: bytes, max_points: int = LIMITS.points, max_bytes: int = LIMITS.upload_bytes) -> Points:
    """Read an uploaded CSV with an ``x`` and a ``y`` column (other columns are ignored); its
    columns may be separated by commas, semicolons or tabs."""
    if len(data) > max_bytes:
        raise PointsError(f"the file is {len(data) / 1e6:.1f} MB; files up to {max_bytes / 1e6:g} MB are accepted")
    if b"\x00" in data[:4096]:
        raise PointsError("the file is not a CSV text file (it holds binary data)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise PointsError("the file is not a UTF-8 text CSV file") from None
    try:
        # Read without a header: pandas then refuses a row longer than the first at once, where with
        # a header it makes a long first row's extra fields index columns (25 s of CPU for 120 kB).
        rows = pd.read_csv(io.StringIO(text), sep=sniff_separator(text), header=None, dtype=str, nrows=max_points + 2,
                           skipinitialspace=True, keep_default_na=False)  # "nan", "NA" stay text, for parse_number
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise PointsError(f"the file is not a readable CSV table ({str(exc).strip() or 'empty'})") from None
    frame = rows.iloc[1:].set_axis(rows.iloc[0].tolist(), axis=1)
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in ("x", "y") if c not in frame.columns]
    if missing:
        found = ", ".join(map(repr, frame.columns[:6])) or "none"
        raise PointsError(f"the CSV needs a header row with columns x and y; found columns {found}")
    points = from_frame(frame[["x", "y"]], max_points=max_points)
    if not len(points):  # an upload replaces the points: an empty file is a mistake, not "delete them all"
        raise PointsError("the file has a header but no rows: at least one point is needed")
    return points

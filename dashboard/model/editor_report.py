"""What the chart's point editor sends back, checked: the whole point list, its sequence number,
the edit that made it, and whether the gesture is over.

The browser is untrusted: the editor (``dashboard/editor.py`` and its JavaScript) reports
``{"points": [[x, y], ...], "seq": n, "op": {"kind", "index", "from", "to"}, "final": bool}``
through Streamlit's component state, and anything else that arrives there (a hand-made
websocket message, a bug) must become a clear :class:`bnn.errors.PointsError`, never a crash or
a silently wrong point set. The full list (not the edit alone) is what counts: lists are
idempotent, so a rerun Streamlit coalesced loses nothing; ``op`` is only a label for the history
and for live mode's "what changed". The limits are :meth:`Points.of`'s.

On the Classify page the editor carries classes: each point is ``[x0, x1, label]`` and the
report is checked into a :class:`dashboard.model.labelled.LabelledPoints` (``classes=K``).

Also :class:`Draws`, the posterior function draws the editor animates (Streamlit-free, so plain
pytest checks them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bnn.errors import PointsError
from dashboard.model.labelled import LabelledPoints
from dashboard.model.limits import LIMITS
from dashboard.model.points import Points

Kind = Literal["add", "move", "delete"]
KINDS: tuple[str, ...] = ("add", "move", "delete")
MAX_SEQ = 2**53  # a JavaScript number counts whole numbers exactly up to here
MAX_DRAWS = 200  # posterior draws the animation cycles through (it shows ~10 a second)
MAX_GRID = 2_000  # x positions of one drawn function
_BOUND = f"±{LIMITS.point_abs:g}".replace("e+0", "e")  # "±1e6", as dashboard.model.points writes it


@dataclass(frozen=True)
class Op:
    """One edit: ``kind`` at ``index`` (in the list before a delete, after an add), moving a point
    ``from_`` one place ``to`` another (``from_`` is None for an add, ``to`` for a delete)."""

    kind: Kind
    index: int
    from_: tuple[float, float] | None
    to: tuple[float, float] | None


@dataclass(frozen=True)
class Report:
    """The editor's point list after edit number ``seq``; ``final`` is False while a drag goes on."""

    points: Points | LabelledPoints
    seq: int
    op: Op | None
    final: bool


def parse_points_report(raw: object, max_points: int = LIMITS.points, classes: int | None = None) -> Report:
    """The editor's state value -> a checked :class:`Report`; raises PointsError saying what is wrong.
    With ``classes`` (K) the points are ``[x0, x1, label]`` with whole labels in 0..K-1."""
    if not isinstance(raw, dict):
        raise PointsError(f"the editor's report must be a mapping, got {_kind(raw)}")
    missing = [k for k in ("points", "seq", "final") if k not in raw]
    if missing:
        raise PointsError(f"the editor's report lacks {', '.join(missing)}")
    seq = _whole(raw["seq"], "seq", MAX_SEQ)
    final = raw["final"]
    if not isinstance(final, bool):
        raise PointsError(f"final must be true or false, got {_kind(final)}")
    points = _points(raw["points"], max_points) if classes is None else _labelled(raw["points"], max_points, classes)
    return Report(points, seq, _op(raw.get("op"), max_points), final)


def report_seq(raw: object) -> int | None:
    """The sequence number of a report, even of one :func:`parse_points_report` refuses (the page
    acknowledges a refused edit too, so the editor drops it and shows the page's points again)."""
    try:
        return _whole(raw.get("seq"), "seq", MAX_SEQ) if isinstance(raw, dict) else None
    except PointsError:
        return None


def _points(value: object, max_points: int) -> Points:
    if not isinstance(value, list):
        raise PointsError(f"points must be a list of [x, y] pairs, got {_kind(value)}")
    if len(value) > max_points:  # before looking at each: a huge list costs nothing to refuse
        raise PointsError(f"at most {max_points:,} points here, got {len(value):,}")
    pairs = [_pair(p, f"point {i + 1}") for i, p in enumerate(value)]
    if not pairs:
        return Points.none()
    xs, ys = zip(*pairs)
    return Points.of(list(xs), list(ys), max_points=max_points)


def _labelled(value: object, max_points: int, classes: int) -> LabelledPoints:
    if not isinstance(value, list):
        raise PointsError(f"points must be a list of [x0, x1, label] triples, got {_kind(value)}")
    if len(value) > max_points:
        raise PointsError(f"at most {max_points:,} points here, got {len(value):,}")
    rows = []
    for i, p in enumerate(value):
        if not isinstance(p, list | tuple) or len(p) != 3:
            raise PointsError(f"point {i + 1} must be an [x0, x1, label] triple, got {_kind(p)}")
        x0, x1 = _pair(p[:2], f"point {i + 1}")
        rows.append((x0, x1, _whole(p[2], f"point {i + 1}'s label", classes - 1)))
    if not rows:
        return LabelledPoints.none()
    x0s, x1s, labels = zip(*rows)
    return LabelledPoints.of(np.stack([x0s, x1s], axis=1), list(labels), classes=classes, max_points=max_points)


def _op(value: object, max_points: int) -> Op | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise PointsError(f"op must be a mapping or null, got {_kind(value)}")
    kind = value.get("kind")
    if kind not in KINDS:
        raise PointsError(f"op kind must be one of {', '.join(KINDS)}, got {_shown(kind)}")
    index = _whole(value.get("index"), "op index", max_points)
    ends = {name: None if value.get(name) is None else _pair(value[name], f"op {name}") for name in ("from", "to")}
    return Op(kind, index, ends["from"], ends["to"])


def _pair(value: object, what: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise PointsError(f"{what} must be an [x, y] pair, got {_kind(value)}")
    return _number(value[0], f"{what}, x"), _number(value[1], f"{what}, y")


def _number(value: object, what: str) -> float:
    # bool is an int in Python; JSON's true is not a coordinate
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PointsError(f"{what} must be a number, got {_kind(value)}")
    try:
        number = float(value)
    except OverflowError:  # an integer with hundreds of digits
        raise PointsError(f"{what} is too large") from None
    if not math.isfinite(number):
        raise PointsError(f"{what} is not a finite number")
    if abs(number) > LIMITS.point_abs:
        raise PointsError(f"{what} lies outside {_BOUND}")
    return number


def _whole(value: object, what: str, high: int) -> int:
    if isinstance(value, float) and value.is_integer():  # JSON may carry 3 as 3.0
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= high:
        raise PointsError(f"{what} must be a whole number in [0, {high}], got {_shown(value)}")
    return value


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _shown(value: object) -> str:
    """A short, safe picture of a bad value: its type, and its text only if short."""
    if isinstance(value, int) and abs(value) > 10**18:  # repr() of a 5,000-digit int raises
        return "a huge int"
    text = repr(value)
    return text if isinstance(value, int | float | str) and len(text) <= 20 else _kind(value)


@dataclass(frozen=True, eq=False)
class Draws:
    """Posterior function draws for the editor's animation: ``ys`` (S, G) on the grid ``x`` (G,)."""

    x: np.ndarray  # (G,)
    ys: np.ndarray  # (S, G)

    def __post_init__(self) -> None:
        x, ys = np.asarray(self.x, dtype=np.float64), np.asarray(self.ys, dtype=np.float64)
        if x.ndim != 1 or not 2 <= x.shape[0] <= MAX_GRID:
            raise ValueError(f"draws: x must be (G,) with 2 <= G <= {MAX_GRID}, got shape {x.shape}")
        if ys.ndim != 2 or ys.shape[1] != x.shape[0] or not 1 <= ys.shape[0] <= MAX_DRAWS:
            raise ValueError(f"draws: ys must be (S, {x.shape[0]}) with 1 <= S <= {MAX_DRAWS}, got shape {ys.shape}")
        if not (np.isfinite(x).all() and np.isfinite(ys).all()):
            raise ValueError("draws: x and ys must be finite")
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "ys", ys)

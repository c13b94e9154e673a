"""The true function as the band plot draws it: a gap where it cannot be drawn, and a note saying where.

A formula can be undefined (``log(x)`` for x < 0), overflow (``exp(x)`` past x ≈ 709) or run far
beyond anything the band or the points reach (``exp(x)`` on [-1000, 1000]). The dashed line then
has a gap, and the page says where and why, so that a line stopping short never looks like a bug.
Beyond the points' own bound (``Limits.point_abs``) the line would lie off the plotted frame in
any case, which is framed on the band and the points; leaving it out also keeps numbers near
1e308 away from the browser's plotting arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from dashboard.model.limits import LIMITS

SHOWN_STRETCHES = 3  # stretches of x named in a note; the rest are counted


@dataclass(frozen=True)
class Drawn:
    """The values drawn (NaN where not drawn) and a note on what is left out ("" if nothing)."""

    y: np.ndarray
    note: str


def drawable(x: ArrayLike, y: ArrayLike, limit: float = LIMITS.point_abs) -> Drawn:
    """``y`` (the true function on the grid ``x``) with NaN where it is not finite or beyond ±``limit``."""
    x_np, y_np = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    undefined = ~np.isfinite(y_np)
    with np.errstate(invalid="ignore"):
        large = ~undefined & (np.abs(y_np) > limit)  # one reason a point
    reasons = []
    if undefined.any():
        reasons.append(f"is undefined or infinite for {_stretches(x_np, undefined)}")
    if large.any():
        bound = f"±{limit:g}".replace("e+0", "e")
        reasons.append(f"lies beyond {bound} for {_stretches(x_np, large)}")
    note = f"The true function is not drawn where it {' and '.join(reasons)}." if reasons else ""
    return Drawn(np.where(undefined | large, np.nan, y_np), note)


def _stretches(x: np.ndarray, mask: np.ndarray) -> str:
    """The runs of consecutive grid points where ``mask`` holds, as "x in [a, b]" or "x = a"."""
    edges = np.flatnonzero(np.diff(np.r_[0, mask.astype(np.int8), 0]))
    runs = [(x[start], x[stop - 1]) for start, stop in zip(edges[::2], edges[1::2])]
    parts = [f"x = {a:.4g}" if a == b else f"x in [{a:.4g}, {b:.4g}]" for a, b in runs[:SHOWN_STRETCHES]]
    more = len(runs) - SHOWN_STRETCHES
    return ", ".join(parts) + (f" and {more} more stretch{'es' if more > 1 else ''}" if more > 0 else "")

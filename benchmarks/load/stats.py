"""The load test's numbers, kept free of browsers and processes so plain pytest checks them.

Percentiles are linear-interpolation percentiles (NumPy's default, as Streamlit's load test
reports them); the queue log is the server's record of training admissions (one JSON object per
line, written where env ``BNN_QUEUE_LOG`` says), read defensively; the capacity search picks the
largest session count that, with every smaller step, kept p95 time to band under the target
with no error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

P95_TARGET_S = 3.0  # the capacity criterion: p95 time to band under 3 s


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), NumPy's linear interpolation; NaN if empty."""
    return float(np.percentile(values, q)) if len(values) else math.nan


def summarise(times: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p95 and max of the sessions' times to band (seconds; NaN when none finished)."""
    return {"n": len(times), "p50": percentile(times, 50), "p95": percentile(times, 95),
            "max": max(times) if times else math.nan}


@dataclass(frozen=True)
class QueueSummary:
    """What the server's queue log says about one run: admissions, how many waited, for how long."""

    admitted: int
    waited: int  # admissions that waited more than `WAIT_EPSILON_S` for a slot
    wait_p50: float
    wait_max: float
    place_max: int | None  # the farthest place in line any admission reported
    finished: int
    malformed: int  # lines that were not a JSON object

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


WAIT_EPSILON_S = 0.05  # below this an admission found a free slot (the log's clock and its poll, not a wait)


def read_queue_log(paths: Sequence[Path], since: float = 0.0) -> QueueSummary | None:
    """The queue logs' events (one log per server process) at or after unix time ``since``; None if
    no log exists (the server does not write one), so the report can say "n/a", not "nobody waited"."""
    found = [p for p in paths if p.exists()]
    if not found:
        return None
    return parse_queue_log([line for p in found for line in p.read_text(errors="replace").splitlines()], since)


def parse_queue_log(lines: Iterable[str], since: float = 0.0) -> QueueSummary:
    """Count ``admitted`` events (their ``waited`` seconds and ``place``) and ``finished`` events.

    Defensive: a line that is not a JSON object is counted as malformed; a field that is missing
    or not a number is left out of the figures it feeds; an event without a time ``t`` counts (the
    log is per server run), one with ``t`` before ``since`` does not (an earlier step's)."""
    waits: list[float] = []
    places: list[int] = []
    admitted = finished = malformed = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            malformed += 1
            continue
        if not isinstance(event, dict):
            malformed += 1
            continue
        t = _number(event.get("t"))
        if t is not None and t < since:
            continue
        if event.get("event") == "admitted":
            admitted += 1
            if (waited := _number(event.get("waited"))) is not None:
                waits.append(waited)
            if (place := _number(event.get("place"))) is not None:
                places.append(int(place))
        elif event.get("event") == "finished":
            finished += 1
    return QueueSummary(admitted=admitted, waited=sum(w > WAIT_EPSILON_S for w in waits),
                        wait_p50=percentile(waits, 50), wait_max=max(waits) if waits else math.nan,
                        place_max=max(places) if places else None, finished=finished, malformed=malformed)


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def passes(step: dict[str, Any], target_s: float = P95_TARGET_S) -> bool:
    """A step passes when every session reached its band, p95 is under the target and nothing failed."""
    return (step["errors"] == 0 and step["completed"] == step["sessions"]
            and step["p95"] < target_s)


def capacity(steps: Sequence[dict[str, Any]], target_s: float = P95_TARGET_S) -> int:
    """The largest session count whose step, and every smaller one, passed (0 if the smallest failed).

    Conservative on purpose: a count that passes after a smaller one failed is luck of the
    scheduling, not capacity."""
    found = 0
    for step in sorted(steps, key=lambda s: s["sessions"]):
        if not passes(step, target_s):
            break
        found = step["sessions"]
    return found

"""The load test's summary table (stdout) and what goes with it: shares of the machine's CPU."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

COLUMNS = ("scenario", "sessions", "done", "p50 s", "p95 s", "max s", "errors", "'in line'", "waited/admitted",
           "wait max s", "server CPU s (%)", "clients CPU s (%)", "peak RSS MB", "threads", "wall s")


def share(cpu_s: float | None, wall_s: float, cores: int) -> str:
    """CPU seconds and their share of the machine over the run (100 % = every core busy throughout)."""
    if cpu_s is None:
        return "n/a"
    if wall_s <= 0:
        return f"{cpu_s:.1f}"
    return f"{cpu_s:.1f} ({100 * cpu_s / (wall_s * cores):.0f}%)"


def _num(value: float | int | None, fmt: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return format(value, fmt)


def row(step: dict[str, Any], cores: int) -> list[str]:
    queue = step["queue"]
    waited = "n/a" if queue is None else f"{queue['waited']}/{queue['admitted']}"
    wait_max = "n/a" if queue is None else _num(queue["wait_max"], ".1f")
    return [step["scenario"], str(step["sessions"]), str(step["completed"]), _num(step["p50"]), _num(step["p95"]),
            _num(step["max"]), str(step["errors"]), str(step["saw_in_line"]), waited, wait_max,
            share(step["server_cpu_s"], step["wall_s"], cores), share(step["client_cpu_s"], step["wall_s"], cores),
            _num(step["server_peak_rss_mb"], ".0f"), _num(step["server_peak_threads"], "d"),
            _num(step["wall_s"], ".1f")]


def table(steps: Sequence[dict[str, Any]], cores: int) -> str:
    """A Markdown table, one row per step, so it pastes into docs/capacity.md as it is."""
    rows = [list(COLUMNS), ["---"] * len(COLUMNS), *(row(s, cores) for s in steps)]
    return "\n".join("| " + " | ".join(r) + " |" for r in rows)


def error_lines(steps: Sequence[dict[str, Any]], limit: int = 5) -> list[str]:
    """A few of the errors seen, one line each, for the reader to start from."""
    lines = []
    for step in steps:
        for o in step["outcomes"]:
            for kind in ("failure", "page_errors", "console_errors", "http_errors"):
                found = o.get(kind) or []
                found = found if isinstance(found, list) else [found]
                lines += [f"{step['scenario']}×{step['sessions']} visit {o['index']} ({o['kind']}) {kind}: {t}"
                          for t in found]
            if o["timeout"]:
                lines.append(f"{step['scenario']}×{step['sessions']} visit {o['index']} ({o['kind']}): timed out")
            if o["exceptions"]:
                lines.append(f"{step['scenario']}×{step['sessions']} visit {o['index']} ({o['kind']}): "
                             f"{o['exceptions']} exception box(es)")
    return lines[:limit] + ([f"… and {len(lines) - limit} more"] if len(lines) > limit else [])

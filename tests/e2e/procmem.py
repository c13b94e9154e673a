"""Resident memory of a process tree, read from /proc (Linux), and a sampler thread for its peak.

Written by hand rather than with psutil: it is two /proc files and keeps the benchmark free
of a dependency the product does not need.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process (from /proc/*/stat; /proc/*/task/*/children is not
    available on every kernel)."""
    links: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process just ended
            continue
        # The command name in parentheses may hold spaces; the parent pid is 2nd after it.
        links[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return links


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants alive now."""
    kids: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        kids.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(kids.get(current, []))
    return found


def rss_bytes(pid: int) -> int:
    """VmRSS of one process in bytes, 0 if it has ended."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_rss(pid: int) -> int:
    return sum(rss_bytes(p) for p in tree(pid))


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads) so far; 0 if it has ended."""
    try:
        fields = (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat, 12th and 13th after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in tree(pid))


class PeakSampler:
    """Samples ``measure()`` every ``interval`` seconds in a thread; ``.peak`` is the largest value seen.
    ``PeakSampler.rss(pid)`` samples a process tree's resident memory in bytes."""

    def __init__(self, measure: Callable[[], float], interval: float = 0.1) -> None:
        self.measure, self.interval = measure, interval
        self.peak: float = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @classmethod
    def rss(cls, pid: int, interval: float = 0.1) -> PeakSampler:
        return cls(lambda: tree_rss(pid), interval)

    def _sample(self) -> None:
        self.peak = max(self.peak, self.measure())
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def available() -> bool:
    return os.path.exists(PROC / str(os.getpid()) / "status")

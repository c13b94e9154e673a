"""The server's side of a load test, read from /proc: CPU seconds, peak resident memory and peak
thread count of its process tree, sampled in a thread every 0.2 s, and the machine's load average.

Memory and CPU come from tests/e2e/procmem.py (the app benchmark's reader); threads are counted
here (``Threads:`` of /proc/<pid>/status, summed over the tree).
"""

from __future__ import annotations

import os
import time

import procmem  # tests/e2e, on the path by benchmarks/load/__init__.py

MB = 1024 * 1024


def threads(pid: int) -> int:
    """Threads of one process, 0 if it has ended."""
    try:
        for line in (procmem.PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_threads(pid: int) -> int:
    return sum(threads(p) for p in procmem.tree(pid))


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


class ServerMeter:
    """Peak RSS (MB) and peak threads of the trees under ``pids`` together (one per replica), and the
    CPU seconds they used, from entering to leaving the ``with`` block. No pids (a server this run
    neither started nor was told of): every figure stays None."""

    def __init__(self, pids: tuple[int, ...], interval: float = 0.2) -> None:
        self.pids = pids
        self.peak_rss_mb: float | None = None
        self.peak_threads: int | None = None
        self.cpu_s: float | None = None
        self.samples = 0
        self._rss = procmem.PeakSampler(lambda: sum(procmem.tree_rss(p) for p in pids) / MB, interval)
        self._threads = procmem.PeakSampler(lambda: sum(tree_threads(p) for p in pids), interval)
        self._cpu0 = 0.0
        self._wall0 = 0.0
        self.wall_s = 0.0

    def __enter__(self) -> ServerMeter:
        self._wall0 = time.perf_counter()
        if self.pids:
            self._cpu0 = self._cpu()
            self._rss.__enter__()
            self._threads.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.perf_counter() - self._wall0
        if not self.pids:
            return
        self._rss.__exit__()
        self._threads.__exit__()
        self.peak_rss_mb, self.peak_threads = self._rss.peak, int(self._threads.peak)
        self.samples = self._rss.samples
        self.cpu_s = self._cpu() - self._cpu0

    def _cpu(self) -> float:
        return sum(procmem.tree_cpu_seconds(p) for p in self.pids)

    def as_dict(self) -> dict[str, float | int | None]:
        return {"server_cpu_s": self.cpu_s, "server_peak_rss_mb": self.peak_rss_mb,
                "server_peak_threads": self.peak_threads, "rss_samples": self.samples, "wall_s": self.wall_s}


def own_tree_cpu_seconds() -> float:
    """CPU seconds of this process and its children alive now (a worker, its Playwright driver and
    Chromium): read before the browser closes, or its share is lost."""
    return procmem.tree_cpu_seconds(os.getpid())


def own_cpu_seconds() -> float:
    """CPU seconds of this process alone (the protocol client's share)."""
    return procmem.cpu_seconds(os.getpid())

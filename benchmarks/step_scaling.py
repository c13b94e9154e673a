"""How the fast step scales against the autograd step: points N, width, depth, input dimension.

Part of ``python -m benchmarks.step_bench --scaling``; runs in-process at one thread. For
each network and data size both engines take full-batch steps (``Training.update``, what
``bnn.fit`` runs between reports), in alternating rounds of about ``round_seconds``; the
figure is the median round's CPU time per step. S is 10 where a step stays under ~1e9
multiply-adds, else 1; bigger settings are skipped (both engines run the same matmuls there).
"""

from __future__ import annotations

import statistics
import time

import numpy as np

import bnn
from bnn.train import Training, prepare

POINTS = (6, 100, 1000, 10_000)
WIDTHS = (32, 128, 512)
DEPTHS = (1, 2, 3)
MAX_WORK = 1e9  # multiply-adds per step


def _work(samples: int, n: int, dim: int, width: int, depth: int) -> float:
    return samples * n * (dim * width + (depth - 1) * width * width + width)


def _time(run: Training, steps: int) -> float:
    start = time.process_time()
    for _ in range(steps):
        run.update(run.x, run.y)
    return (time.process_time() - start) / steps


def compare(n: int, dim: int, width: int, depth: int, samples: int, rounds: int = 5,
            round_seconds: float = 0.1) -> tuple[float, float]:
    """Median CPU microseconds per step: (fast, autograd)."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (n, dim))
    y = np.sin(x.sum(axis=1))
    cfg = bnn.Config(hidden=(width,) * depth, train_samples=samples, init="scaled", lr=0.01)
    runs = {engine: prepare(x, y, cfg, engine=engine) for engine in ("fast", "autograd")}
    steps = {e: max(3, int(round_seconds / _time(r, 3))) for e, r in runs.items()}
    times: dict[str, list[float]] = {e: [] for e in runs}
    for _ in range(rounds):
        for engine, run in runs.items():
            times[engine].append(_time(run, steps[engine]))
    return 1e6 * statistics.median(times["fast"]), 1e6 * statistics.median(times["autograd"])


def scaling_report(rounds: int = 5) -> list[str]:
    """One line per setting: S, N, D, width, depth, fast and autograd us per step, and their ratio."""
    bnn.set_threads(1)
    settings = [(n, 1, w, d) for d in DEPTHS for w in WIDTHS for n in POINTS]
    settings += [(n, 8, 50, 1) for n in POINTS]  # a UCI-like table: 8 features, 50 units
    lines = ["fast vs autograd step, CPU us per step (median of alternating rounds)",
             f"{'S':>3} {'N':>6} {'D':>2} {'width':>5} {'depth':>5} {'fast':>10} {'autograd':>10} {'speed-up':>8}"]
    slower = []
    for n, dim, width, depth in settings:
        samples = 10 if _work(10, n, dim, width, depth) <= MAX_WORK else 1
        setting = f"{n:>6} {dim:>2} {width:>5} {depth:>5}"
        if _work(samples, n, dim, width, depth) > MAX_WORK:
            lines.append(f"{'':>3} {setting}   skipped: over 1e9 multiply-adds a step")
            continue
        fast, slow = compare(n, dim, width, depth, samples, rounds)
        lines.append(f"{samples:>3} {setting} {fast:>10.1f} {slow:>10.1f} {slow / fast:>8.2f}")
        if fast > 1.05 * slow:  # 5 %: the rounds' spread on a quiet machine
            slower.append(f"N={n} D={dim} width={width} depth={depth}")
    lines.append("PASS  the fast step is nowhere slower than autograd (within 5 %)" if not slower else
                 "FAIL  the fast step is slower than autograd at " + "; ".join(slower))
    return lines


if __name__ == "__main__":
    print("\n".join(scaling_report()))

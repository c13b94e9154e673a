"""Wall time of every inference method on the article's problem: ``python -m benchmarks.methods_bench``.

Each method is fitted with its default settings on the article's six points (the
1-32-1 sigmoid network, N(0, 10^2) prior, noise 0.1) on one torch thread, and the
script prints the wall and process CPU time of the fit beside the posterior std of f
at x = 0 (between the two clusters) and x = 4.5 (beyond the data), which the issue
quotes for a long NUTS run (10-18 and 9-16) and for Bayes-by-Backprop (about 0.2 and
1-2), and the gap score on the "gap" toy. The CPU time shows what the wall time would be
on an idle machine when other processes share the cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from bnn import toys
from bnn.config import Config
from bnn.evaluation import regions
from bnn.methods import METHODS, fit_method
from bnn.train import set_threads

PROBES = (0.0, 4.5)
HMC_BUDGET_SECONDS = 20.0  # the budget for the reference sampler on these 2 cores


def measure(name: str, seed: int = 0) -> dict[str, float]:
    """Fit ``name`` on the article's points and on the gap toy; times and the std of f."""
    x, y = toys.article_points()
    wall, cpu = time.perf_counter(), time.process_time()
    fitted = fit_method(name, x, y, Config(seed=seed))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    table = fitted.predict(np.array(PROBES), samples=2000, seed=seed)
    gx, gy = toys.get("gap").default_points(seed)
    gap_fit = fit_method(name, gx, gy, Config(seed=seed))
    grid = np.linspace(gx.min() - 1, gx.max() + 1, 201)
    gap = regions.gap_score(gap_fit.predict(grid, samples=500, seed=seed), gx)
    return {"wall_s": wall, "cpu_s": cpu, "std_f_x0": float(table["epistemic_std"][0]),
            "std_f_x4.5": float(table["epistemic_std"][1]), "gap_score": gap}


def report(results: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"{'method':<10} {'wall s':>8} {'cpu s':>8} {'std f(0)':>9} {'std f(4.5)':>11} {'gap score':>10}"]
    for name, r in results.items():
        lines.append(f"{name:<10} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {r['std_f_x0']:>9.2f} "
                     f"{r['std_f_x4.5']:>11.2f} {r['gap_score']:>10.2f}")
    if "hmc" in results:
        ok = results["hmc"]["wall_s"] < HMC_BUDGET_SECONDS
        lines.append(f"hmc within the {HMC_BUDGET_SECONDS:g} s budget: {'yes' if ok else 'NO'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.methods_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    set_threads(1)
    results = {name: measure(name, args.seed) for name in args.methods}
    print("\n".join(report(results)))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

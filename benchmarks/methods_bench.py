"""Wall time of every inference method on the article's problem: ``python -m benchmarks.methods_bench``.

Each method is fitted with its default settings on the article's six points (the
1-32-1 sigmoid network, N(0, 10^2) prior, noise 0.1) on one torch thread, and the
script prints the wall and process CPU time of the fit beside the posterior std of f
at x = 0 (between the two clusters) and x = 4.5 (beyond the data), which the issue
quotes for a long NUTS run (10-18 and 9-16) and for Bayes-by-Backprop (about 0.2 and
1-2), and the gap score on the "gap" toy. The CPU time shows what the wall time would be
on an idle machine when other processes share the cores. With ``hmc`` among the methods, a second
table puts every method against the reference on both problems (``bnn.evaluation.reference``):
its distance to the reference's band, its gap ratio beside the reference's, and how many times
wider the reference's band is away from the data (the table in docs/methods.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd

from bnn import toys
from bnn.config import Config
from bnn.evaluation import regions
from bnn.evaluation.reference import distance_to_reference, width_ratio
from bnn.methods import METHODS, fit_method
from bnn.train import set_threads

PROBES = (0.0, 4.5)
HMC_BUDGET_SECONDS = 20.0  # the budget for the reference sampler: CPU seconds on one core


GRID_SAMPLES = 1000  # draws behind each band on the grids (the reference's pooled draws: about as many)


def problems(seed: int = 0) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The two problems: (x, y, grid). The article's six points on [-5, 5] (its plotted range),
    the gap toy's twenty on its span and one more on each side."""
    x, y = toys.article_points()
    gx, gy = toys.get("gap").default_points(seed)
    return {"article": (x, y, np.linspace(-5, 5, 201)),
            "gap": (gx, gy, np.linspace(gx.min() - 1, gx.max() + 1, 201))}


def measure(name: str, seed: int = 0, tables: dict[str, dict[str, pd.DataFrame]] | None = None) -> dict[str, float]:
    """Fit ``name`` on the article's points and on the gap toy; times and the std of f. The
    prediction tables on each problem's grid go into ``tables[problem][name]`` when given."""
    (x, y, article_grid), (gx, gy, grid) = problems(seed).values()
    wall, cpu = time.perf_counter(), time.process_time()
    fitted = fit_method(name, x, y, Config(seed=seed))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    table = fitted.predict(np.array(PROBES), samples=2000, seed=seed)
    gap_fit = fit_method(name, gx, gy, Config(seed=seed))
    gap_table = gap_fit.predict(grid, samples=GRID_SAMPLES, seed=seed)
    if tables is not None:
        tables.setdefault("article", {})[name] = fitted.predict(article_grid, samples=GRID_SAMPLES, seed=seed)
        tables.setdefault("gap", {})[name] = gap_table
    return {"wall_s": wall, "cpu_s": cpu, "std_f_x0": float(table["epistemic_std"][0]),
            "std_f_x4.5": float(table["epistemic_std"][1]), "gap_score": regions.gap_score(gap_table, gx)}


def against_reference(tables: dict[str, dict[str, pd.DataFrame]], seed: int = 0) -> dict[str, dict[str, dict]]:
    """Per problem and method: the distance to the HMC reference's band, the gap ratio (std f in the
    gaps over at the data) and how many times wider the reference's band is away from the data."""
    out: dict[str, dict[str, dict]] = {}
    for problem, (x, _, _) in problems(seed).items():
        ref = tables[problem]["hmc"]
        out[problem] = {name: {"distance": distance_to_reference(t, ref), "gap_ratio": regions.gap_score(t, x),
                               "reference_wider": width_ratio(t, ref, x)} for name, t in tables[problem].items()}
    return out


def reference_report(rows: dict[str, dict[str, dict]]) -> list[str]:
    lines = ["", "Against the HMC reference: distance (grid mean W2 of f's Gaussian summaries / reference's "
             "mean std), gap ratio (std f in gaps / at the data), reference's band / the method's away from the data"]
    for problem, methods in rows.items():
        lines.append(f"{problem:<10} {'distance':>9} {'gap ratio':>10} {'ref wider':>10}")
        for name, r in methods.items():
            lines.append(f"  {name:<8} {r['distance']:>9.3f} {r['gap_ratio']:>10.2f} {r['reference_wider']:>10.2f}")
    return lines


def report(results: dict[str, dict[str, float]]) -> list[str]:
    lines = [f"{'method':<10} {'wall s':>8} {'cpu s':>8} {'std f(0)':>9} {'std f(4.5)':>11} {'gap score':>10}"]
    for name, r in results.items():
        lines.append(f"{name:<10} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {r['std_f_x0']:>9.2f} "
                     f"{r['std_f_x4.5']:>11.2f} {r['gap_score']:>10.2f}")
    if "hmc" in results:  # the budget is CPU time on one core (wall time grows with the machine's load)
        ok = results["hmc"]["cpu_s"] < HMC_BUDGET_SECONDS
        lines.append(f"hmc within the {HMC_BUDGET_SECONDS:g} s CPU budget: {'yes' if ok else 'NO'}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.methods_bench", description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    set_threads(1)
    tables: dict[str, dict[str, pd.DataFrame]] = {}
    results = {name: measure(name, args.seed, tables) for name in args.methods}
    print("\n".join(report(results)))
    out: dict[str, object] = dict(results)
    if "hmc" in args.methods:
        rows = against_reference(tables, args.seed)
        print("\n".join(reference_report(rows)))
        out["against_reference"] = rows
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

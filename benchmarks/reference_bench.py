"""Is the reference sampler a reference? Two seeds, longer runs and Pyro's NUTS on the article's problem.

    python -m benchmarks.reference_bench [--seeds 0 1] [--longer 2 4] [--json FILE]

Runs ``bnn.methods.fit_method("hmc", ...)`` with its default settings (or the ones given) on
the article's six points, once per seed, and reports per run: CPU seconds (one thread), the
certificate (largest rank-normalised R-hat and smallest bulk/tail ESS of f over its 21
probes), divergences, swap acceptance and round trips. Then the issue's criteria:

- each default run within 20 s of CPU and certified (R-hat < 1.05, bulk ESS > 200 at every probe);
- two seeds agree within 10 % in std f on >= 90 % of 201 points over [-5, 5], within 25 % everywhere;
- the same agreement with the stored Pyro NUTS summary (tests/fixtures/nuts_article_numpyro.json, NumPyro), if present.

``--longer 2 4`` also runs 2x and 4x the default number of draws once (seeds 100, 101) and shows what
that changes: its certificate, and its agreement with the default runs and with NUTS.
Agreement at a point is max(a, b) / min(a, b) - 1 of the two std f values.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

import bnn
from bnn.methods import fit_method, hmc
from bnn.toys import article_points

GRID = np.linspace(-5.0, 5.0, 201)
NUTS_FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nuts_article_numpyro.json"
CPU_BUDGET = 20.0


def agreement(a: np.ndarray, b: np.ndarray, grid: np.ndarray = GRID) -> dict[str, float]:
    """How two std f curves agree on the grid: the fraction of points within 10 % (and 25 %),
    the largest relative disagreement and where it is."""
    ratio = np.maximum(a, b) / np.minimum(a, b) - 1.0
    k = int(np.argmax(ratio))
    return {"within_10": float(np.mean(ratio <= 0.10)), "within_25": float(np.mean(ratio <= 0.25)),
            "max": float(ratio[k]), "at": float(grid[k])}


def run_once(settings: hmc.HMCConfig, seed: int) -> dict:
    """One fit with its CPU time, certificate, sampler numbers and std f on the grid."""
    x, y = article_points()
    start = time.process_time()
    fitted = fit_method("hmc", x, y, bnn.Config(seed=seed), settings)
    cpu = time.process_time() - start
    cert = fitted.certificate()
    f = fitted.chain_functions(torch.as_tensor(GRID)[:, None]).numpy()
    run = fitted.run
    return {
        "seed": seed, "settings": dataclasses.asdict(settings), "cpu_seconds": cpu,
        "certified": cert.certified, "reason": cert.reason, "max_rhat": cert.max_rhat,
        "min_ess_bulk": cert.min_ess_bulk, "min_ess_tail": cert.min_ess_tail,
        "accept": float(torch.nanmean(run.accept)), "divergences": run.divergences,
        "divergences_all": run.divergences_all, "round_trips": run.round_trips,
        "swap_accept": [round(float(v), 3) for v in run.swap_accept] if run.swap_accept is not None else [],
        "betas": [float(v) for v in run.betas] if run.betas is not None else [],
        "std": f.reshape(-1, len(GRID)).std(axis=0).tolist(),
        "mean": f.reshape(-1, len(GRID)).mean(axis=0).tolist(),
    }


def describe(r: dict, label: str) -> str:
    swaps = r["swap_accept"]
    swap = f"swap acceptance {min(swaps):.2f}-{max(swaps):.2f}" if swaps else "no swaps"
    std = np.array(r["std"])
    return (f"{label}: {r['cpu_seconds']:.1f} s CPU; R-hat ≤ {r['max_rhat']:.3f}, bulk ESS ≥ {r['min_ess_bulk']:.0f}, "
            f"tail ESS ≥ {r['min_ess_tail']:.0f}; {r['divergences']} divergences at beta = 1 "
            f"({r['divergences_all']} at any beta); {swap}; {r['round_trips']} round trips; "
            f"std f at x = 0, ±4.5: {std[100]:.2f}, {std[10]:.2f}, {std[190]:.2f}; "
            + ("certified" if r["certified"] else f"NOT certified: {r['reason']}"))


def describe_agreement(a: dict[str, float], label: str) -> str:
    return (f"{label}: {100 * a['within_10']:.1f} % of the grid within 10 %, {100 * a['within_25']:.1f} % within 25 %, "
            f"max {100 * a['max']:.1f} % at x = {a['at']:.3g}")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs=2, default=[0, 1])
    parser.add_argument("--longer", type=float, nargs="*", default=[], help="also run these multiples of the draws")
    parser.add_argument("--chains", type=int)
    parser.add_argument("--temperatures", type=int)
    parser.add_argument("--warmup", type=int)
    parser.add_argument("--draws", type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--nuts", type=Path, default=NUTS_FIXTURE, help="the stored NUTS summary to compare with")
    parser.add_argument("--json", type=Path, help="write everything measured here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    overrides = {k: getattr(args, k) for k in ("chains", "temperatures", "warmup", "draws", "steps")
                 if getattr(args, k) is not None}
    settings = hmc.HMCConfig(**overrides)
    print(f"settings: {dataclasses.asdict(settings)}", flush=True)

    runs = [run_once(settings, seed) for seed in args.seeds]
    for r in runs:
        print(describe(r, f"seed {r['seed']}"), flush=True)
    seeds = agreement(np.array(runs[0]["std"]), np.array(runs[1]["std"]))
    print(describe_agreement(seeds, "two seeds"))
    criteria = {
        f"CPU ≤ {CPU_BUDGET:.0f} s per run": all(r["cpu_seconds"] <= CPU_BUDGET for r in runs),
        "both runs certified (R-hat < 1.05, bulk ESS > 200 at every probe)": all(r["certified"] for r in runs),
        "two seeds within 10 % on ≥ 90 % of the grid": seeds["within_10"] >= 0.9,
        "two seeds within 25 % everywhere": seeds["max"] <= 0.25,
    }
    nuts = json.loads(args.nuts.read_text()) if args.nuts.exists() else None
    versus_nuts = []
    if nuts is not None:
        nuts_std = np.array(nuts["std"])
        print(f"NUTS fixture: {nuts['settings']['chains']} chains x {nuts['settings']['draws']} draws, "
              f"{nuts['cpu_seconds']:.0f} s CPU, max rank R-hat {max(nuts['rank_rhat'], default=float('nan')):.2f}")
        for r in runs:
            versus_nuts.append(agreement(np.array(r["std"]), nuts_std))
            print(describe_agreement(versus_nuts[-1], f"seed {r['seed']} vs NUTS"))
        criteria["each run vs NUTS within 10 % on ≥ 90 % of the grid"] = all(a["within_10"] >= 0.9 for a in versus_nuts)
        criteria["each run vs NUTS within 25 % everywhere"] = all(a["max"] <= 0.25 for a in versus_nuts)

    longer = []
    for i, factor in enumerate(args.longer):  # each its own seed: runs of one seed share their beginning
        long_settings = dataclasses.replace(settings, draws=int(round(settings.draws * factor)))
        r = run_once(long_settings, args.seeds[0] + 100 + i)
        r["factor"] = factor
        r["vs_seeds"] = [agreement(np.array(r["std"]), np.array(d["std"])) for d in runs]
        print(describe(r, f"{factor:g}x draws (seed {r['seed']})"), flush=True)
        for d, a in zip(runs, r["vs_seeds"]):
            print("  " + describe_agreement(a, f"vs default seed {d['seed']}"))
        if nuts is not None:
            r["vs_nuts"] = agreement(np.array(r["std"]), np.array(nuts["std"]))
            print("  " + describe_agreement(r["vs_nuts"], "vs NUTS"))
        longer.append(r)

    for name, ok in criteria.items():
        print(f"{verdict(ok)}  {name}")
    out = {"grid": GRID.tolist(), "runs": runs, "two_seeds": seeds, "vs_nuts": versus_nuts, "longer": longer,
           "criteria": criteria}
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")
    return out


if __name__ == "__main__":
    main()

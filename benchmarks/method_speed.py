"""Fit times of HMC and the MAP methods before and after the fast gradient: ``python -m benchmarks.method_speed``.

Issue 10 asks that the hand-written network gradient (:class:`bnn.netgrad.WeightPass`) serve the
HMC reference and the MAP methods, and for their wall times before and after. Before is the
autograd gradient, after the fast one, for:

- ``hmc``: :func:`bnn.methods.hmc.fit` with the default :class:`bnn.methods.hmc.HMCConfig` (and
  ``--hmc-*``) on the article's problem. After is the fit as it is; before is the same fit with
  ``chains=None`` passed to the gradient functions it calls (``hmc.log_posterior`` and, where it
  exists, ``hmc.log_likelihood``): autograd at every leapfrog step, the path they keep as their
  oracle. ``hmc.py`` has no engine parameter, so :func:`hmc_gradient_by_autograd` swaps those two
  functions for the block (the fit stays the module's own, whatever sampler it runs);
- ``hmc-plain``: the same without replica exchange, the sampler's earlier default (64 independent
  chains, 300 warm-up and 200 kept iterations of up to 30 leapfrog steps: ``temperatures=1``);
- ``ensemble``, ``laplace``: ``fit_method`` with default settings, the MAP trainer's engine
  forced by :func:`bnn.methods.optimise.using_engine` ("autograd", then "fast");
- ``dropout``: the same, but MC dropout's masked likelihood stays on autograd (the fast engine
  does not cover it), so after = before: the row shows the noise of the measurement;
- ``ensemble-uci``: a UCI-sized ensemble on synthetic data (8 features, one layer of 50 ReLU
  units, N = 500, minibatches of 128, 10 members), ``--uci-epochs`` epochs.

Everything runs in this process on one torch thread. Each round fits every case before and after,
in alternating order from round to round, so load on the machine falls on both alike; a figure is
the median over ``--rounds`` rounds of the wall time (perf_counter) and the process's CPU time
(process_time) of one whole fit, after an untimed tiny run of each. It is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import inspect
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch

from bnn import toys
from bnn.config import Config
from bnn.methods import fit_method, hmc, optimise
from bnn.methods.hmc import HMCConfig
from bnn.train import set_threads

CASES = ("hmc", "hmc-plain", "ensemble", "laplace", "dropout", "ensemble-uci")
# The plain HMC of the sampler's earlier default (independent chains, no tempering)
PLAIN_HMC = {"chains": 64, "warmup": 300, "draws": 200, "steps": 30, "temperatures": 1, "thin": 1}
GRADIENT_FUNCTIONS = ("log_posterior", "log_likelihood")  # hmc's, where they exist, each with ``chains``


@contextmanager
def hmc_gradient_by_autograd() -> Iterator[list[str]]:
    """Within the block, ``bnn.methods.hmc``'s gradient functions are called with ``chains=None``
    (autograd, their oracle) whatever ``hmc.fit`` passes; yields a list that gains one entry per call."""
    calls: list[str] = []
    originals = {name: getattr(hmc, name) for name in GRADIENT_FUNCTIONS
                 if name in vars(hmc) and "chains" in inspect.signature(getattr(hmc, name)).parameters}

    def forced(name: str, fn: Callable) -> Callable:
        signature = inspect.signature(fn)

        def autograd(*args: object, **kwargs: object) -> object:
            bound = signature.bind(*args, **kwargs)
            bound.arguments["chains"] = None
            calls.append(name)
            return fn(*bound.args, **bound.kwargs)

        return autograd

    for name, fn in originals.items():
        setattr(hmc, name, forced(name, fn))
    try:
        yield calls
    finally:
        for name, fn in originals.items():
            setattr(hmc, name, fn)


def hmc_run(x: np.ndarray, y: np.ndarray, config: Config, settings: HMCConfig, fast: bool) -> hmc.FittedHMC:
    """:func:`bnn.methods.hmc.fit`, its leapfrog's gradient by WeightPass (``fast``, the fit as it is) or
    by autograd."""
    if fast:
        return hmc.fit(x, y, config, settings)
    with hmc_gradient_by_autograd() as calls:
        fitted = hmc.fit(x, y, config, settings)
    if not calls:
        raise RuntimeError(f"hmc.fit called none of {GRADIENT_FUNCTIONS}: the before run is not autograd's")
    return fitted


def hmc_config(args: argparse.Namespace, plain: bool = False) -> HMCConfig:
    """The default HMCConfig (or ``PLAIN_HMC``) with the ``--hmc-*`` options given."""
    given = {"chains": args.hmc_chains, "warmup": args.hmc_warmup, "draws": args.hmc_draws}
    return HMCConfig(**{**(PLAIN_HMC if plain else {}), **{k: v for k, v in given.items() if v is not None}})


def uci_points(n: int = 500, dim: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic regression data of a UCI set's size: y = sin(x a) + x b / 2 + noise."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    a, b = rng.standard_normal(dim) / np.sqrt(dim), rng.standard_normal(dim) / np.sqrt(dim)
    return x, np.sin(x @ a) + 0.5 * (x @ b) + 0.1 * rng.standard_normal(n)


def contenders(args: argparse.Namespace) -> dict[str, tuple[Callable[[], object], Callable[[], object], str]]:
    """Per case: (before, after, what "after" is)."""
    x, y = toys.article_points()
    config = Config()
    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    hmc_settings, plain_settings = hmc_config(args), hmc_config(args, plain=True)

    def method(name: str, engine: str, xs: np.ndarray, ys: np.ndarray, cfg: Config, settings: dict) -> Callable:
        def run() -> object:
            with optimise.using_engine(engine):
                return fit_method(name, xs, ys, cfg, settings)
        return run

    ux, uy = uci_points()
    uci_config = Config(hidden=(50,), activation="relu")
    uci_settings = {"epochs": args.uci_epochs, "batch_size": 128}
    cases = {
        "hmc": (lambda: hmc_run(x, y, config, hmc_settings, False), lambda: hmc_run(x, y, config, hmc_settings, True),
                "WeightPass"),
        "hmc-plain": (lambda: hmc_run(x, y, config, plain_settings, False),
                      lambda: hmc_run(x, y, config, plain_settings, True), "WeightPass"),
        "ensemble": (method("ensemble", "autograd", x, y, config, epochs),
                     method("ensemble", "fast", x, y, config, epochs), "fast"),
        "laplace": (method("laplace", "autograd", x, y, config, epochs),
                    method("laplace", "fast", x, y, config, epochs), "fast"),
        "dropout": (method("dropout", "autograd", x, y, config, epochs),
                    method("dropout", "auto", x, y, config, epochs), "autograd (masks: not covered)"),
        "ensemble-uci": (method("ensemble", "autograd", ux, uy, uci_config, uci_settings),
                         method("ensemble", "fast", ux, uy, uci_config, uci_settings), "fast"),
    }
    return {name: cases[name] for name in args.cases}


def measure(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    # One untimed tiny run of every contender first: one-off costs (the first torch.optim optimiser
    # imports torch._dynamo, ~1 s) are not the fits' and would land on whichever ran first.
    tiny = argparse.Namespace(**{**vars(args), "epochs": 2, "uci_epochs": 1, "hmc_chains": 2, "hmc_warmup": 2,
                                 "hmc_draws": 1})
    for before, after, _ in contenders(tiny).values():
        before()
        after()
    runs = contenders(args)
    times: dict[str, dict[str, list[tuple[float, float]]]] = {name: {"before": [], "after": []} for name in runs}
    for r in range(args.rounds):
        for name, (before, after, _) in runs.items():
            order = [("before", before), ("after", after)]
            for label, run in order if r % 2 == 0 else order[::-1]:
                wall, cpu = time.perf_counter(), time.process_time()
                run()
                times[name][label].append((time.perf_counter() - wall, time.process_time() - cpu))
        print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    out: dict[str, dict[str, object]] = {}
    for name, by in times.items():
        row: dict[str, object] = {"after_is": runs[name][2]}
        for label, pairs in by.items():
            row[f"{label}_wall_s"] = statistics.median(p[0] for p in pairs)
            row[f"{label}_cpu_s"] = statistics.median(p[1] for p in pairs)
            row[f"{label}_rounds"] = pairs
        out[name] = row
    return out


def report(results: dict[str, dict[str, object]]) -> list[str]:
    head = (f"{'case':<13} {'before wall':>11} {'after wall':>10} {'wall x':>7} {'before cpu':>10} "
            f"{'after cpu':>9} {'cpu x':>6}  after")
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        bw, aw, bc, ac = (float(r[k]) for k in ("before_wall_s", "after_wall_s", "before_cpu_s", "after_cpu_s"))
        lines.append(f"{name:<13} {bw:>10.3f}s {aw:>9.3f}s {bw / aw:>6.1f}x {bc:>9.3f}s {ac:>8.3f}s "
                     f"{bc / ac:>5.1f}x  {r['after_is']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.method_speed", description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are reported)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs of the article's MAP fits (default: each method's own, 2000)")
    parser.add_argument("--uci-epochs", type=int, default=100, help="epochs of the UCI-sized ensemble (4 steps each)")
    parser.add_argument("--hmc-chains", type=int, default=None, help="default: HMCConfig's")
    parser.add_argument("--hmc-warmup", type=int, default=None, help="default: HMCConfig's")
    parser.add_argument("--hmc-draws", type=int, default=None, help="default: HMCConfig's")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the figures are one core's)")
    parser.add_argument("--json", metavar="FILE", help="write the figures and every round's times here")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    results = measure(args)
    lines = report(results)
    print("\n".join(lines))
    if args.json:
        meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()), "python": platform.python_version(),
                "torch": torch.__version__, "threads": args.threads, "rounds": args.rounds,
                "hmc": repr(hmc_config(args)), "hmc-plain": repr(hmc_config(args, plain=True)),
                "epochs": args.epochs, "uci_epochs": args.uci_epochs}
        with open(args.json, "w") as fh:
            json.dump({"meta": meta, "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())

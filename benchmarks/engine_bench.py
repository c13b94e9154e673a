"""Engine benchmark: ``bnn.fit`` against the article's per-sample loop, in ms per epoch.

The article (a re-implementation of Blundell et al. 2015, "Weight Uncertainty in
Neural Networks") trains its Bayesian network with a Python loop over Monte Carlo
samples: each sample runs the network once, with Gaussian weights drawn and
``torch.distributions.Normal`` objects built per layer. The engine draws all S weight
vectors as one (S, P) tensor and evaluates the S networks with batched matmuls
(``bnn.network``). ``python -m benchmarks.engine_bench`` times both on the article's problem (six
points of -x^4 + 3x^2 + 1, 1-32-1 sigmoid, prior sigma 10, noise 0.1, Adam lr 0.1):

- ms per epoch, the best of ``--repeats`` runs of ``--epochs`` epochs after a warm-up,
  at 1, 10 and 32 samples, for the article's loop and ``bnn.fit`` with ``kl="mc"``
  (the article's estimator, so the ratio is like for like) and ``kl="closed"``;
- the article's whole run, ``bnn.fit(x, y, Config(train_samples=32))`` for 2000 epochs;
- peak memory: every case runs in a fresh subprocess, which reports its peak resident
  set (``ru_maxrss``) and how much it grew while training (peak minus the resident set
  after importing torch and building the data), so the sides' peaks are separable.

Run ``python -m benchmarks.engine_bench --help`` for the options; ``--check`` exits 1 on a missed target.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import torch
from torch.utils._python_dispatch import TorchDispatchMode

import bnn
from benchmarks.article import article_train
from bnn import toys

SAMPLE_COUNTS = (1, 10, 32)
RATIO_TARGETS = {1: 3.0, 10: 30.0, 32: 80.0}  # article ms / bnn.fit ms (kl="mc"), at one thread
FIT_SECONDS_TARGET = 1.5  # the article's 2000 epochs at 32 samples, end to end
ARTICLE_EPOCHS = 2000
_REPO = Path(__file__).resolve().parent.parent


# ---- one measurement, run in a fresh process -----------------------------------------
@dataclass(frozen=True)
class Case:
    """One timing: ``impl`` is "article" or "bnn"; ``kl`` is bnn's estimator."""

    impl: str
    samples: int
    epochs: int
    repeats: int
    threads: int = 1
    kl: str = "mc"


def _rss_mb() -> float:
    """This process's peak resident set so far, in MB (ru_maxrss is KB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


def measure(case: Case) -> dict[str, float]:
    """Warm up, then time ``case.repeats`` runs: best seconds by wall clock and by process CPU
    time (which other busy processes inflate less), and the resident set in MB after importing
    torch, after the warm-up (torch's lazily loaded runtime) and at the end."""
    bnn.set_threads(case.threads)
    x, y = toys.article_points()
    if case.impl == "article":
        def run(epochs: int) -> None:
            article_train(x, y, epochs, case.samples)
    else:
        def run(epochs: int) -> None:
            bnn.fit(x, y, bnn.Config(train_samples=case.samples, kl=case.kl, epochs=epochs))
    rss = [_rss_mb()]
    run(max(1, min(case.epochs // 10, 50)))  # first-call costs: dispatcher, allocator, Adam
    rss.append(_rss_mb())
    wall, cpu = [], []
    for _ in range(case.repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run(case.epochs)
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    rss.append(_rss_mb())
    return {"wall": min(wall), "cpu": min(cpu), "all_wall": wall, "all_cpu": cpu, "epochs": case.epochs,
            "rss_import_mb": rss[0], "rss_warm_mb": rss[1], "rss_peak_mb": rss[2]}


def ms_per_epoch(res: dict, clock: str = "wall") -> float:
    """Best run's milliseconds per epoch, by wall clock or by this process's CPU time."""
    return 1e3 * res[clock] / res["epochs"]


def run_case(case: Case) -> dict[str, float]:
    """``measure(case)`` in a fresh interpreter, so its peak memory is its own."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "benchmarks.engine_bench", "--worker", json.dumps(asdict(case))],
                          capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark case {case} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---- the whole benchmark -------------------------------------------------------------
def run_all(epochs: int, repeats: int, samples: tuple[int, ...], threads: tuple[int, ...],
            fit_epochs: int = ARTICLE_EPOCHS) -> dict[str, list[dict]]:
    """Every case, one subprocess each, run one after another (two cores: no overlap)."""
    per_epoch, end_to_end = [], []
    for n in threads:
        for s in samples:
            row: dict = {"threads": n, "samples": s}
            row["article"] = run_case(Case("article", s, epochs, repeats, n))
            for kl in ("mc", "closed"):
                row[f"bnn_{kl}"] = run_case(Case("bnn", s, epochs, repeats, n, kl))
            per_epoch.append(row)
        for kl in ("closed", "mc"):
            res = run_case(Case("bnn", 32, fit_epochs, repeats, n, kl))
            end_to_end.append({"threads": n, "kl": kl, "epochs": fit_epochs, **res})
    return {"per_epoch": per_epoch, "end_to_end": end_to_end}


def ratio(row: dict, kl: str, clock: str = "wall") -> float:
    """How many times faster bnn.fit with estimator ``kl`` ran than the article's loop."""
    return ms_per_epoch(row["article"], clock) / ms_per_epoch(row[f"bnn_{kl}"], clock)


def targets(results: dict[str, list[dict]], threads: int = 1, clock: str = "wall") -> list[tuple[bool, str]]:
    """(passed, description) of each target that the results cover, at ``threads``."""
    out = []
    for row in results["per_epoch"]:
        target = RATIO_TARGETS.get(row["samples"])
        if row["threads"] == threads and target is not None:
            ratio_mc = ratio(row, "mc", clock)
            out.append((ratio_mc >= target, f"article / bnn.fit(kl='mc') at {row['samples']:>2} samples "
                                            f">= {target:g}: {ratio_mc:.1f}"))
    for row in results["end_to_end"]:
        if row["threads"] == threads and row["kl"] == "closed" and row["epochs"] == ARTICLE_EPOCHS:
            out.append((row[clock] < FIT_SECONDS_TARGET,
                        f"bnn.fit(Config(train_samples=32)), {ARTICLE_EPOCHS} epochs "
                        f"< {FIT_SECONDS_TARGET:g} s: {row[clock]:.2f} s"))
    return out


def _mem(res: dict) -> str:
    """Peak MB (growth in the warm-up run, growth in the timed runs)."""
    first, timed = res["rss_warm_mb"] - res["rss_import_mb"], res["rss_peak_mb"] - res["rss_warm_mb"]
    return f"{res['rss_peak_mb']:.0f} (+{first:.0f}, +{timed:.1f})"


def report(results: dict[str, list[dict]], meta: dict[str, str], epochs: int, repeats: int,
           clock: str = "wall") -> list[str]:
    """The printed tables and one PASS/FAIL line per target."""
    def ms(res: dict) -> float:
        return ms_per_epoch(res, clock)

    lines = [f"bnn engine benchmark  {meta['date']}  commit {meta['commit']}  torch {meta['torch']}  "
             f"python {meta['python']}  {meta['cpus']} CPUs  load avg {meta['load']}",
             "problem: the article's 6 points of -x^4+3x^2+1, 1-32-1 sigmoid, prior sigma 10, noise 0.1, "
             "Adam lr 0.1",
             f"ms per epoch by {clock} clock: best of {repeats} runs of {epochs} epochs after a warm-up, "
             "each case in a fresh process",
             "", f"{'threads':>7} {'samples':>7} {'article':>9} {'bnn mc':>9} {'bnn closed':>10} "
             f"{'ratio mc':>9} {'ratio closed':>12}"]
    for r in results["per_epoch"]:
        lines.append(f"{r['threads']:>7} {r['samples']:>7} {ms(r['article']):>9.3f} {ms(r['bnn_mc']):>9.3f} "
                     f"{ms(r['bnn_closed']):>10.3f} {ratio(r, 'mc', clock):>9.1f} {ratio(r, 'closed', clock):>12.1f}")
    lines += ["", "peak RSS of each case's process, MB (+ growth in the warm-up run, + growth in the timed runs)",
              f"{'threads':>7} {'samples':>7} {'article':>17} {'bnn mc':>17} {'bnn closed':>17}"]
    for r in results["per_epoch"]:
        lines.append(f"{r['threads']:>7} {r['samples']:>7} {_mem(r['article']):>17} {_mem(r['bnn_mc']):>17} "
                     f"{_mem(r['bnn_closed']):>17}")
    lines += ["", f"bnn.fit(x, y, Config(train_samples=32, kl=...)) end to end, best of {repeats}",
              f"{'threads':>7} {'kl':>7} {'epochs':>7} {'wall s':>7} {'CPU s':>7} {'RSS MB':>17}"]
    for r in results["end_to_end"]:
        lines.append(f"{r['threads']:>7} {r['kl']:>7} {r['epochs']:>7} {r['wall']:>7.2f} {r['cpu']:>7.2f} "
                     f"{_mem(r):>17}")
    threads = 1 if any(r["threads"] == 1 for r in results["per_epoch"]) else results["per_epoch"][0]["threads"]
    lines += ["", f"targets (threads {threads}, {clock} clock)"]
    lines += [f"{'PASS' if ok else 'FAIL'}  {text}" for ok, text in targets(results, threads, clock)]
    return lines


# ---- where bnn.fit's time goes (--profile) -------------------------------------------
def profile_step(samples: int, kl: str, steps: int = 500, clock: str = "wall") -> dict[str, float]:
    """Microseconds per phase of bnn.fit's optimiser step (the calls ``bnn.train.fit`` makes),
    and the aten operators one step dispatches (forward, backward and Adam)."""
    timer = time.perf_counter if clock == "wall" else time.process_time
    from bnn.loss import negative_elbo
    from bnn.model import BayesMLP

    cfg = bnn.Config(train_samples=samples, kl=kl)
    x, y = toys.article_points()
    xt, yt = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1), torch.as_tensor(y, dtype=torch.float32)
    generator = torch.Generator().manual_seed(cfg.seed)
    model = BayesMLP(1, cfg, generator=generator)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=cfg.lr)

    def step() -> list[float]:
        marks = [timer()]
        optimiser.zero_grad(set_to_none=True)
        marks.append(timer())
        terms = negative_elbo(model, xt, yt, n_total=len(y), samples=samples, kl=cfg.kl, generator=generator)
        marks.append(timer())
        terms.total.backward()
        marks.append(timer())
        optimiser.step()
        marks.append(timer())
        return [b - a for a, b in zip(marks, marks[1:])]

    for _ in range(50):
        step()
    spent = [sum(col) for col in zip(*(step() for _ in range(steps)))]
    with _OpCounter() as counter:
        step()
    us = {name: 1e6 * t / steps for name, t in zip(("zero_grad", "loss", "backward", "adam"), spent)}
    return {**us, "total": sum(us.values()), "aten_ops": float(counter.calls)}


class _OpCounter(TorchDispatchMode):
    """Counts the aten operators dispatched inside ``with``: on nets this small each costs
    microseconds of overhead whatever its size, so the count explains the time. (The public
    torch.profiler counts too, but logs to stderr in a way that cannot be switched off.)"""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        self.calls += 1
        return func(*args, **(kwargs or {}))


# ---- command line --------------------------------------------------------------------
def _meta() -> dict[str, str]:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", "-C", str(_REPO), *args], capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    timed = [f"bnn/{name}.py" for name in ("config", "data", "toys", "posterior", "network", "model", "loss",
                                            "train", "bench", "article")]
    if git("status", "--porcelain", "--", *timed):
        commit += " + uncommitted changes to the timed code"
    return {"date": date.today().isoformat(), "commit": commit, "torch": torch.__version__,
            "python": platform.python_version(), "cpus": str(os.cpu_count()),
            "load": " ".join(f"{v:.2f}" for v in os.getloadavg())}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text}")
    return value


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.engine_bench", description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=_positive, default=300, help="epochs per timed run (default 300)")
    p.add_argument("--repeats", type=_positive, default=3, help="timed runs per case; the best counts (default 3)")
    p.add_argument("--samples", type=_positive, nargs="+", default=list(SAMPLE_COUNTS),
                   help="Monte Carlo samples per step to time (default 1 10 32)")
    p.add_argument("--threads", type=_positive, nargs="+", default=[1],
                   help="torch thread settings to time (default 1; targets are read at 1)")
    p.add_argument("--fit-epochs", type=_positive, default=ARTICLE_EPOCHS,
                   help=f"epochs of the end-to-end bnn.fit timing (default {ARTICLE_EPOCHS}, the article's)")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="time by the wall clock (default) or by the process's CPU time, which a busy "
                        "machine inflates less")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    p.add_argument("--profile", action="store_true", help="also break bnn.fit's step into phases")
    p.add_argument("--worker", help=argparse.SUPPRESS)  # internal: one Case as JSON, figures to stdout
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        print(json.dumps(measure(Case(**json.loads(args.worker)))))
        return 0
    bnn.set_threads(1)
    meta = _meta()
    results = run_all(args.epochs, args.repeats, tuple(args.samples), tuple(args.threads), args.fit_epochs)
    meta["load"] += " -> " + " ".join(f"{v:.2f}" for v in os.getloadavg())
    lines = report(results, meta, args.epochs, args.repeats, args.clock)
    if max(os.getloadavg()[0], float(meta["load"].split()[0])) > (os.cpu_count() or 1):
        lines.append("note: other processes kept the CPUs busy (load average above the CPU count): wall "
                     "times are inflated, --clock cpu is steadier")
    if args.profile:
        lines += ["", f"bnn.fit's step, microseconds per phase by {args.clock} clock (1 thread)",
                  f"{'kl':>7} {'samples':>7} {'zero_grad':>9} {'loss':>7} {'backward':>8} {'adam':>7} "
                  f"{'total':>7} {'aten ops':>8}"]
        for kl in ("mc", "closed"):
            for s in args.samples:
                p = profile_step(s, kl, clock=args.clock)
                results.setdefault("profile", []).append({"kl": kl, "samples": s, **p})
                lines.append(f"{kl:>7} {s:>7} {p['zero_grad']:>9.0f} {p['loss']:>7.0f} {p['backward']:>8.0f} "
                             f"{p['adam']:>7.0f} {p['total']:>7.0f} {p['aten_ops']:>8.0f}")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": {**meta, "clock": args.clock}, **results}, indent=2))
    threads = 1 if 1 in args.threads else args.threads[0]
    return 1 if args.check and not all(ok for ok, _ in targets(results, threads, args.clock)) else 0


if __name__ == "__main__":
    sys.exit(main())

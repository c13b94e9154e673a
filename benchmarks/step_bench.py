"""Step benchmark: CPU time per optimiser step of bnn's fast and autograd engines, the article's
loop, NumPyro SVI and hand-written JAX, side by side; and each one's first fit in a fresh process.

Per step: every contender runs in a process of its own, all pinned to the same core (torch at
one thread; XLA's CPU backend asked for one), warms up (JAX compiles), picks a number of steps that takes
``--round-seconds``, then times one round of whole runs of that many steps each time the
driver asks, the driver asking each contender in turn, ``--rounds`` times (so load on the
machine falls on all of them alike). A figure is the median round's CPU time over its steps.
bnn and the article use ``kl="mc"``, the estimator NumPyro's ``Trace_ELBO`` and the JAX loop
use. First fit: a fresh interpreter per run imports its library, then runs the article's
2000 steps at S = 1 (bnn's default ``Config()``), compile included; ``--fresh`` runs each,
interleaved, and the medians are printed. ``--scaling`` times the fast engine against the
autograd engine over the number of points, the width and the depth of the network.

The peers (``benchmarks/peers_jax.py``) run in ``--peers-python``, a Python with
``benchmarks/requirements-peers.txt`` installed; without one they are skipped with a message.
``python -m benchmarks.step_bench --help`` lists the options. It is a benchmark, not a test:
the targets of issue 10 are printed with PASS or FAIL.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEERS = ("numpyro", "jax")
TORCH = ("fast", "autograd", "article")
RATIO_TARGETS = {1: 20.0, 10: 150.0, 32: 400.0}  # article / fast, per step
NUMPYRO_FACTOR = 1.5  # fast no slower than 1.5x NumPyro at S = 10 and 32
FIRST_FIT_CPU = 0.25  # seconds from after `import bnn` to the end of the article's run


# ---- the torch contenders, in their own process ---------------------------------------------
def _runner(impl: str, samples: int):  # noqa: ANN202
    import bnn
    from benchmarks.article import article_train
    from bnn import toys

    bnn.set_threads(1)
    x, y = toys.article_points()
    if impl == "article":
        return lambda steps: article_train(x, y, steps, samples)
    return lambda steps: bnn.fit(x, y, bnn.Config(train_samples=samples, kl="mc", epochs=steps), engine=impl)


def serve(impl: str, samples: int, round_seconds: float) -> None:
    """The worker: warm up, calibrate, then one timed round per ``round`` line on stdin."""
    run = _runner(impl, samples)
    run(20)
    start = time.process_time()
    run(50)
    per_step = max((time.process_time() - start) / 50, 1e-7)
    steps = max(20, min(200_000, int(round_seconds / per_step)))
    print("ready " + json.dumps({"steps": steps}), flush=True)
    for line in sys.stdin:
        if line.strip() != "round":
            break
        wall, cpu = time.perf_counter(), time.process_time()
        run(steps)
        print(json.dumps({"cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "steps": steps}),
              flush=True)


def fresh(impl: str, epochs: int) -> dict[str, float]:
    """A fresh process's first fit of the article's run (bnn's default Config, S = 1)."""
    wall, cpu = time.perf_counter(), time.process_time()
    import bnn
    from bnn import toys

    imported = (time.perf_counter() - wall, time.process_time() - cpu)
    x, y = toys.article_points()
    if impl == "article":
        from benchmarks.article import article_train

        article_train(x, y, epochs, 1)
    else:
        bnn.fit(x, y, bnn.Config(epochs=epochs), engine=impl)
    return {"import_wall": imported[0], "import_cpu": imported[1],
            "fit_wall": time.perf_counter() - wall - imported[0], "fit_cpu": time.process_time() - cpu - imported[1],
            "dynamo": float("torch._dynamo" in sys.modules)}


# ---- the driver -----------------------------------------------------------------------------
def _command(impl: str, spec: dict, peers_python: str | None) -> list[str]:
    if impl in PEERS:
        return [peers_python or sys.executable, str(REPO / "benchmarks" / "peers_jax.py"), json.dumps(spec)]
    return [sys.executable, "-m", "benchmarks.step_bench", "--worker", json.dumps(spec)]


def _pin(core: int | None):  # noqa: ANN202
    """Run the child on one core: the same core for every contender, whatever threads it starts."""
    if core is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {core})


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


def per_step(impls: list[str], samples: int, rounds: int, round_seconds: float,
             peers_python: str | None, core: int | None = None) -> dict[str, dict]:
    """Median CPU and wall microseconds per step of each contender at ``samples``, rounds interleaved."""
    workers, out = {}, {}
    for impl in impls:  # started one at a time: a compiling JAX must not load the others' warm-up
        spec = {"impl": impl, "samples": samples, "round_seconds": round_seconds}
        proc = subprocess.Popen(_command(impl, spec, peers_python), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=_env(), cwd=REPO, preexec_fn=_pin(core))
        line = proc.stdout.readline()
        if not line.startswith("ready "):
            raise RuntimeError(f"{impl} at S={samples} failed to start:\n{line}{proc.stderr.read()}")
        workers[impl], out[impl] = proc, {**json.loads(line[6:]), "rounds": []}
    for r in range(rounds):
        order = impls[r % len(impls):] + impls[:r % len(impls)]  # a different contender goes first each round
        for impl in order:
            workers[impl].stdin.write("round\n")
            workers[impl].stdin.flush()
            out[impl]["rounds"].append(json.loads(workers[impl].stdout.readline()))
    for proc in workers.values():
        proc.stdin.write("quit\n")
        proc.stdin.close()
        proc.wait()
    for res in out.values():
        res["cpu_us"] = statistics.median(1e6 * x["cpu"] / x["steps"] for x in res["rounds"])
        res["wall_us"] = statistics.median(1e6 * x["wall"] / x["steps"] for x in res["rounds"])
    return out


def first_fits(impls: list[str], repeats: int, epochs: int, peers_python: str | None,
               core: int | None = None) -> dict[str, dict]:
    """Medians over ``repeats`` fresh processes per contender, run in turn."""
    runs: dict[str, list[dict]] = {impl: [] for impl in impls}
    for _ in range(repeats):
        for impl in impls:
            spec = {"impl": impl, "fresh": True, "epochs": epochs}
            proc = subprocess.run(_command(impl, spec, peers_python), capture_output=True, text=True, env=_env(),
                                  cwd=REPO, check=False, preexec_fn=_pin(core))
            if proc.returncode != 0:
                raise RuntimeError(f"first fit of {impl} failed:\n{proc.stderr}")
            runs[impl].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {impl: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for impl, rs in runs.items()}


def peers_available(peers_python: str | None) -> str | None:
    """None if the peers can run, else why not."""
    python = peers_python or sys.executable
    try:
        proc = subprocess.run([python, "-c", "import jax, numpyro"], capture_output=True, text=True, check=False)
    except OSError:
        proc = None
    if proc is not None and proc.returncode == 0:
        return None
    return (f"NumPyro/JAX peers skipped: {python} cannot import jax and numpyro (install "
            "benchmarks/requirements-peers.txt into a venv of its own and pass --peers-python)")


def report(steps: dict[int, dict], fits: dict[str, dict], skipped: str | None) -> tuple[list[str], list[bool]]:
    impls = list(next(iter(steps.values())))
    lines = ["CPU microseconds per step (median of interleaved rounds; wall in brackets)",
             f"{'S':>3} " + " ".join(f"{i:>18}" for i in impls) + "   article/fast" +
             ("   fast/numpyro" if "numpyro" in impls else "")]
    verdicts: list[tuple[bool, str]] = []
    for s, res in steps.items():
        row = f"{s:>3} " + " ".join(f"{res[i]['cpu_us']:>9.1f} ({res[i]['wall_us']:>6.1f})" for i in impls)
        if "article" in res and "fast" in res:
            ratio = res["article"]["cpu_us"] / res["fast"]["cpu_us"]
            row += f" {ratio:>14.1f}"
            if s in RATIO_TARGETS:
                verdicts.append((ratio >= RATIO_TARGETS[s], f"article / fast at S={s} >= {RATIO_TARGETS[s]:g}: "
                                                            f"{ratio:.1f}"))
        if "numpyro" in res and "fast" in res:
            factor = res["fast"]["cpu_us"] / res["numpyro"]["cpu_us"]
            row += f" {factor:>14.2f}"
            if s in (10, 32):
                verdicts.append((factor <= NUMPYRO_FACTOR, f"fast / NumPyro at S={s} <= {NUMPYRO_FACTOR:g}: "
                                                           f"{factor:.2f}"))
        lines.append(row)
    for impl, res in steps[next(iter(steps))].items():
        if "compile_cpu" in res:
            lines.append(f"{impl}: compile of a round's scan {res['compile_cpu']:.2f} s CPU at S={next(iter(steps))}")
    if fits:
        lines += ["", "first fit in a fresh process, the article's run at S=1 (medians; seconds)",
                  f"{'':>10} {'import CPU':>10} {'fit CPU':>8} {'fit wall':>8} {'dynamo':>6}"]
        for impl, r in fits.items():
            lines.append(f"{impl:>10} {r['import_cpu']:>10.2f} {r['fit_cpu']:>8.3f} {r['fit_wall']:>8.3f} "
                         f"{'yes' if r.get('dynamo') else 'no':>6}")
        if "fast" in fits:
            cpu = fits["fast"]["fit_cpu"]
            verdicts.append((cpu < FIRST_FIT_CPU, f"first fit, after import bnn, < {FIRST_FIT_CPU} s CPU: {cpu:.3f} s"))
    if skipped:
        lines += ["", skipped]
    lines += ["", "targets"] + [f"{'PASS' if ok else 'FAIL'}  {text}" for ok, text in verdicts]
    return lines, [ok for ok, _ in verdicts]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.step_bench", description=__doc__.split("\n")[0])
    p.add_argument("--samples", type=int, nargs="+", default=[1, 10, 32], help="MC samples per step")
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per contender (default 7)")
    p.add_argument("--round-seconds", type=float, default=0.3, help="length of a round (default 0.3 s)")
    p.add_argument("--fresh", type=int, default=3, help="fresh-process first fits per contender (0: none)")
    p.add_argument("--fresh-epochs", type=int, default=2000, help="steps of a first fit (default 2000)")
    p.add_argument("--peers-python", help="a Python with benchmarks/requirements-peers.txt (default: this one)")
    p.add_argument("--no-peers", action="store_true", help="skip NumPyro and JAX")
    p.add_argument("--core", type=int, default=(os.cpu_count() or 1) - 1,
                   help="the one CPU every contender runs on (default the last; -1: no pinning)")
    p.add_argument("--scaling", action="store_true", help="also time fast vs autograd over N, width, depth")
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    p.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        spec = json.loads(args.worker)
        if spec.get("fresh"):
            print(json.dumps(fresh(spec["impl"], int(spec["epochs"]))), flush=True)
        else:
            serve(spec["impl"], int(spec["samples"]), float(spec["round_seconds"]))
        return 0
    skipped = "NumPyro/JAX peers skipped (--no-peers)" if args.no_peers else peers_available(args.peers_python)
    impls = list(TORCH) + ([] if skipped else list(PEERS))
    load = os.getloadavg()[0]
    core = None if args.core < 0 else args.core
    steps = {s: per_step(impls, s, args.rounds, args.round_seconds, args.peers_python, core) for s in args.samples}
    fits = first_fits(impls, args.fresh, args.fresh_epochs, args.peers_python, core) if args.fresh else {}
    lines, verdicts = report(steps, fits, skipped)
    import torch

    header = [f"bnn step benchmark  {time.strftime('%Y-%m-%d')}  torch {torch.__version__}  python "
              f"{platform.python_version()}  {os.cpu_count()} CPUs  load avg {load:.2f} -> {os.getloadavg()[0]:.2f}",
              "the article's problem: 6 points, 1-32-1 sigmoid, prior 10, noise 0.1, Adam lr 0.1, kl='mc'", ""]
    if args.scaling:
        from benchmarks.step_scaling import scaling_report

        lines += ["", *scaling_report()]
    print("\n".join(header + lines))
    if args.json:
        Path(args.json).write_text(json.dumps({"per_step": steps, "first_fit": fits}, indent=2, default=str))
    return 1 if args.check and not all(verdicts) else 0


if __name__ == "__main__":
    sys.exit(main())

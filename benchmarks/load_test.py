"""How many visitors one dashboard server serves: a load test with real browsers.

Modelled on Streamlit's own e2e_playwright/load_testing: visitors are Playwright sessions in
worker processes (benchmarks/load/worker.py), all released together by a barrier; the server's
CPU, peak memory and threads are read from /proc (benchmarks/load/meter.py); each visitor's time
to band is measured in its page (benchmarks/load/visitors.py says what each scenario does and how
the band's arrival is recognised). Scenarios: view, train, edit, compare, and mixed (70 % view,
20 % train, 10 % edit).

Without ``--url`` it starts its own ``streamlit run app.py`` with env ``BNN_QUEUE_LOG`` pointing
at a file in a temporary folder, and reads the server's training queue from it (the queue's
figures are "n/a" when the server writes no such log). The default link's fit is warmed by one
visit before the timed run. ``--capacity`` steps the session count and reports the largest count
whose p95 time to band stays under 3 s with no error (benchmarks/load/stats.py).

``--client protocol`` replaces the browsers by websocket clients that speak Streamlit's protocol
(benchmarks/load/wsclient.py; view, train, and mixed with each edit replaced by a training of its
own seed, since an edit is a fit of new points and this client cannot click): on a small machine
the browsers take most of the CPU, and this measures what the server alone can do.

    .venv/bin/python -m benchmarks.load_test --scenario view --sessions 10 [--url URL]
        [--json artifacts/load.json] [--capacity [--steps 1,5,10,15,20,30]] [--client protocol]

A script, not a test: its times depend on the machine and its load (printed with them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from benchmarks.load import E2E, meter, report, stats, worker, wsclient
from benchmarks.load.visitors import BAND_DONE_JS, KINDS, POLL_MS, Visit, plan

sys.path.insert(0, str(E2E))  # done by the package already; said here for the reader of this import
from stdriver import REPO, chromium_path, launch_chromium, new_context, start_server  # noqa: E402

SCENARIOS = (*KINDS, "mixed")
STEPS = (1, 5, 10, 15, 20, 30)
PER_WORKER = 8  # visitors per worker process (one Chromium each)


@dataclass(frozen=True)
class Target:
    """The server under test: its URL, its process ids (one per replica; none if not known), its queue log."""

    url: str
    pids: tuple[int, ...]
    queue_logs: tuple[Path, ...]
    chromium: str
    default_sig: str  # the default link's band mean, as the visitors' check signs it


def warm(url: str, chromium: str, browser_needed: bool, timeout_s: float = 180.0) -> str:
    """Open the default link once (its fit is then in the server's cache) and return its band's
    signature, which a browser's train visit checks its band against. Without train visits in a
    browser, a protocol visit warms the cache (no Chromium to start) and the signature is ""."""
    if not browser_needed:
        done = asyncio.run(wsclient.visit(url, Visit(-1, "view"), timeout_s))
        if done["time_s"] is None:
            raise RuntimeError(f"the default link's band never came: {done}")
        return ""
    with sync_playwright() as pw:
        browser = launch_chromium(pw, chromium)
        page = new_context(browser).new_page()
        page.goto(url, wait_until="commit")
        want = {"seed": None, "not_sig": None, "points": None, "ack": False}
        done = page.wait_for_function(BAND_DONE_JS, arg=want, polling=POLL_MS, timeout=timeout_s * 1000).json_value()
        browser.close()
    return done["sig"]


def run_step(target: Target, scenario: str, sessions: int, timeout_s: float, seed_base: int,
             client: str = "browser") -> dict[str, Any]:
    """One timed run of ``sessions`` visitors; its figures (see the module docstring)."""
    visits = plan(scenario, sessions, seed_base)
    if client == "protocol":
        return run_protocol_step(target, scenario, edits_as_trainings(visits, seed_base), timeout_s)
    workers = max(1, math.ceil(sessions / PER_WORKER))
    ctx = mp.get_context("spawn")  # a clean interpreter per worker: no Playwright state inherited
    barrier, results = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=worker.main, args=(target.url, visits[k::workers], target.chromium,
                                                   target.default_sig, barrier, results, timeout_s))
             for k in range(workers)]
    for proc in procs:
        proc.start()
    load_before = meter.load_average()
    released = threading.Event()
    threading.Thread(target=_abort_if_one_dies, args=(procs, barrier, released), daemon=True).start()
    try:
        barrier.wait(worker.BARRIER_TIMEOUT_S)
    except threading.BrokenBarrierError:
        for proc in procs:
            proc.join(timeout=30)
        told = [results.get(timeout=5).get("crash", "") for _ in range(results.qsize())]
        raise RuntimeError(f"a load test worker ended before the start (exit codes {[p.exitcode for p in procs]}):\n"
                           + ("\n".join(told) or "see stderr")) from None
    finally:
        released.set()
    since = time.time()
    with meter.ServerMeter(target.pids) as server:
        answers = [results.get(timeout=worker.BARRIER_TIMEOUT_S + 3 * timeout_s) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    crashes = [a["crash"] for a in answers if "crash" in a]
    if crashes:
        raise RuntimeError("a load test worker failed:\n" + "\n".join(crashes))
    outcomes = sorted((o for a in answers for o in a["outcomes"]), key=lambda o: o["index"])
    return summarise_step(scenario, sessions, workers, outcomes, server.as_dict(),
                          sum(a["client_cpu_s"] for a in answers), stats.read_queue_log(target.queue_logs, since),
                          load_before, since)


def edits_as_trainings(visits: list[Visit], seed_base: int) -> list[Visit]:
    """The protocol client cannot click the chart: each edit visit becomes a training of a seed of its
    own (to the server, an edit in live mode is a fit of settings it has not cached)."""
    return [Visit(v.index, "train", seed_base + v.index) if v.kind == "edit" else v for v in visits]


def _abort_if_one_dies(procs: list[Any], barrier: Any, released: threading.Event) -> None:
    """Break the barrier when a worker ends before reaching it (else the others wait its whole timeout)."""
    while not released.wait(0.5):
        if any(p.exitcode is not None for p in procs):
            barrier.abort()
            return


def run_protocol_step(target: Target, scenario: str, visits: list[Any], timeout_s: float) -> dict[str, Any]:
    """The visits as websocket clients in this process (benchmarks/load/wsclient.py): the server alone."""
    load_before, since = meter.load_average(), time.time()
    cpu0 = meter.own_cpu_seconds()
    with meter.ServerMeter(target.pids) as server:
        outcomes = asyncio.run(wsclient.visits(target.url, visits, timeout_s))
    client_cpu = meter.own_cpu_seconds() - cpu0
    return summarise_step(scenario, len(visits), 0, outcomes, server.as_dict(), client_cpu,
                          stats.read_queue_log(target.queue_logs, since), load_before, since)


def summarise_step(scenario: str, sessions: int, workers: int, outcomes: list[dict[str, Any]],
                   server: dict[str, Any], client_cpu_s: float, queue: stats.QueueSummary | None,
                   load_before: list[float], since: float) -> dict[str, Any]:
    times = [o["time_s"] for o in outcomes if o["time_s"] is not None]
    by_kind = {k: stats.summarise([o["time_s"] for o in outcomes if o["kind"] == k and o["time_s"] is not None])
               for k in sorted({o["kind"] for o in outcomes})}
    return {"scenario": scenario, "sessions": sessions, "workers": workers, "completed": len(times),
            **{k: v for k, v in stats.summarise(times).items() if k != "n"},
            "errors": sum(o["errors"] for o in outcomes), "saw_in_line": sum(o["saw_in_line"] for o in outcomes),
            "saw_busy": sum(o["saw_busy"] for o in outcomes), **server, "client_cpu_s": client_cpu_s,
            "queue": None if queue is None else queue.as_dict(), "by_kind": by_kind,
            "load_before": load_before, "load_after": meter.load_average(),
            "started_at": datetime.fromtimestamp(since, UTC).isoformat(timespec="seconds"), "outcomes": outcomes}


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=SCENARIOS, default="view")
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--url", help="a running server (or balancer); default: start `streamlit run app.py`")
    parser.add_argument("--server-pid", type=int, action="append", default=[],
                        help="with --url: a server process to measure (repeat for each replica)")
    parser.add_argument("--queue-log", type=Path, action="append", default=[],
                        help="with --url: the file a server's BNN_QUEUE_LOG names (repeat for each replica)")
    parser.add_argument("--json", type=Path, help="write every figure here")
    parser.add_argument("--capacity", action="store_true", help="step the session count (--steps)")
    parser.add_argument("--steps", default=",".join(map(str, STEPS)))
    parser.add_argument("--client", choices=("browser", "protocol"), default="browser",
                        help="protocol: websocket clients without a browser (the server alone): view, train, and "
                             "mixed with its edits as trainings")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds a visitor waits for its band")
    return parser.parse_args(argv)


def measure(args: argparse.Namespace, target: Target) -> dict[str, Any]:
    counts = [int(s) for s in args.steps.split(",")] if args.capacity else [args.sessions]
    seed_base = (int(time.time()) % 1_000_000) * 100  # seeds no earlier run gave this server
    steps = []
    for k, count in enumerate(counts):
        step = run_step(target, args.scenario, count, args.timeout, seed_base + 10_000 * k, args.client)
        steps.append(step)
        print(f"{args.scenario} × {count}: p95 {step['p95']:.2f} s, {step['errors']} errors", flush=True)
        if args.capacity and not stats.passes(step):
            break  # the capacity is the last count that passed: larger ones would only load the machine
    return {"steps": steps, "capacity": stats.capacity(steps) if args.capacity else None}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.client == "protocol" and args.scenario not in ("view", "train", "mixed"):
        print("--client protocol drives view and train visits only (mixed: its edits as trainings)", file=sys.stderr)
        return 2
    chromium = chromium_path()
    if chromium is None:
        print("needs Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 2
    meta = {"commit": git_commit(), "date": datetime.now(UTC).isoformat(timespec="seconds"), "nproc": os.cpu_count(),
            "load_before": meter.load_average(), "scenario": args.scenario, "url": args.url, "client": args.client}
    server = None
    if args.url is None:
        queue_logs = (Path(tempfile.mkdtemp(prefix="bnn-load-")) / "queue.jsonl",)
        os.environ["BNN_QUEUE_LOG"] = str(queue_logs[0])  # start_server passes the environment on
        server = start_server("app.py", timeout=120)
        target_url, pids = server.url, (server.proc.pid,)
    else:
        queue_logs, target_url, pids = tuple(args.queue_log), args.url, tuple(args.server_pid)
    try:
        browser_train = args.client == "browser" and args.scenario in ("train", "mixed")
        target = Target(target_url, pids, queue_logs, chromium, warm(target_url, chromium, browser_train))
        found = measure(args, target)
    finally:
        if server is not None:
            server.stop()
    result = {**meta, **found, "load_after": meter.load_average(), "own_server": server is not None}
    print(f"\ncommit {meta['commit'][:12]}, {meta['date']}, {meta['nproc']} cores, load average "
          f"{meta['load_before']} before, {result['load_after']} after")
    print(report.table(found["steps"], meta["nproc"] or 1))
    for line in report.error_lines(found["steps"]):
        print(line)
    if args.capacity:
        print(f"capacity ({args.scenario}): {found['capacity']} sessions with p95 time to band < "
              f"{stats.P95_TARGET_S:g} s and no error")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

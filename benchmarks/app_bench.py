"""How quick and how big the dashboard is, measured on a real `streamlit run app.py` in Chromium.

(a) cold start: from launching the server process to the first band drawn in a browser
    (the live band while the first fit trains), and to the finished band;
(b) Train: from pressing Train to the finished band for the article's settings, each time with
    a seed not trained before, so the server's fit cache misses;
(c) memory: peak resident memory of the server's process tree, sampled every 0.1 s from /proc,
    while three browser sessions with three new seeds press Train together;
(d) edit → band: clicks on the chart that add a point, in live mode (benchmarks/edit_bench.py).

(b) and (c) turn live mode off, so that Train is what starts each fit.
Targets: (a) < 15 s, (b) < 3 s, (c) < 700 MB, (d) first band p50 < 0.5 s and p95 < 1 s, final band
p95 < 1.5 s. Prints the figures and one PASS/FAIL line per target;
exits 1 if one fails. A script, not a test: its times depend on the machine and its load
(printed with them). The browser is started before the clock of (a), as a visitor's already runs.

    .venv/bin/python -m benchmarks.app_bench [--seeds 3] [--edits 20] [--json artifacts/app_bench.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

import procmem  # noqa: E402  (the e2e helpers live with the browser tests)
import stdriver  # noqa: E402
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from benchmarks import edit_bench  # noqa: E402

TARGETS = {"cold_start_s": 15.0, "train_s": 3.0, "peak_rss_mb": 700.0}
# The first band on screen: the point editor's chart with a filled band trace (in its shadow root).
ANY_BAND_JS = """() => Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot)
    .flatMap(e => Array.from(e.shadowRoot.querySelectorAll('[data-testid="point-editor"] .js-plotly-plot')))
    .some(gd => (gd.data || []).some(t => t.fill === 'tonexty'))"""
SCRIPT_STATE_JS = "() => document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state')"


def cold_start(page: Page) -> tuple[stdriver.Server, dict[str, float]]:
    """(a): seconds from `Popen` to health, first band, finished band; the server stays up."""
    server = stdriver.start_server("app.py")
    healthy = time.perf_counter() - server.started
    page.goto(server.url, wait_until="commit")
    page.wait_for_function(ANY_BAND_JS, timeout=120_000, polling="raf")
    first_band = time.perf_counter() - server.started
    stdriver.wait_for_run(page, timeout_ms=120_000, settle_ms=0)
    stdriver.read_band(page)
    final_band = time.perf_counter() - server.started
    return server, {"health_s": healthy, "first_band_s": first_band, "final_band_s": final_band}


def press_train_until_new_band(page: Page, timeout: float = 120.0) -> float:
    """Click Train and return the seconds until the script has finished, the status line says
    the fit is of the current settings ("Trained …") and the band differs. (Without the status
    check, one press in five returned at once, before training, and counted a 0.3 s "Train".)"""
    old = stdriver.read_band(page).mean.tobytes()
    trained = page.get_by_test_id("stCaptionContainer").filter(has_text="Trained ")
    start = time.perf_counter()
    stdriver.click(page, "train")
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if (page.evaluate(SCRIPT_STATE_JS) == "notRunning" and page.locator(stdriver.BAND_CHART).count()
                and trained.count()):
            try:
                if stdriver.read_band(page, timeout_ms=1_000).mean.tobytes() != old:
                    return time.perf_counter() - start
            except Exception:  # the chart was being replaced between the two reads
                pass
        time.sleep(0.02)
    raise TimeoutError("no new band within the timeout")


def train_latency(page: Page, pid: int, seeds: list[int]) -> tuple[list[float], list[float]]:
    """(b): one cache-missing Train per seed on an already open page: wall seconds, and the
    server's CPU seconds for it (the part a busy machine does not inflate)."""
    stdriver.live_off(page)
    times, cpu = [], []
    for seed in seeds:
        stdriver.set_number(page, "seed", seed)
        cpu_before = procmem.tree_cpu_seconds(pid)
        times.append(press_train_until_new_band(page))
        cpu.append(procmem.tree_cpu_seconds(pid) - cpu_before)
    return times, cpu


def three_sessions(browser: Browser, url: str, pid: int, seeds: list[int]) -> dict[str, float]:
    """(c): peak RSS of the server tree while three sessions train new seeds at once."""
    pages = []
    for seed in seeds:
        page = stdriver.new_context(browser).new_page()
        stdriver.open_app(page, url, timeout_ms=120_000)
        stdriver.live_off(page)
        stdriver.set_number(page, "seed", seed)
        pages.append(page)
    before = procmem.tree_rss(pid)
    olds = [stdriver.read_band(p).mean.tobytes() for p in pages]
    with procmem.PeakSampler.rss(pid, interval=0.1) as sampler:
        start = time.perf_counter()
        for page in pages:
            stdriver.click(page, "train")
        for page, old in zip(pages, olds):
            stdriver.wait_for_run(page, timeout_ms=300_000)
            assert stdriver.read_band(page).mean.tobytes() != old, "a session did not get a new band"
        wall = time.perf_counter() - start
    for page in pages:
        page.context.close()
    return {"rss_before_mb": before / 1e6, "peak_rss_mb": sampler.peak / 1e6, "samples": sampler.samples,
            "three_trainings_wall_s": wall}


def report(results: dict[str, object]) -> bool:
    a, b, c = results["cold_start"], results["train_s"], results["memory"]
    print(f"machine: {os.cpu_count()} cores, load average {results['load_average']}")
    print(f"(a) cold start: healthy after {a['health_s']:.1f} s, first (live) band {a['first_band_s']:.1f} s, "
          f"finished band {a['final_band_s']:.1f} s")
    print(f"(b) Train to finished band, new seeds: {', '.join(f'{t:.2f}' for t in b)} s "
          f"(median {statistics.median(b):.2f} s); server CPU per Train: "
          f"{', '.join(f'{t:.2f}' for t in results['train_server_cpu_s'])} s")
    print(f"(c) server RSS: {c['rss_before_mb']:.0f} MB before, peak {c['peak_rss_mb']:.0f} MB over "
          f"{c['samples']} samples while 3 sessions trained ({c['three_trainings_wall_s']:.1f} s for all three)")
    checks = [
        ("cold start to first band", a["first_band_s"], TARGETS["cold_start_s"], "s"),
        ("Train to finished band (median)", statistics.median(b), TARGETS["train_s"], "s"),
        ("peak server RSS, 3 sessions", c["peak_rss_mb"], TARGETS["peak_rss_mb"], "MB"),
    ]
    ok = True
    for name, value, target, unit in checks:
        passed = value < target
        ok &= passed
        print(f"{'PASS' if passed else 'FAIL'}: {name} {value:.2f} {unit} (target < {target:g} {unit})")
    return edit_bench.report(results["edit"]) and ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="cache-missing Train presses for (b)")
    parser.add_argument("--edits", type=int, default=20, help="clicks that add a point for (d)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    chromium = stdriver.chromium_path()
    if chromium is None or not procmem.available():
        print("needs Debian's chromium and Linux /proc", file=sys.stderr)
        return 2
    results: dict[str, object] = {"load_average": [round(v, 2) for v in os.getloadavg()]}
    with sync_playwright() as pw:
        browser = stdriver.launch_chromium(pw, chromium)
        page = stdriver.new_context(browser).new_page()
        server, results["cold_start"] = cold_start(page)
        try:
            edit_page = stdriver.new_context(browser).new_page()  # a session of its own, live mode on
            stdriver.open_app(edit_page, server.url, timeout_ms=120_000)
            results["edit"] = edit_bench.edit_latency(edit_page, server.proc.pid, args.edits)
            edit_page.context.close()
            results["train_s"], results["train_server_cpu_s"] = train_latency(
                page, server.proc.pid, [101 + k for k in range(args.seeds)])
            results["memory"] = three_sessions(browser, server.url, server.proc.pid, [201, 202, 203])
        finally:
            browser.close()
            server.stop()
    ok = report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

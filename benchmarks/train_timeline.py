"""Where a press of Train spends its time, in the browser's clock: ``python -m benchmarks.train_timeline``.

Starts `streamlit run app.py`, opens it in Chromium, turns live mode off, and for each of
``--presses`` new seeds installs a ``requestAnimationFrame`` watcher in the page, presses Train and
records, in milliseconds from the click (its ``pointerdown``):

- ``running``: the app's script state turns "running" (the click has reached the server);
- ``frame``: a live frame of the run ("during training: epoch …") is on the chart, if any;
- ``band``: the chart holds a predictive mean other than the one before the press, not a live frame;
- ``done``: the script has ended.

The medians are printed (and written with ``--json``). No Python round trips between the click and
the marks: the watcher reads the page itself. Used for docs/app-benchmark.md ("Train's band").
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))

import stdriver  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

MARKS = ("running", "frame", "band", "done")
_CHART = """(() => Array.from(document.querySelectorAll('*')).filter(e => e.shadowRoot)
  .flatMap(e => Array.from(e.shadowRoot.querySelectorAll('[data-testid="point-editor"] .js-plotly-plot')))[0])"""
MEAN_JS = f"""() => {{ const g = {_CHART}(); const m = g && (g._fullData || []).find(t => t.name === 'predictive mean');
  return m ? String(Array.from(m.y).slice(0, 5)) : ''; }}"""
WATCH_JS = f"""(old) => {{
  window.__timeline = null;
  const t0 = performance.now(), marks = {{}}, app = document.querySelector('[data-testid="stApp"]');
  document.addEventListener('pointerdown', () => {{ if (marks.click === undefined) marks.click = performance.now(); }},
                            {{capture: true, once: true}});
  const mean = {MEAN_JS};
  function tick() {{
    const now = performance.now(), state = app.getAttribute('data-test-script-state');
    if (marks.click !== undefined) {{
      const g = {_CHART}(), title = (g && g.layout && g.layout.title && g.layout.title.text) || '';
      if (state === 'running' && marks.running === undefined) marks.running = now;
      if (marks.running !== undefined && state !== 'running' && marks.done === undefined) marks.done = now;
      if (title.startsWith('during') && marks.frame === undefined) marks.frame = now;
      const m = mean();
      if (m && m !== old && !title.startsWith('during') && marks.band === undefined) marks.band = now;
    }}
    if ((marks.band !== undefined && marks.done !== undefined) || now - t0 > 60000) {{
      const out = {{}};
      for (const k of ['running', 'frame', 'band', 'done']) if (marks[k] !== undefined) out[k] = marks[k] - marks.click;
      window.__timeline = out;
      return;
    }}
    requestAnimationFrame(tick);
  }}
  tick();
}}"""


def press(page: Page) -> dict[str, float]:
    """One press of Train: the marks in ms from the click."""
    page.evaluate(WATCH_JS, page.evaluate(MEAN_JS))
    page.locator(".st-key-train button").click()
    page.wait_for_function("() => window.__timeline !== null", timeout=70_000)
    return page.evaluate("() => window.__timeline")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.train_timeline", description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=9)
    parser.add_argument("--json", help="also write every press's marks and the medians here")
    args = parser.parse_args(argv)
    server = stdriver.start_server("app.py")
    try:
        with sync_playwright() as pw:
            browser = stdriver.launch_chromium(pw, stdriver.chromium_path())
            page = stdriver.new_context(browser).new_page()
            stdriver.open_app(page, server.url, timeout_ms=120_000)
            stdriver.read_band(page)
            stdriver.live_off(page)
            rows = []
            for seed in range(101, 101 + args.presses):
                stdriver.set_number(page, "seed", seed)
                time.sleep(0.3)
                rows.append(press(page))
                print(seed, {k: round(v) for k, v in rows[-1].items()}, flush=True)
    finally:
        server.stop()
    medians = {k: statistics.median(r[k] for r in rows if k in r) for k in MARKS if any(k in r for r in rows)}
    print("medians from the click: " + ", ".join(f"{k} {v:.0f} ms" for k, v in medians.items()))
    if args.json:
        Path(args.json).write_text(json.dumps({"presses": rows, "medians_ms": medians}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Drive a real `streamlit run` from outside: start the server, open Chromium, wait for reruns.

Shared by the browser tests (tests/e2e) and the app benchmark (benchmarks/app_bench.py), so
both measure the same app the same way. No pytest here: the benchmark is a plain script.

Streamlit marks its state on the root element: `data-testid="stApp"` carries
`data-test-connection-state` (CONNECTED once the websocket is up) and
`data-test-script-state` ("running" while the script executes, "notRunning" after);
placeholders of elements not yet sent are `stSkeleton`. Streamlit's own e2e suite waits
on the same attributes.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 1000}
APP_ROOT = '[data-testid="stApp"]'


def chromium_path() -> str | None:
    """Debian's Chromium (Playwright cannot download its own build here), or None if absent."""
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if os.path.exists(found) else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A `streamlit run` in its own process group, with stdout/stderr kept in temp files."""

    proc: subprocess.Popen[bytes]
    url: str
    started: float
    logs: dict[str, Any] = field(default_factory=dict)

    def output(self, stream: str = "stderr", limit: int = 20_000) -> str:
        handle = self.logs[stream]
        handle.flush()
        text = Path(handle.name).read_text(errors="replace")
        return text[-limit:]

    def stop(self) -> None:
        """SIGTERM the whole group (streamlit may have children), SIGKILL after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        for handle in self.logs.values():
            handle.close()


def start_server(app: str = "app.py", cwd: Path = REPO, timeout: float = 60.0,
                 env: dict[str, str] | None = None) -> Server:
    """Start `streamlit run app` on a free port (``env``: extra environment variables) and return once
    /_stcore/health says ok."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", app,
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        # Other people edit the tree while tests run: a file watcher would rerun the app mid-test.
        "--server.fileWatcherType", "none",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", **(env or {})}
    logs = {s: tempfile.NamedTemporaryFile(prefix=f"streamlit-{s}-", suffix=".log") for s in ("stdout", "stderr")}
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=logs["stdout"], stderr=logs["stderr"],
                            start_new_session=True)
    server = Server(proc, f"http://127.0.0.1:{port}", started, logs)
    deadline = started + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            break
        if _healthy(server.url):
            return server
        time.sleep(0.2)
    err = server.output()
    server.stop()
    raise RuntimeError(f"streamlit did not become healthy within {timeout:.0f} s; stderr:\n{err}")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
            return resp.read().decode().strip() == "ok"
    except OSError:
        return False


def launch_chromium(pw: Playwright, executable: str) -> Browser:
    return pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)


def new_context(browser: Browser) -> BrowserContext:
    return browser.new_context(accept_downloads=True, viewport=VIEWPORT)


def wait_for_run(page: Page, timeout_ms: float = 60_000, settle_ms: int = 250) -> None:
    """Wait until the script has finished running and every element is drawn.

    `settle_ms` first: after a click Streamlit needs a moment to send the rerun request, and
    until then the old "notRunning" state would satisfy the wait.
    """
    page.wait_for_timeout(settle_ms)
    page.locator(f'{APP_ROOT}[data-test-connection-state="CONNECTED"]').wait_for(state="attached", timeout=timeout_ms)
    page.locator(f'{APP_ROOT}[data-test-script-state="notRunning"]').wait_for(state="attached", timeout=timeout_ms)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout_ms)
    # The status widget shows "Running..." (and a stop button) while a script runs.
    expect(page.get_by_test_id("stStatusWidget").get_by_text("Running")).to_have_count(0, timeout=timeout_ms)


def open_app(page: Page, url: str, timeout_ms: float = 60_000) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.locator('[data-testid="stAppViewContainer"]').wait_for(state="attached", timeout=timeout_ms)
    wait_for_run(page, timeout_ms)


def wait_for_plot(page: Page, timeout_ms: float = 60_000) -> None:
    """Wait until a Plotly chart has been drawn (its div gets `.js-plotly-plot` after plotting)."""
    page.locator(".js-plotly-plot").first.wait_for(state="visible", timeout=timeout_ms)


TRACES_JS = """(gd) => {
    if (!gd || !gd.data) return null;
    const plain = (v) => (v && ArrayBuffer.isView(v)) ? Array.from(v) : v;
    return JSON.stringify(gd.data.map(t => ({name: t.name ?? null, mode: t.mode ?? null, uid: t.uid ?? null,
        type: t.type ?? null, fill: t.fill ?? null, x: plain(t.x), y: plain(t.y)})));
}"""


def plot_traces(page: Page, index: int = 0) -> list[dict[str, Any]]:
    """The traces Plotly drew in chart `index` of the page's own charts (not the point editor's,
    which lives in a shadow root: see `band_traces`). Plotly keeps them on its div as `.data`.

    Each trace: name, mode, uid, type, fill, and x, y as float arrays (or None).
    """
    raw = page.evaluate(f"([i]) => ({TRACES_JS})(document.querySelectorAll('.js-plotly-plot')[i])", [index])
    return _traces(raw)


def _traces(raw: str | None) -> list[dict[str, Any]]:
    traces = json.loads(raw) if raw else []
    for trace in traces:
        trace["x"], trace["y"] = _as_array(trace["x"]), _as_array(trace["y"])
    return traces


def _as_array(value: Any) -> np.ndarray | None:
    """Plotly >= 6 ships numeric arrays as {"dtype": "f8", "bdata": base64}; decode those too."""
    if value is None:
        return None
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]).newbyteorder("<"))
        return flat.reshape(value["shape"]) if "shape" in value else flat
    return np.asarray(value, dtype=float) if all(isinstance(v, int | float) for v in value) else np.asarray(value)


def grid_values(grid: Locator) -> list[list[str]]:
    """Text of every cell of a st.dataframe / st.data_editor, row by row (column 0 = index if shown).

    The grid is drawn on a canvas; Glide Data Grid also keeps an accessibility table with one
    `glide-cell-{col}-{row}` per visible cell, which is what this reads.
    """
    grid.locator('[role="gridcell"]').first.wait_for(state="attached")
    cells = grid.locator('[role="gridcell"]').evaluate_all("els => els.map(e => [e.id, e.textContent])")
    table: dict[int, dict[int, str]] = {}
    for ident, text in cells:
        col, row = (int(v) for v in ident.rsplit("-", 2)[-2:])
        table.setdefault(row, {})[col] = text
    return [[table[r][c] for c in sorted(table[r])] for r in sorted(table)]


def _cell_ids(grid: Locator) -> list[str]:
    return grid.locator('[role="gridcell"]').evaluate_all("els => els.map(e => e.id)")


def edit_cell(grid: Locator, row: int, col: int, text: str, attempts: int = 3) -> None:
    """Type `text` into cell (row, col) of a st.data_editor and commit it with Enter.

    `row`, `col` count as in `grid_values`. The grid is a canvas, so: click a body cell near the
    top left (right of a row-marker column, if the editor has one), read which cell got selected
    from the accessibility table, walk to the target with the arrow keys, open the editor with
    Enter and fill it. (Typing straight onto a selected cell loses keystrokes while it opens.)
    Right after a rerun the grid may still be redrawing and drop a click: then start again.
    """
    for attempt in range(attempts):
        try:
            _select_cell(grid, row, col)
            break
        except AssertionError:
            if attempt == attempts - 1:
                raise
    page = grid.page
    page.keyboard.press("Enter")
    editor = page.locator(".gdg-clip-region input, .gdg-clip-region textarea").first
    editor.wait_for(state="visible")
    editor.fill(text)
    page.keyboard.press("Enter")
    editor.wait_for(state="hidden")


def _select_cell(grid: Locator, row: int, col: int) -> None:
    page = grid.page
    page.keyboard.press("Escape")  # no editor or selection left over from an earlier edit
    expect(grid.locator("canvas").first).to_be_visible()
    page.wait_for_timeout(300)  # let a grid redrawn by the last rerun settle (as Streamlit's own tests do)
    header_h, row_h, marker_w = 35, 35, 30  # Streamlit's header and row heights, row-marker width (px)
    grid.click(position={"x": marker_w + 12, "y": header_h + row_h / 2})
    selected = grid.locator('[role="gridcell"][aria-selected="true"]')
    expect(selected).to_have_count(1)
    at_col, at_row = (int(v) for v in selected.get_attribute("id").rsplit("-", 2)[-2:])
    # A row-marker column (num_rows="dynamic") takes id 0 but has no accessible cells.
    col = sorted({int(i.rsplit("-", 2)[-2]) for i in _cell_ids(grid)})[col]
    for key, steps in (("ArrowRight", col - at_col), ("ArrowLeft", at_col - col),
                       ("ArrowDown", row - at_row), ("ArrowUp", at_row - row)):
        for _ in range(max(steps, 0)):
            page.keyboard.press(key)
    expect(grid.locator(f'[id="glide-cell-{col}-{row}"]')).to_have_attribute("aria-selected", "true", timeout=2_000)


def download_csv(page: Page, button: Locator) -> pd.DataFrame:
    """Click a st.download_button and read the file it sends with pandas."""
    with page.expect_download() as info:
        button.click()
    return pd.read_csv(info.value.path())


def exception_texts(page: Page) -> list[str]:
    """Texts of Streamlit exception boxes, plus the page text if it shows a Python traceback."""
    found = page.get_by_test_id("stException").all_inner_texts()
    body = page.locator("body").inner_text()
    if "Traceback" in body:
        found.append(body)
    return found


def rerun_after(page: Page, action: Any, timeout_ms: float = 120_000) -> None:
    """Do `action()` (a click, an Enter) and wait for the rerun it starts to finish.

    Waits up to 2 s to see the script start, so a quick rerun that has already ended is not
    waited for twice; then waits until it is done.
    """
    action()
    try:
        page.locator(f'{APP_ROOT}[data-test-script-state="running"]').wait_for(state="attached", timeout=2_000)
    except PlaywrightTimeout:
        pass
    wait_for_run(page, timeout_ms, settle_ms=100)


# ---- this app's band chart: the point editor's Plotly chart (inside the component's shadow root) ----
EDITOR = '[data-testid="point-editor"]'
BAND_CHART = f"{EDITOR} .js-plotly-plot"  # Playwright's CSS locators pierce the shadow root


@dataclass(frozen=True)
class Band:
    """What the band chart shows: grid x, the band's bounds, the predictive mean, the points."""

    x: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mean: np.ndarray
    points_x: np.ndarray
    points_y: np.ndarray


def read_band(page: Page, timeout_ms: float = 120_000) -> Band:
    """The band chart's numbers (the outer band: a bound trace, then its `tonexty` fill; a pinned
    run's band, drawn first and named "pinned …", is not this band)."""
    traces = band_traces(page, timeout_ms)
    fill = next(i for i, t in enumerate(traces) if t["fill"] == "tonexty" and not _pinned(t))
    mean = next(t for t in traces if t["name"] == "predictive mean")
    points = next(t for t in traces if t["name"] == "training points")
    return Band(traces[fill]["x"], traces[fill - 1]["y"], traces[fill]["y"], mean["y"], points["x"], points["y"])


def band_traces(page: Page, timeout_ms: float = 120_000) -> list[dict[str, Any]]:
    """Every trace of the band chart (see `plot_traces`)."""
    chart = page.locator(BAND_CHART).first
    chart.wait_for(state="visible", timeout=timeout_ms)
    return _traces(chart.evaluate(TRACES_JS))


def band_title(page: Page) -> str:
    """The band chart's title as drawn ("" without one)."""
    return page.locator(BAND_CHART).first.evaluate("gd => gd.layout?.title?.text ?? ''") or ""


def wait_for_band_title(page: Page, test: Any, timeout_ms: float = 30_000) -> str:
    """Poll until `test(title)` holds for the band chart's title and return it. The editor redraws
    after the rerun that sent its new figure has ended, so a read right after `rerun_after` can
    still see the last figure."""
    deadline = time.monotonic() + timeout_ms / 1000
    while not test(title := band_title(page)):
        if time.monotonic() > deadline:
            raise AssertionError(f"band title still {title!r} after {timeout_ms / 1000:.0f} s")
        time.sleep(0.1)
    return title


def _pinned(trace: dict[str, Any]) -> bool:
    return (trace["name"] or "").startswith("pinned")


def click(page: Page, key: str) -> None:
    """Click the button Streamlit drew for widget `key` (its container has class st-key-<key>)."""
    page.locator(f".st-key-{key} button").first.click()


def set_number(page: Page, key: str, value: float | str) -> None:
    """Type into the st.number_input with widget `key` and commit with Enter; waits for the rerun."""
    field = page.locator(f".st-key-{key} input").first
    field.fill(str(value))
    rerun_after(page, lambda: field.press("Enter"))


def download_text(page: Page, key: str) -> str:
    """The file a st.download_button with widget `key` sends, as text (exactly as written)."""
    with page.expect_download() as info:
        click(page, key)
    return Path(info.value.path()).read_text()


def download_predictions(page: Page) -> pd.DataFrame:
    """Open the Downloads expander if needed and fetch the predictions CSV."""
    button = page.locator(".st-key-download_predictions button")
    if not button.is_visible():
        page.get_by_test_id("stExpander").filter(has_text="Downloads").locator("summary").click()
    return download_csv(page, button)


# ---- editing on the band chart (the point editor) ------------------------------------------------
TO_PIXELS_JS = """(gd, pts) => {
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const r = gd.querySelector('.main-svg').getBoundingClientRect();
  return pts.map(([x, y]) => [r.left + xa._offset + xa.d2p(x), r.top + ya._offset + ya.d2p(y)]);
}"""
RANGES_JS = "gd => [gd._fullLayout.xaxis.range.slice(), gd._fullLayout.yaxis.range.slice()]"


def drawn_chart(page: Page) -> Any:
    """The band chart's element once Plotly has laid out its axes (a chart div exists a moment
    before that on a busy machine: reading its axes then fails)."""
    chart = page.locator(BAND_CHART).first.element_handle()
    page.wait_for_function("gd => gd._fullLayout?.xaxis?.range && gd._fullLayout?.yaxis?.range", arg=chart)
    return chart


def to_pixels(page: Page, *points: tuple[float, float]) -> list[tuple[float, float]]:
    """Viewport pixels of data points on the band chart, with Plotly's own axis functions (as the
    editor maps a click back)."""
    return [tuple(p) for p in drawn_chart(page).evaluate(TO_PIXELS_JS, [list(p) for p in points])]


def axis_ranges(page: Page) -> tuple[list[float], list[float]]:
    xr, yr = drawn_chart(page).evaluate(RANGES_JS)
    return xr, yr


def click_chart(page: Page, x: float, y: float, modifier: str | None = None) -> None:
    """Click the band chart at data (x, y) (an add; with Shift on a point, a delete), holding ``modifier``
    ("Shift", "Alt"...) if given; waits for the rerun."""
    [(px, py)] = to_pixels(page, (x, y))

    def click() -> None:
        if modifier:
            page.keyboard.down(modifier)
        page.mouse.click(px, py)
        if modifier:
            page.keyboard.up(modifier)

    rerun_after(page, click)


def drag_on_chart(page: Page, start: tuple[float, float], end: tuple[float, float], steps: int = 12,
                  pause_ms: int = 30, wait: bool = True) -> None:
    """Press at data ``start``, move in ``steps`` to ``end``, release; waits for the rerun if ``wait``."""
    (ax, ay), (bx, by) = to_pixels(page, start, end)

    def gesture() -> None:
        page.mouse.move(ax, ay)
        page.mouse.down()
        for k in range(1, steps + 1):
            page.mouse.move(ax + (bx - ax) * k / steps, ay + (by - ay) * k / steps)
            page.wait_for_timeout(pause_ms)
        page.mouse.up()

    if wait:
        rerun_after(page, gesture)
    else:
        gesture()


def live_off(page: Page) -> None:
    """Turn the main page's live mode off (a changed control then waits for Train); waits for the rerun."""
    rerun_after(page, lambda: page.locator(".st-key-live_mode label").first.click())


def wait_for_ack(page: Page, timeout_ms: float = 120_000) -> None:
    """Wait until the server has taken in the editor's last report (its rerun has drawn the editor)."""
    page.wait_for_function(
        """() => { const r = [...document.querySelectorAll('*')].filter(e => e.shadowRoot)
                     .map(e => e.shadowRoot.querySelector('[data-testid="point-editor"]')).find(Boolean);
                   return r && Number(r.dataset.ack) >= Number(r.dataset.seq); }""", timeout=timeout_ms)


def editor_command(page: Page, name: str) -> None:
    """Press the editor's own Undo or Redo button; waits for the rerun."""
    rerun_after(page, lambda: page.locator(f'{EDITOR} [data-command="{name}"]').click())


# A run long enough to act on while it trains: with the fast step the article's net takes about 1 s
# for 20,000 epochs; two layers of 128 take about 18 s alone on this machine (within the caps).
HEAVY_HIDDEN = (128, 128)


def make_heavy(page: Page) -> None:
    """Two hidden layers of 128 units (each change waits for its rerun; in live mode each trains)."""
    rerun_after(page, lambda: page.get_by_role("slider", name="Hidden layers").first.press("ArrowRight"))
    for k, units in enumerate(HEAVY_HIDDEN, start=1):
        set_number(page, f"units_{k}", units)


# ---- the point editor: an edit taken in, or the page failed on it --------------------------------
def wait_for_ack_or_exception(page: Page, timeout_ms: float = 120_000) -> None:
    """Wait until the server has taken in the editor's last report (as `wait_for_ack`) or the page
    shows a Streamlit exception box instead. A page that fails on an edit (the report's callback
    raises, so no rerun ever acknowledges it) then fails a test at once rather than after the whole
    timeout; the caller checks which came (`exception_texts`)."""
    page.wait_for_function(
        """() => { if (document.querySelector('[data-testid="stException"]')) return true;
                   const r = [...document.querySelectorAll('*')].filter(e => e.shadowRoot)
                     .map(e => e.shadowRoot.querySelector('[data-testid="point-editor"]')).find(Boolean);
                   return r && Number(r.dataset.ack) >= Number(r.dataset.seq); }""", timeout=timeout_ms)


def full_page_screenshot(page: Page, path: Path | str, width: int = VIEWPORT["width"]) -> None:
    """A screenshot of the whole page at ``width`` px. Streamlit scrolls its main area inside the
    viewport (so Playwright's full_page sees one screen): the viewport is made as tall as that
    area's content for the shot, then set back."""
    before = page.viewport_size or VIEWPORT
    height = page.evaluate("""() => Math.max(window.innerHeight, ...[...document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stAppViewContainer"], [data-testid="stSidebarContent"]')]
        .map(e => e.scrollHeight))""")
    page.set_viewport_size({"width": width, "height": int(height)})
    try:
        page.wait_for_timeout(500)  # Plotly's responsive charts redraw at the new size
        page.screenshot(path=str(path), full_page=True, animations="disabled")
    finally:
        page.set_viewport_size(before)

"""The point editor in Chromium, against a tiny harness app (tests/e2e/apps/editor_harness.py):
clicks, drags, deletes and touch reach Python at the right coordinates, Undo/Redo and their
shortcuts send commands, the modes never both zoom and add, a pushed figure replaces the band
without touching the points, Play animates posterior draws, and nothing is fetched from off the
machine. The harness prints what Python received as plain text, which is what these tests read.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import stdriver
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.browser

EDITOR = '[data-testid="point-editor"]'  # Playwright's CSS locators pierce its shadow root
SPAN = 6.0  # the harness's axes both run over [-3, 3]
TOL = 0.01 * SPAN  # the tolerance: 1 % of the axis range
LOCAL = ("127.0.0.1", "localhost")

# data -> viewport pixels with Plotly's own axis functions (what the component uses itself)
TO_PIXELS = """(el, pts) => {
  const gd = el.querySelector('.js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const r = gd.querySelector('.main-svg').getBoundingClientRect();
  return pts.map(([x, y]) => [r.left + xa._offset + xa.d2p(x), r.top + ya._offset + ya.d2p(y)]);
}"""
# the same from the plotting area's box and the axis ranges only (no Plotly internals)
BOX_AND_RANGES = """el => {
  const gd = el.querySelector('.js-plotly-plot');
  const r = gd.querySelector('.nsewdrag').getBoundingClientRect();
  return {box: [r.left, r.top, r.width, r.height],
          xr: gd._fullLayout.xaxis.range.slice(), yr: gd._fullLayout.yaxis.range.slice()};
}"""
CHART = """el => {
  const gd = el.querySelector('.js-plotly-plot');
  const trace = (uid) => gd.data.find(t => t.uid === uid);
  const pts = trace('points');
  const i = gd.data.findIndex(t => t.uid === 'pe-anim');
  const line = i >= 0 && gd.calcdata[i][0].node3 ? gd.calcdata[i][0].node3.node().querySelector('path.js-line') : null;
  return {points: Array.from(pts.x).map((x, k) => [x, pts.y[k]]),
          mean: Array.from(gd._fullData.find(t => t.uid === 'mean').y),
          title: (gd.layout.title && gd.layout.title.text) || '', anim: line ? line.getAttribute('d') : null};
}"""


@pytest.fixture(scope="module")
def harness(chromium_executable: str) -> Iterator[stdriver.Server]:
    server = stdriver.start_server("tests/e2e/apps/editor_harness.py")
    yield server
    server.stop()


class Watch:
    """A page's console errors and every request that tried to leave the machine (aborted)."""

    def __init__(self, context: BrowserContext, page: Page) -> None:
        self.errors: list[str] = []
        self.offsite: list[str] = []
        self.requests: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        context.route(lambda url: urlsplit(url).hostname not in LOCAL and not url.startswith(("blob:", "data:")),
                      self._abort)

    def _abort(self, route: Any) -> None:
        self.offsite.append(route.request.url)
        route.abort()

    def check(self) -> None:
        assert not self.offsite, self.offsite
        assert not self.errors, self.errors


@pytest.fixture
def open_editor(browser: Browser, harness: stdriver.Server) -> Iterator[Callable[..., tuple[Page, Watch]]]:
    contexts: list[BrowserContext] = []

    def open_(query: str = "", **context_args: Any) -> tuple[Page, Watch]:
        context = browser.new_context(viewport={"width": 1000, "height": 900}, **context_args)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        watch = Watch(context, page)
        page.goto(f"{harness.url}/{query}")
        page.locator(f"{EDITOR} .js-plotly-plot .main-svg").first.wait_for(state="visible", timeout=60_000)
        stdriver.wait_for_run(page)
        return page, watch

    yield open_
    for context in contexts:
        context.close()


def to_px(page: Page, pts: list[tuple[float, float]]) -> list[list[float]]:
    return page.locator(EDITOR).evaluate(TO_PIXELS, [list(p) for p in pts])


def chart(page: Page) -> dict[str, Any]:
    return page.locator(EDITOR).evaluate(CHART)


def python(page: Page) -> dict[str, Any]:
    """What the harness's Python holds: points, ack, counters, last command."""
    texts = " ".join(page.get_by_test_id("stText").all_inner_texts())
    m = re.search(r"POINTS=(\[.*?\]\]|\[\]) ACK=(\d+)", texts)
    state = {"points": json.loads(m.group(1)), "ack": int(m.group(2))}
    for name, value in re.findall(r"(EDITS|LIVE|COMMANDS|RUNS)=(\d+)", texts):
        state[name.lower()] = int(value)
    state["command"] = re.search(r"COMMAND=(\w*)", texts).group(1)
    return state


def wait_python(page: Page, cond: Callable[[dict[str, Any]], bool], timeout: float = 20.0) -> dict[str, Any]:
    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        try:
            last = python(page)
            if cond(last):
                stdriver.wait_for_run(page, settle_ms=50)
                return python(page)
        except (AttributeError, TypeError):  # a text element replaced mid-rerun
            pass
        page.wait_for_timeout(50)
    raise AssertionError(f"Python never got there; last: {last}")


def near(p: list[float], q: tuple[float, float]) -> bool:
    return abs(p[0] - q[0]) <= TOL and abs(p[1] - q[1]) <= TOL


def has(points: list[list[float]], q: tuple[float, float]) -> bool:
    return any(near(p, q) for p in points)


def drag(page: Page, a: list[float], b: list[float], steps: int = 10, pause_ms: int = 16) -> None:
    page.mouse.move(*a)
    page.mouse.down()
    for k in range(1, steps + 1):
        page.mouse.move(a[0] + (b[0] - a[0]) * k / steps, a[1] + (b[1] - a[1]) * k / steps)
        page.wait_for_timeout(pause_ms)
    page.mouse.up()


def x_range(page: Page) -> list[float]:
    return page.locator(EDITOR).evaluate(BOX_AND_RANGES)["xr"]


def test_mouse_edits_and_commands_reach_python(open_editor) -> None:
    page, watch = open_editor()
    assert [url for url in watch.requests if re.search(r"/app/static/plotly-\w+\.min\.js$", url)]  # the static bundle
    start = python(page)["points"]
    assert len(start) == 4 and sorted(map(tuple, chart(page)["points"])) == sorted(map(tuple, start))
    # the aiming recipe agrees with one that uses no Plotly internals (to a pixel)
    (px, py), = to_px(page, [(1.0, 1.0)])
    g = page.locator(EDITOR).evaluate(BOX_AND_RANGES)
    (left, top, w, h), (x0, x1), (y0, y1) = g["box"], g["xr"], g["yr"]
    assert abs(left + (1.0 - x0) / (x1 - x0) * w - px) < 1 and abs(top + (y1 - 1.0) / (y1 - y0) * h - py) < 1

    # hover labels work while editing
    page.mouse.move(*to_px(page, [(0.5, 1.0)])[0])
    expect(page.locator(f"{EDITOR} .hoverlayer .hovertext").first).to_contain_text("point (0.500, 1.000)")
    x, mean = -2.7, chart(page)["mean"][10]  # the grid's 11th x
    page.mouse.move(*to_px(page, [(x, mean)])[0])
    expect(page.locator(f"{EDITOR} .hoverlayer .hovertext").first).to_contain_text(re.compile(r"interval: \[-?\d"))

    # a click on empty space adds a point where it was clicked
    (cx, cy), = to_px(page, [(0.0, 2.0)])
    page.mouse.click(cx, cy)
    got = wait_python(page, lambda s: len(s["points"]) == 5)
    assert has(got["points"], (0.0, 2.0)) and got["edits"] == 1
    assert page.locator(EDITOR).get_attribute("data-ack") == page.locator(EDITOR).get_attribute("data-seq") == "1"

    # two quick clicks: both land, and the chart never drops one while Python answers the first
    a, b = (-2.5, 2.5), (2.5, 2.5)
    (ax, ay), (bx, by) = to_px(page, [a, b])
    page.mouse.click(ax, ay)
    page.mouse.click(bx, by)
    seen = []
    deadline = time.time() + 15
    while time.time() < deadline and not (has(python(page)["points"], a) and has(python(page)["points"], b)):
        seen.append(len(chart(page)["points"]))
        page.wait_for_timeout(20)
    edits = wait_python(page, lambda s: len(s["points"]) == 7)["edits"]  # 2 or 3: Streamlit may merge the two
    assert min(seen + [len(chart(page)["points"])]) == 7, seen

    # a drag moves a point: one report, on release
    src, dst = (2.0, -0.5), (1.5, -2.0)
    drag(page, *to_px(page, [src, dst]))
    got = wait_python(page, lambda s: has(s["points"], dst) and not has(s["points"], src))
    assert len(got["points"]) == 7 and got["edits"] == edits + 1 and got["live"] == 0

    # shift-click deletes a point, a right-click another
    (dx, dy), = to_px(page, [(-1.0, 0.5)])
    page.keyboard.down("Shift")
    page.mouse.click(dx, dy)
    page.keyboard.up("Shift")
    wait_python(page, lambda s: len(s["points"]) == 6 and not has(s["points"], (-1.0, 0.5)))
    (rx, ry), = to_px(page, [(-2.0, -1.0)])
    page.mouse.click(rx, ry, button="right")
    wait_python(page, lambda s: len(s["points"]) == 5 and not has(s["points"], (-2.0, -1.0)))

    # Undo and Redo: the toolbar's buttons and the shortcuts send commands; the chart follows Python
    page.locator(f"{EDITOR} [data-command=undo]").click()
    got = wait_python(page, lambda s: s["command"] == "undo" and len(s["points"]) == 6)
    assert has(got["points"], (-2.0, -1.0))
    page.wait_for_function("el => el.querySelector('.js-plotly-plot').data.find(t => t.uid === 'points').x.length == 6",
                           arg=page.locator(EDITOR).element_handle())  # the chart follows Python
    page.locator(f"{EDITOR} [data-command=redo]").click()
    wait_python(page, lambda s: s["commands"] == 2 and len(s["points"]) == 5)
    page.keyboard.press("Control+z")
    wait_python(page, lambda s: s["commands"] == 3 and s["command"] == "undo" and len(s["points"]) == 6)
    page.keyboard.press("Control+Shift+z")
    wait_python(page, lambda s: s["commands"] == 4 and s["command"] == "redo" and len(s["points"]) == 5)
    page.keyboard.press("Control+z")
    wait_python(page, lambda s: s["commands"] == 5 and len(s["points"]) == 6)
    page.keyboard.press("Control+y")
    wait_python(page, lambda s: s["commands"] == 6 and s["command"] == "redo" and len(s["points"]) == 5)
    # ... but not from a text field, where Ctrl+Z is the field's own undo (and none with nothing to redo)
    note = page.get_by_label("Note")
    note.fill("<b>bold?</b>")
    note.press("Control+z")
    page.keyboard.press("Control+Shift+z")
    page.wait_for_timeout(700)
    assert python(page)["commands"] == 6
    stdriver.rerun_after(page, lambda: note.press("Enter"))
    # the status (which carries that text here) is shown as text, never as HTML
    status = page.locator(f"{EDITOR} .pe-status")
    assert status.inner_text().endswith("<b>bold?</b>") and status.locator("b").count() == 0

    # edit mode: a drag on empty space neither zooms nor adds
    before, n = x_range(page), len(python(page)["points"])
    (ex, ey), (fx, fy) = to_px(page, [(-2.6, -2.6), (-1.6, -1.8)])
    drag(page, [ex, ey], [fx, fy])
    page.wait_for_timeout(600)
    assert x_range(page) == before and len(python(page)["points"]) == n
    # explore mode: the same drag zooms, a click adds nothing; the zoom outlives a rerun
    page.locator(f"{EDITOR} button[data-mode=explore]").click()
    drag(page, [ex, ey], [fx, fy])
    page.wait_for_timeout(300)
    zoomed = x_range(page)
    assert zoomed != before
    (cx, cy), = to_px(page, [(-2.0, -2.2)])
    page.mouse.click(cx, cy)
    page.wait_for_timeout(600)
    assert len(python(page)["points"]) == n
    stdriver.rerun_after(page, lambda: page.get_by_role("button", name="Rerun").click())
    assert x_range(page) == zoomed and page.locator(EDITOR).get_attribute("data-mode") == "explore"
    assert page.locator(EDITOR).get_attribute("data-calls") != "1"  # the same editor, called again
    # the modebar's pan while editing switches the toggle to Explore
    page.locator(f"{EDITOR} button[data-mode=edit]").click()
    page.locator(f"{EDITOR} .modebar-btn[data-val=pan]").click()
    assert page.locator(EDITOR).get_attribute("data-mode") == "explore"
    watch.check()


def test_live_drag_reports_a_pushed_band_and_play(open_editor) -> None:
    page, watch = open_editor("?report_ms=150")
    editor = page.locator(EDITOR)

    # report_every_ms > 0: a drag also reports while it goes on (not final), then once on release
    src, dst = (0.5, 1.0), (-0.5, -2.5)
    drag(page, *to_px(page, [src, dst]), steps=40, pause_ms=30)
    got = wait_python(page, lambda s: has(s["points"], dst) and s["edits"] > s["live"])
    assert got["live"] >= 2 and got["edits"] == got["live"] + 1, got
    page.locator(f"{EDITOR} [data-command=undo]").click()  # the harness records a drag as one edit
    wait_python(page, lambda s: has(s["points"], src) and not has(s["points"], dst))

    # push_figure: a band streamed during one run replaces the chart's band; the points stay
    before, seq = chart(page), editor.get_attribute("data-seq")
    push = page.get_by_role("button", name="Push frames")
    button_y = push.bounding_box()["y"]
    push.click()
    page.wait_for_function("el => el.querySelector('.js-plotly-plot').layout.title.text === 'live frame 1'",
                           arg=editor.element_handle())
    stdriver.wait_for_run(page)
    pushed = chart(page)
    assert pushed["title"] == "live frame 3" and pushed["points"] == before["points"]
    assert abs(pushed["mean"][0] - before["mean"][0] - 3) < 1e-3  # the harness shifts frame k by k
    assert editor.get_attribute("data-seq") == seq
    assert page.locator(f"{EDITOR} .pe-play").is_disabled()  # the draws are not this band's
    assert page.locator(".st-key-frame-3").count() == 1  # in the page, yet taking no room:
    assert push.bounding_box()["y"] == button_y
    stdriver.rerun_after(page, lambda: page.get_by_role("button", name="Rerun").click())
    assert chart(page)["title"] == "harness band"  # the editor's own figure again
    assert page.locator(f"{EDITOR} .pe-play").is_enabled()

    # Play: the posterior draws move (the animated line's path changes); an edit stops them
    assert chart(page)["anim"] is None or editor.get_attribute("data-playing") == "false"
    page.locator(f"{EDITOR} .pe-play").click()
    assert editor.get_attribute("data-playing") == "true"
    page.wait_for_function("el => Number(el.dataset.animFrames || 0) > 2", arg=editor.element_handle())
    first = chart(page)["anim"]
    page.wait_for_timeout(250)
    assert first and chart(page)["anim"] != first
    (cx, cy), = to_px(page, [(-2.5, 2.5)])
    page.mouse.click(cx, cy)
    assert editor.get_attribute("data-playing") == "false"
    wait_python(page, lambda s: has(s["points"], (-2.5, 2.5)))
    watch.check()


def test_touch_tap_adds_and_long_press_deletes(open_editor) -> None:
    page, watch = open_editor(has_touch=True, is_mobile=True)
    cdp = page.context.new_cdp_session(page)

    def touch(kind: str, x: float | None = None, y: float | None = None) -> None:
        points = [] if x is None else [{"x": x, "y": y}]
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    target = (1.0, -2.0)
    (tx, ty), = to_px(page, [target])
    touch("touchStart", tx, ty)
    touch("touchEnd")
    got = wait_python(page, lambda s: len(s["points"]) == 5)
    assert has(got["points"], target)
    touch("touchStart", *to_px(page, [target])[0])
    page.wait_for_timeout(800)  # held past the 550 ms long press
    touch("touchEnd")
    got = wait_python(page, lambda s: len(s["points"]) == 4)
    assert not has(got["points"], target)
    # a touch drag moves a point
    src, dst = (0.5, 1.0), (0.0, -1.5)
    (sx, sy), (dx, dy) = to_px(page, [src, dst])
    touch("touchStart", sx, sy)
    for k in range(1, 11):
        touch("touchMove", sx + (dx - sx) * k / 10, sy + (dy - sy) * k / 10)
        page.wait_for_timeout(16)
    touch("touchEnd")
    got = wait_python(page, lambda s: has(s["points"], dst) and not has(s["points"], src))
    assert len(got["points"]) == 4
    watch.check()


def test_without_static_serving_the_bundle_comes_from_the_loader(browser: Browser) -> None:
    """A server that does not serve static/ (a deploy without the repo's config): the editor
    mounts the loader component, whose code is the bundle, and works the same."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("STREAMLIT_SERVER_ENABLE_STATIC_SERVING", "false")
        server = stdriver.start_server("tests/e2e/apps/editor_harness.py")
    context = browser.new_context(viewport={"width": 1000, "height": 900})
    try:
        page = context.new_page()
        watch = Watch(context, page)
        page.goto(server.url)
        page.locator(f"{EDITOR} .js-plotly-plot .main-svg").first.wait_for(state="visible", timeout=60_000)
        stdriver.wait_for_run(page)
        assert not [url for url in watch.requests if "/app/static/" in url]
        assert page.locator(".st-key-editor-plotly").count() == 1
        (cx, cy), = to_px(page, [(0.0, -2.0)])
        page.mouse.click(cx, cy)
        assert has(wait_python(page, lambda s: len(s["points"]) == 5)["points"], (0.0, -2.0))
        watch.check()
    finally:
        context.close()
        server.stop()

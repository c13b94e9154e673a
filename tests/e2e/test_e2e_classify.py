"""The Classify page in a browser: points of two classes clicked on the canvas, the live fit, the
link, the grid CSV against the engine, the link in a new browser context, delete and undo.

The canvas is the point editor (dashboard/editor.py) with class buttons, aimed at with Plotly's
own axis functions (stdriver.to_pixels). The page keeps its state in the link under ``c_`` keys;
the tests read the points back from there (dashboard.model.labelled.decode).

One browser page serves the module (the first load of the page and its fits are the slow part);
each test loads the address it needs (unless the page is already there), so none depends on
another's outcome. The grid
and link tests load a link with the same six points the click test clicks (they do not need
clicks to work). BNN_SCREENSHOTS=1 writes docs/classify.png (the page with those six points and
their maps, 1400 px wide).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import stdriver
import torch
from playwright.sync_api import Browser, BrowserContext, Page, expect

import bnn
from dashboard.model import classify_state, labelled
from dashboard.model.classify_maps import maps_of
from dashboard.model.labelled import LabelledPoints

pytestmark = pytest.mark.browser

DOCS = stdriver.REPO / "docs"
LEFT = [(-3.0, -2.0), (-2.5, 1.0), (-1.5, 2.5)]  # class 0, left half of the [-4.5, 4.5]² canvas
RIGHT = [(1.5, -2.5), (2.5, 0.5), (3.0, 2.0)]  # class 1, right half
SIX = LabelledPoints.of(LEFT + RIGHT, [0, 0, 0, 1, 1, 1])
TRAINED_SIX = "Trained 600 epochs on 6 points"  # the page's defaults: 600 epochs
MAP_TITLES = ("Predicted class", "Aleatoric", "Epistemic")
GRID_COLUMNS = ["x0", "x1", "p0", "p1", "label", "entropy", "aleatoric", "epistemic"]


@dataclass
class Shared:
    """The module's browser page and the JavaScript errors it has raised."""

    page: Page
    errors: list[str] = field(default_factory=list)

    def goto(self, url: str) -> Page:
        """Load ``url`` in the page (a new Streamlit session) and wait for its first run."""
        self.errors.clear()
        stdriver.open_app(self.page, url, timeout_ms=120_000)
        return self.page


@pytest.fixture(scope="module")
def shared(browser: Browser) -> Iterator[Shared]:
    context = stdriver.new_context(browser)
    page = context.new_page()
    page.set_default_timeout(30_000)
    out = Shared(page)
    page.on("pageerror", lambda exc: out.errors.append(str(exc)))
    yield out
    context.close()


@dataclass(frozen=True)
class SixPoints:
    """The page opened on a link holding SIX, trained; its address then and its grid CSV."""

    url: str
    grid: pd.DataFrame


@pytest.fixture(scope="module")
def six(shared: Shared, app_url: str) -> SixPoints:
    page = shared.goto(f"{app_url}/Classify?{classify_state.POINTS_KEY}={labelled.encode(SIX)}")
    _wait_trained(page)
    return SixPoints(page.url, _grid_csv(page))


# ---- helpers ------------------------------------------------------------------------------------------
def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def _link_points(url: str) -> LabelledPoints | None:
    """The points the link carries under c_pts (None without the key)."""
    values = _query(url).get(classify_state.POINTS_KEY)
    return labelled.decode(values[-1]) if values else None


def _wait_link_points(page: Page, n: int, timeout_s: float = 30.0) -> LabelledPoints:
    """Poll the page's address until its c_pts holds ``n`` points (the page writes it after its rerun)."""
    deadline = time.monotonic() + timeout_s
    while True:
        points = _link_points(page.url)
        if points is not None and len(points) == n:
            return points
        assert not stdriver.exception_texts(page), stdriver.exception_texts(page)
        if time.monotonic() > deadline:
            raise AssertionError(f"the link holds {None if points is None else len(points)} points, not {n}: "
                                 f"{page.url}")
        time.sleep(0.1)


def _wait_trained(page: Page, text: str = TRAINED_SIX) -> None:
    """The live fit finished (the page reruns once more to draw its maps) and the page is idle."""
    expect(page.get_by_text(text)).to_be_visible(timeout=120_000)
    stdriver.wait_for_run(page, 120_000)


def _map_titles(page: Page) -> list[str]:
    """The subplot titles of the maps figure (Plotly draws them as annotations)."""
    chart = page.locator(".st-key-classify_maps .js-plotly-plot")
    expect(chart).to_be_visible()
    return chart.locator(".annotation-text").all_text_contents()


def _grid_csv(page: Page) -> pd.DataFrame:
    return stdriver.download_csv(page, page.get_by_role("button", name="Grid predictions (CSV)"))


def _editor_points(page: Page) -> tuple[np.ndarray, list[str]]:
    """The points the canvas draws: (N, 2) and each one's class name (its marker text)."""
    raw = page.locator(stdriver.BAND_CHART).first.evaluate(
        """gd => { const t = (gd.data || []).find(t => t.uid === 'points');
                   return t ? [Array.from(t.x), Array.from(t.y), t.text || []] : null; }""")
    if raw is None:
        return np.empty((0, 2)), []
    x, y, text = raw
    return np.stack([np.asarray(x, dtype=float), np.asarray(y, dtype=float)], axis=1).reshape(-1, 2), list(text)


def _wait_editor_points(page: Page, n: int, timeout_s: float = 30.0) -> tuple[np.ndarray, list[str]]:
    """Poll until the canvas draws ``n`` points (it redraws with Python's points just after the rerun
    that sent them has ended) and return them as `_editor_points` does."""
    deadline = time.monotonic() + timeout_s
    while len((drawn := _editor_points(page))[0]) != n:
        if time.monotonic() > deadline:
            raise AssertionError(f"the canvas draws {len(drawn[0])} points, not {n}")
        time.sleep(0.1)
    return drawn


def _click_canvas(page: Page, x: float, y: float, modifier: str | None = None) -> None:
    """Click the canvas at data (x, y) (with ``modifier`` held) and wait until the page has taken
    the edit in, or has failed on it (then the test fails on the exception, not a timeout)."""
    page.locator(stdriver.BAND_CHART).first.scroll_into_view_if_needed()  # a download scrolls the page down
    [(px, py)] = stdriver.to_pixels(page, (x, y))
    size = page.viewport_size
    assert 0 < px < size["width"] and 0 < py < size["height"], (px, py)
    if modifier:
        page.keyboard.down(modifier)
    page.mouse.click(px, py)
    if modifier:
        page.keyboard.up(modifier)
    stdriver.wait_for_ack_or_exception(page)
    assert not stdriver.exception_texts(page), stdriver.exception_texts(page)


def _select_class(page: Page, k: int) -> None:
    editor = page.locator(stdriver.EDITOR)
    editor.locator(f'.pe-class[data-cls="{k}"]').click()
    expect(editor).to_have_attribute("data-add-class", str(k))
    expect(editor.locator(f'.pe-class[data-cls="{k}"]')).to_have_attribute("aria-pressed", "true")


def _engine_table(url: str) -> pd.DataFrame:
    """The grid table the engine computes in this process from the state the link describes, with
    torch on one thread as the app runs it (app.py): more threads split the matrix products'
    sums differently and move the probabilities by up to ~5e-4 after 600 epochs."""
    decoded = classify_state.decode(_query(url))
    assert not decoded.problems, decoded.problems
    state = decoded.state
    threads = torch.get_num_threads()
    bnn.set_threads(1)
    try:
        fitted = bnn.fit(state.points.x, state.points.labels, state.config)
        return maps_of(fitted, state.square).table
    finally:
        torch.set_num_threads(threads)


# ---- the tests ----------------------------------------------------------------------------------------
def test_clicked_points_of_two_classes_train_and_travel_in_the_link(shared: Shared, app_url: str) -> None:
    page = shared.goto(f"{app_url}/Classify")
    stdriver.rerun_after(page, lambda: page.get_by_role("button", name="Clear all points").click())
    assert len(_link_points(page.url)) == 0  # the default preset's points are gone (the link says so)
    expect(page.get_by_text("No points yet")).to_be_visible()
    xr, yr = stdriver.axis_ranges(page)
    for k, clicks in ((0, LEFT), (1, RIGHT)):
        _select_class(page, k)
        for x, y in clicks:
            _click_canvas(page, x, y)
    _wait_trained(page)

    points = _wait_link_points(page, 6)
    tol = 0.01 * np.array([xr[1] - xr[0], yr[1] - yr[0]])  # a click lands within 1 % of the axis ranges
    assert np.all(np.abs(points.x - SIX.x) <= tol), points.x  # in click order, at the clicked places...
    assert points.labels.tolist() == [0, 0, 0, 1, 1, 1]  # ...with the class selected when clicked
    drawn, names = _wait_editor_points(page, 6)
    np.testing.assert_allclose(drawn, points.x, atol=1e-6)  # the canvas shows the link's points
    assert names == [f"class {k}" for k in points.labels]
    titles = _map_titles(page)
    assert [t.split(" (")[0] for t in titles] == list(MAP_TITLES), titles
    assert not stdriver.exception_texts(page)
    assert not shared.errors, shared.errors


def test_the_grid_csv_is_the_engines_table(shared: Shared, six: SixPoints) -> None:
    assert _link_points(six.url) == SIX  # the page keeps the link's points in its address
    page = shared.page
    titles = _map_titles(page)
    assert [t.split(" (")[0] for t in titles] == list(MAP_TITLES), titles
    grid = six.grid
    assert grid.shape[0] == classify_state.GRID**2 == 3_600
    assert list(grid.columns[:len(GRID_COLUMNS)]) == GRID_COLUMNS
    np.testing.assert_allclose(grid["p0"] + grid["p1"], 1.0, rtol=0, atol=1e-9)
    np.testing.assert_allclose(grid["entropy"], grid["aleatoric"] + grid["epistemic"], rtol=0, atol=1e-9)
    axis = np.linspace(-4.5, 4.5, 60)  # the default square; x0 varies fastest
    np.testing.assert_allclose(grid["x0"], np.tile(axis, 60), atol=1e-12)
    np.testing.assert_allclose(grid["x1"], np.repeat(axis, 60), atol=1e-12)
    # two classes apart: each side of the canvas predicted as its points' class
    assert set(grid.loc[grid["x0"] < -2.5, "label"]) == {0} and set(grid.loc[grid["x0"] > 2.5, "label"]) == {1}
    assert grid["epistemic"].max() > 10 * grid["epistemic"].min() >= 0  # a map, not a constant

    # The oracle: the engine run here on the state decoded from the link gives the same table. Same
    # seed, float32 points and one torch thread: equal to the last digit the CSV writes (~1e-16;
    # measured 0 difference), so 1e-9 only allows for the CSV's decimal round trip.
    expected = _engine_table(six.url)
    assert list(grid.columns) == list(expected.columns)
    assert grid["label"].tolist() == expected["label"].tolist()
    for column in expected.columns:
        np.testing.assert_allclose(grid[column], expected[column], rtol=0, atol=1e-9, err_msg=column)

    config = json.loads(stdriver.download_text(page, "classify_config"))  # the Config (JSON) download
    assert config["likelihood"] == "categorical" and config["classes"] == 2 and config["epochs"] == 600
    assert not stdriver.exception_texts(page)
    assert not shared.errors, shared.errors
    if os.environ.get("BNN_SCREENSHOTS") == "1":
        stdriver.full_page_screenshot(page, DOCS / "classify.png")


def test_the_link_in_a_new_browser_shows_the_same_points_and_maps(
        six: SixPoints, new_context: Callable[[], BrowserContext]) -> None:
    other = new_context().new_page()
    errors: list[str] = []
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    stdriver.open_app(other, six.url, timeout_ms=120_000)
    _wait_trained(other)
    assert _link_points(other.url) == SIX  # the address it keeps carries the same points
    drawn, names = _wait_editor_points(other, 6)
    np.testing.assert_allclose(drawn, SIX.x, atol=1e-6)  # the canvas draws them (float32 on the wire)
    assert names == [f"class {k}" for k in SIX.labels]
    pd.testing.assert_frame_equal(_grid_csv(other), six.grid)  # the same maps, number for number
    assert not stdriver.exception_texts(other)
    assert not errors, errors


def test_shift_click_deletes_a_point_and_undo_brings_it_back(shared: Shared, six: SixPoints) -> None:
    page = shared.page
    if page.url != six.url or stdriver.exception_texts(page):  # not still on the grid test's page
        page = shared.goto(six.url)
        _wait_trained(page)
    assert _link_points(page.url) == SIX
    x, y = RIGHT[-1]
    _click_canvas(page, x, y, modifier="Shift")
    left = _wait_link_points(page, 5)
    assert left == LabelledPoints.of(SIX.x[:-1], SIX.labels[:-1])  # exactly that point went
    _wait_editor_points(page, 5)

    stdriver.editor_command(page, "undo")
    stdriver.wait_for_ack_or_exception(page)
    assert not stdriver.exception_texts(page), stdriver.exception_texts(page)
    assert _wait_link_points(page, 6) == SIX  # back, with its class
    _wait_trained(page)
    np.testing.assert_allclose(_wait_editor_points(page, 6)[0], SIX.x, atol=1e-6)
    assert not shared.errors, shared.errors

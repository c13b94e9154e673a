"""Changing the data in the table: live mode trains on each edit; share the result as a link.

(Editing on the chart itself: test_e2e_playground.py.)"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest
import stdriver
from playwright.sync_api import BrowserContext, Page, expect

import bnn
from dashboard.model.points import Points

pytestmark = pytest.mark.browser

X, Y = 0, 1  # the table's columns


def _points_table(page: Page) -> list[list[float]]:
    return [[float(v) for v in row] for row in stdriver.grid_values(page.get_by_test_id("stDataFrame").first)]


def _edit_first_y(page: Page, value: float) -> None:
    grid = page.get_by_test_id("stDataFrame").first
    stdriver.rerun_after(page, lambda: stdriver.edit_cell(grid, 0, Y, str(value)))


def _retrain(page: Page) -> stdriver.Band:
    stdriver.rerun_after(page, lambda: stdriver.click(page, "train"))
    expect(page.get_by_text("Trained 2,000 epochs")).to_be_visible()
    return stdriver.read_band(page)


def test_a_table_edit_in_live_mode_moves_the_band_without_train(app: Page, screenshot) -> None:
    before = stdriver.read_band(app)
    assert _points_table(app)[0] == [-2.0, -3.0]
    _edit_first_y(app, -1.0)  # waits for the rerun: live mode previews, then trains, in it
    assert _points_table(app)[0] == [-2.0, -1.0]
    expect(app.get_by_text("Trained 2,000 epochs")).to_be_visible()  # the fit of the edited points, unasked
    after = stdriver.read_band(app)
    drawn = set(zip(after.points_x.tolist(), after.points_y.tolist()))
    assert (-2.0, -1.0) in drawn and (-2.0, -3.0) not in drawn
    # The oracle: the engine fitted here on the edited points gives the band the page draws
    # (same seed and float32 points; 1e-5 covers float32 summation order, as in test_e2e_band).
    article = Points.article()
    edited = Points.of(article.x, np.r_[-1.0, article.y[1:]])
    expected = bnn.predict(bnn.fit(edited.x, edited.y, bnn.Config()), after.x)
    np.testing.assert_allclose(after.mean, expected["mean"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(after.upper, expected["f_upper"], rtol=1e-5, atol=1e-5)
    # and the move shows on the left, where the point moved (engine: the mean rises by 1.1 at
    # x = -2 and 7.6 at x = -5), much more than on the right (at most 0.3 for x > 0).
    left, right = after.x < -1.5, after.x > 0
    assert np.abs(after.mean - before.mean)[left].max() > 1.0
    assert np.abs(after.mean - before.mean)[left].max() > 3 * np.abs(after.mean - before.mean)[right].max()
    assert not stdriver.exception_texts(app)
    screenshot(app, "edited-point")


def test_scientific_notation_is_read_exactly(app: Page) -> None:
    grid = app.get_by_test_id("stDataFrame").first
    stdriver.rerun_after(app, lambda: stdriver.edit_cell(grid, 0, X, "1e-3"))
    assert stdriver.grid_values(grid)[0] == ["1e-3", "-3"]  # shown as typed
    expect(app.get_by_text("Trained 2,000 epochs")).to_be_visible()  # accepted and trained: no message
    assert not app.get_by_test_id("stAlert").all_inner_texts()
    # Streamlit's number editor once turned 1e-3 into -13; the points CSV holds what was meant
    assert stdriver.download_text(app, "download_points").splitlines()[1] == "0.001,-3"
    band = stdriver.read_band(app)
    assert band.points_x[0] == np.float32(0.001) and -2.0 not in band.points_x.tolist()  # the point the band fits


def test_shared_link_opens_the_same_fit_elsewhere(app: Page, new_context: Callable[[], BrowserContext],
                                                  screenshot) -> None:
    stdriver.set_number(app, "seed", 3)
    _edit_first_y(app, 0.5)
    band = _retrain(app)
    table = stdriver.download_predictions(app)
    # The link a visitor copies from the share box is the address bar's state.
    link = app.get_by_test_id("stCode").filter(has_text="pts=").inner_text().strip()
    query = parse_qs(urlsplit(link).query)
    assert query == parse_qs(urlsplit(app.url).query), (link, app.url)
    assert query.get("seed") == ["3"] and "pts" in query, link

    other = new_context().new_page()  # another visitor: no cookies, a new Streamlit session
    stdriver.open_app(other, link, timeout_ms=120_000)
    expect(other.locator(".st-key-seed input")).to_have_value("3")
    assert _points_table(other)[0] == [-2.0, 0.5]
    other_band = stdriver.read_band(other)
    np.testing.assert_array_equal(other_band.mean, band.mean)
    other_table = stdriver.download_predictions(other)
    pd.testing.assert_frame_equal(other_table, table)  # the same numbers, to the last digit
    assert not stdriver.exception_texts(other)
    screenshot(other, "opened-link")

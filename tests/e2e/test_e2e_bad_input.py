"""Bad input from a visitor: a clear message where they typed it, the last good band stays, and
never a traceback. Four ways in: the points table, an uploaded CSV, a formula, a hand-edited link.
"""

from __future__ import annotations

import numpy as np
import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _alerts(page: Page) -> str:
    return "\n".join(page.get_by_test_id("stAlert").all_inner_texts())


def _same_band(a: stdriver.Band, b: stdriver.Band) -> None:
    np.testing.assert_array_equal(a.mean, b.mean)
    np.testing.assert_array_equal(a.lower, b.lower)
    np.testing.assert_array_equal(a.upper, b.upper)


def test_bad_values_in_the_table(app: Page, screenshot) -> None:
    good = stdriver.read_band(app)
    grid = app.get_by_test_id("stDataFrame").first
    # The cells are text read by the app: what is typed arrives as typed, and each bad cell is named.
    stdriver.rerun_after(app, lambda: stdriver.edit_cell(grid, 0, 0, "abc"))
    expect(app.get_by_text("The last good points are used until the table is fixed")).to_be_visible()
    assert "row 1, x: 'abc' is not a number" in _alerts(app)
    stdriver.rerun_after(app, lambda: stdriver.edit_cell(grid, 1, 1, "1e400"))
    alerts = _alerts(app)
    assert "row 1, x: 'abc' is not a number" in alerts and "row 2, y: '1e400' is too large" in alerts, alerts
    rows = stdriver.grid_values(grid)
    assert rows[0][0] == "abc" and rows[1][1] == "1e400"  # the visitor's edits stay in the table
    _same_band(stdriver.read_band(app), good)
    stdriver.rerun_after(app, lambda: stdriver.click(app, "train"))  # trains the last good points
    _same_band(stdriver.read_band(app), good)
    assert not stdriver.exception_texts(app)
    screenshot(app, "bad-table-values")


def test_bad_csv_upload_is_named_and_ignored(app: Page) -> None:
    good = stdriver.read_band(app)
    rows_before = stdriver.grid_values(app.get_by_test_id("stDataFrame").first)
    upload = app.locator(".st-key-upload input[type=file]")
    bad = {"name": "bad.csv", "mimeType": "text/csv", "buffer": b"x,y\n0.5,1.0\n1.0,abc\n"}
    stdriver.rerun_after(app, lambda: upload.set_input_files(files=[bad]))
    expect(app.get_by_test_id("stAlert").filter(has_text="bad.csv")).to_be_visible()
    assert stdriver.grid_values(app.get_by_test_id("stDataFrame").first) == rows_before
    _same_band(stdriver.read_band(app), good)
    assert not stdriver.exception_texts(app)


def test_bad_formula_gets_a_message(app: Page) -> None:
    good = stdriver.read_band(app)
    app.locator(".st-key-function").click()
    stdriver.rerun_after(app, lambda: app.get_by_role("option", name="a formula of x").click())
    field = app.locator(".st-key-expression input")
    field.fill("x +* 2")
    stdriver.rerun_after(app, lambda: field.press("Enter"))
    expect(app.get_by_test_id("stAlert").filter(has_text="syntax error at column")).to_be_visible()
    _same_band(stdriver.read_band(app), good)
    assert not stdriver.exception_texts(app)


def test_hand_edited_link_falls_back_to_defaults(page: Page, app_url: str, screenshot) -> None:
    stdriver.open_app(page, f"{app_url}/?epochs=abc&seed=-4&act=softsign")
    warning = page.get_by_test_id("stAlert").filter(has_text="could not be used")
    expect(warning).to_be_visible()
    for name in ("epochs", "seed", "act"):
        assert name in warning.inner_text()
    assert "seed must be in [0," in warning.inner_text()  # -4 is a whole number: its range is what is wrong
    band = stdriver.read_band(page)  # the defaults stood in: the article's band is drawn
    assert len(band.points_x) == 6
    expect(page.get_by_text("Trained 2,000 epochs")).to_be_visible()
    assert not stdriver.exception_texts(page)
    screenshot(page, "bad-link")

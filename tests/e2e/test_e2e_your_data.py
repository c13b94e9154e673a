"""The "Your data" page in a browser: upload a CSV, train, read the charts, download the predictions.

Column and file names are the visitor's text: the tests use names that are Markdown links and
images, or spreadsheet formulas, and check what the browser shows and what the download holds.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import stdriver
from playwright.sync_api import Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

pytestmark = pytest.mark.browser
LINK, IMAGE = "[x](https://evil.example)", "![t](http://host/t.png)"


def _csv(n: int = 150, input_name: str = "a", text_name: str = "label") -> bytes:
    rng = np.random.default_rng(0)
    a = rng.uniform(-2, 2, n)
    frame = pd.DataFrame({input_name: a, text_name: [f"r{i}" for i in range(n)],
                          "y": np.sin(2 * a) + 0.2 * rng.normal(size=n)})
    return frame.to_csv(index=False).encode()


@pytest.fixture
def your_data(page: Page, app_url: str) -> Page:
    stdriver.open_app(page, f"{app_url}/Your_data")
    return page


def _upload(page: Page, name: str, data: bytes) -> None:
    field = page.locator(".st-key-yd_upload input[type=file]")
    stdriver.rerun_after(page, lambda: field.set_input_files(files=[{"name": name, "mimeType": "text/csv",
                                                                    "buffer": data}]))


def _as_typed(text: str) -> re.Pattern[str]:
    """``text`` as the page shows it: escape_markdown puts an invisible word joiner (U+2060) after
    the ``:`` of ``://`` (so that it is no autolink), which the match skips."""
    return re.compile("\u2060?".join(map(re.escape, text)))


def _no_link_or_image_from_the_visitor(page: Page) -> None:
    main = page.get_by_test_id("stMain")
    assert main.locator("a[href*='evil.example']").count() == 0
    assert main.locator("img[src*='host']").count() == 0


def test_upload_train_and_download(your_data: Page, screenshot) -> None:
    page = your_data
    _upload(page, "line.csv", _csv(input_name="=a"))
    expect(page.get_by_text("Columns with text: label")).to_be_visible()
    stdriver.set_number(page, "yd_steps", 800)
    stdriver.rerun_after(page, lambda: stdriver.click(page, "yd_train"))
    for key in ("yd_pred_chart", "yd_cal_chart", "yd_band_chart"):
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for(state="visible", timeout=60_000)
    expect(page.get_by_text("line.csv: y from =a")).to_be_visible()
    page.locator(".st-key-yd_pred_chart").scroll_into_view_if_needed()
    screenshot(page, "charts")
    metrics = page.get_by_test_id("stMetric").all_inner_texts()
    assert any("test log-likelihood" in m for m in metrics) and any("95% coverage" in m for m in metrics)
    table = stdriver.download_csv(page, page.locator(".st-key-yd_download button"))
    # the input "=a" is a formula to a spreadsheet: the download names it '=a
    assert len(table) == 30 and {"row", "'=a", "y (actual)", "mean", "lower_95", "upper_95"} <= set(table.columns)
    assert (table["lower_95"] <= table["upper_95"]).all() and (table["mean"] < 0).any()
    assert not stdriver.exception_texts(page)


def test_bad_file_and_bad_columns_get_messages(your_data: Page) -> None:
    page = your_data
    _upload(page, f"{IMAGE}.csv", b"\xff\xfe\x00\x01")
    alert = page.get_by_test_id("stAlert")
    expect(alert.filter(has_text=_as_typed(f"{IMAGE}.csv: the file is not UTF-8"))).to_be_visible()
    _no_link_or_image_from_the_visitor(page)
    _upload(page, "line.csv", _csv(text_name=LINK))
    expect(page.get_by_text(_as_typed(f"Columns with text: {LINK}"))).to_be_visible()
    option = page.get_by_role("option", name=LINK, exact=True)
    for _ in range(3):  # on a loaded machine a click can land while the widget redraws and not open it
        page.locator(".st-key-yd_inputs").click()
        try:
            option.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    stdriver.rerun_after(page, option.click)
    page.keyboard.press("Escape")
    stdriver.rerun_after(page, lambda: stdriver.click(page, "yd_train"))
    expect(alert.filter(has_text=_as_typed(f"column '{LINK}' holds text"))).to_be_visible()
    _no_link_or_image_from_the_visitor(page)
    assert not stdriver.exception_texts(page)


def test_text_target_as_classes(your_data: Page, screenshot) -> None:
    """A label column last: the page takes it as classes, trains, shows the scores and both charts, and
    the download names the classes, a formula among them neutralised."""
    page = your_data
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-2, 2, 120), rng.uniform(-2, 2, 120)
    names = np.array(['=HYPERLINK("x")', "<img src=x>", "cat"])
    kind = names[np.where(a + b > 0.5, 0, np.where(a - b > 0, 1, 2))]
    _upload(page, "animals.csv", pd.DataFrame({"a": a, "b": b, "kind": kind}).to_csv(index=False).encode())
    expect(page.get_by_text('3 classes, in this order: <img src=x>, =HYPERLINK("x"), cat')).to_be_visible()
    stdriver.set_number(page, "yd_steps", 400)
    stdriver.rerun_after(page, lambda: stdriver.click(page, "yd_train"))
    for key in ("yd_reliability_chart", "yd_confusion_chart"):
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for(state="visible", timeout=60_000)
    page.locator(".st-key-yd_reliability_chart").scroll_into_view_if_needed()
    screenshot(page, "classes")
    metrics = page.get_by_test_id("stMetric").all_inner_texts()
    assert [m.splitlines()[0] for m in metrics] == ["accuracy", "NLL", "Brier score", "ECE"]
    assert page.get_by_test_id("stMain").locator("img[src='x']").count() == 0
    table = stdriver.download_csv(page, page.locator(".st-key-yd_download button"))
    assert len(table) == 24 and {"kind (actual)", "p0", "p2", "epistemic"} <= set(table.columns)
    assert set(table["kind (actual)"]) == {"'=HYPERLINK(\"x\")", "<img src=x>", "cat"}
    assert not stdriver.exception_texts(page)

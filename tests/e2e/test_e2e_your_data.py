"""The "Your data" page in a browser: upload a CSV, train, read the charts, download the predictions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def _csv(n: int = 150) -> bytes:
    rng = np.random.default_rng(0)
    a = rng.uniform(-2, 2, n)
    frame = pd.DataFrame({"a": a, "label": [f"r{i}" for i in range(n)], "y": np.sin(2 * a) + 0.2 * rng.normal(size=n)})
    return frame.to_csv(index=False).encode()


@pytest.fixture
def your_data(page: Page, app_url: str) -> Page:
    stdriver.open_app(page, f"{app_url}/Your_data")
    return page


def _upload(page: Page, name: str, data: bytes) -> None:
    field = page.locator(".st-key-yd_upload input[type=file]")
    stdriver.rerun_after(page, lambda: field.set_input_files(files=[{"name": name, "mimeType": "text/csv",
                                                                    "buffer": data}]))


def test_upload_train_and_download(your_data: Page, screenshot) -> None:
    page = your_data
    _upload(page, "line.csv", _csv())
    expect(page.get_by_text("Columns with text: label")).to_be_visible()
    stdriver.set_number(page, "yd_steps", 800)
    stdriver.rerun_after(page, lambda: stdriver.click(page, "yd_train"))
    for key in ("yd_pred_chart", "yd_cal_chart", "yd_band_chart"):
        page.locator(f".st-key-{key} .js-plotly-plot").wait_for(state="visible", timeout=60_000)
    page.locator(".st-key-yd_pred_chart").scroll_into_view_if_needed()
    screenshot(page, "charts")
    metrics = page.get_by_test_id("stMetric").all_inner_texts()
    assert any("test log-likelihood" in m for m in metrics) and any("95% coverage" in m for m in metrics)
    table = stdriver.download_csv(page, page.locator(".st-key-yd_download button"))
    assert len(table) == 30 and {"row", "a", "y (actual)", "mean", "lower_95", "upper_95"} <= set(table.columns)
    assert (table["lower_95"] <= table["upper_95"]).all()
    assert not stdriver.exception_texts(page)


def test_bad_file_and_bad_columns_get_messages(your_data: Page) -> None:
    page = your_data
    _upload(page, "notes.csv", b"\xff\xfe\x00\x01")
    expect(page.get_by_test_id("stAlert").filter(has_text="notes.csv")).to_be_visible()
    _upload(page, "line.csv", _csv())
    multiselect = page.locator(".st-key-yd_inputs")
    multiselect.click()
    stdriver.rerun_after(page, lambda: page.get_by_role("option", name="label").click())
    page.keyboard.press("Escape")
    stdriver.rerun_after(page, lambda: stdriver.click(page, "yd_train"))
    expect(page.get_by_test_id("stAlert").filter(has_text="column 'label' holds text")).to_be_visible()
    assert not stdriver.exception_texts(page)

"""The Compare page in a browser: fit every method on the gap preset, read the bands, stop the sampler."""

from __future__ import annotations

import numpy as np
import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
CHART = ".st-key-cmp_chart .js-plotly-plot"
GP = "GP (RBF), a smooth prior on functions"  # selected by default (full-covariance VI is not: seconds of CPU)


@pytest.fixture
def compare_page(page: Page, app_url: str) -> Page:
    stdriver.open_app(page, f"{app_url}/Compare")
    return page


def _bands(page: Page) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """label -> (x, lower, upper) of each method's band (a bound trace, then its fill)."""
    page.locator(CHART).wait_for(state="visible", timeout=120_000)
    index = page.locator(".js-plotly-plot").evaluate_all(
        "els => els.findIndex(e => e.closest('.st-key-cmp_chart') !== null)")
    traces = stdriver.plot_traces(page, index)
    out = {}
    for i, t in enumerate(traces):
        if t["fill"] == "tonexty" and t["name"].endswith(" band"):
            out[t["name"][: -len(" band")]] = (t["x"], t["y"], traces[i - 1]["y"])
    return out


def test_gap_preset_every_method_bands_and_scores(compare_page: Page, screenshot) -> None:
    page = compare_page
    stdriver.rerun_after(page, lambda: page.get_by_text("Gap preset").click())
    stdriver.rerun_after(page, lambda: stdriver.click(page, "cmp_run"), timeout_ms=300_000)
    bands = _bands(page)
    assert set(bands) == {"Bayes-by-Backprop", "MC dropout", "Deep ensemble", "Laplace (GGN)", GP, "HMC (reference)"}
    x, lower, upper = bands["HMC (reference)"]
    gap = np.abs(x) < 1  # the gap preset's clusters are [-4, -2] and [2, 4]
    _, bbb_lower, bbb_upper = bands["Bayes-by-Backprop"]
    # the reference sampler's band in the gap is far wider than mean-field VI's (Foong et al. 2019)
    assert (upper - lower)[gap].mean() > 5 * (bbb_upper - bbb_lower)[gap].mean()
    expect(page.get_by_text("Gap score: mean epistemic std in gaps")).to_be_visible()
    page.locator(CHART).scroll_into_view_if_needed()
    screenshot(page, "compare")
    stdriver.rerun_after(page, lambda: page.get_by_text("overlaid").click())
    assert len(_bands(page)) == 6
    assert not stdriver.exception_texts(page)


def test_the_sampler_can_be_stopped(compare_page: Page) -> None:
    page = compare_page
    multiselect = page.locator(".st-key-cmp_methods")
    for label in ("Bayes-by-Backprop", "MC dropout", "Deep ensemble", "Laplace (GGN)", GP):
        stdriver.rerun_after(page, lambda label=label: multiselect.get_by_role(
            "button", name=f"Remove {label}").click())
    page.get_by_test_id("stExpander").filter(has_text="HMC (reference)").locator("summary").click()
    stdriver.set_number(page, "cmp_hmc_warmup", 2000)  # long enough to be caught running
    stdriver.click(page, "cmp_run")
    expect(page.get_by_text("HMC (reference): warmup")).to_be_visible(timeout=60_000)
    stdriver.rerun_after(page, lambda: stdriver.click(page, "cmp_stop"))
    expect(page.get_by_text("Stopped. Press Run to fit: HMC (reference).")).to_be_visible()
    assert not page.locator(CHART).count()
    assert not stdriver.exception_texts(page)

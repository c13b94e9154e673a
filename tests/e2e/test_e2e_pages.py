"""Every page of the app opens from the sidebar, after a fit on the main page, without an exception."""

from __future__ import annotations

import re

import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PAGES = sorted(p.stem for p in (stdriver.REPO / "pages").glob("*.py"))
# What each known page must show besides its title (a page not listed here gets the smoke checks).
EXPECTED = {
    "How_it_works": ".katex",  # the formulas were typeset
    "Posterior": ".st-key-weights_chart .js-plotly-plot",  # the main page's fit, weight by weight
    "Your_data": '[data-testid="stFileUploader"]',
    "Compare": ".st-key-cmp_run button",  # ready to run the methods side by side
}


def _label(stem: str) -> str:
    """Streamlit's name for pages/<stem>.py in the navigation: number prefix off, _ as spaces."""
    return re.sub(r"^\d+_", "", stem).replace("_", " ")


@pytest.mark.parametrize("stem", PAGES)
def test_page_opens_without_exception(app: Page, stem: str, screenshot) -> None:
    stdriver.read_band(app)  # the main page has a fit in this session
    link = app.get_by_test_id("stSidebarNavLink").filter(has_text=_label(stem))
    stdriver.rerun_after(app, lambda: link.click())
    expect(app.locator("h1").first).to_be_visible()
    selector = EXPECTED.get(re.sub(r"^\d+_", "", stem))
    if selector:
        expect(app.locator(selector).first).to_be_visible()
    assert not stdriver.exception_texts(app)
    assert app.get_by_text("Something went wrong").count() == 0
    screenshot(app, "page")


def test_every_page_is_in_the_navigation(app: Page) -> None:
    labels = app.get_by_test_id("stSidebarNavLink").all_inner_texts()
    assert len(labels) == len(PAGES) + 1, labels  # the main page and each file in pages/
    for stem in PAGES:
        assert any(_label(stem) in label for label in labels), (stem, labels)

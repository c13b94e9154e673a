"""Every page draws its icons with Streamlit's Material Symbols font and shows no emoji: Debian's
Chromium has no emoji font, and an emoji there is an empty box."""

from __future__ import annotations

import re

import pytest
import stdriver
from playwright.sync_api import Page, expect

from tests.dashboard.emoji_ranges import emoji_in

pytestmark = pytest.mark.browser

PAGES = ["", *(re.sub(r"^\d+_", "", p.stem) for p in sorted((stdriver.REPO / "pages").glob("*.py")))]
FONT = "Material Symbols Rounded"


def shown_text(page: Page) -> str:
    """What a visitor can read: the tab's title, the page's text and that of every frame in it
    (the Copy link button is a component's iframe)."""
    return "\n".join([page.title(), *(frame.locator("body").inner_text() for frame in page.frames)])


@pytest.mark.parametrize("path", PAGES)
def test_a_page_shows_no_emoji_and_its_icons_are_material(page: Page, app_url: str, path: str) -> None:
    stdriver.open_app(page, f"{app_url}/{path}", timeout_ms=120_000)
    if path == "":
        stdriver.read_band(page)  # the main page's fit, with the Pin button under it
        stdriver.live_off(page)
        stdriver.set_number(page, "epochs", 300)  # the band goes stale: an info with an icon says so
        expect(page.get_by_text("changed since this fit")).to_be_visible()
    assert not emoji_in(shown_text(page))
    # the navigation's five icons at least, one per page (waited for: they can render after the run ends)
    icons = page.get_by_test_id("stIconMaterial")
    page.wait_for_function("n => document.querySelectorAll('[data-testid=\"stIconMaterial\"]').length >= n",
                           arg=len(PAGES), timeout=20_000)
    assert set(icons.evaluate_all("els => els.map(e => getComputedStyle(e).fontFamily)")) == {f'"{FONT}"'}
    # and the font is loaded (from the app's own server: Streamlit ships it)
    assert page.evaluate("font => [...document.fonts].some(f => f.family.replaceAll('\"', '') === font "
                         "&& f.status === 'loaded')", FONT)
    assert not stdriver.exception_texts(page)

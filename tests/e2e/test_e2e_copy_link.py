"""Copy link, in a browser: the button puts the page's link, the one shown under it and in the address
bar, on the clipboard, and says so; opened in a new browser, that link shows the same band."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import stdriver
from playwright.sync_api import BrowserContext, expect

pytestmark = pytest.mark.browser


def test_copy_link_puts_the_shown_link_on_the_clipboard(new_context: Callable[[], BrowserContext],
                                                        app_url: str) -> None:
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    page = context.new_page()
    stdriver.open_app(page, app_url, timeout_ms=120_000)
    stdriver.live_off(page)
    stdriver.set_number(page, "seed", 7)  # a setting in the link
    stdriver.rerun_after(page, lambda: stdriver.click(page, "train"))
    band = stdriver.read_band(page)
    shown = page.get_by_test_id("stCode").last.inner_text().strip()
    assert "seed=7" in shown and shown.startswith(app_url)
    button = page.frame_locator("iframe").first.get_by_role("button", name="Copy link")
    button.click()
    expect(page.frame_locator("iframe").first.get_by_text("Copied")).to_be_visible()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert copied == shown
    # the copied link, opened elsewhere, shows the same band
    other = new_context().new_page()
    stdriver.open_app(other, copied, timeout_ms=120_000)
    np.testing.assert_array_equal(stdriver.read_band(other).mean, band.mean)
    assert not stdriver.exception_texts(page)

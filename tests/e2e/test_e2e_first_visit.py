"""The first visitor of a new server who opens a page by its address (a shared /Posterior link, say)
gets the app's navigation and the page, not Streamlit's list of the files in pages/ (which it shows
until a script has called st.navigation: "app", no icons, app.py not run)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import stdriver
from playwright.sync_api import BrowserContext, expect

pytestmark = pytest.mark.browser


def test_the_first_session_opened_on_a_page_gets_the_apps_navigation(
        new_context: Callable[[], BrowserContext]) -> None:
    server = stdriver.start_server("app.py")  # its own: no session has run on it yet
    try:
        page = new_context().new_page()
        stdriver.open_app(page, f"{server.url}/Posterior", timeout_ms=120_000)
        expect(page.get_by_role("heading", name="The posterior, weight by weight")).to_be_visible()
        nav = page.get_by_test_id("stSidebarNav")
        expect(nav.get_by_test_id("stIconMaterial")).to_have_count(6)  # one per page: each has its own icon
        links = nav.get_by_test_id("stSidebarNavLink").all_inner_texts()
        assert [text.splitlines()[-1] for text in links] == ["Dashboard", "How it works", "Posterior", "Your data",
                                                              "Compare", "Classify"], links
        assert not stdriver.exception_texts(page)
    finally:
        server.stop()

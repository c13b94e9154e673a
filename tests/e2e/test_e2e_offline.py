"""A visit asks nothing of any other host: no font, icon or script from a third party (a lecture
hall's browsers would each tell it they were here, and an offline server's pages would wait on it)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
import stdriver
from playwright.sync_api import Request

pytestmark = pytest.mark.browser
ICON = "document.querySelector('link[rel~=icon]')"  # the tab's icon, as the frontend set it


def test_every_request_of_a_visit_goes_to_the_app_itself(new_context, app_url: str) -> None:
    page = new_context().new_page()
    requests: list[str] = []

    def note(request: Request) -> None:
        requests.append(request.url)

    page.on("request", note)
    stdriver.open_app(page, app_url)
    stdriver.read_band(page)
    page.wait_for_function(f"{ICON}?.href?.length > 0")
    icon = page.evaluate(f"{ICON}.href")
    page.wait_for_timeout(500)  # the tab icon's fetch follows the page's run
    app_host = urlsplit(app_url).netloc
    assert urlsplit(icon).netloc in (app_host, ""), icon  # our own file, not fonts.gstatic.com
    elsewhere = [u for u in requests if urlsplit(u).scheme in ("http", "https") and urlsplit(u).netloc != app_host]
    assert requests and elsewhere == [], elsewhere

"""Every page shows the fit of the link's state: a page opened by its URL in a new browser (a reload,
a shared address) shows the main page's fit, and so does the main page reached from there."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import stdriver
from playwright.sync_api import BrowserContext, Page, expect

import bnn
from bnn.evaluation import weights
from dashboard.model.points import Points

pytestmark = pytest.mark.browser


def _metrics(page: Page) -> list[str]:
    return page.get_by_test_id("stMetricValue").all_inner_texts()


def _nav(page: Page, label: str) -> None:
    link = page.get_by_test_id("stSidebarNavLink").filter(has_text=label)
    stdriver.rerun_after(page, lambda: link.click())


def test_a_page_opened_by_its_url_shows_the_main_pages_fit(app: Page, app_url: str,
                                                          new_context: Callable[[], BrowserContext],
                                                          screenshot) -> None:
    app.locator(".st-key-activation").click()
    stdriver.rerun_after(app, lambda: app.get_by_role("option", name="tanh").click())
    stdriver.rerun_after(app, lambda: stdriver.click(app, "train"))
    expect(app.get_by_text("Trained 2,000 epochs")).to_be_visible()
    band = stdriver.read_band(app)
    query = urlsplit(app.url).query
    assert parse_qs(query) == {"act": ["tanh"]}, app.url

    other = new_context().new_page()  # another browser: no cookies, a new Streamlit session
    stdriver.open_app(other, f"{app_url}/Posterior?{query}", timeout_ms=120_000)
    expect(other.get_by_text("1-32-1 tanh net")).to_be_visible()
    # The oracle: the engine's tanh fit of the article's points, its final KL and median σ as the page writes them
    points = Points.article()
    fitted = bnn.fit(points.x, points.y, bnn.Config(activation="tanh"))
    sigma = np.concatenate([g.sigma for g in weights.groups(fitted)])
    shown = _metrics(other)
    assert shown[2:] == [f"{np.median(sigma):.3g}", f"{fitted.history['kl'].iloc[-1]:.4g}"], shown
    _nav(app, "Posterior")  # the same page reached from the main page: the same numbers
    assert _metrics(app) == shown
    screenshot(other, "posterior-by-url")

    _nav(other, "Dashboard")  # from the page opened by URL to the main page: the link's state stays
    assert parse_qs(urlsplit(other.url).query) == {"act": ["tanh"]}, other.url
    expect(other.get_by_text("Trained 2,000 epochs")).to_be_visible()
    np.testing.assert_array_equal(stdriver.read_band(other).mean, band.mean)
    assert not stdriver.exception_texts(other) and not stdriver.exception_texts(app)

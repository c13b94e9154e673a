"""The visitor's text in a real browser: a link, a formula or a file name is shown as typed and never
becomes a link, an image fetched from elsewhere, or formatting; a run too heavy for the server says
one thing; a formula over the length cap is refused aloud; an overflowing true function is named."""

from __future__ import annotations

from urllib.parse import urlencode, urlparse

import numpy as np
import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

HOSTILE = {"epochs": "[CLICK](https://evil.example/x)", "lr": "![t](http://host/track.png)", "__proto__": "1"}
WORD_JOINER = "\u2060"  # invisible; it breaks the autolinks GFM would make of an address in the text


def _seen(text: str) -> str:
    return text.replace(WORD_JOINER, "")


def _markup_from(scope, words: tuple[str, ...]) -> list[str]:
    """Links, images and emphasis inside ``scope`` whose target or text holds any of ``words``."""
    found = scope.locator("a, img, strong, em").evaluate_all(
        "els => els.map(e => e.tagName + ' ' + (e.getAttribute('href') || e.getAttribute('src') || e.textContent))")
    return [f for f in found if any(w in f for w in words)]


def test_a_hostile_link_shows_its_values_as_typed(page: Page, app_url: str, screenshot) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    stdriver.open_app(page, f"{app_url}/?{urlencode(HOSTILE)}", timeout_ms=120_000)
    warning = page.get_by_test_id("stAlert").filter(has_text="could not be used")
    expect(warning).to_be_visible()
    text = _seen(warning.inner_text())
    for shown in ("epochs='[CLICK](https://evil.example/x)'", "lr='![t](http://host/track.png)'", "'__proto__'"):
        assert shown in text, text
    assert warning.locator("li").count() == 3  # the app's own list is still a list
    assert not _markup_from(page.locator("body"), ("evil.example", "track.png", "CLICK", "proto"))
    assert not [u for u in requested if urlparse(u).hostname in ("evil.example", "host")]  # nothing fetched from them
    expect(page.get_by_text("Trained 2,000 epochs")).to_be_visible()  # the defaults stood in
    assert not stdriver.exception_texts(page)
    screenshot(page, "hostile-link")


def _choose_formula(app: Page) -> None:
    app.locator(".st-key-function").click()
    stdriver.rerun_after(app, lambda: app.get_by_role("option", name="a formula of x").click())


def _type_formula(app: Page, text: str) -> None:
    field = app.locator(".st-key-expression input")
    field.fill(text)
    stdriver.rerun_after(app, lambda: field.press("Enter"))


def test_a_formula_is_quoted_as_typed(app: Page) -> None:
    _choose_formula(app)
    _type_formula(app, "x**x**x**x")
    stdriver.rerun_after(app, lambda: stdriver.click(app, "generate"))  # x^x is undefined for x < 0: refused
    alert = app.get_by_test_id("stAlert").filter(has_text="is not a number")
    expect(alert).to_be_visible()
    assert "'x**x**x**x' is not a number" in _seen(alert.inner_text())
    assert not _markup_from(alert, ("x",))
    assert not stdriver.exception_texts(app)


def test_a_formula_over_the_length_cap_gets_a_message_and_the_last_good_one_stays(app: Page) -> None:
    _choose_formula(app)
    _type_formula(app, "2*x + 1")
    grid = np.linspace(-5, 5, 100)
    truth = next(t for t in stdriver.band_traces(app) if t["name"] == "true function")
    np.testing.assert_allclose(truth["y"], 2 * grid + 1)
    long = "x + 0." + "0" * 240 + "1"  # a good formula of 247 characters
    _type_formula(app, long)
    alert = app.get_by_test_id("stAlert").filter(has_text="characters long")
    expect(alert).to_be_visible()
    assert "the formula is 247 characters long; at most 200 are allowed here" in alert.inner_text()
    assert app.locator(".st-key-expression input").input_value() == long  # not cut short by the box
    truth = next(t for t in stdriver.band_traces(app) if t["name"] == "true function")
    np.testing.assert_allclose(truth["y"], 2 * grid + 1)  # the true function keeps its last good formula
    assert not stdriver.exception_texts(app)


def test_a_link_too_heavy_for_the_server_says_one_thing(page: Page, app_url: str) -> None:
    stdriver.open_app(page, f"{app_url}/?hidden=256-256-256&epochs=20000&mc=64", timeout_ms=120_000)
    for _ in range(2):  # on opening the link, and after a press on Train
        alerts = page.get_by_test_id("stAlert").all_inner_texts()  # each begins with its icon
        assert len(alerts) == 1 and "Not trained: this run is about" in alerts[0], alerts
        assert "lower the epochs to at most" in alerts[0] and "on screen" not in alerts[0]
        expect(page.get_by_text("Press Train")).to_have_count(0)
        stdriver.rerun_after(page, lambda: stdriver.click(page, "train"))
    assert not stdriver.exception_texts(page)


def test_an_overflowing_true_function_says_where_it_is_not_drawn(page: Page, app_url: str) -> None:
    stdriver.open_app(page, f"{app_url}/?expr=exp(x)&xmin=-1000&xmax=1000", timeout_ms=120_000)
    note = page.get_by_test_id("stCaptionContainer").filter(has_text="The true function is not drawn")
    expect(note).to_be_visible()
    assert "undefined or infinite for x in [717.2, 1000]" in note.inner_text()
    truth = next(t for t in stdriver.band_traces(page) if t["name"] == "true function")
    assert np.isnan(truth["y"][-1]) and truth["y"][0] == pytest.approx(0.0)

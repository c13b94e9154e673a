"""The preset buttons in a browser: the active preset is the highlighted (primary) one, with a tick,
and the generator's fields show the preset's data."""

from __future__ import annotations

import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

PRESETS = ("article", "gap", "noise")


def primary(page: Page) -> list[str]:
    """The presets whose button is drawn as Streamlit's primary (filled) button."""
    return [name for name in PRESETS
            if page.locator(f".st-key-preset_{name} [data-testid='stBaseButton-primary']").count()]


def generator(page: Page) -> list[str]:
    return [page.locator(f".st-key-{key} input").input_value() for key in ("gen_n", "gen_low", "gen_high", "gen_noise")]


def test_the_highlighted_preset_follows_the_settings(app: Page, screenshot) -> None:
    assert primary(app) == ["article"] and generator(app) == ["6", "-2", "2", "0"]
    expect(app.locator(".st-key-preset_article [data-testid='stIconMaterial']").first).to_have_text("check")
    stdriver.rerun_after(app, lambda: stdriver.click(app, "preset_gap"))
    assert primary(app) == ["gap"] and generator(app) == ["20", "-4", "4", "0.1"]
    expect(app.locator(".st-key-preset_article [data-testid='stIconMaterial']")).to_have_count(0)
    screenshot(app, "gap-preset-active")
    stdriver.set_number(app, "seed", 2)
    assert primary(app) == []
    expect(app.get_by_text("no preset matches them")).to_be_visible()
    assert not stdriver.exception_texts(app)

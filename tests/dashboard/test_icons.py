"""Icons are Streamlit's Material icons, never emoji: a machine without an emoji font (Debian's
Chromium) draws an emoji as an empty box. Checked in the source of every page and section, and in
what the main page sends to the browser (the rendered pages: tests/e2e/test_e2e_icons.py)."""

from __future__ import annotations

from pathlib import Path

from emoji_ranges import emoji_in, is_emoji
from page_markdown import markdown_shown
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "dashboard").rglob("*.py")])
MATERIAL = ":material/"


def test_the_emoji_ranges_tell_emoji_from_the_pages_text_symbols() -> None:
    for emoji in "🎯📌📋🔗⚠✅✏⏳⏹▶\ufe0f":
        assert is_emoji(emoji), emoji
    for symbol in "σμ→±✓−…≈‖²⁴·×—":
        assert not is_emoji(symbol), symbol
    assert emoji_in("📌 Pin, ⚠️ and 📌 again") == ["U+1F4CC PUSHPIN", "U+26A0 WARNING SIGN",
                                                   "U+FE0F VARIATION SELECTOR-16"]


def test_no_emoji_in_the_dashboards_source() -> None:
    assert len(SOURCES) > 20  # the app, its pages and the dashboard package were found
    found = {str(path.relative_to(ROOT)): emoji_in(path.read_text()) for path in SOURCES}
    assert not {path: chars for path, chars in found.items() if chars}


def test_the_main_page_sends_material_icons_and_no_emoji() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.toggle(key="live_mode").set_value(False)
    at.number_input(key="epochs").set_value(300).run()  # the band is now stale: an info with an icon says so
    assert not at.exception and at.info
    icons = [e.proto.icon for kind in ("error", "warning", "info", "success", "button") for e in at.get(kind)]
    icons = [icon for icon in icons if icon]
    assert icons and all(icon.startswith(MATERIAL) for icon in icons), icons
    assert not emoji_in(" ".join(markdown_shown(at)))

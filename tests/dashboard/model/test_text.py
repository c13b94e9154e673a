"""The one escaping helper for user text shown as Markdown, checked with a Markdown parser."""

from __future__ import annotations

import markdown_it  # the CommonMark reference parser (a dev dependency)
import pytest

from dashboard.model.text import clip, escape_markdown

HOSTILE = [
    "[CLICK](https://evil.example/x)",
    "![t](http://host/track.png)",
    "x**x**x**x",
    "__proto__",
    "<img src=x onerror=alert(1)>",
    ":red[alarm] :material/warning: $x^2$",
    "# heading\n- item\n> quote",
    "`code` ~strike~ |a|b|",
    "back\\slash",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_the_text_itself(text: str) -> None:
    html = markdown_it.MarkdownIt("commonmark").render(escape_markdown(text))
    assert "<a" not in html and "<img" not in html and "<em>" not in html and "<strong>" not in html
    assert "<h1>" not in html and "<ul>" not in html and "<code>" not in html
    flat = " ".join(text.splitlines())
    shown = html.removeprefix("<p>").removesuffix("</p>\n")
    unescaped = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert unescaped == flat


def test_plain_words_and_digits_are_unchanged() -> None:
    assert escape_markdown("row 3 holds abc") == "row 3 holds abc"
    assert escape_markdown(1.5) == "1\\.5"


def test_clip_shortens_long_text_only() -> None:
    assert clip("short") == "short"
    assert clip("x" * 50) == "x" * 40 + "…"
    assert clip("abcdef", 3) == "abc…"

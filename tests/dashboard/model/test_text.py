"""The one escaping helper for user text shown as Markdown, checked with a Markdown parser and with
the autolink-literal patterns of GitHub-flavoured Markdown, which Streamlit applies on top."""

from __future__ import annotations

import re

import markdown_it  # the CommonMark reference parser (a dev dependency)
import pytest

from dashboard.model.text import WORD_JOINER, clip, escape_markdown

# GFM's extended autolinks as remark-gfm finds them in text that escapes have already been read
# from (mdast-util-gfm-autolink-literal): a URL or www. address, and an e-mail address
GFM_AUTOLINKS = (re.compile(r"(https?://|www(?=\.))([-.\w]+)([^ \t\r\n]*)", re.IGNORECASE),
                 re.compile(r"([-.\w+]+)@([-\w]+(?:\.[-\w]+)+)"))

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
    "https://evil.example/x",
    "see www.evil.example/p and WWW.EVIL.EXAMPLE",
    "mail a.b+c@evil.example or mailto:x@evil.example",
    "<https://auto.link> http://a.b",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_the_text_itself(text: str) -> None:
    html = markdown_it.MarkdownIt("commonmark").render(escape_markdown(text))
    assert "<a" not in html and "<img" not in html and "<em>" not in html and "<strong>" not in html
    assert "<h1>" not in html and "<ul>" not in html and "<code>" not in html
    flat = " ".join(text.splitlines())
    shown = html.removeprefix("<p>").removesuffix("</p>\n")
    unescaped = shown.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&")
    assert unescaped.replace(WORD_JOINER, "") == flat  # the joiner is invisible: it reads as typed
    assert not any(pattern.search(unescaped) for pattern in GFM_AUTOLINKS)  # and no text becomes a link


def test_the_gfm_patterns_would_link_the_unbroken_text() -> None:
    """The oracle's patterns do find what Streamlit linked before the joiner (seen in a browser)."""
    for text in ("https://evil.example/x", "www.evil.example", "a.b@evil.example", "HTTP://A.B"):
        assert any(pattern.search(text) for pattern in GFM_AUTOLINKS)


def test_plain_words_and_digits_are_unchanged() -> None:
    assert escape_markdown("row 3 holds abc") == "row 3 holds abc"
    assert escape_markdown(1.5) == "1\\.5"


def test_clip_shortens_long_text_only() -> None:
    assert clip("short") == "short"
    assert clip("x" * 50) == "x" * 40 + "…"
    assert clip("abcdef", 3) == "abc…"

"""What a page's Markdown shows: every element body and label of an AppTest run, rendered.

Streamlit sends the Markdown source of a message, caption, heading or widget label to the browser,
which renders it; the tests render the same source with the CommonMark reference parser to check
that a visitor's text shows as typed and never became a link or an image.
"""

from __future__ import annotations

import html

import markdown_it  # the CommonMark reference parser (a dev dependency)
from streamlit.testing.v1 import AppTest

BODIES = ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success")
LABELLED = ("metric", "selectbox", "multiselect", "radio", "number_input", "slider", "button", "file_uploader",
            "download_button", "checkbox", "text_input", "expander")


def markdown_shown(at: AppTest) -> list[str]:
    """The Markdown source of every element body and label on the page, as it reaches the browser."""
    bodies = [e.value for kind in BODIES for e in getattr(at, kind)]
    return bodies + [e.proto.label for kind in LABELLED for e in at.get(kind)]


def rendered(markdown: str) -> str:
    """The text a CommonMark renderer shows for ``markdown``, failing on any link or image in it."""
    out = markdown_it.MarkdownIt("commonmark").render(markdown)
    assert "<a " not in out and "<img " not in out, markdown
    return html.unescape(out)

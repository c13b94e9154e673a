"""What a page's Markdown shows: every element body and label of an AppTest run, rendered.

Streamlit sends the Markdown source of a message, caption, heading or widget label to the browser,
which renders it; the tests render the same source with the CommonMark reference parser to check
that a visitor's text shows as typed and never became a link or an image. Streamlit's renderer
(remark-gfm) also links bare URLs, ``www.`` addresses and e-mail addresses found in the text after
its escapes are read, which CommonMark does not: :func:`rendered` looks for those in the text too.
"""

from __future__ import annotations

import html
import re

import markdown_it  # the CommonMark reference parser (a dev dependency)
from streamlit.testing.v1 import AppTest

BODIES = ("title", "header", "subheader", "markdown", "caption", "error", "warning", "info", "success")
LABELLED = ("metric", "selectbox", "multiselect", "radio", "number_input", "slider", "button", "file_uploader",
            "download_button", "checkbox", "text_input", "expander")
# The starts of GFM's autolink literals ("Autolinks (extension)"): a URL, a www. address, an e-mail address.
AUTOLINK = re.compile(r"https?://|www\.|[\w.+-]@[\w-]+\.", re.IGNORECASE)
WORD_JOINER = "\u2060"  # invisible; escape_markdown puts it where it breaks an autolink literal


def markdown_shown(at: AppTest) -> list[str]:
    """The Markdown source of every element body and label on the page, as it reaches the browser."""
    bodies = [e.value for kind in BODIES for e in getattr(at, kind)]
    return bodies + [e.proto.label for kind in LABELLED for e in at.get(kind)]


def rendered(markdown: str) -> str:
    """The text a visitor reads for ``markdown``, failing on any link or image in it."""
    out = markdown_it.MarkdownIt("commonmark").render(markdown)
    assert "<a " not in out and "<img " not in out, markdown
    text = html.unescape(out)
    assert not AUTOLINK.search(text), markdown
    return text.replace(WORD_JOINER, "")

"""User text on the page: shortened for messages, and escaped before it reaches Markdown.

Streamlit renders the body of ``st.error``, ``st.warning``, ``st.markdown``, captions, headers and
widget labels as Markdown, with extras: links and images, ``$`` for LaTeX, ``:red[...]`` colours,
``:material/...:`` icons. Text a visitor typed (a link value, a table cell, a file's column names,
a formula) therefore goes through :func:`escape_markdown` before it is shown, so that it reads as
typed and can never become a link, an image fetched from elsewhere, or formatting. CommonMark
makes any backslash-escaped ASCII punctuation character a literal one; escaping all of them is
simpler and safer than a list of the characters that happen to be special today.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def escape_markdown(text: object) -> str:
    """``text`` as a literal in Markdown: every ASCII punctuation character backslash-escaped,
    line breaks turned into spaces (a message is one paragraph, never a heading or a list)."""
    flat = " ".join(str(text).splitlines())
    return _PUNCTUATION.sub(r"\\\1", flat)


def clip(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for quoting user input in a message."""
    return text if len(text) <= limit else text[:limit] + "…"

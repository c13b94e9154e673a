"""User text on the page: shortened for messages, and escaped before it reaches Markdown.

Streamlit renders the body of ``st.error``, ``st.warning``, ``st.markdown``, captions, headers and
widget labels as Markdown, with extras: links and images, ``$`` for LaTeX, ``:red[...]`` colours,
``:material/...:`` icons. Text a visitor typed (a link value, a table cell, a file's column names,
a formula) therefore goes through :func:`escape_markdown` before it is shown, so that it reads as
typed and can never become a link, an image fetched from elsewhere, or formatting. CommonMark
makes any backslash-escaped ASCII punctuation character a literal one; escaping all of them is
simpler and safer than a list of the characters that happen to be special today.

One construct survives escapes: GitHub-flavoured Markdown's autolink literals. Streamlit (remark-gfm)
turns ``https://…``, ``www.…`` and ``name@host.tld`` found in the text into live links after
the escapes are read, so ``https://evil.example``, every punctuation escaped, still became a link. An
invisible WORD JOINER (U+2060) after the ``:`` of ``://``, between ``www`` and its ``.`` and
after an ``@`` breaks each pattern (GFM spec, "Autolinks (extension)") and leaves the text
looking as typed; a copy of it carries the joiner, which for a hostile address is as well.
"""

from __future__ import annotations

import re
import string

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
WORD_JOINER = "\u2060"  # invisible, and not a character an autolink pattern continues through
_AUTOLINK_TRIGGERS = re.compile(r"(?<=:)(?=//)|(?i:(?<=www)(?=\.))|(?<=@)")


def escape_markdown(text: object) -> str:
    """``text`` as a literal in Markdown: every ASCII punctuation character backslash-escaped,
    line breaks turned into spaces (a message is one paragraph, never a heading or a list), and
    autolink literals (URLs, ``www.``, e-mail addresses) broken by an invisible word joiner."""
    flat = " ".join(str(text).splitlines())
    return _PUNCTUATION.sub(r"\\\1", _AUTOLINK_TRIGGERS.sub(WORD_JOINER, flat))


def clip(text: str, limit: int = 40) -> str:
    """``text`` cut to ``limit`` characters with an ellipsis, for quoting user input in a message."""
    return text if len(text) <= limit else text[:limit] + "…"

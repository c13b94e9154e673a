"""Every page goes through ``app.py``'s navigation, even the first one a new server serves.

Streamlit discovers ``pages/`` by itself (its first multipage mode) until a script has called
``st.navigation``. The first session after a server starts, opened on a page's address
(``/Posterior``), therefore ran that page's file directly: the sidebar listed the files ("app",
no icons), and ``app.py`` (the link, the session's defaults) did not run. Each page file starts
with :func:`through_app`: run by ``app.py``'s navigation it does nothing; run directly, it runs
``app.py`` instead (whose navigation then runs the page) and stops.
"""

from __future__ import annotations

import runpy
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

APP = Path(__file__).resolve().parents[1] / "app.py"
_LOCAL = threading.local()  # a script run is one thread: app.py and the page it runs share it


@contextmanager
def inside() -> Iterator[None]:
    """``app.py`` runs the chosen page within this."""
    _LOCAL.inside = True
    try:
        yield
    finally:
        _LOCAL.inside = False


def through_app() -> None:
    """At the top of a page file: run ``app.py`` instead, when the server's main script is ``app.py``
    but its navigation is not what is running this page (a page file run as the main script, as
    AppTest runs one, stays as it is)."""
    ctx = get_script_run_ctx()
    main = Path(ctx.main_script_path).resolve() if ctx is not None and ctx.main_script_path else None
    if getattr(_LOCAL, "inside", False) or main != APP or "streamlit.testing.v1" in sys.modules:
        return  # AppTest (tests/dashboard) runs page files itself, through its switch_page
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()

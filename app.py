"""The dashboard (``streamlit run app.py``): a router to the main page and the pages in ``pages/``.

The main page is :func:`dashboard.main_page.render`; every file in ``pages/`` becomes a page, in
name order, titled from its name, with its icon from :mod:`dashboard.icons`. Everything a page
shows comes from ``dashboard/`` and ``bnn/``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

import bnn
from dashboard import icons, main_page, router, session

st.set_page_config(page_title="Bayes-by-Backprop, interactively", page_icon=str(icons.TAB), layout="wide")
bnn.set_threads(1)  # the nets are tiny: one thread per training, and the cores left to other sessions
log = logging.getLogger("bnn.app")


def main() -> None:
    pages = sorted((Path(__file__).parent / "pages").glob("[0-9]*.py"))
    home = st.Page(main_page.render, title="Dashboard", icon=icons.APP, default=True, url_path="dashboard")
    page = st.navigation([home, *(st.Page(p, icon=icons.PAGES.get(p.stem, icons.PAGE)) for p in pages)])
    session.init_session()  # the link is read on whichever page a session starts
    session.keep_link()
    with router.inside():
        page.run()


try:
    main()
except Exception:  # the last line of defence: a message, never a traceback (config.toml hides details too)
    log.exception("dashboard error")
    st.error("Something went wrong on our side; the last good result is kept. Changing a control or "
             "reloading the page usually helps.")

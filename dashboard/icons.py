"""The dashboard's icons: Streamlit's Material Symbols (``:material/name:``), never emoji.

Streamlit ships the Material Symbols font with its own files, so these draw on any machine and
offline; an emoji needs an emoji font, and without one (Debian's Chromium out of the box) it
is an empty box. A message, a button or a page takes its icon from here, so the same meaning
always has the same picture.
"""

from __future__ import annotations

from pathlib import Path

APP = ":material/insights:"  # the main page's icon in the navigation
# The browser tab's icon is a file of ours: for a Material icon there, Streamlit's frontend fetches an
# SVG from fonts.gstatic.com, a request to a third party from every visitor (and a failed one offline).
TAB = Path(__file__).resolve().parent / "assets" / "favicon.png"  # a band around the article's quartic
PAGES = {  # pages/<file>.py -> its icon in the navigation
    "1_How_it_works": ":material/menu_book:",
    "2_Posterior": ":material/bar_chart:",
    "3_Your_data": ":material/upload_file:",
    "4_Compare": ":material/compare_arrows:",
    "5_Classify": ":material/scatter_plot:",
}
PAGE = ":material/article:"  # a page added to pages/ without an icon of its own

ERROR = ":material/error:"  # a value or a run that was refused
WARNING = ":material/warning:"  # something to know about a result
OK = ":material/check_circle:"
LINK = ":material/link:"  # about what a link carries
BUSY = ":material/hourglass_top:"
STOPPED = ":material/stop_circle:"
CHANGED = ":material/edit:"  # the settings changed since the fit on screen
RUN = ":material/play_arrow:"
PIN = ":material/push_pin:"
ACTIVE = ":material/check:"  # the preset whose settings are in use
BACK = ":material/undo:"  # back to the last finished fit
PRIOR = ":material/touch_app:"  # no points yet: the chart shows the prior, click to add one

"""Pin this run: keep a fit's band drawn (grey, dashed mean) and its numbers beside the current fit's.

The pin is the fit on screen when Pin was pressed (a :class:`dashboard.live.Shown`: the fit, its
cache key, its settings and points), kept in ``st.session_state``. It survives reruns,
retraining and visits to other pages of this browser tab, not a new session, and it
is not written into the link. Its band is computed in the current view (cached like
every band), so both bands share the grid, level and x range, and so do the metrics.
"""

from __future__ import annotations

import streamlit as st

from dashboard import icons, live, result
from dashboard.figures.band import BandData
from dashboard.model import pin
from dashboard.model.text import escape_markdown
from dashboard.model.view import View

PINNED = "pinned_fit"
MISSING = "—"  # a metric of a region the plotted range does not reach (NaN): Streamlit would print "None"


def pinned() -> live.Shown | None:
    return st.session_state.get(PINNED)


def pinned_band(view: View) -> BandData | None:
    """The pinned fit's band in ``view`` (cached), or None without a pin."""
    shown = pinned()
    return None if shown is None else result.band_data(shown.fitted, shown.key, view)[0]


def _pin() -> None:
    st.session_state[PINNED] = st.session_state.get(live.SHOWN)


def _unpin() -> None:
    st.session_state.pop(PINNED, None)


def metrics(shown: live.Shown, view: View) -> dict[str, float]:
    data, _ = result.band_data(shown.fitted, shown.key, view)
    return pin.run_metrics(data.table, shown.state.points.x, shown.fitted.history["total"].iloc[-1],
                           shown.fitted.noise_sigma)


def panel(shown: live.Shown, view: View) -> None:
    """Pin / Unpin under the band, and the table "pinned vs current" while a pin is held."""
    held = pinned()
    same = held is not None and held.key == shown.key
    buttons = st.columns([2, 1, 3], vertical_alignment="center")
    buttons[0].button("Pin this run", key="pin", icon=icons.PIN, on_click=_pin, disabled=same, width="stretch",
                      help="This run is pinned." if same else
                      "Keep this band drawn (grey) while you change controls and retrain, with its numbers "
                      "beside the new run's.")
    if held is None:
        return
    buttons[1].button("Unpin", key="unpin", on_click=_unpin, width="stretch")
    buttons[2].caption("The pin lives in this browser tab only: it is not part of the link.")
    table = pin.comparison(metrics(held, view), metrics(shown, view))
    number = st.column_config.NumberColumn
    with st.container(key="pin_table"):
        st.dataframe(table, width="stretch", placeholder=MISSING, column_config={
            "pinned": number(format="%.4g"), "current": number(format="%.4g"),
            "difference": number("current − pinned", format="%+.3g")})
        changes = pin.config_changes(held.state.config, shown.state.config)
        if held.state.points != shown.state.points:
            changes.append("the points")
        # settings a link may have set: escaped like all the visitor's input
        st.caption(escape_markdown(f"Pinned: {pin.describe(held.state.config, len(held.state.points))}. ")
                   + (escape_markdown(f"Changed since: {'; '.join(changes)}.") if changes
                      else "The current run has the same settings."))

"""Drawing a fit: the band and the loss curve, the downloads, the share link.

The band's numbers come from :func:`dashboard.figures.band.band_data` (the engine's predictive
table), cached per (fit, view) in a bounded Streamlit cache so that moving a view
control redraws at once.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import bnn
from dashboard import editing, editor, icons, session
from dashboard.figures import band, loss
from dashboard.model import runner
from dashboard.model.limits import LIMITS, affordable_predict_samples
from dashboard.model.link import AppState, Encoded
from dashboard.model.points import Points
from dashboard.model.text import escape_markdown
from dashboard.model.truth import Drawn, drawable
from dashboard.model.view import View
from dashboard.points import truth_on


@dataclass(frozen=True)
class Overlay:
    """A reference posterior's prediction table on the band's grid, and how its legend names it."""

    table: pd.DataFrame
    label: str


CHART_CONFIG = {"displaylogo": False, "toImageButtonOptions": {"filename": "bnn-band"}}


@st.cache_data(max_entries=64, show_spinner=False)
def _band_data(_fitted: bnn.Fitted, key: runner.Key, view: View, samples: int) -> band.BandData:
    return band.band_data(_fitted, view, samples=samples, grid=LIMITS.grid)


def band_data(fitted: bnn.Fitted, key: runner.Key, view: View) -> tuple[band.BandData, int]:
    """The band of the fit ``key`` names on the view's grid (cached), and how many draws it
    used (fewer than asked for a network too big to afford them)."""
    samples = affordable_predict_samples(fitted.config, view.samples)
    return _band_data(fitted, key, view, samples), samples


def editor_figure(data: band.BandData, view: View, points: Points, truth: Drawn | None, title: str = "",
                  pinned: band.BandData | None = None, reference: Overlay | None = None) -> go.Figure:
    """The band as the point editor shows it: the points frame the y axis, the editor draws them;
    ``reference``: the reference posterior's band over it."""
    fig = band.band_figure(data, view, points=(points.x, points.y), truth=None if truth is None else truth.y,
                           title=title, pinned=pinned, draw_points=False,
                           reference=None if reference is None else reference.table,
                           reference_label=reference.label if reference is not None else "reference (HMC)")
    # The same margins with or without a title (a preview's, a live frame's): the plotting area must not
    # move between runs, or a point being dragged would land elsewhere than under the pointer.
    # The left margin is set, not left to automargin, which measured the tick labels short inside the
    # component's shadow root and clipped their minus signs.
    fig.update_layout(height=460, margin={"t": 40, "l": 60})
    return fig


@st.cache_data(max_entries=16, show_spinner=False)
def prior_band(config: bnn.Config, view: View) -> band.BandData:
    """The prior's band on the view's grid: what the network believes before any point (cached)."""
    samples = affordable_predict_samples(config, view.samples)
    return band.band_data(bnn.prior(config), view, samples=samples, grid=LIMITS.grid)


def preview_band(fitted: bnn.Fitted, view: View) -> band.BandData:
    """A preview's band (never cached: each preview is new)."""
    return band.band_data(fitted, view, samples=affordable_predict_samples(fitted.config, view.samples),
                          grid=LIMITS.grid)


def draws_of(data: band.BandData) -> editor.Draws:
    """The draws the editor's Play button cycles through."""
    return editor.Draws(x=data.table["x"].to_numpy(), ys=data.draws)


def drawn_truth(fn: Callable[[np.ndarray], np.ndarray] | None, data: band.BandData) -> Drawn | None:
    """The true function on the band's grid as drawn (gaps where it cannot be), or None without one."""
    x = data.table["x"].to_numpy()
    values = truth_on(fn, x)
    return None if values is None else drawable(x, values)


def loss_figure(history: pd.DataFrame, log: bool) -> go.Figure:
    fig = loss.loss_figure(history, log=log)
    fig.update_layout(height=260)
    return fig


def show(slot: st.delta_generator.DeltaGenerator, fig: go.Figure, key: str) -> None:
    slot.plotly_chart(fig, key=key, config=CHART_CONFIG)


def draw_fit(fitted: bnn.Fitted, key: runner.Key, state: AppState, fn: Callable[[np.ndarray], np.ndarray] | None,
             band_slot: st.delta_generator.DeltaGenerator | None, loss_slot: st.delta_generator.DeltaGenerator,
             log_scale: bool, pinned: band.BandData | None = None,
             band_note: st.delta_generator.DeltaGenerator | None = None, title: str = "",
             reference: Overlay | None = None) -> None:
    """The band of ``fitted`` in the current view with the current points, its loss curve, the downloads
    (of a finished fit only). ``band_slot``: where a frame puts the band into the point editor, when the
    editor was mounted with another band on this run (a fit that finished during it), else None;
    ``band_note``: where a note on the band goes (under it), if not in the flow of the page; ``title``:
    the band's, if any (a stopped run's label)."""
    data, samples = band_data(fitted, key, state.view)
    if samples < state.view.samples:
        st.caption(f"This network is large: the band uses {samples} posterior draws instead of "
                   f"{state.view.samples}, to keep the page quick.")
    truth = drawn_truth(fn, data)
    if band_slot is not None:
        figure = editor_figure(data, state.view, state.points, truth, title=title, pinned=pinned, reference=reference)
        editing.push(figure, band_slot, frame=0, draws=draws_of(data))
    if truth is not None and truth.note:
        (band_note or st).caption(escape_markdown(truth.note))  # its x range is the visitor's: shown as typed
    show(loss_slot, loss_figure(fitted.history, log_scale), key="loss_chart")
    note = loss.log_scale_note(fitted.history) if log_scale else None
    if note:
        st.caption(note)
    if fitted.stopped_early:  # its config would reproduce the finished run, not this one
        st.caption("Downloads are offered for finished fits.")
        return
    with st.expander("Downloads", expanded=False):
        downloads(fitted, data)


def downloads(fitted: bnn.Fitted, data: band.BandData) -> None:
    """The predictions (the engine's columns), the config, the model file."""
    cols = st.columns(3)
    cols[0].download_button("Predictions (CSV)", data.table.to_csv(index=False).encode(), file_name="predictions.csv",
                            mime="text/csv", key="download_predictions", on_click="ignore", width="stretch")
    cols[1].download_button("Config (JSON)", fitted.config.to_json().encode(), file_name="config.json",
                            mime="application/json", key="download_config", on_click="ignore", width="stretch")
    cols[2].download_button("Fitted model (.pt)", lambda: model_bytes(fitted), file_name="bnn-model.pt",
                            mime="application/octet-stream", key="download_model", on_click="ignore",
                            width="stretch", help="Load it with bnn.load(path) in Python or --model on the CLI.")


def model_bytes(fitted: bnn.Fitted) -> bytes:
    """``bnn.save`` writes to a path; a temporary directory turns that into bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        return bnn.save(fitted, Path(tmp) / "model.pt").read_bytes()


# The Material icons "content_copy" and "check" as inline SVG: the iframe has no Streamlit font
# (and an emoji needs an emoji font, which many machines lack).
COPY_ICON = ("M16 1H4c-1.1 0-2 .9-2 2v14h2V3h12V1zm3 4H8c-1.1 0-2 .9-2 2v14c0 1.1.9 2 2 2h11c1.1 0 2-.9 2-2V7"
             "c0-1.1-.9-2-2-2zm0 16H8V7h11v14z")
CHECK_ICON = "M9 16.17L4.83 12l-1.42 1.41L9 19 21 7l-1.41-1.41z"
COPY_BUTTON = """<button id="copy" style="font: 14px sans-serif; padding: 6px 14px; border-radius: 8px;
 border: 1px solid #d0d0d8; background: white; cursor: pointer; display: inline-flex; align-items: center; gap: 6px;">
<svg width="16" height="16" viewBox="0 0 24 24" aria-hidden="true">
<path id="glyph" fill="currentColor" d="__COPY__"/></svg>
<span id="label">Copy link</span></button>
<script>
const link = __LINK__;
const glyph = document.getElementById("glyph");
const label = document.getElementById("label");
document.getElementById("copy").onclick = async () => {
  try { await navigator.clipboard.writeText(link); glyph.setAttribute("d", "__CHECK__"); label.textContent = "Copied"; }
  catch (e) { label.textContent = "Select the link below and copy it"; }
  setTimeout(() => { glyph.setAttribute("d", "__COPY__"); label.textContent = "Copy link"; }, 2500);
};
</script>""".replace("__COPY__", COPY_ICON).replace("__CHECK__", CHECK_ICON)


def share_box(encoded: Encoded) -> None:
    """The link to this exact view, a Copy button, and a plain note when the points did not fit in it."""
    base = session.page_url()
    link = f"{base}?{encoded.query}" if encoded.params else (base or "(this page's address)")
    st.markdown("**Share this view**: this link (also in the address bar) reproduces the page, points "
                "included, in any browser.")
    # an iframe (st.iframe: raw HTML, srcdoc) may write to the clipboard; the link is JSON-quoted, "</" escaped
    st.iframe(COPY_BUTTON.replace("__LINK__", json.dumps(link).replace("</", "<\\/")), height=44)
    st.code(link, language=None, wrap_lines=True, height=90 if len(link) > 300 else "content")
    if not encoded.points_in_link:
        st.warning(
            f"These {len(st.session_state[session.POINTS]):,} points are too many for a link (links here hold "
            f"up to {LIMITS.link_chars:,} characters, a few hundred points). The link carries the settings "
            "only; send the points as a CSV (Download the points) for the other person to upload.", icon=icons.LINK)

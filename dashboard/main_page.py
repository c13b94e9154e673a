"""The main page: controls, points, training with live loss and band, the band, Pin, the link.

It reads the controls (sidebar) and the point set (right), builds the state, puts it in the
link, trains or fetches the fit (left, streaming), draws the band and offers the downloads.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

import bnn
from bnn.config import Config
from dashboard import editing, icons, live, pin, reference, result, session, sidebar
from dashboard import points as points_panel
from dashboard.figures.band import BandData
from dashboard.model import runner
from dashboard.model.link import AppState
from dashboard.model.live_plan import Situation, plan
from dashboard.model.preview import quick
from dashboard.model.text import escape_markdown
from dashboard.model.view import View


def last_good(name: str, value: object, default: object) -> object:
    """The value if it is good (not None), else the last good one: bad input never blanks the page."""
    if value is not None:
        st.session_state[f"last_good_{name}"] = value
        return value
    return st.session_state.get(f"last_good_{name}", default)


def link_problems() -> None:
    problems = st.session_state.get(session.LINK_PROBLEMS)
    if problems:
        # each problem quotes the link's text: escaped, so the list stays the app's only Markdown
        st.warning("This link had values that could not be used; defaults were put in their place:\n\n"
                   + "\n".join(f"- {escape_markdown(p)}" for p in problems), icon=icons.LINK)
        st.button("Dismiss", key="dismiss_link_problems",
                  on_click=lambda: st.session_state.pop(session.LINK_PROBLEMS, None))


def status_line(status: st.delta_generator.DeltaGenerator, key: runner.Key, refused: str | None,
                stopped: live.Shown | None, shown: live.Shown | None, training: bool, has_points: bool) -> None:
    """The one line over the band: no points, a refusal, a stopped run, what the band shows, or what to do."""
    if not has_points:
        status.info("No points: the chart shows the prior, functions drawn before any data. Click the chart to "
                    "add a point and watch them bend through it.", icon=icons.PRIOR)
    elif refused is not None:  # one message, whether or not an older fit is on screen
        status.error(live.not_trained(refused, on_screen=shown is not None), icon=icons.ERROR)
    elif stopped is not None:
        live.describe_stopped(status, stopped, finished=shown is not None)
    elif shown is not None:
        live.describe(status, shown, key)
    elif not training:  # a run that failed has said why in the notice
        status.info("Press **Train** to fit these points.")


@dataclass(frozen=True)
class Chart:
    """What the point editor shows first on this run: a band and its title."""

    data: BandData
    title: str = ""
    prior: bool = False  # the prior's band (its y axis spans tens of units: live frames rescale it)


def first_chart(state: AppState, fitted: bnn.Fitted | None, key: runner.Key, preview: bnn.Fitted | None,
                stopped: live.Shown | None, shown: live.Shown | None) -> Chart:
    """The band the editor opens this run with: the cached fit's, a preview's, a stopped run's, the
    last finished fit's (of other settings: the line over it says so), the server's nearest cached fit
    of these points (a newcomer's first run, waiting its turn), or the prior's."""
    view = state.view
    if not len(state.points):
        return Chart(result.prior_band(state.config, view), "the prior: no points yet", prior=True)
    if fitted is not None:
        return Chart(result.band_data(fitted, key, view)[0])
    if preview is not None:
        return Chart(result.preview_band(preview, view), "preview: the fit from scratch follows")
    if stopped is not None:
        return Chart(result.band_data(stopped.fitted, stopped.key, view)[0], stopped.label)
    if shown is not None:
        return Chart(result.band_data(shown.fitted, shown.key, view)[0])
    near = runner.CACHE.nearest(key)  # a newcomer whose fit waits in line: the closest one the server has
    if near is not None:
        near_key, near_fit, differ = near
        return Chart(result.band_data(near_fit, near_key, view)[0],
                     f"a cached fit (other {', '.join(differ)}) while yours waits")
    return Chart(result.prior_band(state.config, view), "the prior, before training", prior=True)


def training_panel(state: AppState, fn: object) -> tuple[st.delta_generator.DeltaGenerator, reference.Request]:
    """Train, Stop, Live; the point editor with the band; status, loss, Pin, the reference's line.
    Returns where the reference's progress goes and what was asked of it (for :func:`reference.wait`)."""
    ss = st.session_state
    buttons = st.columns([1, 1, 2, 2], vertical_alignment="center")
    clicked = buttons[0].button("Train", key="train", type="primary", width="stretch")
    stop_slot = buttons[1].empty()
    live_on = buttons[2].toggle("Live", key=session.LIVE, persist_state="session",
                                help="Train again at once whenever a point or a setting changes (a quick preview "
                                     "first). Off: only Train trains.")
    log_scale = buttons[3].toggle("Log-scale loss", key=session.LOG_LOSS, persist_state="session",
                                  help="The first epochs' losses are tens of times the last ones: a linear "
                                       "scale flattens the rest.")
    key = runner.key_of(state)
    has_points = len(state.points) > 0
    fitted = runner.CACHE.get(key) if has_points else None
    refused = None if fitted is not None or not has_points else live.refusal(state)
    if clicked and has_points and refused is None:
        live.REQUESTS.ask(ss, key)
    elif not clicked:
        live.REQUESTS.forget_other(ss, key)
    stopped = live.stopped_fit(key)  # dropped by Train or a change
    shown: live.Shown | None = ss.get(live.SHOWN)
    decision = plan(Situation(
        has_points=has_points, refused=refused is not None, cached=fitted is not None, clicked=clicked,
        stopped=live.REQUESTS.stopped(ss, key), dragging=editing.dragging(), live=live_on,
        pending=live.REQUESTS.pending(ss, key), first=shown is None, can_preview=shown is not None,
        quick=shown is not None and quick(shown.fitted, len(shown.state.points), state.config, len(state.points))))
    if decision.train:
        stop_slot.button("Stop", key="stop", on_click=live.stop, width="stretch")
    # Nothing above the chart changes height between runs: a point being dragged stays under the pointer.
    editor_box, frame_slot, status, notice = st.container(), st.empty(), st.empty(), st.empty()
    reference_box = st.container()
    band_note, pin_slot, loss_slot = st.empty(), st.container(), st.empty()
    pinned = pin.pinned_band(state.view)
    reference_box.toggle("Compare with the reference", key=reference.TOGGLE, persist_state="session",
                         disabled=not has_points,
                         help="Overlay the exact posterior of this model, sampled by HMC (in the background: it "
                              "takes seconds), to see where the band is too narrow.")
    asked = reference.request(state, dragging=editing.dragging())
    ref = reference.overlay(asked, state.view)
    preview = live.preview(shown, state) if decision.preview else None
    chart = first_chart(state, fitted, key, preview, stopped, shown)
    truth = result.drawn_truth(fn, chart.data)
    figure = result.editor_figure(chart.data, state.view, state.points, truth, title=chart.title, pinned=pinned,
                                  reference=ref)
    editing.hold_y_range(figure)
    with editor_box:
        editing.mount(figure, state.points, live_on, result.draws_of(chart.data))
    if decision.train:
        fitted = live.run(state, live.LiveTraining(state, fn, status, notice, frame_slot, loss_slot, log_scale,
                                                   pinned=pinned, reference=ref, on_chart=figure,
                                                   keep_range=not chart.prior))
    stop_slot.button("Stop", key="stop_idle", disabled=True, width="stretch", help="Stops a training run.")
    if not decision.train and fitted is not None:
        ss[live.SHOWN] = live.Shown(key, fitted, state)
    shown = ss.get(live.SHOWN)
    status_line(status, key, refused, stopped, shown, decision.train, has_points)
    on_screen = stopped or shown
    if not has_points or on_screen is None:
        return reference.panel(reference_box, asked, None, state, ref), asked
    fresh = decision.train and fitted is not None  # trained on this run: its band replaces the live frames
    result.draw_fit(on_screen.fitted, on_screen.key, state, fn, frame_slot if fresh else None, loss_slot, log_scale,
                    pinned=pinned, band_note=band_note, title=on_screen.label, reference=ref)
    if stopped is None:  # Pin keeps finished fits
        with pin_slot:
            pin.panel(on_screen, state.view)
    band = result.band_data(on_screen.fitted, on_screen.key, state.view)[0]
    return reference.panel(reference_box, asked, band, state, ref), asked


def render() -> None:
    """The main page: sidebar controls, the points (right), training, band and link (left)."""
    session.init_session()
    config, view, presets_slot = sidebar.render()
    config = last_good("config", config, Config())
    view = last_good("view", view, View())
    st.title("Bayes-by-Backprop, interactively")
    st.caption("A Bayesian neural network learns a distribution over its weights (Blundell et al. 2015). "
               "The band shows what it is unsure about. Change anything on the left or the points on the right.")
    link_problems()
    left, right = st.columns([3, 2], gap="large")
    with right:
        points, toy, expression, fn = points_panel.render()
    state = AppState(config=config, view=view, points=points, toy=toy, expression=expression)
    with presets_slot:
        sidebar.presets(session.active_preset(state))
    encoded = session.write_link(state)
    with left:
        progress, asked = training_panel(state, fn)
        result.share_box(encoded)
    reference.wait(asked, progress)  # last: the page is drawn and usable while the reference samples

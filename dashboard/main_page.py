"""The main page: controls, points, training with live loss and band, the band, Pin, the link.

It reads the controls (sidebar) and the point set (right), builds the state, puts it in the
link, trains or fetches the fit (left, streaming), draws the band and offers the downloads.
"""

from __future__ import annotations

import streamlit as st

from bnn.config import Config
from dashboard import icons, live, pin, result, session, sidebar
from dashboard import points as points_panel
from dashboard.model import runner
from dashboard.model.link import AppState
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
                stopped: live.Shown | None, shown: live.Shown | None, training: bool) -> None:
    """The one line over the band: a refusal, a stopped run, what the band shows, or what to do."""
    if refused is not None:  # one message, whether or not an older fit is on screen
        status.error(live.not_trained(refused, on_screen=shown is not None), icon=icons.ERROR)
    elif stopped is not None:
        live.describe_stopped(status, stopped, finished=shown is not None)
    elif shown is not None:
        live.describe(status, shown, key)
    elif not training:  # a run that failed has said why in the notice
        status.info("Press **Train** to fit these points.")


def training_panel(state: AppState, fn: object) -> None:
    buttons = st.columns([1, 1, 2, 2], vertical_alignment="center")
    clicked = buttons[0].button("Train", key="train", type="primary", width="stretch")
    key = runner.key_of(state)
    fitted = runner.CACHE.get(key)
    refused = None if fitted is not None else live.refusal(state)
    training = refused is None and fitted is None and live.wants_training(key, clicked)
    stopped = live.stopped_fit(key)  # None while training: Train or a resumed run replaces it
    stop_slot = buttons[1].empty()
    if training:
        stop_slot.button("Stop", key="stop", on_click=live.stop, width="stretch")
    buttons[2].toggle("Auto-train", key="auto_train", persist_state="session",
                      help="Train again whenever a setting or a point changes.")
    log_scale = buttons[3].toggle("Log-scale loss", key=session.LOG_LOSS, persist_state="session",
                                  help="The first epochs' losses are tens of times the last ones: a linear "
                                       "scale flattens the rest.")
    status, notice, band_slot, band_note = st.empty(), st.empty(), st.empty(), st.empty()
    pin_slot, loss_slot = st.container(), st.empty()
    pinned = pin.pinned_band(state.view)
    if training:
        fitted = live.run(state, live.LiveTraining(state, fn, status, notice, band_slot, loss_slot, log_scale,
                                                   pinned=pinned))
    stop_slot.button("Stop", key="stop_idle", disabled=True, width="stretch", help="Stops a training run.")
    if not training and fitted is not None:
        st.session_state[live.SHOWN] = live.Shown(key, fitted, state)
    shown: live.Shown | None = st.session_state.get(live.SHOWN)
    status_line(status, key, refused, stopped, shown, training)
    on_screen = stopped or shown
    if on_screen is None:
        return
    result.draw_fit(on_screen.fitted, on_screen.key, state, fn, band_slot, loss_slot, log_scale, pinned=pinned,
                    band_note=band_note, title=on_screen.label)
    if stopped is None:  # Pin keeps finished fits
        with pin_slot:
            pin.panel(on_screen, state.view)


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
        training_panel(state, fn)
        result.share_box(encoded)

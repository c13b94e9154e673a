"""Classify: a 2-D playground for a Bayesian classifier, with its uncertainty maps.

The canvas is the point editor of the main page (:mod:`dashboard.editor`) with classes: click to
add a point of the selected class, drag to move, Shift-click to delete, undo and redo. Every edit
or setting trains again in live mode (as on the main page; off, Train does), with the loss curve
streaming; the maps (:mod:`dashboard.figures.classify`) show the predicted class, the aleatoric
and the epistemic uncertainty, with the decision boundaries of a few posterior draws. The state
(settings, square, points with labels) is in the link under ``c_`` keys
(:mod:`dashboard.model.classify_state`).
"""

from __future__ import annotations

import time

import streamlit as st

import bnn
from bnn.errors import BNNError
from bnn.io import safe_csv
from dashboard import classify_controls as controls
from dashboard import classify_reference, editor, icons, session
from dashboard.figures import classify as figures
from dashboard.figures.loss import loss_figure, update_loss
from dashboard.model import classify_state, runner
from dashboard.model.classify_maps import Maps, maps_of
from dashboard.model.classify_state import ClassifyState
from dashboard.model.edits import History
from dashboard.model.labelled import MAX_POINTS, LabelledPoints
from dashboard.model.labelled import to_csv as points_csv
from dashboard.model.text import escape_markdown

KEY = "classify_editor"
ACK = "classify_editor_ack"
ERROR = "classify_editor_error"
HISTORY = "classify_history"
LIVE = "classify_live"
STOPPED = "classify_stopped"  # the key of a run the visitor stopped (live mode does not restart it)
SHOWN = "classify_shown"  # (key, fitted, state) of the last finished fit on this page
CACHE = runner.FitCache()  # the Classify page's finished fits, shared by the server's sessions
LOSS_EVERY = 0.5  # seconds between loss-curve redraws while training
LOSS_LAYOUT = {"height": 260, "legend": {"orientation": "h", "y": -0.45}}  # the legend under the axis title


def points() -> LabelledPoints:
    return st.session_state[session.CLASSIFY_STATE].points


def set_points(new: LabelledPoints, record: bool = True) -> None:
    ss = st.session_state
    state: ClassifyState = ss[session.CLASSIFY_STATE]
    if record:
        ss[HISTORY] = history().record(state.points, new)
    classes = max(state.classes, new.classes_present)
    ss[session.CLASSIFY_STATE] = state.replace(points=new, config=state.config.replace(classes=classes))
    ss[controls.CLASSES] = classes


def history() -> History:
    return st.session_state.setdefault(HISTORY, History())


def on_points() -> None:
    """The canvas reported its points: check them and make them the page's (one undo step each)."""
    ss = st.session_state
    raw = editor.read_points(KEY)
    ss.pop(ERROR, None)
    seq = editor.report_seq(raw)
    if seq is not None:
        ss[ACK] = max(seq, int(ss.get(ACK, 0)))
    try:
        report = editor.parse_points_report(raw, max_points=MAX_POINTS,
                                            classes=ss[session.CLASSIFY_STATE].classes)
    except BNNError as exc:
        ss[ERROR] = escape_markdown(exc)
        return
    set_points(report.points)


def on_command() -> None:
    command = editor.read_command(KEY)
    current = points()
    h, new = history().back(current) if command == "undo" else history().forward(current)
    if command in ("undo", "redo"):
        st.session_state[HISTORY] = h
        set_points(new, record=False)


def key_of(state: ClassifyState) -> runner.Key:
    return state.config.to_json(), state.points.to_bytes()


@st.cache_data(max_entries=16, show_spinner=False)
def cached_maps(_fitted: bnn.Fitted, key: runner.Key, low: float, high: float) -> Maps:
    return maps_of(_fitted, classify_state.Square(low, high))


def train(state: ClassifyState, loss_slot: st.delta_generator.DeltaGenerator, log: bool) -> bnn.Fitted:
    """The fit of ``state``, cached or trained now with its loss curve streaming into ``loss_slot``."""
    fig, last = None, 0.0

    def progress(p: bnn.Progress) -> None:
        nonlocal fig, last
        now = time.monotonic()
        if now - last < LOSS_EVERY:
            return
        last = now
        if fig is None:
            fig = loss_figure(p.fitted.history, log=log)
            fig.update_layout(**LOSS_LAYOUT)
        else:
            update_loss(fig, p.fitted.history)
        loss_slot.plotly_chart(fig, key=f"classify_loss_live_{p.step}")

    def waiting(wait: runner.Wait) -> None:
        loss_slot.info(wait.message(), icon=icons.BUSY)

    return runner.fit_cached(key_of(state), state.config, state.points.x, state.points.labels, progress, waiting,
                             cache=CACHE)


def stop(key: runner.Key) -> None:
    st.session_state[STOPPED] = key


def render() -> None:
    """The page: presets and settings (sidebar), the canvas and training (top), the maps (below)."""
    session.init_session()
    ss = st.session_state
    state = controls.sidebar(ss[session.CLASSIFY_STATE])
    ss[session.CLASSIFY_STATE] = state
    ss[session.CLASSIFY_LINK] = classify_state.encode(state)
    session.keep_link()
    st.title("Classify: where is the network unsure, and why?")
    st.caption("A Bayesian classifier on two inputs. Pick a class, click the canvas to add points of it; the maps "
               "below split the network's uncertainty into the part more data would remove (epistemic) and "
               "the part it would not (aleatoric).")
    for problem in ss.get(session.CLASSIFY_PROBLEMS, []):
        st.warning(escape_markdown(problem), icon=icons.LINK)
    canvas_col, side = st.columns([3, 2], gap="large")
    key = key_of(state)
    has_points = len(state.points) > 0
    fitted = CACHE.get(key) if has_points else None
    with side:
        buttons = st.columns([1, 1, 1], vertical_alignment="center")
        clicked = buttons[0].button("Train", key="classify_train", type="primary", width="stretch")
        stop_slot = buttons[1].empty()
        live = buttons[2].toggle("Live", key=LIVE, value=True, help="Train again whenever a point or a setting "
                                 "changes. Off: only Train trains.")
        status, loss_slot = st.empty(), st.empty()
        log = st.toggle("Log-scale loss", key="classify_log_loss", value=False)
    refused = None
    if has_points and fitted is None:
        try:
            controls.check_work(state)
        except BNNError as exc:
            refused = escape_markdown(exc)
    want = has_points and fitted is None and refused is None and (
        clicked or (live and ss.get(STOPPED) != key))
    if clicked:
        ss.pop(STOPPED, None)
    shown = ss.get(SHOWN)
    on_screen = (key, fitted, state) if fitted is not None else (shown if shown and has_points else None)
    with canvas_col:
        maps = None if on_screen is None else cached_maps(on_screen[1], on_screen[0], state.square.low,
                                                          state.square.high)
        title = ("" if fitted is not None or on_screen is None
                 else "training…" if want else "the last fit, of other settings or points")
        mount(figures.canvas_figure(maps, state.square, controls.background(), title), state)
    if want:
        stop_slot.button("Stop", key="classify_stop", on_click=stop, args=(key,), width="stretch")
        status.info("Training…", icon=icons.RUN)
        try:
            fitted = train(state, loss_slot, log)
        except BNNError as exc:
            refused = escape_markdown(exc)
        else:
            ss[SHOWN] = (key, fitted, state)
            st.rerun()  # the canvas shows the new maps
    stop_slot.button("Stop", key="classify_stop_idle", disabled=True, width="stretch")
    describe(status, has_points, refused, fitted, live)
    if fitted is not None:
        ss[SHOWN] = (key, fitted, state)
        loss_slot.plotly_chart(loss_figure(fitted.history, log=log).update_layout(**LOSS_LAYOUT), key="classify_loss")
        with side:
            controls.lesson(fitted, state)
    shown = ss.get(SHOWN)
    if shown is not None and has_points:
        maps = cached_maps(shown[1], shown[0], state.square.low, state.square.high)
        below(maps, state, shown[1] is fitted)
    downloads(state, fitted)
    if has_points and shown is not None:
        classify_reference.section(state)
    with st.expander("What the maps mean", expanded=not has_points):
        controls.explanation()


def mount(figure: object, state: ClassifyState) -> None:
    h = history()
    editor.point_editor(figure, state.points, key=KEY, ack=int(st.session_state.get(ACK, 0)),
                        on_points=on_points, on_command=on_command, can_undo=h.can_undo, can_redo=h.can_redo,
                        classes=figures.class_styles(state.classes))
    if st.session_state.get(ERROR):
        st.error(f"That edit was not taken: {st.session_state[ERROR]}", icon=icons.ERROR)


def describe(status: st.delta_generator.DeltaGenerator, has_points: bool, refused: str | None,
             fitted: bnn.Fitted | None, live: bool) -> None:
    if not has_points:
        status.info("No points yet: pick a class above the canvas and click to add points (two classes at least "
                    "make a classifier).", icon=icons.PRIOR)
    elif refused is not None:
        status.error(f"Not trained: {refused}.", icon=icons.ERROR)
    elif fitted is None and st.session_state.get(STOPPED):
        status.info("Training stopped: press **Train** to run it.", icon=icons.STOPPED)
    elif fitted is None:
        status.info("Press **Train** to fit these points." if not live else "Training…")
    else:
        status.success(f"Trained {fitted.config.epochs:,} epochs on {len(points()):,} points.", icon=icons.OK)


def below(maps: Maps, state: ClassifyState, current: bool) -> None:
    """The three maps side by side (four with the total entropy)."""
    entropy = st.toggle("Show the total entropy too", key="classify_entropy",
                        help="Total = aleatoric + epistemic, in nats.")
    if not current:
        st.caption("These maps are of the last finished fit; the settings or points have changed since.")
    st.plotly_chart(figures.maps_figure(maps, state.points, state.square, entropy), key="classify_maps")


def downloads(state: ClassifyState, fitted: bnn.Fitted | None) -> None:
    cols = st.columns(3)
    cols[0].download_button("Points (CSV)", points_csv(state.points), file_name="points.csv", mime="text/csv",
                            key="classify_points_csv", on_click="ignore", width="stretch")
    if fitted is not None:
        maps = cached_maps(fitted, key_of(state), state.square.low, state.square.high)
        cols[1].download_button("Grid predictions (CSV)", safe_csv(maps.table).encode(),
                                file_name="classify-grid.csv", mime="text/csv", key="classify_grid_csv",
                                on_click="ignore", width="stretch")
        cols[2].download_button("Config (JSON)", fitted.config.to_json().encode(), file_name="config.json",
                                mime="application/json", key="classify_config", on_click="ignore", width="stretch")
    if not classify_state.fits_link(state):
        st.caption("These points are too many to travel in the link; download their CSV to share them.")

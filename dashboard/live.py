"""The training panel: when to train, and the loss curve and band streaming while it runs.

What a run does is decided by :func:`dashboard.model.live_plan.plan`: in live mode (on by
default) every change of a setting or a point trains at once, after a preview (the fit on screen
trained on for a moment, :mod:`dashboard.model.preview`); without it, Train does. A run also
starts on the session's first load (so a newcomer sees the article's band without pressing
anything), and again after a rerun interrupted it with the same settings (moving a view control
mid-run). Streamlit stops a run by raising its control exceptions from the next ``st`` call,
which the progress callback makes twice a second, so an edit, a changed control or Stop ends the
run within about half a second (meanwhile the click's rerun has already started, in a new
thread: Streamlit's fast reruns). The band streams into the point editor
(:func:`dashboard.editing.push`), which stays editable throughout. Only finished runs are cached
(see :mod:`dashboard.model.runner`) and only they are what a link reproduces; a run the visitor
stops stays on screen as it got, labelled as such, until a change or Train replaces it, or the
visitor goes back to the last finished fit.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import plotly.graph_objects as go
import streamlit as st

import bnn
from dashboard import editing, icons, result, session
from dashboard.figures.band import BandData, band_data, update_band
from dashboard.figures.loss import update_loss
from dashboard.model import runner
from dashboard.model.limits import check_training_work
from dashboard.model.link import AppState
from dashboard.model.preview import warm_start
from dashboard.model.runs import Running, RunRequests
from dashboard.model.text import escape_markdown

SHOWN = "shown_fit"  # the last finished fit on the main page (a Shown)
RUNNING = "running_fit"  # the run in progress: (AppState, dashboard.model.runs.Running)
STOPPED = "stopped_partial_fit"  # the run the visitor stopped, as far as it got (a Shown with stopped_at)
STOP_WAIT = 5.0  # seconds Stop waits for the stopped run to end (it ends within about half a second)
REQUESTS = RunRequests(pending_key="pending_fit", stopped_key="stopped_fit")
# Live frames cost the server CPU that the fit needs (and the browser, on the same machine,
# a Plotly redraw each): a cheap band at most once a second, the loss twice a second.
LIVE_SAMPLES = 20  # draws behind the live band: its shape, at a fifth of the final band's cost
LOSS_EVERY = 0.5  # seconds between loss-curve redraws
BAND_EVERY = 1.0  # seconds between live-band redraws, at least
# No frames for the first moments of a run: a run that ends by then (the article's, about 0.1 s) goes
# straight to its band, without a live frame's figure and redraw before it (~50 ms of the server's
# CPU, and the browser's Plotly redraw, measured on the article's settings).
FIRST_FRAME_AFTER = 0.3


@dataclass
class Shown:
    """The fit on screen and the state it was trained for."""

    key: runner.Key  # the fit's cache key (a stopped run's: its own, never in the cache)
    fitted: bnn.Fitted
    state: AppState
    stopped_at: int | None = None  # the epoch a stopped run reached; None for a finished fit

    @property
    def label(self) -> str:
        """What the band of a stopped run is titled; empty for a finished fit."""
        return "" if self.stopped_at is None else f"stopped at epoch {self.stopped_at:,} (not cached, not in the link)"


def stop() -> None:
    """Stop button callback: forget the running request so the rerun does not restart it, and keep
    the run as far as it got. The callback runs in the click's new script thread while the stopped
    run trains on until its next ``st`` call (half a second at most): it waits for that run to end."""
    ss = st.session_state
    REQUESTS.stop(ss)
    state, running = ss.pop(RUNNING, (None, None))
    partial = None if running is None else running.partial(wait=STOP_WAIT)
    if partial is not None:
        fitted, epoch, step = partial
        config_json, points = runner.key_of(state)
        # its own key (training is seeded: the same step, the same numbers), which the cache never holds
        ss[STOPPED] = Shown((f"{config_json}#stopped after step {step}", points), fitted, state, epoch)


def stopped_fit(key: runner.Key) -> Shown | None:
    """The run of the settings ``key`` that the visitor stopped, while nothing replaced it (a change
    of settings or points, Train, the way back); dropped otherwise."""
    ss = st.session_state
    ss.pop(RUNNING, None)  # a run that ended without Stop leaves nothing to keep
    partial: Shown | None = ss.get(STOPPED)
    if partial is not None and (runner.key_of(partial.state) != key or not REQUESTS.stopped(ss, key)
                                or runner.CACHE.get(key) is not None):  # a finished fit of it came since
        ss.pop(STOPPED)
        return None
    return partial


def back_to_finished() -> None:
    """Button callback: show the last finished fit instead of the stopped run."""
    st.session_state.pop(STOPPED, None)


def refusal(state: AppState) -> str | None:
    """Why the dashboard's caps refuse to train ``state`` (Markdown-escaped), or None if they allow it.

    Asked before a run starts, so that a run too heavy for the server says so once, with what to
    lower, instead of starting, failing and leaving "press Train" on the page; nothing is pending then."""
    try:
        check_training_work(state.config, len(state.points))
    except bnn.BNNError as exc:
        REQUESTS.done(st.session_state)
        return escape_markdown(exc)
    return None


def not_trained(reason: str, on_screen: bool) -> str:
    """The one message of a run that did not happen; ``reason`` is already escaped."""
    return f"Not trained: {reason}." + (" The band below is the last finished fit, of other settings."
                                        if on_screen else "")


def preview(shown: Shown | None, state: AppState) -> bnn.Fitted | None:
    """The fit on screen trained on for a moment on ``state``'s points (None if it cannot start from it)."""
    if shown is None or shown.key == runner.key_of(state):
        return None
    with runner.spare_slot() as free:
        if not free:  # every slot is training: the fits come first, the preview is skipped
            return None
        try:
            return warm_start(shown.fitted, state.points, state.config)
        except bnn.BNNError:  # points or settings the fit from scratch will refuse with its own message
            return None


@dataclass
class LiveTraining:
    """Progress callbacks that redraw the status, the loss curve and the band, throttled by time.

    Each figure is built once and later frames only put new numbers into it."""

    state: AppState
    fn: object
    status: st.delta_generator.DeltaGenerator
    notice: st.delta_generator.DeltaGenerator
    band_slot: st.delta_generator.DeltaGenerator  # where the frames that update the point editor go
    loss_slot: st.delta_generator.DeltaGenerator
    log: bool
    pinned: BandData | None = None
    reference: result.Overlay | None = None  # the reference posterior's band, kept over the live frames
    on_chart: go.Figure | None = None  # what the editor showed before the run: put back if the run fails
    keep_range: bool = False  # live frames keep on_chart's y axis (a fit's), so a point being moved stays put
    running: Running = field(default_factory=Running)  # what Stop keeps
    _last_loss: float = -math.inf
    _last_band: float = -math.inf
    _band_every: float = BAND_EVERY
    _frames: int = 0
    _started: float = field(default_factory=time.monotonic)
    _band_fig: go.Figure | None = field(default=None, repr=False)
    _loss_fig: go.Figure | None = field(default=None, repr=False)

    def on_wait(self, wait: runner.Wait) -> None:
        self.notice.warning(wait.message(), icon=icons.BUSY)

    def on_progress(self, p: bnn.Progress) -> None:
        self.running.fitted = p.fitted
        now = time.monotonic()
        if now - self._started < FIRST_FRAME_AFTER:
            return
        if now - self._last_loss >= LOSS_EVERY:
            self._last_loss = now
            self._frames += 1
            self.status.progress(p.epoch / p.epochs,
                                 text=f"Training… epoch {p.epoch:,} of {p.epochs:,} · loss {p.total:.4g}")
            if self._loss_fig is None:
                self._loss_fig = result.loss_figure(p.fitted.history, self.log)
            else:
                update_loss(self._loss_fig, p.fitted.history)
            result.show(self.loss_slot, self._loss_fig, key=f"live_loss_{self._frames}")
        if now - self._last_band >= self._band_every:
            self._frames += 1
            self._draw_band(p)
            # a big network's band costs more: redraw it at most a fifth of the time
            self._band_every = max(BAND_EVERY, 5 * (time.monotonic() - now))
            self._last_band = time.monotonic()

    def _draw_band(self, p: bnn.Progress) -> None:
        view = self.state.view
        data = band_data(p.fitted, view, samples=min(view.samples, LIVE_SAMPLES))
        title = f"during training: epoch {p.epoch:,}"
        if self._band_fig is None:
            self._band_fig = result.editor_figure(data, view, self.state.points, result.drawn_truth(self.fn, data),
                                                  title=title, pinned=self.pinned, reference=self.reference)
        else:
            update_band(self._band_fig, data, view, title=title)
        if self.keep_range and self.on_chart is not None:
            self._band_fig.update_yaxes(range=self.on_chart.layout.yaxis.range)
        editing.push(self._band_fig, self.band_slot, self._frames)

    def restore(self) -> None:
        """A failed run's live frames go: the editor shows what it showed before the run."""
        for slot in (self.status, self.loss_slot):
            slot.empty()
        if self.on_chart is not None and self._band_fig is not None:
            self._frames += 1
            editing.push(self.on_chart, self.band_slot, self._frames)


def describe(status: st.delta_generator.DeltaGenerator, shown: Shown, key: runner.Key) -> None:
    """One line over the band: what it shows, and whether it is the fit of the current settings."""
    if shown.key != key and REQUESTS.stopped(st.session_state, key):
        status.info("Training stopped. The band is the last finished fit; press **Train** to run again.",
                    icon=icons.STOPPED)
    elif shown.key != key:
        status.info("The settings or the points changed since this fit: press **Train** to fit them.",
                    icon=icons.CHANGED)
    else:
        f = shown.fitted
        noise = "noise σ(x): see the noise band" if f.is_heteroscedastic else f"noise σ {f.noise_sigma:.3g}"
        status.caption(f"Trained {f.config.epochs:,} epochs in {f.seconds:.1f} s · final loss "
                       f"{f.history['total'].iloc[-1]:.4g} · {noise}")


def describe_stopped(status: st.delta_generator.DeltaGenerator, partial: Shown, finished: bool) -> None:
    """The line over a stopped run's band, and the way back to the last finished fit if there is one."""
    with status.container():
        st.info(f"Training stopped at epoch {partial.stopped_at:,} of {partial.fitted.config.epochs:,} (not "
                "cached, not in the link): the band and the loss curve show the fit as far as it got; press "
                "**Train** to run it again.", icon=icons.STOPPED)
        if finished:
            st.button("Back to the last finished fit", key="back_to_finished", icon=icons.BACK,
                      on_click=back_to_finished)


def current_fit() -> Shown | None:
    """The fit of the link's state (the main page's settings and points), for the other pages.

    The main page's fit if it is that one, else the server's cached fit, else trained now: a page
    shows the same fit whether it is reached from the main page or opened by its URL in a new
    session (a reload), even when the main page still shows an older fit. None (with a message)
    if the caps refuse it."""
    state = session.link_state()
    if not len(state.points):
        st.info("The main page has no points yet, so there is no fit to show: add points there (a click on "
                "its chart adds one).", icon=icons.PRIOR)
        return None
    key = runner.key_of(state)
    shown = st.session_state.get(SHOWN)
    if shown is not None and shown.key == key:
        return shown
    slot = st.empty()
    try:
        with st.spinner("Fitting the main page's settings: this session has no finished fit of them yet…"):
            fitted = runner.train(state, on_wait=lambda wait: slot.warning(wait.message(), icon=icons.BUSY))
    except bnn.BNNError as exc:
        slot.error(f"Could not fit: {escape_markdown(exc)}", icon=icons.ERROR)
        return None
    slot.empty()
    st.session_state[SHOWN] = Shown(key, fitted, state)
    return st.session_state[SHOWN]


def run(state: AppState, live: LiveTraining) -> bnn.Fitted | None:
    """Train ``state`` with live updates; None (and a message in ``live.notice``) if the caps or the
    server refuse it."""
    key = runner.key_of(state)
    REQUESTS.ask(st.session_state, key)
    st.session_state[RUNNING] = (state, live.running)
    try:
        fitted = runner.train(state, live.on_progress, live.on_wait)
        live.running.finished = True
    except bnn.BNNError as exc:
        REQUESTS.done(st.session_state)
        live.restore()
        live.notice.error(not_trained(escape_markdown(exc), SHOWN in st.session_state), icon=icons.ERROR)
        return None
    finally:  # also when Stop or a rerun ends it: a Stop callback may be waiting for this
        live.running.ended.set()
    REQUESTS.done(st.session_state)
    live.notice.empty()
    st.session_state[SHOWN] = Shown(key, fitted, state)
    return fitted

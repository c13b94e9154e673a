"""Stop keeps the partly trained fit on screen, labelled, out of the cache and out of the link, with a
way back to the last finished fit (AppTest; the browser test is tests/e2e/test_e2e_stop.py).

AppTest cannot click Stop in the middle of a run, so the click is played in its two halves: the
run ends at an ``st`` call of its progress report with Streamlit's StopException (``st.stop``),
which is what a click does to it, and then the click's rerun runs the Stop button's callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import streamlit as st
from editor_view import band_title
from streamlit.testing.v1 import AppTest
from test_app import SHOWN, band_traces, main_page

import bnn
from dashboard import live
from dashboard.model import runner
from dashboard.model.limits import LIMITS
from dashboard.model.link import decode

STOP_AT = 600  # the epoch the visitor "clicks" Stop at (the progress callback reports every 10 epochs)
LABEL = f"stopped at epoch {STOP_AT} (not cached, not in the link)"


@pytest.fixture
def stop_mid_run(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Arms every later run to end at epoch STOP_AT as a Stop click ends it."""
    original = live.LiveTraining.on_progress

    def on_progress(self: live.LiveTraining, p: bnn.Progress) -> None:
        original(self, p)
        if p.epoch >= STOP_AT:
            st.stop()

    return lambda: monkeypatch.setattr(live.LiveTraining, "on_progress", on_progress)


def click_stop(at: AppTest) -> None:
    """The rerun of the Stop click (its button is still on the page the stopped run drew)."""
    at.button(key="stop").click().run()
    assert not at.exception


def stopped_run(arm: Callable[[], None]) -> tuple[AppTest, Any]:
    """The article's run finished, then a run of seed 9 stopped at epoch STOP_AT."""
    at = main_page()
    at.toggle(key="live_mode").set_value(False)  # the run of seed 9 starts on Train
    finished = at.session_state[SHOWN]
    at.number_input(key="seed").set_value(9).run()
    arm()
    at.button(key="train").click().run()
    click_stop(at)
    return at, finished


def test_stop_keeps_the_partial_fit_on_screen_out_of_the_cache_and_the_link(
        stop_mid_run: Callable[[], None]) -> None:
    at, finished = stopped_run(stop_mid_run)
    state = decode(at.query_params).state
    assert at.query_params == {"seed": "9"}  # the link holds the settings, as before the run
    assert runner.CACHE.get(runner.key_of(state)) is None  # only finished fits enter the cache
    [info] = at.info
    assert f"Training stopped at epoch {STOP_AT:,} of 2,000 (not cached, not in the link)" in info.value
    assert band_title(at) == LABEL
    # The oracle: the engine run stopped after the same step shows the same band
    partial = bnn.fit(state.points.x, state.points.y, state.config, callback=lambda p: p.epoch >= STOP_AT,
                      callback_every=runner.callback_every(state))
    assert partial.stopped_early and partial.history["epoch"].iloc[-1] == STOP_AT
    expected = bnn.predict(partial, np.linspace(-5, 5, LIMITS.grid), samples=100)
    # (the chart's numbers travel as float32: the engine's, rounded the same way, to the last bit)
    drawn = band_traces(at)["predictive mean"]["y"]
    np.testing.assert_array_equal(drawn, expected["mean"].to_numpy().astype(np.float32))
    assert at.session_state[SHOWN].fitted is finished.fitted  # the last finished fit is kept for the way back

    at.button(key="back_to_finished").click().run()
    assert band_title(at) is None and at.session_state[SHOWN].fitted is finished.fitted
    assert any("The band is the last finished fit" in i.value for i in at.info)
    assert not any(b.key == "back_to_finished" for b in at.button)


def test_a_change_drops_the_partial_fit_a_view_control_does_not(stop_mid_run: Callable[[], None]) -> None:
    at, _ = stopped_run(stop_mid_run)
    at.slider(key="level").set_value(0.8).run()  # a view control: the partial fit is redrawn in it
    assert band_title(at) == LABEL and "80% interval of f" in band_traces(at)
    at.number_input(key="epochs").set_value(400).run()  # other settings: it is not their fit
    assert band_title(at) is None and not any(LABEL in i.value for i in at.info)


def test_a_stop_before_any_finished_fit_shows_the_partial_fit_without_a_way_back(
        stop_mid_run: Callable[[], None]) -> None:
    stop_mid_run()
    at = main_page({"seed": "10"})  # the first load trains these settings, and is stopped
    click_stop(at)
    assert not at.exception and SHOWN not in at.session_state
    assert band_title(at) == LABEL and not any(b.key == "back_to_finished" for b in at.button)
    [info] = at.info
    assert "press **Train** to run it again" in info.value

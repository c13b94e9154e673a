"""dashboard.model.runs.Running: the run a Stop click keeps, read only once its thread has ended.

With Streamlit's fast reruns the Stop click's rerun starts in a new thread at once, while the
stopped run trains on until its next ``st`` call; these tests play both threads."""

from __future__ import annotations

import threading

import torch

import bnn
from bnn import toys
from dashboard.model.runs import Running

CONFIG = bnn.Config(epochs=2000, seed=4)
EVERY = 10  # steps between progress reports, as the dashboard's runner picks for 2,000 epochs


class Interrupt(BaseException):
    """Stands in for Streamlit's StopException (a BaseException too)."""


def train_until_stopped(running: Running, stop_asked: threading.Event, seen: threading.Event) -> None:
    """The trainer's thread: it notices a stop only at every fifth report (the page draws at most twice
    a second), so it trains on for a while after the click, as a real run does."""
    reports = 0

    def callback(p: bnn.Progress) -> None:
        nonlocal reports
        running.fitted = p.fitted
        reports += 1
        if p.epoch >= 300:
            seen.set()
        if reports % 5 == 0 and stop_asked.is_set():
            raise Interrupt

    x, y = toys.article_points()
    try:
        bnn.fit(x, y, CONFIG, callback=callback, callback_every=EVERY)
        running.finished = True
    except Interrupt:
        pass
    finally:
        running.ended.set()


def test_the_partial_fit_is_read_once_the_run_has_ended_and_is_the_engines_fit_at_that_epoch() -> None:
    running, stop_asked, seen = Running(), threading.Event(), threading.Event()
    trainer = threading.Thread(target=train_until_stopped, args=(running, stop_asked, seen))
    trainer.start()
    assert seen.wait(30)
    stop_asked.set()  # the click; the stopper reads the run at once, from its own thread
    partial = running.partial(wait=30)
    trainer.join()
    assert partial is not None
    fitted, epoch, step = partial
    assert epoch == step and epoch % (5 * EVERY) == 0 and 300 <= epoch < CONFIG.epochs
    assert fitted.stopped_early and fitted.history["epoch"].iloc[-1] == epoch
    # The oracle: the engine stopped after the same epoch has the same weights, to the bit
    x, y = toys.article_points()
    direct = bnn.fit(x, y, CONFIG, callback=lambda p: p.epoch >= epoch, callback_every=EVERY)
    for name in ("mu", "rho"):
        assert torch.equal(getattr(fitted.model.posterior, name), getattr(direct.model.posterior, name))
    assert running.fitted is not fitted and not running.fitted.stopped_early  # a copy is marked, not the run


def test_nothing_partial_is_kept_of_a_finished_run_a_run_not_started_or_one_still_running() -> None:
    x, y = toys.article_points()
    finished = Running()
    finished.fitted = bnn.fit(x, y, bnn.Config(epochs=20))
    finished.finished = True
    finished.ended.set()
    assert finished.partial(wait=0) is None  # it is cached: the finished fit is shown
    waiting = Running()  # stopped while it waited for a training slot: no model yet
    waiting.ended.set()
    assert waiting.partial(wait=0) is None
    still = Running()
    still.fitted = finished.fitted
    assert still.partial(wait=0.05) is None  # its model may still change: not read

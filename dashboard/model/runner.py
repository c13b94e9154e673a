"""Training for a shared server: a bounded cache of finished fits and a queue that bounds concurrent runs.

Plain Python (no Streamlit), one instance per server process, shared by every
session. Trainings beyond ``MAX_CONCURRENT`` wait their turn in :mod:`dashboard.model.training_queue`,
which tells each waiting page its place and an estimate. A fit enters the cache only when
``bnn.fit`` returns normally, so a run interrupted by a rerun (Streamlit raises its control
exceptions from inside the progress callback) or stopped early never does. The app sets torch to one thread
(``app.py``): the nets are tiny, and ``MAX_CONCURRENT`` runs then use at most that many cores.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

import bnn
from dashboard.model.limits import LIMITS, check_training_work, training_work
from dashboard.model.link import AppState
from dashboard.model.training_queue import Ticket, TrainingQueue, Wait, from_environment

MAX_CONCURRENT = 2  # trainings at once in this process (the demo server has 2 cores)
MAX_WAIT_SECONDS = 120.0  # then give up waiting for a turn, with a message
CACHE_SIZE = 32  # finished fits kept (a 1-32-1 fit is ~10 kB; the largest allowed ~2 MB)

Key = tuple[str, bytes]


class Busy(bnn.BNNError):
    """A training's turn did not come within ``MAX_WAIT_SECONDS``."""


class FitCache:
    """A thread-safe LRU of finished fits keyed by (config JSON, point bytes)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Key, bnn.Fitted] = OrderedDict()
        self._lock = threading.Lock()
        self._training: dict[Key, threading.Event] = {}  # fits being trained now, set when their run ends

    def claim(self, key: Key) -> threading.Event | None:
        """None if the caller is now the one training ``key`` (it must :meth:`release` it), else the
        event set when the session training it now ends its run: a lecture hall opening one link on a
        fresh server trains its fit once, not once per visitor."""
        with self._lock:
            if key in self._training:
                return self._training[key]
            self._training[key] = threading.Event()
            return None

    def release(self, key: Key) -> None:
        """The run of ``key`` ended (finished, stopped or failed): whoever waits for it looks again."""
        with self._lock:
            event = self._training.pop(key, None)
        if event is not None:
            event.set()

    def get(self, key: Key) -> bnn.Fitted | None:
        with self._lock:
            fitted = self._items.get(key)
            if fitted is not None:
                self._items.move_to_end(key)
            return fitted

    def put(self, key: Key, fitted: bnn.Fitted) -> None:
        with self._lock:
            self._items[key] = fitted
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def nearest(self, key: Key) -> tuple[Key, bnn.Fitted, list[str]] | None:
        """The cached fit of the same points whose config differs from ``key``'s in the fewest fields (the
        most recent of equals), with those fields' names: what a visitor waiting for ``key`` is shown
        meanwhile. None if no fit of these points is cached (another point set's band would mislead)."""
        wanted = json.loads(key[0])
        best: tuple[int, Key, bnn.Fitted, list[str]] | None = None
        with self._lock:
            items = list(self._items.items())
        for other, fitted in reversed(items):  # most recent first: it wins ties
            if other[1] != key[1] or other == key:
                continue
            config = json.loads(other[0])
            differ = sorted(name for name in wanted.keys() | config.keys() if wanted.get(name) != config.get(name))
            if best is None or len(differ) < best[0]:
                best = (len(differ), other, fitted, differ)
        return None if best is None else best[1:]

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = FitCache()
QUEUE = from_environment(MAX_CONCURRENT)


def key_of(state: AppState) -> Key:
    """What decides a fit: the config and the points (not the view)."""
    return state.config.to_json(), state.points.to_bytes()


def method_key(name: str, settings: dict[str, Any], state: AppState) -> Key:
    """What decides a fit of another inference method: its name and settings, the config and the points."""
    return json.dumps([name, settings, state.config.to_dict()], sort_keys=True), state.points.to_bytes()


@contextmanager
def training_slot(on_wait: Callable[[Wait], None], queue: TrainingQueue | None = None, work: float | None = None,
                  kind: str = "fit", max_wait: float = MAX_WAIT_SECONDS, poll: float = 0.5) -> Iterator[Ticket]:
    """Hold one of the server's training slots, waiting in line for it: ``on_wait(Wait)`` runs every
    ``poll`` s meanwhile, with the place and estimate (the page shows them, and may be interrupted
    there: the ticket then leaves the line). ``work`` (multiply-adds) sharpens everyone's estimate, and
    so does the share of it done, which the holder may write into the ticket it is given."""
    queue = queue or QUEUE
    ticket = queue.enter(kind, work)
    try:
        while not queue.admit(ticket, timeout=poll):
            wait = queue.wait_of(ticket)
            if wait.waited > max_wait:
                raise Busy(f"the server stayed busy for {max_wait:.0f} s; press Train to try again")
            on_wait(wait)
    except BaseException:
        queue.leave(ticket)
        raise
    try:
        yield ticket
    finally:
        queue.leave(ticket)


@contextmanager
def spare_slot(queue: TrainingQueue | None = None) -> Iterator[bool]:
    """A training slot if one is free now and nobody waits (True), without waiting (False): for work
    worth doing only at once, such as a preview, which must never hold up a visitor's real fit."""
    queue = queue or QUEUE
    ticket = queue.try_now()
    try:
        yield ticket is not None
    finally:
        if ticket is not None:
            queue.leave(ticket)


def callback_every(state: AppState, target_rows: int = 200) -> int:
    """Steps between progress reports: about ``target_rows`` rows of loss history per run.

    Each report costs the callback's Python (the live view decides itself how often to
    redraw); 200 points still draw a smooth loss curve."""
    return report_every(state.config, len(state.points), target_rows)


def report_every(config: bnn.Config, n_points: int, target_rows: int = 200) -> int:
    """:func:`callback_every` for a config and a point count."""
    return max(1, config.total_steps(n_points) // target_rows)


def train(state: AppState, on_progress: Callable[[bnn.Progress], None] | None = None,
          on_wait: Callable[[Wait], None] = lambda wait: None, cache: FitCache = CACHE) -> bnn.Fitted:
    """The fit of ``state`` from the cache, or trained now (checked against the caps first)."""
    return fit_cached(key_of(state), state.config, state.points.x, state.points.y, on_progress, on_wait, cache)


def fit_cached(key: Key, config: bnn.Config, x: np.ndarray, y: np.ndarray,
               on_progress: Callable[[bnn.Progress], None] | None = None,
               on_wait: Callable[[Wait], None] = lambda wait: None, cache: FitCache = CACHE) -> bnn.Fitted:
    """The fit under ``key`` from ``cache``, or ``bnn.fit(x, y, config)`` now, checked against the caps
    first and in a training slot; a run that finishes is cached (the main page and the Classify page).
    Sessions asking for a fit another session is training wait for that run instead of training it
    again (``Wait.sharing``)."""
    fitted = cache.get(key)
    if fitted is not None:
        return fitted
    input_dim = 1 if x.ndim == 1 else x.shape[1]
    check_training_work(config, len(y), input_dim=input_dim)  # a run that can never fit is refused before the line
    # another session training this very fit: wait for it, then look again (cached, or that run was
    # stopped or failed, and the next one to look trains it)
    while (fitted := cache.get(key)) is None and (running := cache.claim(key)) is not None:
        wait_for_other(running, on_wait)
    if fitted is not None:
        return fitted
    try:
        if (fitted := cache.get(key)) is not None:  # put there between our look and our claim
            return fitted
        steps = config.total_steps(len(y))
        with training_slot(on_wait, work=training_work(config, len(y), LIMITS, input_dim)) as ticket:
            def progress(p: bnn.Progress) -> bool | None:
                ticket.done = p.step / steps  # the queue's estimates follow this run's own pace
                return None if on_progress is None else on_progress(p)

            fitted = bnn.fit(x, y, config, callback=progress, callback_every=report_every(config, len(y)))
        if not fitted.stopped_early:
            cache.put(key, fitted)
    finally:
        cache.release(key)
    return fitted


def wait_for_other(running: threading.Event, on_wait: Callable[[Wait], None], poll: float = 0.5,
                   max_wait: float = MAX_WAIT_SECONDS) -> None:
    """Wait until another session's run of the same fit ends, telling the page every ``poll`` s."""
    start = time.monotonic()
    while not running.wait(poll):
        waited = time.monotonic() - start
        if waited > max_wait:
            raise Busy(f"the server stayed busy for {max_wait:.0f} s; press Train to try again")
        on_wait(Wait(0, 0.0, waited, QUEUE.counts()[0], sharing=True))

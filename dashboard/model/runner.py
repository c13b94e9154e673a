"""Training for a shared server: a bounded cache of finished fits and a bound on concurrent runs.

Plain Python (no Streamlit), one instance per server process, shared by every
session. A fit enters the cache only when ``bnn.fit`` returns normally, so a run
interrupted by a rerun (Streamlit raises its control exceptions from inside the
progress callback) or stopped early never does. The app sets torch to one thread
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
from dashboard.model.limits import check_training_work
from dashboard.model.link import AppState

MAX_CONCURRENT = 2  # trainings at once in this process (the demo server has 2 cores)
MAX_WAIT_SECONDS = 120.0  # then give up waiting for a free slot, with a message
CACHE_SIZE = 32  # finished fits kept (a 1-32-1 fit is ~10 kB; the largest allowed ~2 MB)

Key = tuple[str, bytes]


class Busy(bnn.BNNError):
    """Every training slot stayed taken for ``MAX_WAIT_SECONDS``."""


class FitCache:
    """A thread-safe LRU of finished fits keyed by (config JSON, point bytes)."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[Key, bnn.Fitted] = OrderedDict()
        self._lock = threading.Lock()

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

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


CACHE = FitCache()
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT)


def key_of(state: AppState) -> Key:
    """What decides a fit: the config and the points (not the view)."""
    return state.config.to_json(), state.points.to_bytes()


def method_key(name: str, settings: dict[str, Any], state: AppState) -> Key:
    """What decides a fit of another inference method: its name and settings, the config and the points."""
    return json.dumps([name, settings, state.config.to_dict()], sort_keys=True), state.points.to_bytes()


@contextmanager
def training_slot(on_wait: Callable[[float], None], slots: threading.BoundedSemaphore = _SLOTS,
                  max_wait: float = MAX_WAIT_SECONDS, poll: float = 0.5) -> Iterator[None]:
    """Hold one of the server's training slots; ``on_wait(seconds waited)`` runs while all
    are taken (the page says "busy, retrying" and may be interrupted there)."""
    start = time.monotonic()
    while not slots.acquire(timeout=poll):
        waited = time.monotonic() - start
        if waited > max_wait:
            raise Busy(f"the server stayed busy for {max_wait:.0f} s; press Train to try again")
        on_wait(waited)
    try:
        yield
    finally:
        slots.release()


@contextmanager
def spare_slot(slots: threading.BoundedSemaphore = _SLOTS) -> Iterator[bool]:
    """A training slot if one is free now (True), without waiting (False): for work that is worth
    doing only at once, such as a preview, which must never hold up a visitor's real fit."""
    got = slots.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            slots.release()


def callback_every(state: AppState, target_rows: int = 200) -> int:
    """Steps between progress reports: about ``target_rows`` rows of loss history per run.

    Each report costs the callback's Python (the live view decides itself how often to
    redraw); 200 points still draw a smooth loss curve."""
    return report_every(state.config, len(state.points), target_rows)


def report_every(config: bnn.Config, n_points: int, target_rows: int = 200) -> int:
    """:func:`callback_every` for a config and a point count."""
    return max(1, config.total_steps(n_points) // target_rows)


def train(state: AppState, on_progress: Callable[[bnn.Progress], None] | None = None,
          on_wait: Callable[[float], None] = lambda waited: None, cache: FitCache = CACHE) -> bnn.Fitted:
    """The fit of ``state`` from the cache, or trained now (checked against the caps first)."""
    return fit_cached(key_of(state), state.config, state.points.x, state.points.y, on_progress, on_wait, cache)


def fit_cached(key: Key, config: bnn.Config, x: np.ndarray, y: np.ndarray,
               on_progress: Callable[[bnn.Progress], None] | None = None,
               on_wait: Callable[[float], None] = lambda waited: None, cache: FitCache = CACHE) -> bnn.Fitted:
    """The fit under ``key`` from ``cache``, or ``bnn.fit(x, y, config)`` now, checked against the caps
    first and in a training slot; a run that finishes is cached (the main page and the Classify page)."""
    fitted = cache.get(key)
    if fitted is not None:
        return fitted
    input_dim = 1 if x.ndim == 1 else x.shape[1]
    check_training_work(config, len(y), input_dim=input_dim)
    with training_slot(on_wait):
        fitted = bnn.fit(x, y, config, callback=on_progress, callback_every=report_every(config, len(y)))
    if not fitted.stopped_early:
        cache.put(key, fitted)
    return fitted

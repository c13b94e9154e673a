"""Reference fits (the HMC sampler of :mod:`bnn.methods.hmc`) computed in background threads.

The main page's "Compare with the reference" asks for the reference of its points and model;
sampling takes seconds to tens of seconds, so it runs in a thread of its own while the page
stays usable, and every session that asks for the same (points, model) shares the one job.
A job holds one of the server's training slots (:func:`runner.training_slot`) while it samples,
so references and fits together never use more than the server's cores. A job nobody has
asked about for ``ABANDONED_AFTER`` seconds (its visitor turned the toggle off, edited the
points, or left) stops at its next progress report and is forgotten; finished ones are kept in
a bounded LRU. Plain Python (no Streamlit).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import bnn
from bnn.methods import MethodCallback, MethodProgress
from bnn.methods.base import FittedMethod
from dashboard.model import runner

log = logging.getLogger("bnn.app")
ABANDONED_AFTER = 15.0  # seconds without a request: the job stops
KEPT = 16  # finished references kept

Fit = Callable[[MethodCallback], FittedMethod]


@dataclass(eq=False)
class Job:
    """One reference being computed, or computed."""

    key: runner.Key
    touched: float = field(default_factory=time.monotonic)
    progress: MethodProgress | None = None
    result: FittedMethod | None = None
    error: str | None = None  # why it failed, for people
    done: threading.Event = field(default_factory=threading.Event)

    def fraction(self) -> float:
        """How far it got, 0 to 1 (warm-up and sampling together)."""
        p = self.progress
        if p is None or p.steps <= 0 or p.phase not in ("warmup", "sampling"):
            return 0.0
        if p.phase == "warmup":
            return 0.5 * p.step / p.steps
        return min(1.0, 0.5 + 0.5 * p.step / p.steps)


class _Abandoned(bnn.BNNError):
    """A queued job that nobody asks about any more."""


class Jobs:
    """The server's reference jobs by key: started on request, shared, stopped when abandoned."""

    def __init__(self, kept: int = KEPT, abandoned_after: float = ABANDONED_AFTER) -> None:
        self._jobs: OrderedDict[runner.Key, Job] = OrderedDict()
        self._lock = threading.Lock()
        self.kept = kept
        self.abandoned_after = abandoned_after

    def request(self, key: runner.Key, fit: Fit) -> Job:
        """The job of ``key``, started now with ``fit(callback)`` if there is none (or it failed)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not (job.done.is_set() and job.result is None):
                job.touched = time.monotonic()
                self._jobs.move_to_end(key)
                return job
            job = self._jobs[key] = Job(key)
            self._trim()
        threading.Thread(target=self._run, args=(job, fit), name="bnn-reference", daemon=True).start()
        return job

    def release(self, key: runner.Key) -> None:
        """The asker has moved on (other points, or the toggle off): a job still running stops at
        its next progress report (another session that wants it starts it again)."""
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and not job.done.is_set():
                job.touched = -math.inf

    def get(self, key: runner.Key) -> Job | None:
        with self._lock:
            return self._jobs.get(key)

    def _trim(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.done.is_set()]
        while len(finished) > self.kept:
            self._jobs.pop(finished.pop(0))

    def _run(self, job: Job, fit: Fit) -> None:
        def abandoned() -> bool:
            return time.monotonic() - job.touched > self.abandoned_after

        def callback(progress: MethodProgress) -> bool:
            job.progress = progress
            return abandoned()

        def on_wait(wait: runner.Wait) -> None:
            job.progress = MethodProgress("hmc", "queued", 0, 0, float("nan"))
            if abandoned():
                raise _Abandoned("stopped: nobody was waiting for it")

        try:
            with runner.training_slot(on_wait=on_wait, kind="reference"):
                result = fit(callback)
            if result.stopped_early:  # abandoned: nobody wants it; a new request starts afresh
                job.error = "stopped: nobody was waiting for it"
            else:
                job.result = result
        except bnn.BNNError as exc:
            job.error = str(exc)
        except Exception:  # a thread's exception would vanish: the page says it failed instead
            log.exception("reference sampler failed")
            job.error = "the sampler failed on our side"
        finally:
            job.done.set()
            if job.result is None:
                with self._lock:
                    if self._jobs.get(job.key) is job and job.error.startswith("stopped"):
                        self._jobs.pop(job.key)


JOBS = Jobs()

"""Background reference jobs: shared per key, stopped when nobody asks, failures kept as messages."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import bnn
from bnn.methods import MethodProgress
from dashboard.model.reference_jobs import Jobs

KEY = ("config", b"points")


def _fit(steps: int, release: threading.Event | None = None, calls: list[int] | None = None):
    """A stand-in sampler: reports each step, stops when told; waits for ``release`` first."""
    def fit(callback):
        if calls is not None:
            calls.append(1)
        if release is not None:
            release.wait(5)
        for step in range(1, steps + 1):
            if callback(MethodProgress("hmc", "sampling", step, steps, 0.0)):
                return SimpleNamespace(stopped_early=True, step=step)
            time.sleep(0.01)
        return SimpleNamespace(stopped_early=False, step=steps)
    return fit


def test_one_job_per_key_shared_by_every_request() -> None:
    jobs, calls, release = Jobs(), [], threading.Event()
    first = jobs.request(KEY, _fit(5, release, calls))
    second = jobs.request(KEY, _fit(5, release, calls))
    assert first is second
    release.set()
    assert first.done.wait(5)
    assert first.result.step == 5 and first.error is None and first.fraction() == 1.0
    assert jobs.request(KEY, _fit(5, calls=calls)) is first  # finished: kept, not run again
    assert len(calls) == 1


def test_a_job_nobody_asks_about_stops_and_is_forgotten() -> None:
    jobs = Jobs(abandoned_after=0.05)
    job = jobs.request(KEY, _fit(1000))
    assert job.done.wait(5)
    assert job.result is None and job.error.startswith("stopped")
    assert job.progress.step < 1000  # it stopped early, at a progress report
    assert jobs.get(KEY) is None  # a new request starts afresh


def test_a_failure_is_a_message_and_a_new_request_retries() -> None:
    jobs = Jobs()

    def refuse(callback):
        raise bnn.ConfigError("the HMC sampler needs a fixed noise std")

    job = jobs.request(KEY, refuse)
    assert job.done.wait(5)
    assert job.error == "the HMC sampler needs a fixed noise std" and job.result is None
    retry = jobs.request(KEY, _fit(2))
    assert retry is not job and retry.done.wait(5) and retry.result.step == 2


def test_an_unexpected_error_does_not_escape_the_thread() -> None:
    jobs = Jobs()
    job = jobs.request(KEY, lambda callback: 1 / 0)
    assert job.done.wait(5)
    assert job.error == "the sampler failed on our side"


def test_a_released_job_stops_at_its_next_report() -> None:
    jobs = Jobs()
    job = jobs.request(KEY, _fit(1000))
    while job.progress is None:
        time.sleep(0.005)
    jobs.release(KEY)
    assert job.done.wait(5)
    assert job.result is None and job.progress.step < 1000
    assert jobs.get(KEY) is None
    jobs.release(("other", b""))  # nothing asked under that key: nothing happens

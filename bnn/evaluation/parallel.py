"""Benchmark splits in parallel: one task per split, mapped over worker processes or a Ray cluster.

A benchmark protocol's splits are independent fits, each seeded by its own config, so they can
run anywhere in any order and give the same figures as one after another, provided each worker
computes what the serial loop does: the same arguments (data, config, method settings) and one
torch thread, as ``python -m bnn`` sets in the serial run (torch's intra-op threads change the
order of float reductions, so a worker with more threads could differ in the last bits).

Two backends: joblib's ``loky`` (worker processes on this machine) and Ray (a local cluster of
``jobs`` CPUs, or an existing one at ``address``), through ``ray.remote``. Either way the caller
hands over every task at once (so a cluster can start the splits of several data sets together)
and gets ``(index, result, cpu_seconds)`` as each finishes, not in task order, so it can report
progress; the worker's CPU time stands in for the serial run's own.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Generator, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from bnn.errors import BNNError

T = TypeVar("T")
R = TypeVar("R")

RAY_INSTALL = "pip install -r requirements-cluster.txt"


class Backend(StrEnum):
    """Where the tasks run."""

    LOKY = "loky"
    """joblib's loky worker processes on this machine (a pool kept between calls)."""
    RAY = "ray"
    """Ray tasks, one CPU each: a local Ray started with ``jobs`` CPUs, or the cluster at ``address``."""


class ParallelError(BNNError):
    """A parallel backend that cannot be used (Ray not installed, or a bad setting)."""


def ray_installed() -> bool:
    """Whether ``import ray`` would work (checked without importing it: Ray's import takes seconds)."""
    return importlib.util.find_spec("ray") is not None


def in_worker(fn: Callable[[T], R], task: T, index: int) -> tuple[int, R, float]:
    """Run ``fn(task)`` with one torch thread: the task's index, its result and the CPU seconds it took."""
    from bnn.train import set_threads  # torch's import stays out of this module's

    set_threads(1)
    start = time.process_time()
    result = fn(task)
    return index, result, time.process_time() - start


def map_unordered(fn: Callable[[T], R], tasks: Sequence[T], jobs: int, backend: Backend | str = Backend.LOKY,
                  address: str | None = None) -> Generator[tuple[int, R, float], None, None]:
    """``(index, fn(tasks[index]), cpu_seconds)`` for every task, ``jobs`` at a time (with ``address``: as
    many as the Ray cluster has CPUs), yielded as each finishes. Every task is handed to the backend at
    once, so a pool wider than one data set's splits works on the next set's meanwhile. Closing the
    iterator early, or an interrupt, stops the tasks still running or queued.

    ``fn`` must be a module-level function and the tasks picklable (they travel to other processes)."""
    if jobs < 1:
        raise ParallelError(f"jobs must be at least 1, got {jobs}")
    backend = Backend(backend)
    if address is not None and backend is not Backend.RAY:
        raise ParallelError("an address names a Ray cluster: use it with the ray backend")
    if backend is Backend.RAY:
        return _map_ray(fn, tasks, jobs, address)
    return _map_loky(fn, tasks, jobs)


def _map_loky(fn: Callable[[T], R], tasks: Sequence[T], jobs: int) -> Generator[tuple[int, R, float], None, None]:
    from joblib import Parallel, delayed

    # joblib stops the workers when the generator is closed or interrupted; max_nbytes=None: the
    # arrays are pickled whole, never memory-mapped read-only (protein's are 3 MB)
    parallel = Parallel(n_jobs=jobs, backend="loky", return_as="generator_unordered", max_nbytes=None,
                        batch_size=1)
    yield from parallel(delayed(in_worker)(fn, task, i) for i, task in enumerate(tasks))


def _map_ray(fn: Callable[[T], R], tasks: Sequence[T], jobs: int, address: str | None
             ) -> Generator[tuple[int, R, float], None, None]:
    ray = start_ray(jobs, address)
    remote = ray.remote(num_cpus=1, max_retries=0)(in_worker)
    pending = [remote.remote(fn, task, i) for i, task in enumerate(tasks)]  # Ray queues them by CPU
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
    except BaseException:  # an interrupt, a failed task, or the caller closed the iterator
        for handle in pending:
            ray.cancel(handle, force=True)
        raise


def start_ray(jobs: int, address: str | None) -> Any:
    """The ``ray`` module, connected: to ``address``, or to a local Ray of ``jobs`` CPUs started here
    (once per process). The ``bnn`` package travels with the tasks: a cluster's nodes need requirements.txt
    installed, not this repository."""
    if not ray_installed():
        raise ParallelError(f"the ray backend needs Ray, which is not installed: {RAY_INSTALL}")
    import ray

    if not ray.is_initialized():
        package = str(Path(__file__).resolve().parents[1])  # the bnn folder
        try:
            ray.init(address=address, num_cpus=None if address else jobs, include_dashboard=False,
                     log_to_driver=False, logging_level=logging.WARNING,
                     runtime_env={"py_modules": [package]})
        except (ConnectionError, RuntimeError, ValueError) as exc:  # no cluster there, or a bad address
            where = f"the Ray cluster at {address}" if address else "a local Ray"
            raise ParallelError(f"cannot start or reach {where}: {exc}") from None
    return ray

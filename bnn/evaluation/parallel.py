"""Benchmark splits in parallel: one task per split, mapped over worker processes or a Ray cluster.

A benchmark protocol's splits are independent fits, each seeded by its own config, so they can
run anywhere in any order and give the same figures as one after another, provided each worker
computes what the serial loop does: the same arguments (data, config, method settings) and one
torch thread, as ``python -m bnn`` sets in the serial run (torch's intra-op threads change the
order of float reductions, so a worker with more threads could differ in the last bits).

Two backends: joblib's ``loky`` executor (worker processes on this machine, kept between calls) and
Ray (a local cluster of ``jobs`` CPUs, or an existing one at ``address``), through ``ray.remote``.
Either way the caller submits tasks to a :class:`Pool`, all at once (so a cluster can start the
splits of several data sets together), and gets ``(result, cpu_seconds)`` pairs as they finish, not
in task order, so it can report progress; the worker's CPU time stands in for the serial run's own.
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import as_completed
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


def in_worker(fn: Callable[[T], R], task: T) -> tuple[R, float]:
    """Run ``fn(task)`` with one torch thread; its result and the CPU seconds it took."""
    from bnn.train import set_threads  # torch's import stays out of this module's

    set_threads(1)
    start = time.process_time()
    result = fn(task)
    return result, time.process_time() - start


class Pool:
    """Where tasks go: ``jobs`` loky worker processes here, or Ray (a local Ray of ``jobs`` CPUs, or the
    cluster at ``address``, whose CPUs then decide how many run at once). Tasks submitted together queue
    there; :meth:`completed` hands back the results of some of them as they finish."""

    def __init__(self, jobs: int, backend: Backend | str = Backend.LOKY, address: str | None = None) -> None:
        if jobs < 1:
            raise ParallelError(f"jobs must be at least 1, got {jobs}")
        self.backend = Backend(backend)
        if address is not None and self.backend is not Backend.RAY:
            raise ParallelError("an address names a Ray cluster: use it with the ray backend")
        if self.backend is Backend.RAY:
            self._ray = start_ray(jobs, address)
            self._remote = self._ray.remote(num_cpus=1, max_retries=0)(in_worker)
        else:
            from joblib.externals.loky import get_reusable_executor

            self._executor = get_reusable_executor(max_workers=jobs)

    def submit(self, fn: Callable[[T], R], task: T) -> Any:
        """Queue ``fn(task)``; a handle for :meth:`completed`. ``fn`` must be a module-level function and
        ``task`` picklable (both travel to another process)."""
        if self.backend is Backend.RAY:
            return self._remote.remote(fn, task)
        return self._executor.submit(in_worker, fn, task)

    def completed(self, handles: Sequence[Any]) -> Iterator[tuple[Any, float]]:
        """``(result, cpu_seconds)`` of each handle's task, in the order they finish."""
        if self.backend is Backend.LOKY:
            for future in as_completed(handles):
                yield future.result()
            return
        pending = list(handles)
        while pending:
            done, pending = self._ray.wait(pending, num_returns=1)
            yield self._ray.get(done[0])

    def cancel(self, handles: Sequence[Any]) -> None:
        """Drop the tasks not yet started (after an interrupt or a failed task)."""
        for handle in handles:
            if self.backend is Backend.RAY:
                self._ray.cancel(handle)
            else:
                handle.cancel()


def map_unordered(fn: Callable[[T], R], tasks: Sequence[T], jobs: int, backend: Backend | str = Backend.LOKY,
                  address: str | None = None) -> Iterator[tuple[R, float]]:
    """``(fn(task), cpu_seconds)`` for every task, ``jobs`` at a time, yielded as each finishes."""
    pool = Pool(jobs, backend, address)
    handles = [pool.submit(fn, task) for task in tasks]
    try:
        yield from pool.completed(handles)
    finally:
        pool.cancel(handles)


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

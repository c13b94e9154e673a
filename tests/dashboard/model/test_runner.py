"""The server's training slots: a spare one for work worth doing only at once."""

from __future__ import annotations

import json
import threading
import time

import pytest

from dashboard.model import runner
from dashboard.model.training_queue import TrainingQueue, Wait


def test_a_spare_slot_is_taken_only_when_free() -> None:
    queue = TrainingQueue(1)
    with runner.spare_slot(queue) as first:
        assert first
        with runner.spare_slot(queue) as second:
            assert not second  # taken: no waiting
    with runner.spare_slot(queue) as again:
        assert again  # released after use


def test_a_waiting_page_is_told_its_place_then_gives_up_with_a_message() -> None:
    queue = TrainingQueue(1)
    holder = queue.enter()
    assert queue.admit(holder, timeout=0)
    waits: list[Wait] = []
    with pytest.raises(runner.Busy, match="busy"):
        with runner.training_slot(waits.append, queue=queue, max_wait=0.3, poll=0.05):
            pass
    assert len(waits) >= 3 and [w.waited for w in waits] == sorted(w.waited for w in waits)
    assert {w.place for w in waits} == {1} and "1st in line" in waits[0].message()
    assert queue.counts() == (1, 0)  # the one that gave up left the line
    queue.leave(holder)
    with runner.training_slot(waits.append, queue=queue):
        assert queue.counts() == (1, 0)
    assert queue.counts() == (0, 0)


class Interrupt(BaseException):
    """Stands in for Streamlit's RerunException (a BaseException), raised from a page's callback."""


def test_a_page_interrupted_while_it_waits_leaves_the_line() -> None:
    queue = TrainingQueue(1)
    holder = queue.enter()
    assert queue.admit(holder, timeout=0)

    def rerun(wait: Wait) -> None:
        raise Interrupt

    with pytest.raises(Interrupt):
        with runner.training_slot(rerun, queue=queue, poll=0.01):
            pass
    assert queue.counts() == (1, 0)  # a dead ticket at the head would block everyone after it
    queue.leave(holder)
    with runner.training_slot(rerun, queue=queue, poll=0.01):  # admitted at once: no wait, no callback
        pass


def test_no_more_than_the_slot_count_train_at_once() -> None:
    queue = TrainingQueue(2)
    running, peak, lock = 0, 0, threading.Lock()

    def job() -> None:
        nonlocal running, peak
        with runner.training_slot(lambda wait: None, queue=queue, poll=0.01):
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.05)
            with lock:
                running -= 1

    threads = [threading.Thread(target=job) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_the_nearest_cached_fit_has_the_same_points_and_the_fewest_other_settings() -> None:
    cache = runner.FitCache(8)

    def key(points: bytes, **fields: object) -> runner.Key:
        return json.dumps({"seed": 0, "epochs": 2000, "lr": 0.1, **fields}), points

    wanted = key(b"P", seed=5)
    assert cache.nearest(wanted) is None  # nothing cached
    cache.put(key(b"Q", seed=5), "other points")  # type: ignore[arg-type]
    cache.put(wanted, "itself")  # type: ignore[arg-type]
    assert cache.nearest(wanted) is None  # another point set's band would mislead; itself is no neighbour
    cache.put(key(b"P", seed=1, epochs=500), "two differ")  # type: ignore[arg-type]
    cache.put(key(b"P", seed=2), "seed differs")  # type: ignore[arg-type]
    cache.put(key(b"P", seed=3), "seed differs, newer")  # type: ignore[arg-type]
    near_key, fitted, differ = cache.nearest(wanted)  # type: ignore[misc]
    assert (fitted, differ, near_key) == ("seed differs, newer", ["seed"], key(b"P", seed=3))
    assert cache.nearest(key(b"P", seed=5, epochs=500))[1:] == ("two differ", ["seed"])  # type: ignore[index]


def test_the_work_of_gp_and_full_covariance_vi_grows_as_their_costs_do() -> None:
    from bnn.config import Config
    from dashboard.model.limits import method_work, weight_count

    config = Config()
    # the GP factorises an N x N matrix per optimiser step: twice the points, eight times the work
    assert method_work("gp", {}, config, 200) == 8 * method_work("gp", {}, config, 100)
    # full covariance: P^2 per draw for L eps; a rank-4 factor costs P * 4 instead
    p = weight_count(config)
    full = method_work("fullcov", {"epochs": 10, "rank": None}, config, 6)
    low = method_work("fullcov", {"epochs": 10, "rank": 4}, config, 6)
    assert full - low == 10 * 64 * p * (p - 4)


def test_the_work_of_the_sampler_counts_every_replica_and_iteration() -> None:
    import dataclasses

    from bnn.config import Config
    from bnn.methods.hmc import HMCConfig
    from dashboard.model.limits import LIMITS, method_work

    plain = {"chains": 4, "warmup": 10, "draws": 20, "steps": 5}
    one = method_work("hmc", plain, Config(), 6)
    assert one == 97 * 6 * 4 * (10 + 20) * 5  # weights x points x chains x iterations x leapfrog steps
    # 16 temperatures: 16 replicas a chain; thin 4: four sampling iterations a kept draw
    assert method_work("hmc", {**plain, "temperatures": 16, "thin": 4}, Config(), 6) == 97 * 6 * 64 * (10 + 80) * 5
    # the certified default fits the cap on the article's points and on the gap preset's 20
    assert method_work("hmc", dataclasses.asdict(HMCConfig()), Config(), 20) < LIMITS.method_work


def test_sessions_asking_for_a_fit_being_trained_share_that_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import bnn
    from dashboard.model.link import AppState

    real_fit, runs = bnn.fit, []

    def counted(*args, **kwargs):
        runs.append(threading.current_thread().name)
        time.sleep(1.2)  # the others arrive while it trains, and wait past a 0.5 s report
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(bnn, "fit", counted)
    monkeypatch.setattr(runner, "QUEUE", TrainingQueue(2))
    cache, state = runner.FitCache(4), AppState(config=bnn.Config(epochs=50))
    results: dict[int, bnn.Fitted] = {}
    waits: dict[int, list[Wait]] = {i: [] for i in range(5)}

    def visit(i: int) -> None:
        results[i] = runner.train(state, on_wait=waits[i].append, cache=cache)

    threads = [threading.Thread(target=visit, args=(i,), name=f"visitor-{i}") for i in range(5)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join(30)
    assert len(runs) == 1  # five visitors of one link, one training (a semaphore alone would run 5)
    assert len({id(f) for f in results.values()}) == 1 and cache.get(runner.key_of(state)) is results[0]
    shared = [w for i in range(5) for w in waits[i]]
    assert shared and all(w.sharing and "will be yours too" in w.message() for w in shared)


def test_when_the_run_being_shared_is_interrupted_a_waiting_session_trains_it() -> None:
    import bnn
    from dashboard.model.link import AppState

    cache, state = runner.FitCache(4), AppState(config=bnn.Config(epochs=400))
    started, results = threading.Event(), {}

    def leave(progress: bnn.Progress) -> None:  # the first visitor leaves mid-run (a rerun or Stop)
        started.set()
        time.sleep(0.2)
        raise Interrupt

    def first() -> None:
        with pytest.raises(Interrupt):
            runner.train(state, on_progress=leave, cache=cache)

    owner = threading.Thread(target=first)
    owner.start()
    assert started.wait(10)
    results["second"] = runner.train(state, cache=cache)  # waits for the first, then trains it itself
    owner.join(10)
    assert not results["second"].stopped_early and cache.get(runner.key_of(state)) is results["second"]

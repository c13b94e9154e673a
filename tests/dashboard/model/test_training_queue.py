"""The server's training queue: first come, first served, with places and estimates a page can show."""

from __future__ import annotations

import json
import threading
import time

import pytest

from dashboard.model import training_queue
from dashboard.model.training_queue import TrainingQueue, ordinal


def test_ordinals_read_as_english() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 10, 11, 12, 13, 14, 21, 22, 23, 101, 111, 112)] == [
        "1st", "2nd", "3rd", "4th", "10th", "11th", "12th", "13th", "14th", "21st", "22nd", "23rd", "101st",
        "111th", "112th"]


def test_waiters_are_admitted_in_the_order_they_came() -> None:
    queue = TrainingQueue(1)
    holder = queue.enter()
    assert queue.admit(holder, timeout=0)
    order: list[int] = []
    tickets = []
    for _ in range(5):  # entered from this thread, so their order is known
        tickets.append(queue.enter())

    def wait_turn(i: int) -> None:
        assert queue.admit(tickets[i], timeout=10)
        order.append(i)
        queue.leave(tickets[i])

    # started in reverse order: a semaphore would let any of them in; the queue only the head
    threads = [threading.Thread(target=wait_turn, args=(i,)) for i in reversed(range(5))]
    for t in threads:
        t.start()
    time.sleep(0.1)
    assert order == []  # the slot is still held
    queue.leave(holder)
    for t in threads:
        t.join(10)
    assert order == [0, 1, 2, 3, 4]
    assert queue.counts() == (0, 0)


def test_places_and_estimates_simulate_the_slots() -> None:
    queue = TrainingQueue(2)
    running = [queue.enter() for _ in range(2)]
    for t in running:
        assert queue.admit(t, timeout=0)
    waiting = [queue.enter() for _ in range(3)]
    # nothing finished yet: every training is expected to take DEFAULT_SECONDS (1 s); two slots free at
    # ~1 s; the 1st and 2nd in line start then and finish at ~2 s, when the 3rd starts
    estimates = [queue.wait_of(t) for t in waiting]
    assert [w.place for w in estimates] == [1, 2, 3]
    assert [w.running for w in estimates] == [2, 2, 2]
    assert estimates[0].estimate == pytest.approx(1.0, abs=0.05)
    assert estimates[1].estimate == pytest.approx(1.0, abs=0.05)
    assert estimates[2].estimate == pytest.approx(2.0, abs=0.05)
    assert estimates[2].message().startswith("Queued: 3rd in line, about 2 s (2 trainings running")
    queue.leave(waiting[0])  # the 1st gave up: everyone moves up
    assert [queue.wait_of(t).place for t in waiting[1:]] == [1, 2]
    assert queue.wait_of(running[0]).place == 0  # a running ticket has no place


def test_the_estimate_learns_the_servers_speed_from_finished_trainings() -> None:
    queue = TrainingQueue(1)
    first = queue.enter("fit", work=1e6)
    assert queue.admit(first, timeout=0)
    time.sleep(0.2)
    queue.leave(first)  # 0.2 s for 1e6: 2e-7 s per unit of work
    held = queue.enter("fit", work=1e6)
    assert queue.admit(held, timeout=0)
    twice = queue.enter("fit", work=2e6)
    # the held one is expected to end ~0.2 s after it started: twice's place comes then
    assert queue.wait_of(twice).estimate == pytest.approx(0.2, abs=0.05)
    assert queue.expected(twice) == pytest.approx(0.4, rel=0.25)  # twice the work, twice the time
    time.sleep(0.3)  # the held one is now past its expected end: it is expected to end soon, not now
    assert queue.wait_of(twice).estimate == pytest.approx(queue.expected(held) / 4)
    other = training_queue.Ticket("compare", work=1e6)  # another kind counts work in its own units
    assert queue.expected(other) == pytest.approx(0.2, rel=0.25)  # so it gets the median duration instead


def test_a_spare_slot_never_jumps_the_line() -> None:
    queue = TrainingQueue(1)
    assert (spare := queue.try_now()) is not None
    assert queue.try_now() is None  # the only slot is taken
    queue.leave(spare)
    holder = queue.enter()
    queue.enter()  # one waits behind the holder
    assert queue.try_now() is None  # a slot is not free while the holder is next in line...
    assert queue.admit(holder, timeout=0)
    assert queue.try_now() is None  # ...nor while it runs


def test_every_admission_and_finish_is_logged_as_a_json_line(tmp_path, monkeypatch) -> None:
    log = tmp_path / "queue.jsonl"
    monkeypatch.setenv("BNN_QUEUE_LOG", str(log))
    queue = training_queue.from_environment(1)
    first, second = queue.enter("fit", 10.0), queue.enter("compare")
    assert queue.admit(first, timeout=0)
    assert not queue.admit(second, timeout=0.05)
    queue.leave(first)
    assert queue.admit(second, timeout=1)
    queue.leave(second)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(r["event"], r["kind"]) for r in lines] == [
        ("admitted", "fit"), ("finished", "fit"), ("admitted", "compare"), ("finished", "compare")]
    assert lines[0]["place"] == 1 and lines[2]["place"] == 2  # the place each had on entering
    assert lines[2]["waited"] >= 0.05 and lines[1]["work"] == 10.0
    monkeypatch.delenv("BNN_QUEUE_LOG")
    assert training_queue.from_environment(1).log_path is None


def test_a_running_training_that_reports_its_progress_is_timed_by_its_own_pace() -> None:
    queue = TrainingQueue(1)
    running = queue.enter("fit", work=1e12)  # expected ~800 s at the default rate: far off this run's pace
    assert queue.admit(running, timeout=0)
    nxt = queue.enter()
    time.sleep(0.2)
    running.done = 0.5  # half done in ~0.2 s: about 0.2 s left
    assert queue.wait_of(nxt).estimate == pytest.approx(0.2, abs=0.1)
    running.done = 0.05  # too little done to judge its pace: its expected duration decides
    assert queue.wait_of(nxt).estimate > 100


def test_a_fit_reports_its_progress_to_its_ticket(monkeypatch: pytest.MonkeyPatch) -> None:
    import bnn
    from dashboard.model import runner
    from dashboard.model.link import AppState

    class Recording(TrainingQueue):
        def leave(self, ticket: training_queue.Ticket) -> None:
            done.append(ticket.done)
            super().leave(ticket)

    done: list[float] = []
    monkeypatch.setattr(runner, "QUEUE", Recording(1))
    runner.train(AppState(config=bnn.Config(epochs=100)), cache=runner.FitCache(1))
    assert done == [1.0]  # the last report: all of its steps

"""The server's training queue: a bounded number of trainings at once, the rest first come, first served.

One instance per server process (``runner.QUEUE``), shared by every session's script thread. A
visitor whose training waits is told their place and an estimate ("2nd in line, about 2 s"),
because a page that only says "busy" looks broken to a lecture hall of visitors who all pressed
Train at once. The estimate simulates the slots: each running training frees its slot when its
expected duration is over (or at its own pace, once it reports how far it got), and each one ahead
in line then takes the first free slot for its own expected duration. A training's expected duration is
its work (see :mod:`dashboard.model.limits`) times the median seconds per unit of work of the
last trainings of its kind this server finished (kinds count work in their own units: a fit's
multiply-adds, a method's evaluations); work that was not stated costs the median duration of the
last trainings of its kind, or of any kind.

Why by hand: ``threading.BoundedSemaphore`` (what this replaces) wakes waiters in no set order and
knows no places; ``queue.Queue`` hands out items, not turns. A deque under one ``Condition`` is
the smallest FIFO turnstile with places.

With the environment variable ``BNN_QUEUE_LOG`` set to a path, every admission and every finished
training appends one JSON line there (``benchmarks/load_test.py`` reads them): ``{"t", "event":
"admitted", "kind", "waited", "place", "running", "waiting"}`` and ``{"t", "event": "finished",
"kind", "seconds", "work"}``.
"""

from __future__ import annotations

import heapq
import json
import os
import statistics
import threading
import time
from collections import deque
from dataclasses import dataclass, field

HISTORY = 20  # finished trainings the estimate learns from
DEFAULT_SECONDS_PER_WORK = 1 / 1.2e9  # limits.Limits.training_work's measured rate (1.2e9 multiply-adds a second)
DEFAULT_SECONDS = 1.0  # a training of unstated work, before any finished one was measured


@dataclass(eq=False)
class Ticket:
    """One training's turn: in line from ``entered``, running from ``admitted``."""

    kind: str
    work: float | None
    entered: float = field(default_factory=time.monotonic)
    place_at_entry: int = 0
    admitted: float | None = None
    done: float = 0.0  # the share of its work done, when the training reports it (0 otherwise)


@dataclass(frozen=True)
class Wait:
    """What a waiting visitor is told: their place in line (1 = next), the estimated seconds until
    their training starts, the seconds waited so far, and how many trainings are running; or that
    another visitor's training of the same fit is running, which they share."""

    place: int
    estimate: float
    waited: float
    running: int
    sharing: bool = False  # waiting for another visitor's training of the very same fit, not in line

    def message(self) -> str:
        """The line a page shows, e.g. "Queued: 2nd in line, about 2 s (2 trainings are running …)"."""
        if self.sharing:
            return (f"Another visitor's training of these exact settings and points is running; its fit "
                    f"will be yours too (waited {self.waited:.0f} s).")
        return (f"Queued: {ordinal(self.place)} in line, about {max(1, round(self.estimate))} s "
                f"({self.running} training{'s' if self.running != 1 else ''} running on this server; "
                f"waited {self.waited:.0f} s). Your training starts by itself.")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, …"""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class TrainingQueue:
    """At most ``slots`` trainings at once; the others wait in the order they came."""

    def __init__(self, slots: int, log_path: str | None = None) -> None:
        self.slots = slots
        self.log_path = log_path
        self._cond = threading.Condition()
        self._waiting: deque[Ticket] = deque()
        self._running: list[Ticket] = []
        self._rates: dict[str, deque[float]] = {}  # per kind: seconds per unit of work
        self._durations: dict[str, deque[float]] = {}  # per kind, and "" for every kind

    # ---- turns --------------------------------------------------------------------------------
    def enter(self, kind: str = "fit", work: float | None = None) -> Ticket:
        """Join the end of the line."""
        with self._cond:
            ticket = Ticket(kind, work, place_at_entry=len(self._waiting) + 1)
            self._waiting.append(ticket)
            self._cond.notify_all()
            return ticket

    def admit(self, ticket: Ticket, timeout: float) -> bool:
        """Wait up to ``timeout`` s for ``ticket``'s turn: first in line with a slot free. True once admitted."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._can_start(ticket), timeout):
                return False
            self._start(ticket)
        return True

    def try_now(self, kind: str = "preview") -> Ticket | None:
        """A slot at once if one is free and nobody waits (a preview must never hold up a real fit), else None."""
        with self._cond:
            if self._waiting or len(self._running) >= self.slots:
                return None
            ticket = Ticket(kind, None, place_at_entry=0)
            self._start(ticket)
            return ticket

    def leave(self, ticket: Ticket) -> None:
        """Out of the line (gave up or interrupted) or out of its slot (finished); learns a finished one's speed."""
        with self._cond:
            if ticket in self._waiting:
                self._waiting.remove(ticket)
            elif ticket in self._running:
                self._running.remove(ticket)
                seconds = time.monotonic() - (ticket.admitted or ticket.entered)
                for kind in (ticket.kind, ""):
                    self._durations.setdefault(kind, deque(maxlen=HISTORY)).append(seconds)
                if ticket.work:
                    self._rates.setdefault(ticket.kind, deque(maxlen=HISTORY)).append(seconds / ticket.work)
                self._log("finished", ticket, seconds=round(seconds, 4), work=ticket.work)
            self._cond.notify_all()

    def _can_start(self, ticket: Ticket) -> bool:
        return bool(self._waiting) and self._waiting[0] is ticket and len(self._running) < self.slots

    def _start(self, ticket: Ticket) -> None:
        if ticket in self._waiting:
            self._waiting.remove(ticket)
        ticket.admitted = time.monotonic()
        self._running.append(ticket)
        self._log("admitted", ticket, waited=round(ticket.admitted - ticket.entered, 4), place=ticket.place_at_entry,
                  running=len(self._running), waiting=len(self._waiting))
        self._cond.notify_all()

    # ---- what a waiting visitor is told ---------------------------------------------------------
    def wait_of(self, ticket: Ticket) -> Wait:
        """``ticket``'s place and estimated seconds to its start (0 and 0 once it runs)."""
        with self._cond:
            now = time.monotonic()
            running = len(self._running)
            if ticket not in self._waiting:
                return Wait(0, 0.0, now - ticket.entered, running)
            place = self._waiting.index(ticket) + 1
            free_at = [self.remaining(t, now - (t.admitted or now)) for t in self._running]
            free_at += [0.0] * max(0, self.slots - running)
            heapq.heapify(free_at)
            for ahead in list(self._waiting)[:place - 1]:
                heapq.heappush(free_at, heapq.heappop(free_at) + self.expected(ahead))
            return Wait(place, free_at[0], now - ticket.entered, running)

    def remaining(self, ticket: Ticket, elapsed: float) -> float:
        """Seconds a running training has left: from its own pace once it has reported a tenth of its work
        done, else from its expected duration (a quarter of that once it is over: it ends soon, not now)."""
        if ticket.done >= 0.1:
            return elapsed * (1 - ticket.done) / ticket.done
        return max(self.expected(ticket) / 4, self.expected(ticket) - elapsed)

    def expected(self, ticket: Ticket) -> float:
        """Seconds ``ticket``'s training is expected to take, from the last ones this server finished."""
        rates = self._rates.get(ticket.kind)
        if ticket.work and (rates or ticket.kind == "fit"):
            return ticket.work * (statistics.median(rates) if rates else DEFAULT_SECONDS_PER_WORK)
        durations = self._durations.get(ticket.kind) or self._durations.get("")
        return statistics.median(durations) if durations else DEFAULT_SECONDS

    def counts(self) -> tuple[int, int]:
        """(running, waiting) now."""
        with self._cond:
            return len(self._running), len(self._waiting)

    def _log(self, event: str, ticket: Ticket, **fields: object) -> None:
        if not self.log_path:
            return
        line = json.dumps({"t": round(time.time(), 4), "event": event, "kind": ticket.kind, **fields})
        try:
            with open(self.log_path, "a", encoding="utf-8") as out:
                out.write(line + "\n")
        except OSError:  # a measurement hook must never break a visitor's training
            pass


def from_environment(slots: int) -> TrainingQueue:
    """The server's queue, logging to ``$BNN_QUEUE_LOG`` when it is set."""
    return TrainingQueue(slots, os.environ.get("BNN_QUEUE_LOG") or None)

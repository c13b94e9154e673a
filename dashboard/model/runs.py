"""Which run a page has asked for, and which one its visitor stopped: the state behind Train, Run and Stop.

A page asks for a run by a key (the main page: the fit's cache key; the Compare page: its set of
method fits) and marks it pending; Streamlit may rerun the script mid-run (a moved control), and
the rerun resumes a pending request with the same key. Stop forgets the request and remembers
it as stopped, so the rerun that the Stop click causes does not start it again. The state lives
in a mutable mapping (the session's ``st.session_state``; a dict in tests), under two keys per page.

A :class:`Running` is the run in progress itself, so that Stop can keep it as far as it got.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Hashable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import bnn


@dataclass(frozen=True)
class RunRequests:
    """The two session keys of one page's run state, and the moves between its states."""

    pending_key: str
    stopped_key: str

    def ask(self, state: MutableMapping[str, Any], key: Hashable) -> None:
        """A click on Train/Run: the run is pending, and no longer counts as stopped."""
        state[self.pending_key] = key
        state.pop(self.stopped_key, None)

    def stop(self, state: MutableMapping[str, Any]) -> None:
        """Stop's callback: the pending run becomes the stopped one."""
        state[self.stopped_key] = state.pop(self.pending_key, None)

    def done(self, state: MutableMapping[str, Any]) -> None:
        """The run finished (or was refused): nothing is pending."""
        state.pop(self.pending_key, None)

    def pending(self, state: MutableMapping[str, Any], key: Hashable) -> bool:
        """Whether the run ``key`` is asked for and not yet finished."""
        return state.get(self.pending_key) == key

    def stopped(self, state: MutableMapping[str, Any], key: Hashable) -> bool:
        """Whether the visitor stopped the run ``key`` (and has not asked for it again)."""
        return state.get(self.stopped_key) == key

    def forget_other(self, state: MutableMapping[str, Any], key: Hashable) -> None:
        """A pending run for other settings than ``key`` was abandoned by a change: drop it."""
        if state.get(self.pending_key) not in (None, key):
            state.pop(self.pending_key)


@dataclass(eq=False)
class Running:
    """A run in progress, as two script threads see it. With Streamlit's fast reruns (its default)
    a Stop click's rerun starts at once in a new thread, while the stopped run trains on in its own
    until its next ``st`` call. The trainer sets ``fitted`` at each progress report, ``finished``
    if it ran to the end, and ``ended`` when it leaves; the stopper reads the model only once the
    run has ended, when it no longer changes."""

    fitted: bnn.Fitted | None = None  # the model as trained so far (not a copy)
    finished: bool = False  # ran to the end: cached, so there is nothing partial to keep
    ended: threading.Event = field(default_factory=threading.Event)

    def partial(self, wait: float) -> tuple[bnn.Fitted, int, int] | None:
        """The stopped run as far as it got: its fit marked stopped early (a new record sharing the
        model, which no longer changes once the run has ended), and the epoch and
        step it reached. None if it finished, had no model yet (it waited for a training slot), or
        had not ended within ``wait`` seconds. A run ends in a progress report, after that report's
        history row was written, so the last row names the step the model is at."""
        if not self.ended.wait(wait) or self.finished or self.fitted is None or not self.fitted.history_rows:
            return None
        rows = list(self.fitted.history_rows)
        fitted = dataclasses.replace(self.fitted, stopped_early=True, history_rows=rows)
        fitted.model.eval()
        return fitted, int(rows[-1][0]), int(rows[-1][1])

"""Which run a page has asked for, and which one its visitor stopped: the state behind Train, Run and Stop.

A page asks for a run by a key (the main page: the fit's cache key; the Compare page: its set of
method fits) and marks it pending; Streamlit may rerun the script mid-run (a moved control), and
the rerun resumes a pending request with the same key. Stop forgets the request and remembers
it as stopped, so the rerun that the Stop click causes does not start it again. The state lives
in a mutable mapping (the session's ``st.session_state``; a dict in tests), under two keys per page.
"""

from __future__ import annotations

from collections.abc import Hashable, MutableMapping
from dataclasses import dataclass
from typing import Any


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

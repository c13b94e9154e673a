"""The history of the point set: undo and redo across every way points change.

One history for the chart's point editor, the table, the generator, an upload, a preset and
the reset button: each finished edit records the point set it replaced. A drag reports the
points as it goes (live mode previews them) but is one edit: the set from before the press is
recorded once, when the release arrives, so one undo puts the point back where the drag began.
Immutable (each operation returns a new :class:`History`), so a session keeps one value and a
test can follow every step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from dashboard.model.points import Points

MAX_UNDO = 200  # point sets kept to undo (each at most a few tens of kB)


@dataclass(frozen=True)
class History:
    """Point sets to go back to (``undo``, newest last) and forward to (``redo``, newest last), and the
    set a drag in progress started from."""

    undo: tuple[Points, ...] = ()
    redo: tuple[Points, ...] = ()
    drag_base: Points | None = None
    limit: int = MAX_UNDO

    @property
    def can_undo(self) -> bool:
        return bool(self.undo)

    @property
    def can_redo(self) -> bool:
        return bool(self.redo)

    def record(self, before: Points, after: Points) -> History:
        """A finished edit replaced ``before`` by ``after``: ``before`` can be undone to, and the redo
        stack is dropped (as in every editor). No change, no entry. A drag in progress ends with it."""
        base = self.drag_base if self.drag_base is not None else before
        if base == after:
            return replace(self, drag_base=None)
        return History(undo=(*self.undo, base)[-self.limit:], redo=(), limit=self.limit)

    def moving(self, before: Points) -> History:
        """An edit in progress (a drag not yet released) is about to replace ``before``: remember the
        set it started from, once, so the release records the whole drag as one edit."""
        return self if self.drag_base is not None else replace(self, drag_base=before)

    def back(self, current: Points) -> tuple[History, Points]:
        """Undo: the previous set, with ``current`` kept for redo; unchanged when there is none."""
        if not self.undo:
            return self, current
        return History(undo=self.undo[:-1], redo=(*self.redo, current), limit=self.limit), self.undo[-1]

    def forward(self, current: Points) -> tuple[History, Points]:
        """Redo: the set undone last, with ``current`` kept for undo; unchanged when there is none."""
        if not self.redo:
            return self, current
        return History(undo=(*self.undo, current)[-self.limit:], redo=self.redo[:-1], limit=self.limit), self.redo[-1]

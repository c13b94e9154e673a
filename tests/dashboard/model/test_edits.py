"""The point history: undo/redo across edits, and a drag recorded as one edit."""

from __future__ import annotations

from dashboard.model.edits import History
from dashboard.model.points import Points

A = Points.of([0.0], [0.0])
B = Points.of([0.0, 1.0], [0.0, 1.0])
C = Points.of([0.0, 1.5], [0.0, 2.0])
D = Points.of([0.0, 1.5, 3.0], [0.0, 2.0, 1.0])


def test_undo_and_redo_walk_the_edits_back_and_forth() -> None:
    h = History().record(A, B).record(B, C)
    assert h.can_undo and not h.can_redo
    h, now = h.back(C)
    assert now == B and h.can_redo
    h, now = h.back(now)
    assert now == A and not h.can_undo
    h, same = h.back(now)  # nothing left: unchanged
    assert same == A
    h, now = h.forward(now)
    assert now == B
    h, now = h.forward(now)
    assert now == C and not h.can_redo


def test_a_new_edit_after_undo_drops_the_redo_stack() -> None:
    h, now = History().record(A, B).back(B)
    h = h.record(now, D)
    assert not h.can_redo
    h, now = h.back(D)
    assert now == A


def test_no_change_records_nothing() -> None:
    assert History().record(B, B) == History()


def test_a_drag_is_one_edit_whatever_it_reported_on_the_way() -> None:
    # B -> (press on the second point, moves reported as C, then D-ish) -> released at C
    h = History().record(A, B)
    h = h.moving(B)  # first report of the drag
    h = h.moving(C)  # later reports keep the set the drag began from
    assert h.drag_base == B
    h = h.record(C, C)  # the release: the points the last report already showed
    assert h.drag_base is None
    h, now = h.back(C)
    assert now == B  # the whole drag undone at once
    h, now = h.back(now)
    assert now == A


def test_a_drag_released_where_it_began_records_nothing() -> None:
    h = History().moving(B).record(C, B)
    assert not h.can_undo and h.drag_base is None


def test_the_history_is_bounded() -> None:
    h = History(limit=3)
    sets = [Points.of([float(i)], [0.0]) for i in range(6)]
    for before, after in zip(sets, sets[1:]):
        h = h.record(before, after)
    assert h.undo == tuple(sets[2:5])
    for _ in range(3):
        h, _now = h.back(sets[5])
    assert not h.can_undo

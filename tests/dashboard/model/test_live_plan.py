"""The main page's training decisions, case by case."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboard.model.live_plan import NOTHING, Plan, Situation, plan

# live mode on, a fit on screen to start a preview from, a finished edit of the points
EDIT = Situation(has_points=True, refused=False, cached=False, clicked=False, stopped=False, dragging=False,
                 live=True, pending=False, first=False, can_preview=True)


def test_a_finished_edit_in_live_mode_previews_then_trains() -> None:
    assert plan(EDIT) == Plan(preview=True, train=True)


def test_a_drag_in_progress_only_previews() -> None:
    assert plan(replace(EDIT, dragging=True)) == Plan(preview=True, train=False)
    assert plan(replace(EDIT, dragging=True, live=False)) == NOTHING  # without live mode, a drag waits for Train


@pytest.mark.parametrize("change", [{"has_points": False}, {"refused": True}, {"cached": True},
                                    {"cached": True, "clicked": True}, {"has_points": False, "clicked": True}])
def test_nothing_to_train(change: dict[str, bool]) -> None:
    assert plan(replace(EDIT, **change)) == NOTHING


def test_without_live_mode_only_train_the_first_fit_or_a_resumed_one() -> None:
    manual = replace(EDIT, live=False)
    assert plan(manual) == NOTHING
    assert plan(replace(manual, clicked=True)) == Plan(preview=True, train=True)
    assert plan(replace(manual, pending=True)) == Plan(preview=True, train=True)
    assert plan(replace(manual, first=True, can_preview=False)) == Plan(preview=False, train=True)


def test_a_stopped_run_stays_stopped_until_train() -> None:
    stopped = replace(EDIT, stopped=True)
    assert plan(stopped) == NOTHING
    assert plan(replace(stopped, dragging=True)) == NOTHING
    assert plan(replace(stopped, clicked=True)).train


def test_no_preview_without_a_fit_to_start_from() -> None:
    assert plan(replace(EDIT, can_preview=False)) == Plan(preview=False, train=True)
    assert plan(replace(EDIT, dragging=True, can_preview=False)) == NOTHING


def test_train_on_a_quick_fit_trains_at_once_without_a_preview() -> None:
    quick = replace(EDIT, quick=True)
    assert plan(replace(quick, live=False, clicked=True)) == Plan(preview=False, train=True)
    assert plan(replace(quick, clicked=True)) == Plan(preview=False, train=True)
    # an edit in live mode still answers with a preview first, and a drag still only previews
    assert plan(quick) == Plan(preview=True, train=True)
    assert plan(replace(quick, dragging=True)) == Plan(preview=True, train=False)

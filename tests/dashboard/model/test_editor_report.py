"""The point editor's report, checked: what the browser sends becomes Points or a PointsError that says why."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bnn.errors import PointsError
from dashboard.model.editor_report import MAX_SEQ, Draws, Op, parse_points_report, report_seq
from dashboard.model.limits import LIMITS
from dashboard.model.points import Points


def report(**changes: object) -> dict[str, object]:
    """A report as the editor's JavaScript sends it after adding a point at (0.5, 2)."""
    base = {"points": [[-1.0, 0.0], [1, 2], [0.5, 2.0]], "seq": 3,
            "op": {"kind": "add", "index": 2, "from": None, "to": [0.5, 2.0]}, "final": True}
    return base | changes


def test_a_report_becomes_float32_points_with_its_edit() -> None:
    got = parse_points_report(report())
    assert got.points == Points.of([-1.0, 1.0, 0.5], [0.0, 2.0, 2.0])
    assert (got.seq, got.final) == (3, True)
    assert got.op == Op("add", 2, None, (0.5, 2.0))
    moved = parse_points_report(report(op={"kind": "move", "index": 0, "from": [-1, 0], "to": [0.1, 0.2]}, final=False))
    assert moved.op == Op("move", 0, (-1.0, 0.0), (0.1, 0.2)) and not moved.final
    # the values are rounded to float32, as every way in rounds them (the link's identity)
    assert parse_points_report(report(points=[[0.1, 0.2]])).points.x[0] == float(np.float32(0.1))


def test_an_empty_list_is_no_points_and_op_may_be_missing() -> None:
    got = parse_points_report({"points": [], "seq": 1, "final": True})
    assert len(got.points) == 0 and got.op is None
    assert parse_points_report(report(op=None)).op is None
    assert parse_points_report(report(seq=3.0)).seq == 3  # JSON may write a whole number as 3.0


@pytest.mark.parametrize(("raw", "says"), [
    (None, "must be a mapping, got null"),
    ([[0, 1]], "must be a mapping, got list"),
    ("points", "must be a mapping, got str"),
    ({"points": []}, "lacks seq, final"),
    (report(points="[[0, 1]]"), "points must be a list"),
    (report(points={"0": [0, 1]}), "points must be a list"),
    (report(points=[[0, 1], [2]]), "point 2 must be an [x, y] pair"),
    (report(points=[[0, 1, 2]]), "point 1 must be an [x, y] pair"),
    (report(points=[[[0], 1]]), "point 1, x must be a number, got list"),
    (report(points=[["0.5", 1]]), "point 1, x must be a number, got str"),
    (report(points=[[True, 1]]), "point 1, x must be a number, got bool"),
    (report(points=[[0, None]]), "point 1, y must be a number, got null"),
    (report(points=[[math.nan, 1]]), "not a finite number"),
    (report(points=[[0, -math.inf]]), "not a finite number"),
    (report(points=[[10**400, 1]]), "too large"),
    (report(points=[[2e6, 1]]), "outside ±1e6"),
    (report(seq=-1), "seq must be a whole number"),
    (report(seq=1.5), "seq must be a whole number"),
    (report(seq="3"), "seq must be a whole number in [0, 9007199254740992], got '3'"),
    (report(seq=True), "seq must be a whole number"),
    (report(seq=MAX_SEQ + 1), "seq must be a whole number"),
    (report(seq=10**5000), "got a huge int"),
    (report(final=1), "final must be true or false, got int"),
    (report(final="true"), "final must be true or false"),
    (report(op=[1]), "op must be a mapping or null"),
    (report(op={"kind": "teleport", "index": 0}), "op kind must be one of add, move, delete, got 'teleport'"),
    (report(op={"kind": "add", "index": -1, "to": [0, 0]}), "op index must be a whole number"),
    (report(op={"kind": "add", "index": 0, "to": [0, "x"]}), "op to, y must be a number"),
    (report(op={"kind": "move", "index": 0, "from": 3, "to": [0, 0]}), "op from must be an [x, y] pair"),
])
def test_a_malformed_report_is_a_points_error_saying_what_is_wrong(raw: object, says: str) -> None:
    with pytest.raises(PointsError) as caught:
        parse_points_report(raw)
    assert says in str(caught.value)


def test_too_many_points_are_refused_before_each_is_read() -> None:
    huge = [[0, 0]] * (LIMITS.points + 1) + [["not even a number"]]
    with pytest.raises(PointsError, match=f"at most {LIMITS.points:,} points here, got {LIMITS.points + 2:,}"):
        parse_points_report(report(points=huge))
    with pytest.raises(PointsError, match="at most 2 points"):
        parse_points_report(report(), max_points=2)
    assert len(parse_points_report(report(points=[[0, 0]] * LIMITS.points)).points) == LIMITS.points


def test_a_long_text_in_a_bad_field_is_not_echoed() -> None:
    with pytest.raises(PointsError) as caught:
        parse_points_report(report(op={"kind": "<script>" + "x" * 10_000, "index": 0}))
    assert len(str(caught.value)) < 100 and "<script>" not in str(caught.value)


def test_report_seq_reads_the_number_of_a_report_that_is_refused() -> None:
    assert report_seq(report(points=[[0, "bad"]], seq=7)) == 7
    for raw in (None, [], {"seq": "7"}, {"seq": -2}, {}, {"seq": 10**5000}):
        assert report_seq(raw) is None


def test_draws_are_checked_once() -> None:
    x = np.linspace(-1, 1, 5)
    draws = Draws(x, np.zeros((3, 5)))
    assert draws.ys.shape == (3, 5) and draws.x.dtype == np.float64
    for bad_x, bad_ys in ((x, np.zeros((3, 4))), (x[:, None], np.zeros((3, 5))), (x, np.zeros(5)),
                          (x, np.full((3, 5), np.nan)), (x, np.zeros((0, 5))), (x[:1], np.zeros((1, 1)))):
        with pytest.raises(ValueError, match="draws"):
            Draws(bad_x, bad_ys)


# ---- the Classify page's canvas: [x0, x1, label] triples -----------------------------------
def test_labelled_reports_become_labelled_points():
    from dashboard.model.labelled import LabelledPoints

    got = parse_points_report({"points": [[0.1, 0.2, 1], [-1, 3, 0.0]], "seq": 4, "final": True,
                               "op": {"kind": "add", "index": 1, "from": None, "to": [-1, 3]}}, classes=2)
    assert isinstance(got.points, LabelledPoints)
    assert got.points.labels.tolist() == [1, 0] and got.points.x[1].tolist() == [-1.0, 3.0]
    assert parse_points_report({"points": [], "seq": 1, "final": True}, classes=3).points == LabelledPoints.none()


@pytest.mark.parametrize(("points", "message"), [
    ([[0, 0]], "triple"),
    ([[0, 0, 2]], "label must be a whole number in \\[0, 1\\]"),
    ([[0, 0, -1]], "label"),
    ([[0, 0, 0.5]], "label"),
    ([[0, 0, True]], "label"),
    ([[0, "1", 0]], "must be a number"),
    ("abc", "triples"),
])
def test_bad_labelled_reports_are_refused(points, message):
    with pytest.raises(PointsError, match=message):
        parse_points_report({"points": points, "seq": 1, "final": True}, classes=2)

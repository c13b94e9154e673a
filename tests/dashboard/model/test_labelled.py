"""Labelled 2-D point sets: checks, float32 rounding, CSV and link forms, hostile input."""

from __future__ import annotations

import base64
import io
import zlib

import numpy as np
import pandas as pd
import pytest

from bnn.errors import PointsError
from dashboard.model import labelled
from dashboard.model.labelled import LabelledPoints


def sample(n: int = 7, classes: int = 3, seed: int = 0) -> LabelledPoints:
    rng = np.random.default_rng(seed)
    return LabelledPoints.of(rng.normal(size=(n, 2)) * 3, rng.integers(0, classes, n))


def test_values_are_rounded_to_float32_and_frozen():
    p = LabelledPoints.of([[0.1, 0.2]], [1])
    assert p.x[0, 0] == float(np.float32(0.1)) and p.labels.dtype == np.int64
    with pytest.raises(ValueError):
        p.x[0, 0] = 1.0
    assert p.classes_present == 2 and len(LabelledPoints.none()) == 0


@pytest.mark.parametrize(("x", "labels", "message"), [
    ([[0, 1, 2]], [0], "two inputs"),
    ([[np.nan, 0]], [0], "finite"),
    ([[2e6, 0]], [0], "within"),
    ([[0, 0]], [0.5], "whole numbers"),
    ([[0, 0]], [6], "0..5"),
    ([[0, 0]], [-1], "0..5"),
    ([[0, 0], [1, 1]], [0], "labels"),
])
def test_bad_points_are_refused_with_a_reason(x, labels, message):
    with pytest.raises(PointsError, match=message):
        LabelledPoints.of(x, labels)


def test_too_many_points_are_refused():
    with pytest.raises(PointsError, match="at most 3"):
        LabelledPoints.of(np.zeros((4, 2)), [0, 1, 0, 1], max_points=3)


@pytest.mark.parametrize("points", [sample(), sample(1, 2, 1), LabelledPoints.none(), sample(300, 6, 2)])
def test_the_link_form_round_trips_exactly(points):
    text = labelled.encode(points)
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert labelled.decode(text) == points


def test_a_point_moved_or_relabelled_changes_identity():
    p = sample()
    moved = LabelledPoints.of(p.x + np.array([[1e-3, 0]] + [[0, 0]] * 6), p.labels)
    relabelled = LabelledPoints.of(p.x, np.where(np.arange(7) == 0, (p.labels + 1) % 3, p.labels))
    assert moved != p and relabelled != p and LabelledPoints.of(p.x, p.labels) == p


@pytest.mark.parametrize("text", ["", "!!", "abc", "A" * 8000, labelled.encode(sample())[:-3]])
def test_damaged_links_say_so(text):
    with pytest.raises(PointsError):
        labelled.decode(text)


def test_a_zip_bomb_is_refused_without_inflating_it():
    bomb = base64.urlsafe_b64encode(zlib.compress(b"\0" * 1_000_000, 9)).decode().rstrip("=")
    with pytest.raises(PointsError, match="more than"):
        labelled.decode(bomb)


def test_a_link_label_out_of_range_is_refused():
    floats = np.zeros(2, dtype="<f4").tobytes()
    raw = np.frombuffer(floats, dtype=np.uint8).reshape(-1, 4).T.copy().tobytes() + bytes([9])
    text = base64.urlsafe_b64encode(zlib.compress(raw)).decode().rstrip("=")
    with pytest.raises(PointsError, match="0..5"):
        labelled.decode(text)


def test_the_csv_holds_the_float32_values_exactly():
    p = sample()
    back = pd.read_csv(io.BytesIO(labelled.to_csv(p)))
    assert list(back.columns) == ["x0", "x1", "label"]
    assert LabelledPoints.of(back[["x0", "x1"]].to_numpy(), back["label"].to_numpy()) == p

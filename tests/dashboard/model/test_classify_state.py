"""The Classify page's state: defaults, presets, and its c_ keys in the link beside the main page's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import bnn
from bnn.errors import ConfigError
from dashboard.model import classify_state as cs
from dashboard.model import link
from dashboard.model.classify_maps import boundary_fields, maps_of, margins
from dashboard.model.labelled import LabelledPoints


def test_the_default_state_is_the_blobs_preset_and_writes_nothing():
    state = cs.ClassifyState()
    assert cs.active_preset(state) == "blobs"
    assert cs.encode(state) == {}
    assert cs.decode({}).state == state


@pytest.mark.parametrize("name", list(cs.PRESETS))
def test_every_preset_round_trips_through_the_link(name):
    state = cs.PRESETS[name].state()
    params = cs.encode(state)
    assert all(k.startswith("c_") for k in params)
    decoded = cs.decode(params)
    assert decoded.problems == () and decoded.state == state
    assert cs.active_preset(decoded.state) == name


def test_a_changed_setting_and_points_travel():
    state = cs.ClassifyState().replace(
        config=cs.default_config(3).replace(epochs=900, hidden=(8,), activation="tanh"),
        points=LabelledPoints.of([[0, 0], [1, 1], [2, -1]], [0, 2, 1]), square=cs.Square(-2.0, 3.5))
    params = cs.encode(state)
    assert params["c_epochs"] == "900" and params["c_hidden"] == "8" and params["c_classes"] == "3"
    assert cs.decode(params).state == state


def test_the_main_link_ignores_c_keys_and_the_classify_link_ignores_the_main_keys():
    main = link.decode({"epochs": "5", "c_epochs": "7", "c_pts": "zz"})
    assert main.problems == () and main.state.config.epochs == 5
    classify = cs.decode({"epochs": "5", "c_epochs": "7"})
    assert classify.problems == () and classify.state.config.epochs == 7


def test_bad_values_are_named_and_replaced_by_defaults():
    d = cs.decode({"c_epochs": "-3", "c_lo": "nan", "c_hi": "1e9", "c_pts": "%%%", "c_zz": "1", "c_act": "bad"})
    text = " | ".join(d.problems)
    for part in ("c_epochs", "c_lo", "c_hi", "Classify points", "'c_zz'", "c_act"):
        assert part in text
    assert d.state == cs.ClassifyState()


def test_points_with_more_classes_than_set_raise_the_class_count_on_decode():
    pts = LabelledPoints.of([[0, 0], [1, 1], [2, 2]], [0, 1, 3])
    d = cs.decode({"c_pts": cs.labelled.encode(pts)})
    assert d.state.classes == 4 and d.state.points == pts


def test_the_state_refuses_what_the_page_cannot_show():
    with pytest.raises(ConfigError, match="categorical"):
        cs.ClassifyState(config=bnn.Config())
    with pytest.raises(ConfigError, match="2 to 6"):
        cs.ClassifyState(config=cs.default_config(7))
    with pytest.raises(ConfigError, match="only 2 classes"):
        cs.ClassifyState(points=LabelledPoints.of([[0, 0]], [2]))
    with pytest.raises(ConfigError, match="low to high"):
        cs.Square(1.0, 1.0)


def test_points_too_many_for_the_link_are_left_out():
    rng = np.random.default_rng(0)
    big = LabelledPoints.of(rng.normal(size=(1000, 2)), rng.integers(0, 2, 1000))
    state = cs.ClassifyState(points=big)
    assert "c_pts" not in cs.encode(state) and not cs.fits_link(state)


def test_the_grid_runs_x0_fastest():
    g = cs.Square(-1.0, 1.0).grid(3)
    assert g[:3, 0].tolist() == [-1.0, 0.0, 1.0] and g[:3, 1].tolist() == [-1.0, -1.0, -1.0]


# ---- the maps ---------------------------------------------------------------------------
def test_margins_give_each_class_region_its_positive_side():
    p = np.array([[0.7, 0.2, 0.1], [0.3, 0.3, 0.4], [0.5, 0.5, 0.0]])
    m = margins(p)  # (K, N): m[k, i] = p_ik - max_{j != k} p_ij
    assert np.allclose(m[:, 0], [0.5, -0.5, -0.6])
    assert np.allclose(m[:, 1], [-0.1, -0.1, 0.1])
    assert np.allclose(m[:, 2], [0.0, 0.0, -0.5])  # a tie sits on the boundary
    assert ((m > 0).sum(axis=0) <= 1).all()  # at most one class is ahead at a point
    two = margins(np.array([[0.8, 0.2]]))
    assert len(boundary_fields(np.array([[0.8, 0.2]]))) == 1 and np.allclose(two[1], -0.6)


def test_the_maps_are_the_engines_table_on_the_grid():
    state = cs.ClassifyState(config=cs.default_config().replace(epochs=50, hidden=(8,)))
    fitted = bnn.fit(state.points.x, state.points.labels, state.config)
    maps = maps_of(fitted, state.square, n=12, samples=20, boundary_draws=4)
    table = bnn.predict(fitted, state.square.grid(12), samples=20)
    assert maps.table.equals(table)
    assert maps.draws.shape == (4, 12, 12, 2)
    assert np.allclose(maps.probabilities.sum(-1), 1) and maps.confidence.min() >= 0.5
    assert np.array_equal(maps.label, table["label"].to_numpy().reshape(12, 12))
    assert maps.grid("x0")[0].tolist() == state.square.axis(12).tolist()  # a row runs along x0


def test_a_frozen_state_replaces_fields():
    s = cs.ClassifyState()
    assert dataclasses.replace(s, square=cs.Square(-1.0, 1.0)).square.high == 1.0

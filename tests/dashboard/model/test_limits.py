"""The dashboard's caps (dashboard.model.limits): messages quote the caps that apply here, and a
run over the work budget is told how far to lower what."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

import bnn
from dashboard.model import points as pts
from dashboard.model.limits import LIMITS, check_config, check_training_work
from dashboard.model.link import decode
from dashboard.model.points import Points

ENGINE_RANGES = ("1000000", "1,000,000", "4096", "4,096", "2^63", "8 layers")  # bnn.config's bounds


@pytest.mark.parametrize(("key", "value", "words"), [
    ("epochs", "2000000", "epochs must be in [1, 20,000] here, got 2,000,000"),  # over the engine's range too
    ("epochs", "0", "epochs must be in [1, 20,000] here, got 0"),
    ("hidden", "5000", "units per hidden layer must be in [1, 256] here, got 5,000"),
    ("hidden", "32-0", "units per hidden layer must be in [1, 256] here, got 0"),
    ("hidden", "8-8-8-8-8-8-8-8-8", "at most 3 hidden layers here, got 9"),
    ("mc", "5000", "train_samples must be in [1, 64] here, got 5,000"),
    ("mc", "0", "train_samples must be in [1, 64] here, got 0"),
    ("seed", "-4", "seed must be in [0, 2,147,483,647] here, got -4"),
    ("batch", "5000", "batch_size must be in [1, 2,000] here, got 5,000"),
])
def test_link_messages_quote_the_dashboards_caps_not_the_engines(key: str, value: str, words: str) -> None:
    [problem] = decode({key: value}).problems
    assert words in problem, problem
    assert not any(bound in problem for bound in ENGINE_RANGES), problem


def test_check_config_says_the_same_as_the_link() -> None:
    with pytest.raises(bnn.ConfigError, match=re.escape("epochs must be in [1, 20,000] here, got 20,001")):
        check_config(bnn.Config(epochs=20_001))
    check_config(bnn.Config(epochs=20_000, hidden=(256, 256, 256), train_samples=64, batch_size=2_000))


HEAVY = bnn.Config(hidden=(256, 256, 256), epochs=20_000, train_samples=64)


def _most(message: str, what: str) -> int | None:
    found = re.search(rf"the {what} to at most ([\d,]+)", message)
    return None if found is None else int(found.group(1).replace(",", ""))


@pytest.mark.parametrize(("config", "n_points"), [
    (HEAVY, 6), (HEAVY.replace(train_samples=8), 6), (HEAVY.replace(epochs=2_000, train_samples=1), 2_000),
    (bnn.Config(hidden=(64, 64), epochs=20_000, train_samples=16, batch_size=50), 1_000),
])
def test_a_run_over_the_budget_is_told_the_most_epochs_and_samples_that_fit(config: bnn.Config, n_points: int) -> None:
    with pytest.raises(bnn.ConfigError) as info:
        check_training_work(config, n_points)
    message = str(info.value)
    assert "times heavier than one visitor may ask" in message and "fewer units per layer or fewer points" in message
    epochs, samples = _most(message, "epochs"), _most(message, "training samples")
    assert epochs is not None  # every case here fits the budget at some number of epochs
    # the oracle is the check itself: the number named passes, one more fails
    check_training_work(config.replace(epochs=epochs), n_points)
    with pytest.raises(bnn.ConfigError):
        check_training_work(config.replace(epochs=epochs + 1), n_points)
    if samples is None:  # not offered: even one sample per step is too heavy, or it is one already
        with pytest.raises(bnn.ConfigError):
            check_training_work(config.replace(train_samples=1), n_points)
    else:
        check_training_work(config.replace(train_samples=samples), n_points)
        with pytest.raises(bnn.ConfigError):
            check_training_work(config.replace(train_samples=samples + 1), n_points)


def test_a_run_too_heavy_even_for_one_epoch_and_sample_is_told_to_use_fewer_units_or_points() -> None:
    # within the caps one epoch always fits the budget; a smaller one stands in. One step of one sample
    # on 2,000 points through 132,353 weights is 2.6e8 multiply-adds
    small = dataclasses.replace(LIMITS, training_work=1e8)
    with pytest.raises(bnn.ConfigError) as info:
        check_training_work(HEAVY.replace(epochs=1, train_samples=1), 2_000, small)
    assert str(info.value).endswith("; use fewer units per layer or fewer points")


def test_the_point_tables_bound_is_a_cap_of_the_dashboard() -> None:
    assert LIMITS.point_abs == 1e6 and not hasattr(pts, "MAX_ABS")  # one name, no clash with bnn.data.MAX_ABS
    bound = LIMITS.point_abs
    Points.of([-bound, bound], [bound, -bound])
    with pytest.raises(bnn.PointsError, match="within ±1e6"):
        Points.of([0.0], [np.nextafter(np.float32(bound), np.float32(np.inf))])
    with pytest.raises(bnn.PointsError, match="outside ±1e6"):
        pts.parse_number("1000001")

"""What the main page's chart shows first on a run, before any training of this run has reported."""

from __future__ import annotations

import pandas as pd
import pytest

import bnn
from dashboard import main_page, result
from dashboard.model import runner
from dashboard.model.link import AppState
from dashboard.model.points import Points


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch) -> runner.FitCache:
    fresh = runner.FitCache(4)
    monkeypatch.setattr(runner, "CACHE", fresh)
    return fresh


def test_a_newcomer_waiting_for_a_fit_sees_the_nearest_cached_fit_of_the_same_points(cache) -> None:
    article = AppState(config=bnn.Config(epochs=200))
    fitted = bnn.fit(article.points.x, article.points.y, article.config)
    cache.put(runner.key_of(article), fitted)
    wanted = AppState(config=bnn.Config(epochs=200, seed=7))
    chart = main_page.first_chart(wanted, None, runner.key_of(wanted), None, None, None)
    assert chart.title == "a cached fit (other seed) while yours waits" and not chart.prior
    cached_band = result.band_data(fitted, runner.key_of(article), wanted.view)[0]
    pd.testing.assert_frame_equal(chart.data.table, cached_band.table)  # the cached fit's band itself
    other_points = wanted.replace(points=Points.of(wanted.points.x, wanted.points.y + 1.0))
    chart = main_page.first_chart(other_points, None, runner.key_of(other_points), None, None, None)
    assert chart.prior and chart.title == "the prior, before training"  # no fit of these points: the prior

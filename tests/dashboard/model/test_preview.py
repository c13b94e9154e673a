"""The preview: the fit on screen trained on for a moment on the new points."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import bnn
from dashboard.model.points import Points
from dashboard.model.preview import warm_start

ARTICLE = Points.article()


@pytest.fixture(scope="module")
def fitted() -> bnn.Fitted:
    return bnn.fit(ARTICLE.x, ARTICLE.y, bnn.Config(epochs=600))


def test_it_starts_from_the_fit_on_screen(fitted: bnn.Fitted) -> None:
    start = warm_start(fitted, ARTICLE, fitted.config, steps=0, seconds=math.inf)
    assert start is not None
    for (name, a), b in zip(fitted.model.named_parameters(), start.model.parameters()):
        assert torch.equal(a, b), name
    assert start.stopped_early  # never taken for a finished fit (no cache, no downloads)


def test_the_band_follows_a_moved_point(fitted: bnn.Fitted) -> None:
    # move the point at x = 1 (y = 3) up to y = 6: after 300 steps from the fit on screen the mean
    # there has moved more than half the way, where the fit on screen still says about 3.
    x, y = ARTICLE.x.copy(), ARTICLE.y.copy()
    k = int(np.argmin(np.abs(x - 1.0)))
    y[k] = 6.0
    moved = Points.of(x, y)
    preview = warm_start(fitted, moved, fitted.config, seconds=math.inf)
    assert preview is not None
    before = fitted.predict([x[k]], samples=200)["mean"].iloc[0]
    after = preview.predict([x[k]], samples=200)["mean"].iloc[0]
    assert abs(before - 3.0) < 0.5
    assert abs(after - 6.0) < 0.5 * abs(before - 6.0)


def test_no_preview_for_another_network_or_no_points(fitted: bnn.Fitted) -> None:
    assert warm_start(fitted, ARTICLE, fitted.config.replace(hidden=(16,))) is None
    assert warm_start(fitted, ARTICLE, fitted.config.replace(learn_noise=True)) is not None  # same shapes
    assert warm_start(fitted, Points.none(), fitted.config) is None


def test_a_fixed_noise_is_the_new_configs(fitted: bnn.Fitted) -> None:
    preview = warm_start(fitted, ARTICLE, fitted.config.replace(noise_sigma=0.5), steps=1, seconds=math.inf)
    assert preview is not None and preview.noise_sigma == pytest.approx(0.5, rel=1e-5)


def test_a_fit_is_quick_when_one_like_it_was(fitted: bnn.Fitted) -> None:
    from dataclasses import replace

    from dashboard.model.preview import QUICK_SECONDS, expected_seconds, quick

    took = replace(fitted, seconds=0.1)  # a fit that took a tenth of a second
    assert expected_seconds(took, 6, fitted.config, 6) == pytest.approx(0.1)
    assert quick(took, 6, replace(fitted.config, seed=5), 6)  # another seed: the same work
    # ten times the epochs: ten times the work, a second, so a preview goes first
    longer = replace(fitted.config, epochs=10 * fitted.config.epochs)
    assert expected_seconds(took, 6, longer, 6) == pytest.approx(1.0)
    assert not quick(took, 6, longer, 6)
    assert not quick(replace(took, seconds=QUICK_SECONDS), 6, fitted.config, 6)  # as slow as the bound
    assert not quick(replace(took, stopped_early=True), 6, fitted.config, 6)  # a preview's time says nothing
    assert not quick(None, 6, fitted.config, 6)

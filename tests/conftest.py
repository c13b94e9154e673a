"""Shared test setup: one torch thread (the nets are tiny and tests run side by side)."""

from __future__ import annotations

import numpy as np
import pytest

import bnn
from bnn import toys

bnn.set_threads(1)


@pytest.fixture(scope="session")
def article_points() -> tuple[np.ndarray, np.ndarray]:
    return toys.article_points()


@pytest.fixture(scope="session")
def article_fit(article_points: tuple[np.ndarray, np.ndarray]) -> bnn.Fitted:
    """The article's run with the default config (about a second); shared by several tests."""
    x, y = article_points
    return bnn.fit(x, y, bnn.Config())

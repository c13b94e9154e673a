"""Closed-form answers the tests compare against."""

from __future__ import annotations

import numpy as np


def blr_posterior(x: np.ndarray, y: np.ndarray, noise: float, prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Posterior mean and covariance of (slope, intercept) in y = a x + b + N(0, noise^2) under a
    N(0, prior^2) prior on both (Bishop 2006, eq. 3.53-3.54)."""
    phi = np.stack([x, np.ones_like(x)], axis=1)
    cov = np.linalg.inv(phi.T @ phi / noise**2 + np.eye(2) / prior**2)
    return cov @ phi.T @ y / noise**2, cov


def heteroscedastic_sigma(x: np.ndarray) -> np.ndarray:
    """The noise std of the heteroscedastic tests' synthetic data: 0.1 + 0.2|x|."""
    return 0.1 + 0.2 * np.abs(x)


def heteroscedastic_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n points uniform on [-3, 3] of sin(x) with Gaussian noise of std :func:`heteroscedastic_sigma` (seeded)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3, 3, n)
    return x, np.sin(x) + heteroscedastic_sigma(x) * rng.standard_normal(n)

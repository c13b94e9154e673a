"""Named toy regression problems, and point sets drawn from them or from a typed formula.

The first is the article's: y = -x^4 + 3x^2 + 1 observed without noise at
x = -2, -1.8, -1, 1, 1.8, 2. The others are chosen for the uncertainty they show: a
wide gap between two clusters (where mean-field VI is known to be over-confident,
Foong et al. 2019), a periodic function seen over a short window, and a step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bnn.data import as_inputs, as_targets
from bnn.errors import PointsError

ARTICLE_X = (-2.0, -1.8, -1.0, 1.0, 1.8, 2.0)
MAX_GENERATED_POINTS = 10_000


def _quartic(x: np.ndarray) -> np.ndarray:
    return -(x**4) + 3 * x**2 + 1


def _gap(x: np.ndarray) -> np.ndarray:
    return np.sin(x) + 0.1 * x**2


def _periodic(x: np.ndarray) -> np.ndarray:
    return np.sin(2 * x)


def _step(x: np.ndarray) -> np.ndarray:
    return np.where(x < 0, -1.0, 1.0)


@dataclass(frozen=True)
class ToyFunction:
    """A true function, where to observe it by default, and how noisily."""

    name: str
    label: str  # the formula, for people
    fn: Callable[[np.ndarray], np.ndarray]
    x_ranges: tuple[tuple[float, float], ...]  # intervals the default points fill
    n_points: int
    noise: float  # std of the Gaussian noise added to the default points
    fixed_x: tuple[float, ...] | None = None  # exact x of the default points, if any

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.fn(np.asarray(x, dtype=np.float64))

    def default_points(self, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """This problem's default point set (the article's six points for ``quartic``)."""
        if self.fixed_x is not None:
            x = np.array(self.fixed_x)
            return x, self(x)
        per = _split_count(self.n_points, len(self.x_ranges))
        x = np.concatenate([np.linspace(a, b, k) for (a, b), k in zip(self.x_ranges, per)])
        return sample_points(self.fn, x, self.noise, seed)


def _split_count(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


TOYS: dict[str, ToyFunction] = {
    t.name: t
    for t in (
        ToyFunction("quartic", "-x^4 + 3x^2 + 1 (the article's)", _quartic, ((-2.0, 2.0),), 6, 0.0, ARTICLE_X),
        ToyFunction("gap", "sin(x) + 0.1x^2, two clusters with a gap", _gap, ((-4.0, -2.0), (2.0, 4.0)), 20, 0.1),
        ToyFunction("periodic", "sin(2x) on a short window", _periodic, ((-2.0, 2.0),), 20, 0.1),
        ToyFunction("step", "sign(x)", _step, ((-3.0, 3.0),), 20, 0.05),
    )
}


def names() -> list[str]:
    return list(TOYS)


def get(name: str) -> ToyFunction:
    try:
        return TOYS[name]
    except KeyError:
        raise PointsError(f"unknown toy function {name!r}; choose one of {', '.join(TOYS)}") from None


def article_points() -> tuple[np.ndarray, np.ndarray]:
    """The article's six noise-free points of -x^4 + 3x^2 + 1."""
    return TOYS["quartic"].default_points()


def sample_points(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, noise: float = 0.0,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """y = fn(x) + noise * eps with eps ~ N(0, 1) from a seeded generator; checked."""
    x = as_inputs(x)[:, 0]
    if not np.isfinite(noise) or noise < 0:
        raise PointsError(f"noise must be a non-negative number, got {noise!r}")
    y = np.asarray(fn(x), dtype=np.float64) * np.ones_like(x)
    y = y + noise * np.random.default_rng(seed).standard_normal(x.shape[0])
    return x, as_targets(y, n=x.shape[0], name="y = f(x)")


def generate(fn: Callable[[np.ndarray], np.ndarray], n: int, low: float, high: float, noise: float = 0.0,
             seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """n points evenly spaced on [low, high] of fn, plus Gaussian noise."""
    if not 1 <= n <= MAX_GENERATED_POINTS:
        raise PointsError(f"the number of points must be in [1, {MAX_GENERATED_POINTS}], got {n}")
    if not (np.isfinite(low) and np.isfinite(high)) or low > high:
        raise PointsError(f"the interval must be finite with low <= high, got [{low}, {high}]")
    return sample_points(fn, np.linspace(low, high, n), noise, seed)

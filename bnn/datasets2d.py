"""Two-dimensional classification toys, each seeded: (x (N, 2) float64, labels (N,) int64).

The shapes of TensorFlow Playground and scikit-learn's generators (moons, circles, XOR, a
spiral), plus two chosen for the uncertainty they separate: ``blobs``, two tight clusters with a
wide gap between them (no data in the gap: epistemic uncertainty there), and ``overlap``, two
classes whose labels are coin flips in a strip between them (data everywhere in the strip, but no
way to tell the classes apart: aleatoric uncertainty there). ``noise`` is the std of the Gaussian
jitter added to each point, in the data's units; every generator draws from
``numpy.random.default_rng(seed)`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bnn.errors import PointsError

MAX_POINTS = 100_000
Dataset = tuple[np.ndarray, np.ndarray]


def moons(n: int = 500, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons``), half the points each."""
    rng = _rng(n, noise, seed)
    n0 = n - n // 2
    t0, t1 = np.linspace(0, np.pi, n0), np.linspace(0, np.pi, n // 2)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    return _finish(rng, np.concatenate([upper, lower]), np.repeat([0, 1], [n0, n // 2]), noise)


def circles(n: int = 500, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> Dataset:
    """An inner circle (class 1) of radius ``factor`` inside the unit circle (class 0)."""
    rng = _rng(n, noise, seed)
    if not 0 < factor < 1:
        raise PointsError(f"factor must be in (0, 1), got {factor!r}")
    n0 = n - n // 2
    t0, t1 = rng.uniform(0, 2 * np.pi, n0), rng.uniform(0, 2 * np.pi, n // 2)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = factor * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    return _finish(rng, np.concatenate([outer, inner]), np.repeat([0, 1], [n0, n // 2]), noise)


def xor(n: int = 500, noise: float = 0.0, seed: int = 0) -> Dataset:
    """Uniform on [-1, 1]^2 away from the axes (|x_i| > 0.1); label 1 where x0 * x1 < 0."""
    rng = _rng(n, noise, seed)
    x = rng.uniform(0.1, 1.0, (n, 2)) * rng.choice([-1.0, 1.0], (n, 2))
    return _finish(rng, x, (x[:, 0] * x[:, 1] < 0).astype(np.int64), noise)


def spiral(n: int = 500, noise: float = 0.05, arms: int = 2, seed: int = 0) -> Dataset:
    """``arms`` interleaved spiral arms (2 or more), one class each, one and a half turns long."""
    rng = _rng(n, noise, seed)
    if isinstance(arms, bool) or not isinstance(arms, int) or not 2 <= arms <= 10:
        raise PointsError(f"arms must be a whole number in [2, 10], got {arms!r}")
    labels = np.arange(n) % arms
    r = rng.uniform(0.05, 1.0, n)
    angle = 3 * np.pi * r + 2 * np.pi * labels / arms
    return _finish(rng, np.stack([r * np.cos(angle), r * np.sin(angle)], axis=1), labels, noise)


def blobs(n: int = 200, noise: float = 0.3, gap: float = 4.0, seed: int = 0) -> Dataset:
    """Two round Gaussian clusters of std ``noise`` centred at (∓gap/2, 0), class 0 on the left."""
    rng = _rng(n, noise, seed)
    if not 0 <= gap <= 100:
        raise PointsError(f"gap must be in [0, 100], got {gap!r}")
    n0 = n - n // 2
    centres = np.repeat([[-gap / 2, 0.0], [gap / 2, 0.0]], [n0, n // 2], axis=0)
    return _finish(rng, centres, np.repeat([0, 1], [n0, n // 2]), noise)


def overlap(n: int = 400, noise: float = 0.0, width: float = 1.0, seed: int = 0) -> Dataset:
    """x0 uniform on [-3, 3], x1 ~ N(0, 0.5^2); class 1 where x0 > 0, except in the strip
    |x0| < ``width`` where the label is a fair coin flip (label noise: p(1 | x) = 1/2 there)."""
    rng = _rng(n, noise, seed)
    if not 0 < width < 3:
        raise PointsError(f"width must be in (0, 3), got {width!r}")
    x = np.stack([rng.uniform(-3, 3, n), rng.normal(0.0, 0.5, n)], axis=1)
    labels = (x[:, 0] > 0).astype(np.int64)
    strip = np.abs(x[:, 0]) < width
    labels[strip] = rng.integers(0, 2, int(strip.sum()))
    return _finish(rng, x, labels, noise)


DATASETS: dict[str, Callable[..., Dataset]] = {
    "moons": moons, "circles": circles, "xor": xor, "spiral": spiral, "blobs": blobs, "overlap": overlap,
}


def make(name: str, **options: object) -> Dataset:
    """The data set ``name`` (one of :data:`DATASETS`) with its options (n, noise, seed, ...)."""
    try:
        generator = DATASETS[name]
    except KeyError:
        raise PointsError(f"unknown data set {name!r}; choose one of {', '.join(DATASETS)}") from None
    return generator(**options)


def _rng(n: int, noise: float, seed: int) -> np.random.Generator:
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_POINTS:
        raise PointsError(f"the number of points must be a whole number in [2, {MAX_POINTS:,}], got {n!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float)) or not 0 <= noise <= 10:
        raise PointsError(f"noise must be a number in [0, 10], got {noise!r}")
    return np.random.default_rng(seed)


def _finish(rng: np.random.Generator, x: np.ndarray, labels: np.ndarray, noise: float) -> Dataset:
    """Jitter, then a seeded shuffle so that a prefix of the points is a fair sample of them."""
    x = x + noise * rng.standard_normal(x.shape)
    order = rng.permutation(x.shape[0])
    return x[order].astype(np.float64), labels[order].astype(np.int64)

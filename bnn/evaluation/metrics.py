"""Scores of a predictive distribution on held-out data: RMSE, log-likelihood, calibration, CRPS.

A Bayes-by-Backprop network predicts y* at x* with the mixture over posterior draws

    p(y* | x*, D) ~= (1/S) sum_s N(y*; f_s(x*), sigma^2),

f_s the network under weight sample s and sigma the observation noise: one number, or, for a
heteroscedastic noise, one per draw and point, sigma_s(x*), given as an array (S, N). Every score
here is computed from that mixture, given the draws f (S, N) in the target's units:

- ``rmse``: of the predictive mean (1/S) sum_s f_s;
- ``log_likelihood``: the mean over test points of log p(y* | x*, D), by log-sum-exp
  over the S components (the quantity of Hernández-Lobato & Adams 2015, Table 1);
  ``gaussian_log_likelihood`` is the cruder moment-matched Gaussian, reported only
  under its own name;
- ``coverage``: the share of y* inside the central interval of each level, read off
  the mixture's CDF at y* (the probability integral transform), which is exact and
  needs no quantile search; across levels it is the calibration curve;
- ``crps``: the continuous ranked probability score of the mixture in closed form
  (Grimit et al. 2006, "The continuous ranked probability score for circular variables
  and its application to mesoscale forecast ensemble verification", eq. 5). Written
  here because the one library that offers it (properscoring) is unmaintained since
  2015; ``tests/bnn/evaluation/test_metrics.py`` checks it against a Monte Carlo estimate.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from bnn.errors import PointsError

CALIBRATION_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)
_LOG_2PI = math.log(2 * math.pi)
_CRPS_CHUNK = 2_000_000  # S * S * chunk entries per block of the CRPS pair term
Noise = float | np.ndarray  # one std, or one per draw and point (S, N)


@dataclass(frozen=True)
class Scores:
    """All scores of one prediction on one test set (original units)."""

    n: int
    rmse: float
    test_ll: float  # mean log p(y*|x*, D) from the mixture (log-sum-exp)
    test_ll_gaussian: float  # mean log N(y*; moment-matched mean, var): labelled, not the headline
    crps: float
    coverage: dict[float, float]  # level -> share of test points inside the central interval

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["coverage"] = {f"{level:g}": value for level, value in self.coverage.items()}
        return out


def score(f: np.ndarray, noise_sigma: Noise, y: np.ndarray,
          levels: tuple[float, ...] = CALIBRATION_LEVELS) -> Scores:
    """Every score of the mixture given draws f (S, N), noise std and targets y (N,)."""
    f, y = _checked(f, y, noise_sigma)
    return Scores(
        n=int(y.shape[0]),
        rmse=rmse(f.mean(axis=0), y),
        test_ll=float(log_likelihood(f, noise_sigma, y).mean()),
        test_ll_gaussian=float(gaussian_log_likelihood(f, noise_sigma, y).mean()),
        crps=float(crps(f, noise_sigma, y).mean()),
        coverage=coverage(f, noise_sigma, y, levels),
    )


def rmse(mean: np.ndarray, y: np.ndarray) -> float:
    """Root mean squared error of point predictions."""
    return float(np.sqrt(np.mean((np.asarray(mean) - np.asarray(y)) ** 2)))


def log_likelihood(f: np.ndarray, noise_sigma: Noise, y: np.ndarray) -> np.ndarray:
    """log (1/S) sum_s N(y; f_s, sigma_s^2) per point: (N,)."""
    f, y = _checked(f, y, noise_sigma)
    z = (y[None, :] - f) / noise_sigma
    log_comp = -0.5 * z * z - np.log(noise_sigma) - 0.5 * _LOG_2PI  # (S, N)
    return torch.logsumexp(torch.from_numpy(log_comp), dim=0).numpy() - math.log(f.shape[0])


def gaussian_log_likelihood(f: np.ndarray, noise_sigma: Noise, y: np.ndarray) -> np.ndarray:
    """log N(y; mean_s f_s, var_s f_s + mean_s sigma_s^2) per point: the moment-matched Gaussian."""
    f, y = _checked(f, y, noise_sigma)
    var = f.var(axis=0) + np.mean(np.broadcast_to(np.square(noise_sigma), f.shape), axis=0)
    return -0.5 * ((y - f.mean(axis=0)) ** 2 / var + np.log(var) + _LOG_2PI)


def pit(f: np.ndarray, noise_sigma: Noise, y: np.ndarray) -> np.ndarray:
    """The mixture's CDF at each target, (1/S) sum_s Phi((y - f_s) / sigma_s): (N,) in [0, 1]."""
    f, y = _checked(f, y, noise_sigma)
    return _ndtr((y[None, :] - f) / noise_sigma).mean(axis=0)


def coverage(f: np.ndarray, noise_sigma: Noise, y: np.ndarray,
             levels: tuple[float, ...] = CALIBRATION_LEVELS) -> dict[float, float]:
    """Share of points inside the central interval of each level.

    y lies inside the central interval [q_{(1-p)/2}, q_{(1+p)/2}] of a continuous
    distribution exactly when its CDF value u satisfies |u - 1/2| <= p/2.
    """
    distance = np.abs(pit(f, noise_sigma, y) - 0.5)
    out: dict[float, float] = {}
    for level in levels:
        if not 0 < level < 1:
            raise PointsError(f"coverage levels must lie strictly between 0 and 1, got {level!r}")
        out[float(level)] = float(np.mean(distance <= level / 2))
    return out


def crps(f: np.ndarray, noise_sigma: Noise, y: np.ndarray) -> np.ndarray:
    """CRPS of the equal-weight mixture of N(f_s, sigma_s^2) at each target: (N,), lower is better.

    CRPS = (1/S) sum_s A(y - f_s, sigma_s^2) - (1/(2 S^2)) sum_{s,t} A(f_s - f_t, sigma_s^2 + sigma_t^2),
    A(m, v) = E|X| for X ~ N(m, v) = 2 sqrt(v) phi(m / sqrt(v)) + m (2 Phi(m / sqrt(v)) - 1).
    """
    f, y = _checked(f, y, noise_sigma)
    sd = np.broadcast_to(np.asarray(noise_sigma, dtype=np.float64), f.shape)
    first = _abs_moment(y[None, :] - f, sd).mean(axis=0)
    s = f.shape[0]
    second = np.empty_like(first)
    chunk = max(1, _CRPS_CHUNK // (s * s))
    for start in range(0, f.shape[1], chunk):
        block, var = f[:, start:start + chunk], np.square(sd[:, start:start + chunk])
        diff = block[:, None, :] - block[None, :, :]  # (S, S, n)
        pair_sd = np.sqrt(var[:, None, :] + var[None, :, :])
        second[start:start + chunk] = _abs_moment(diff, pair_sd).mean(axis=(0, 1))
    return first - 0.5 * second


def _ndtr(z: np.ndarray) -> np.ndarray:
    """The standard normal CDF (torch's, so that the runtime needs no scipy)."""
    return torch.special.ndtr(torch.from_numpy(np.asarray(z, dtype=np.float64))).numpy()


def _abs_moment(m: np.ndarray, sd: float | np.ndarray) -> np.ndarray:
    z = m / sd
    return 2 * sd * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi) + m * (2 * _ndtr(z) - 1)


def _checked(f: np.ndarray, y: np.ndarray, noise_sigma: Noise) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(f, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if f.ndim == 1:
        f = f[None, :]
    if f.ndim != 2 or f.shape[1] != y.shape[0] or y.shape[0] == 0:
        raise PointsError(f"need draws of shape (S, N) and N targets, got {f.shape} and {y.shape[0]}")
    if np.ndim(noise_sigma) == 0:
        if not (noise_sigma > 0 and math.isfinite(noise_sigma)):
            raise PointsError(f"the noise std must be a positive number, got {noise_sigma!r}")
    else:
        sd = np.asarray(noise_sigma, dtype=np.float64)
        if sd.shape != f.shape:
            raise PointsError(f"a noise std per draw and point must have the draws' shape {f.shape}, got {sd.shape}")
        if not (np.all(sd > 0) and np.all(np.isfinite(sd))):
            raise PointsError("every noise std must be a positive number")
    return f, y

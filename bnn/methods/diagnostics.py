"""Convergence diagnostics of many MCMC chains: split R-hat and effective sample size.

Two generations are here. :func:`rank_rhat`, :func:`ess_bulk` and :func:`ess_tail` are the
rank-normalised versions of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021,
"Rank-normalization, folding, and localization: an improved R-hat for assessing convergence
of MCMC", Bayesian Analysis 16(2)), the ones the reference sampler is certified with:
the draws are split in halves and replaced by the normal scores of their pooled ranks
(Blom's offset 3/8), so heavy tails and infinite variances cannot hide a disagreement
between chains; R-hat is the larger of the bulk's and that of the draws folded about their
median (which sees chains that differ in spread, not in location); the bulk ESS is the ESS
of the rank-normalised split chains and the tail ESS the smaller ESS of the indicators of
the 5 % and 95 % quantiles. The autocorrelation sum is Stan's (Geyer's initial positive
sequence, made monotone, the last positive even lag counted once). They are checked against
ArviZ (``arviz-stats``, a dev dependency only) in ``tests/bnn/methods/test_reference.py``.

The older :func:`split_rhat` and :func:`effective_sample_size` are the textbook versions:

Both follow Gelman et al., "Bayesian Data Analysis" (3rd ed., section 11.4-11.5), the
formulas Stan and Pyro use: split R-hat compares the spread within half-chains with the
spread between them; the effective sample size sums the chains' pooled autocorrelation
over Geyer's initial positive (monotone) sequence. Written here (about forty lines)
because the runtime does not depend on Pyro; ``tests/bnn/methods/test_hmc.py`` checks both against
``pyro.ops.stats``. For a network, compute them on function values f(x), not weights:
swapping hidden units leaves f unchanged, so weights never mix across those copies.
"""

from __future__ import annotations

import numpy as np
import torch


def split_rhat(draws: np.ndarray) -> float:
    """Split R-hat of draws (C, D) of one scalar: about 1 when the chains agree."""
    c, d = draws.shape
    half = d // 2
    if half < 2:
        return float("nan")
    x = np.concatenate([draws[:, :half], draws[:, -half:]])  # (2C, half)
    within = x.var(axis=1, ddof=1).mean()
    between = half * x.mean(axis=1).var(ddof=1)
    var_plus = (half - 1) / half * within + between / half
    if within == 0:
        return 1.0 if between == 0 else float("inf")
    return float(np.sqrt(var_plus / within))


def effective_sample_size(draws: np.ndarray) -> float:
    """ESS of draws (C, D) of one scalar, from the chains' pooled autocorrelation."""
    c, d = draws.shape
    if d < 4:
        return float("nan")
    centred = draws - draws.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * d)))  # zero-padded FFT: no circular wrap-around
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    autocov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :d] / d  # (C, D)
    within = (autocov[:, 0] * d / (d - 1)).mean()
    var_plus = within * (d - 1) / d + (draws.mean(axis=1).var(ddof=1) if c > 1 else 0.0)
    if c == 1:
        within = var_plus  # then rho is the chain's own autocorrelation
    if var_plus == 0:
        return float(c * d)
    rho = 1.0 - (within - autocov.mean(axis=0)) / var_plus  # (D,)
    rho[0] = 1.0
    # Geyer: sum pairs rho_{2k} + rho_{2k+1} while positive, made monotone decreasing
    pairs = rho[: d - d % 2].reshape(-1, 2).sum(axis=1)
    stop = np.argmax(pairs <= 0) if (pairs <= 0).any() else len(pairs)
    pairs = np.minimum.accumulate(pairs[:stop])
    tau = -1.0 + 2.0 * pairs.sum()
    return float(c * d / tau)


BLOM = 3.0 / 8.0


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of a flat array, ties given their average rank (scipy's rankdata 'average')."""
    n = x.size
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]]
    starts = np.flatnonzero(new)
    counts = np.diff(np.r_[starts, n])
    ranks = np.empty(n)
    ranks[order] = (starts + (counts + 1) / 2.0)[np.cumsum(new) - 1]
    return ranks


def _normal_quantile(p: np.ndarray) -> np.ndarray:
    return torch.special.ndtri(torch.as_tensor(p, dtype=torch.float64)).numpy()


def rank_normalise(draws: np.ndarray) -> np.ndarray:
    """The normal scores Phi^-1((rank - 3/8) / (S + 1/4)) of the pooled ranks, same shape."""
    ranks = _average_ranks(np.asarray(draws, dtype=float).ravel())
    return _normal_quantile((ranks - BLOM) / (ranks.size - 2 * BLOM + 1)).reshape(np.shape(draws))


def split_chains(draws: np.ndarray) -> np.ndarray:
    """(C, D) -> (2C, D // 2): each chain's first and last halves (the middle draw of an odd D dropped)."""
    half = draws.shape[1] // 2
    return np.concatenate([draws[:, :half], draws[:, draws.shape[1] - half:]])


def _rhat(x: np.ndarray) -> float:
    """The classic R-hat of (C, D) chains, no splitting."""
    d = x.shape[1]
    within = x.var(axis=1, ddof=1).mean()
    between = d * x.mean(axis=1).var(ddof=1)
    if within == 0:
        return 1.0 if between == 0 else float("inf")
    return float(np.sqrt((between / within + d - 1) / d))


def rank_rhat(draws: np.ndarray) -> float:
    """Rank-normalised split R-hat of draws (C, D) of one scalar: the larger of the bulk's and
    the folded draws' (Vehtari et al. 2021, equation 4 and section 4.2). NaN if C < 2 or D < 4."""
    draws = np.asarray(draws, dtype=float)
    if draws.shape[0] < 2 or draws.shape[1] < 4 or not np.isfinite(draws).all():
        return float("nan")
    split = split_chains(draws)
    bulk = _rhat(rank_normalise(split))
    tail = _rhat(rank_normalise(np.abs(split - np.median(split))))
    return max(bulk, tail)


def _autocovariance(x: np.ndarray) -> np.ndarray:
    """Each chain's autocovariance at every lag, divided by D (C, D)."""
    d = x.shape[1]
    centred = x - x.mean(axis=1, keepdims=True)
    size = 2 ** int(np.ceil(np.log2(2 * d)))
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    return np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :d] / d


def ess_stan(x: np.ndarray) -> float:
    """ESS of chains (C, D) as Stan and ArviZ compute it (no splitting or ranking here)."""
    x = np.asarray(x, dtype=float)
    c, d = x.shape
    if np.ptp(x) < np.finfo(float).resolution:
        return float(x.size)
    acov = _autocovariance(x)
    mean_var = acov[:, 0].mean() * d / (d - 1.0)
    var_plus = mean_var * (d - 1.0) / d + (x.mean(axis=1).var(ddof=1) if c > 1 else 0.0)
    rho = np.zeros(d)
    rho[0] = even = 1.0
    rho[1] = odd = 1.0 - (mean_var - acov[:, 1].mean()) / var_plus
    t = 1
    while t < d - 3 and even + odd > 0.0:  # Geyer's initial positive sequence
        even = 1.0 - (mean_var - acov[:, t + 1].mean()) / var_plus
        odd = 1.0 - (mean_var - acov[:, t + 2].mean()) / var_plus
        if even + odd >= 0:
            rho[t + 1], rho[t + 2] = even, odd
        t += 2
    max_t = t - 2
    if even > 0:
        rho[max_t + 1] = even
    t = 1
    while t <= max_t - 2:  # ... made monotone
        if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
            rho[t + 1] = rho[t + 2] = (rho[t - 1] + rho[t]) / 2.0
        t += 2
    tau = -1.0 + 2.0 * rho[: max_t + 1].sum() + rho[max_t + 1: max_t + 2].sum()
    tau = max(tau, 1.0 / np.log10(x.size))
    return float(x.size / tau) if np.isfinite(rho).all() else float("nan")


def ess_bulk(draws: np.ndarray) -> float:
    """Bulk ESS of draws (C, D): the ESS of the rank-normalised split chains. NaN if D < 4."""
    draws = np.asarray(draws, dtype=float)
    if draws.shape[1] < 4 or not np.isfinite(draws).all():
        return float("nan")
    return ess_stan(rank_normalise(split_chains(draws)))


def ess_tail(draws: np.ndarray, prob: float = 0.05) -> float:
    """Tail ESS of draws (C, D): the smaller ESS of the indicators I(theta <= q) of the
    ``prob`` and 1 - ``prob`` quantiles, on split chains. NaN if D < 4."""
    draws = np.asarray(draws, dtype=float)
    if draws.shape[1] < 4 or not np.isfinite(draws).all():
        return float("nan")
    split = split_chains(draws)
    return min(ess_stan((split <= np.quantile(draws, q)).astype(float)) for q in (prob, 1.0 - prob))

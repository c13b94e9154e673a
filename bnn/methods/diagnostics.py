"""Convergence diagnostics of many MCMC chains: split R-hat and effective sample size.

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

"""Whether an MCMC run earns the word "reference": convergence of function values at probe inputs.

The weights of a network are not identified (hidden units can swap, signs flip), so a sampler's
convergence is judged on what the predictive uses, f(x) at probe inputs: rank-normalised split
R-hat < 1.05 and bulk ESS > 200 for every probe (Vehtari, Gelman, Simpson, Carpenter & Bürkner
2021, "Rank-normalization, folding, and localization: an improved R-hat", their recommended
thresholds; :mod:`bnn.methods.diagnostics`). :class:`bnn.methods.hmc.FittedHMC` hands in the
series (a classifier's centred logits, one series per probe and class).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bnn.methods.diagnostics import ess_bulk, ess_tail, rank_rhat

RHAT_MAX = 1.05  # the certification thresholds (Vehtari et al. 2021's recommendations)
ESS_MIN = 200.0


@dataclass(frozen=True)
class Certificate:
    """Whether a run earns the word "reference": the convergence criteria on f at the probes."""

    certified: bool
    reason: str  # one line; "" when certified
    max_rhat: float  # largest rank-normalised split R-hat of f over the probes
    min_ess_bulk: float  # smallest bulk ESS of f over the probes
    min_ess_tail: float  # smallest tail ESS of f over the probes (reported, not a criterion)
    worst_x: float  # the probe input (first coordinate) where the failing criterion is worst
    probes: int  # how many probe inputs were checked

    def line(self) -> str:
        """One line for a page or the CLI."""
        if self.certified:
            return (f"converged: R-hat ≤ {self.max_rhat:.3f} and bulk ESS ≥ {self.min_ess_bulk:.0f} "
                    f"at all {self.probes} probes")
        return f"not converged: {self.reason}"


def certify(f: np.ndarray, at: np.ndarray, stopped_early: bool) -> Certificate:
    """The certificate of draws f (C chains, D draws, K series), series k taken at input ``at[k]``
    (the first coordinate, in the data's units, for the message)."""
    rhat = np.array([rank_rhat(f[:, :, k]) for k in range(f.shape[2])])
    bulk = np.array([ess_bulk(f[:, :, k]) for k in range(f.shape[2])])
    tail = np.array([ess_tail(f[:, :, k]) for k in range(f.shape[2])])
    c, d = f.shape[:2]
    if stopped_early:
        reason, worst = "stopped before the end of the run", math.nan
    elif c < 2 or d < 4:
        reason, worst = f"too few draws to check ({c} chains x {d} kept draws)", math.nan
    elif not np.all(np.isfinite(rhat)):
        reason, worst = "R-hat is not finite at some probe (f is constant or not finite there)", math.nan
    elif rhat.max() >= RHAT_MAX:
        k = int(np.argmax(rhat))
        reason, worst = f"R-hat of f {rhat[k]:.2f} ≥ {RHAT_MAX} at x = {at[k]:.3g}", float(at[k])
    elif bulk.min() <= ESS_MIN:
        k = int(np.argmin(bulk))
        reason, worst = f"bulk ESS of f {bulk[k]:.0f} ≤ {ESS_MIN:.0f} at x = {at[k]:.3g}", float(at[k])
    else:
        reason, worst = "", math.nan
    if reason and not stopped_early and c >= 2 and d >= 4:
        reason += " (run longer: more draws or chains)"
    return Certificate(not reason, reason, _worst(rhat, np.max), _worst(bulk, np.min), _worst(tail, np.min),
                       worst, f.shape[2])


def _worst(values: np.ndarray, fn: Callable[[np.ndarray], float]) -> float:
    finite = values[np.isfinite(values)]
    return float(fn(finite)) if finite.size else math.nan

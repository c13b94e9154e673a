"""The fitted posterior weight by weight, set against the prior, and what the prior alone implies.

Bayes-by-Backprop (Blundell et al. 2015) gives each weight its own N(mu, sigma^2).
Two failure signs are visible in those numbers without any data: sigma collapsed to
a tiny fraction of the prior's scale (the posterior is nearly a point estimate and
the band will be too narrow; mean-field VI is known to under-estimate variances,
Turner & Sahani 2011), and (mu, sigma) still equal to the prior's (0, prior_sigma)
(the data never reached the weight: the KL term won, "over-pruning", Trippe & Turner
2017, or training stopped early). ``prior_functions`` draws
networks from the prior N(0, prior_sigma^2 I), what the model believes before any data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike

from bnn.data import as_inputs
from bnn.train import Fitted

COLLAPSED_RATIO = 0.01  # sigma below 1 % of the prior's sigma counts as collapsed
AT_PRIOR_TOL = 0.1  # |mu| and |sigma - prior_sigma| within 10 % of prior_sigma count as "at the prior"
WARN_FRACTION = 0.5  # warn when at least half of all weights show a sign


@dataclass(frozen=True)
class WeightGroup:
    """The weights or the biases of one layer: mu and sigma, (k,) each."""

    name: str
    mu: np.ndarray
    sigma: np.ndarray


def groups(fitted: Fitted) -> list[WeightGroup]:
    """Per layer, its weights then its biases, in the network's order."""
    model = fitted.model
    mu = model.posterior.mu.detach()[None]
    sigma = model.posterior.sigma.detach()[None]
    out = []
    for k, ((wm, bm), (ws, bs)) in enumerate(zip(model.layout.split(mu), model.layout.split(sigma)), start=1):
        out.append(WeightGroup(f"layer {k} weights", wm.flatten().numpy(), ws.flatten().numpy()))
        out.append(WeightGroup(f"layer {k} biases", bm.flatten().numpy(), bs.flatten().numpy()))
    return out


def collapsed(sigma: np.ndarray, prior_sigma: float) -> np.ndarray:
    """Mask of weights whose sigma fell below ``COLLAPSED_RATIO`` of the prior's."""
    return np.asarray(sigma) < COLLAPSED_RATIO * prior_sigma


def at_prior(mu: np.ndarray, sigma: np.ndarray, prior_sigma: float) -> np.ndarray:
    """Mask of weights whose q is still (nearly) the prior N(0, prior_sigma^2)."""
    tol = AT_PRIOR_TOL * prior_sigma
    return (np.abs(mu) < tol) & (np.abs(np.asarray(sigma) - prior_sigma) < tol)


def warnings(fitted: Fitted) -> list[str]:
    """Plain-language warnings about the posterior's sigmas (empty when nothing stands out)."""
    prior = fitted.config.prior_sigma
    mu = fitted.model.posterior.mu.detach().numpy()
    sigma = fitted.model.posterior.sigma.detach().numpy()
    out = []
    frac = float(collapsed(sigma, prior).mean())
    if frac >= WARN_FRACTION:
        out.append(
            f"{frac:.0%} of the weights have sigma below {COLLAPSED_RATIO:.0%} of the prior's ({prior:g}): the "
            "posterior is close to a single network, so the band is probably too narrow. A smaller prior "
            "sigma, fewer units or more noise usually widen it."
        )
    frac = float(at_prior(mu, sigma, prior).mean())
    if frac >= WARN_FRACTION:
        out.append(
            f"{frac:.0%} of the weights still equal the prior N(0, {prior:g}^2): the data hardly moved them. "
            "More epochs, more points or a smaller network let the data speak; with few points this can "
            "also be the honest answer."
        )
    return out


@torch.no_grad()
def prior_functions(fitted: Fitted, x: ArrayLike, samples: int = 20, seed: int = 0) -> np.ndarray:
    """Functions of networks with weights drawn from the prior N(0, prior_sigma^2 I): (S, N).

    In the fitted model's units (its input and target scaling applied), so they sit
    on the same axes as the posterior band.
    """
    x_np = as_inputs(x, name="x")
    layout = fitted.model.layout
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn((samples, layout.size), generator=generator) * fitted.config.prior_sigma  # (S, P)
    f = layout.forward(fitted.scaling.x(x_np), w)  # (S, N); (S, N, 2) with a noise head: its f
    if f.ndim == 3:
        f = f[..., 0]
    return f.double().numpy() * fitted.scaling.y_std + fitted.scaling.y_mean

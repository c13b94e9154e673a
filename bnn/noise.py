"""A heteroscedastic noise head: the observation noise std as a function of the input.

With ``Config(noise="heteroscedastic")`` the network has two outputs that share every hidden
layer (one trunk, a last layer of two units): f(x), the mean, and g(x), which sets the noise

    sigma(x) = softplus(g(x) + c) + floor,      c = softplus^-1(s0 - floor),

in model units, with s0 the config's ``noise_sigma`` there (after standardising y when the
config does). Choices, and why:

- **The head is Bayesian like the rest**: its weights get the same mean-field posterior and the
  same N(0, sigma_p^2) prior. Its prior is *centred on the config's noise scale* by the constant c
  rather than by a prior mean: g = 0 gives sigma = s0 exactly, so a fresh model (g near 0 under
  the "scaled" initialisation) starts at the noise scale the user states, as a fixed or learned
  noise would, and the prior pulls sigma(x) back towards s0 where the data say nothing.
- **softplus** (Nix & Weigend 1994 used exp; Lakshminarayanan et al. 2017 softplus): it grows
  linearly, so a noisy region does not make gradients explode as exp would.
- **The floor is 1 % of s0** (``FLOOR_FRACTION``). Without one, a point the mean fits exactly
  lets sigma go to 0 and the likelihood to infinity, a degenerate optimum every
  heteroscedastic model has; 1 % of the stated scale bounds the log-likelihood gain of any point at
  log(100) = 4.6 nats over the starting noise, is far below any noise the presets or the UCI
  sets have (their tuned homoscedastic noise is 2-50 % of y's std), and scales with y's units.

Everything here is plain torch on the head's raw output, so the model, the loss, the fast step,
the predictive and the methods compute sigma the same way.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

FLOOR_FRACTION = 0.01


def floor(base: float) -> float:
    """The smallest std the head can give, for a config noise scale ``base`` (model units)."""
    return FLOOR_FRACTION * base


def offset(base: float) -> float:
    """c such that softplus(0 + c) + floor = base."""
    y = base - floor(base)
    return y + math.log(-math.expm1(-y))  # softplus^-1, finite for large y


def noise_std(g: Tensor, base: float) -> Tensor:
    """sigma = softplus(g + c) + floor, elementwise, for raw head outputs g."""
    return F.softplus(g + offset(base)) + floor(base)


def noise_std_grad(g: Tensor, base: float) -> Tensor:
    """d sigma / d g = sigmoid(g + c)."""
    return torch.sigmoid(g + offset(base))

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

**The mean warm-up** (``Config.noise_warmup`` = w > 0, :class:`NoiseWarmup`). The likelihood's
gradient for the mean is scaled by 1/sigma^2, so a head that raises sigma(x) early stops the mean from
fitting there (Seitzer et al. 2022; Skafte et al. 2019 fit the mean first). For the first w of the
optimiser steps the weights from the last hidden layer to g are switched off in the forward and held
at their start, so g is the head's bias alone and sigma is *one learned std* for every x, as in the
one-sigma run; then they are switched on and sigma(x) is learned from there. Those weights' means
start at 0, so the switch is continuous: at its end g(x) at the posterior mean is the bias exactly.
It is the same ELBO throughout, with a model that gains freedom at the switch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from bnn.network import Layout

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


def head_weights(layout: Layout) -> Tensor:
    """Flat indices (into a model's (P,) weight vector) of the weights from the last hidden layer to g,
    the second output: the last layer is stored (in, out) with out = 2, then its biases."""
    out, fan_in = layout.shapes[-1]
    start = layout.size - fan_in * out - out
    return start + torch.arange(fan_in) * out + 1


class NoiseWarmup:
    """The mean warm-up's bookkeeping for the first ``steps`` optimiser steps: ``keep`` (P,) multiplies
    the weights in the forward (0 at :func:`head_weights`), and :meth:`hold` zeroes those weights'
    gradients (likelihood and KL) so that Adam leaves them where they started."""

    def __init__(self, layout: Layout, steps: int, dtype: torch.dtype) -> None:
        self.steps, self.taken = steps, 0
        self.index = head_weights(layout)
        self.keep = torch.ones(layout.size, dtype=dtype)
        self.keep[self.index] = 0.0

    @property
    def active(self) -> bool:
        """True while the warm-up lasts (steps taken < steps)."""
        return self.taken < self.steps

    def hold(self, grads: list[Tensor]) -> None:
        """Zero the held weights' entries of each (P,) gradient, in place."""
        for grad in grads:
            grad[self.index] = 0.0

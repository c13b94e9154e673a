"""The fast step for a heteroscedastic noise: Bayes-by-Backprop's gradient by hand when sigma depends on x.

The network has two outputs per point, f (the mean) and g (the noise head, :mod:`bnn.noise`):
sigma = softplus(g + c) + floor. For the loss (N / |B|) mean_s sum_i [z_si^2 / 2 + log sigma_si]
+ const, with z = (f - y) / sigma,

    d/d f = (N / (|B| S)) z / sigma,      d/d g = (N / (|B| S)) (1 - z^2) / sigma * sigmoid(g + c),

which fill the two columns of the output gradient that the classifier's pass
(:class:`bnn.fast_categorical.CategoricalPass`) carries back through the layers; the rest of the
step (reparameterisation, both KL estimators, Adam in place) is :class:`bnn.fast.FastStep`'s.
Local reparameterisation is not covered (autograd runs it). tests/bnn/test_heteroscedastic.py
checks the gradients and loss terms against autograd's on ``bnn.loss.negative_elbo``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from bnn.fast_categorical import CategoricalFastStep, CategoricalPass
from bnn.loss import LossTerms
from bnn.network import Layout
from bnn.noise import floor, offset

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class HeteroscedasticPass(CategoricalPass):
    """Outputs (S, B, 2) = (f, g); ``residual_ops`` put (d/d f, d/d g) per draw, unscaled, into ``r``
    and the batch's sum of z^2 / 2 + log sigma into ``terms``."""

    def __init__(self, layout: Layout, samples: int, batch: int, w: Tensor, gw: Tensor, base: float) -> None:
        super().__init__(layout, samples, batch, w, gw)
        self.offset, self.floor = offset(base), floor(base)
        self.y = torch.zeros(batch, dtype=w.dtype)
        self.terms = torch.zeros((), dtype=w.dtype)
        self.residual_ops = [self._residual]

    def load(self, x: Tensor, y: Tensor) -> None:  # type: ignore[override]
        self.x.copy_(x)
        self.y.copy_(y)

    def _residual(self) -> None:
        u = self.f[..., 1] + self.offset
        sigma = F.softplus(u) + self.floor
        z = (self.f[..., 0] - self.y) / sigma
        self.terms.copy_((0.5 * z.square() + sigma.log()).sum())
        torch.div(z, sigma, out=self.r[..., 0])
        torch.mul((1 - z.square()) / sigma, torch.sigmoid(u), out=self.r[..., 1])


class HeteroscedasticFastStep(CategoricalFastStep):
    """:class:`bnn.fast.FastStep` for a mean and a noise head (no local reparameterisation)."""

    def _pass(self, batch: int) -> HeteroscedasticPass:
        return HeteroscedasticPass(self.model.layout, self.samples, batch, self.w, self.gw,
                                   float(self.model.fixed_noise))

    def _terms(self, net: HeteroscedasticPass, scale: float, noise: float, batch: int) -> LossTerms:  # type: ignore[override]
        nll = float(net.terms) * scale / self.samples + scale * batch * _HALF_LOG_2PI
        kl = self._kl_value()
        dtype = self.theta.dtype
        return LossTerms(nll=torch.tensor(nll, dtype=dtype), kl=torch.tensor(kl, dtype=dtype),
                         total=torch.tensor(nll + self.kl_weight * kl, dtype=dtype))

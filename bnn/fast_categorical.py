"""The fast step for a classifier: Bayes-by-Backprop's gradient by hand under a softmax likelihood.

The same step as :class:`bnn.fast.FastStep` (the reparameterised gradients of mu and rho, both KL
estimators, the KL weight, the minibatch scale, Adam in place on one flat buffer), with the
network pass of a K-output network whose loss is the cross-entropy. For logits f (S, B, K) and
labels c, d/d f of (N / |B|) mean_s sum_i -log softmax(f_si)_{c_i} is

    (N / (|B| S)) (softmax(f_si) - onehot(c_i)),

which plays the part the residual f - y plays for the Gaussian; the backward pass through the
layers is then :mod:`bnn.netgrad`'s, with a K-column output layer. Local reparameterisation is
not covered (autograd runs it). tests/bnn/test_fast_categorical.py checks the gradients and the
loss terms against autograd's on ``bnn.loss.negative_elbo``.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from bnn.fast import _SOFTPLUS_THRESHOLD, FastStep
from bnn.loss import LossTerms
from bnn.netgrad import Op, act_backward_op, act_op, blocks
from bnn.network import Layout


class CategoricalPass:
    """Logits (S, B, K) of S weight vectors on a batch, and the weights' gradient (S, P) of the
    cross-entropy: ``load`` takes (x, labels), ``forward_ops`` fill ``f``, ``residual_ops`` put
    softmax(f) - onehot into ``r``, ``backward_ops(scale)`` write scale * d(sum r . f)/dw into ``gw``."""

    def __init__(self, layout: Layout, samples: int, batch: int, w: Tensor, gw: Tensor) -> None:
        s, b, dtype = samples, batch, w.dtype
        self.activation = layout.activation
        classes = layout.widths[-1]
        self.xa = torch.ones((b, layout.widths[0] + 1), dtype=dtype)
        self.x = self.xa[:, :-1]
        self.a = [torch.ones((s, b, width + 1), dtype=dtype) for width in layout.widths[1:-1]]
        self.inputs = [self.xa.expand(s, *self.xa.shape), *self.a]
        self.units = [a[..., :-1] for a in self.a]
        self.w, self.gw = blocks(layout, w), blocks(layout, gw)
        self.labels = torch.zeros(b, dtype=torch.int64)
        self.onehot = torch.zeros((b, classes), dtype=dtype)
        self.f = torch.empty((s, b, classes), dtype=dtype)
        self.r = torch.empty((s, b, classes), dtype=dtype)
        self.da = [torch.empty((s, b, width), dtype=dtype) for width in layout.widths[1:-1]]
        self.forward_ops = self._forward_ops()
        self.residual_ops: list[Op] = [partial(torch.softmax, self.f, -1, out=self.r),
                                       partial(Tensor.sub_, self.r, self.onehot)]
        self._backward: dict[float, list[Op]] = {}

    def load(self, x: Tensor, labels: Tensor) -> None:
        """Take a batch: inputs (B, D), labels (B,) int64."""
        self.x.copy_(x)
        self.labels.copy_(labels)
        self.onehot.zero_()
        self.onehot.scatter_(1, self.labels.unsqueeze(1), 1.0)

    def _forward_ops(self) -> list[Op]:
        ops: list[Op] = []
        last = len(self.w) - 1
        for k, wb in enumerate(self.w):
            out = self.f if k == last else self.units[k]
            ops.append(partial(torch.bmm, self.inputs[k], wb, out=out))
            if k < last:
                ops.append(act_op(self.activation, out))
        return ops

    def backward_ops(self, scale: float) -> list[Op]:
        """The backward pass for d loss / d f = scale * r (made once per scale)."""
        if scale not in self._backward:
            self._backward[scale] = self._backward_ops(scale)
        return self._backward[scale]

    def _backward_ops(self, scale: float) -> list[Op]:
        last, act = len(self.w) - 1, self.activation
        ops: list[Op] = [partial(torch.baddbmm, self.gw[last], self.inputs[last].transpose(1, 2), self.r,
                                 beta=0, alpha=scale, out=self.gw[last])]
        if last == 0:
            return ops
        zero = torch.zeros((), dtype=self.r.dtype)
        ops.append(partial(torch.baddbmm, zero, self.r, self.w[last][:, :-1].transpose(1, 2), beta=0,
                           alpha=scale, out=self.da[last - 1]))
        for k in range(last - 1, -1, -1):
            dz = self.da[k]
            ops += [act_backward_op(act, dz, self.units[k], dz),
                    partial(torch.bmm, self.inputs[k].transpose(1, 2), dz, out=self.gw[k])]
            if k > 0:
                ops.append(partial(torch.bmm, dz, self.w[k][:, :-1].transpose(1, 2), out=self.da[k - 1]))
        return ops


class CategoricalFastStep(FastStep):
    """:class:`bnn.fast.FastStep` with the cross-entropy of a K-output network (no local reparameterisation)."""

    def _tape(self, batch: int) -> tuple[CategoricalPass, list[Op]]:  # type: ignore[override]
        g_sigma = self.g_rho
        net = self._pass(batch)
        ops: list[Op] = [partial(torch._C._nn.softplus, self.rho, 1, _SOFTPLUS_THRESHOLD, out=self.sigma),
                         partial(torch.sigmoid, self.rho, out=self.dsigma),
                         partial(Tensor.normal_, self.eps, generator=self.generator),
                         partial(torch.addcmul, self.mu, self.sigma, self.eps, out=self.w),
                         *net.forward_ops, *net.residual_ops,
                         *net.backward_ops(self.n_total / (batch * self.samples)),
                         *self._reparameterise_ops(g_sigma), *self._kl_ops(g_sigma),
                         partial(Tensor.mul_, self.g_rho, self.dsigma)]
        self.tapes[batch] = net, ops  # type: ignore[assignment]
        return net, ops

    def _pass(self, batch: int) -> CategoricalPass:
        """The network pass of this step (the heteroscedastic step brings its own)."""
        return CategoricalPass(self.model.layout, self.samples, batch, self.w, self.gw)

    def _terms(self, net: CategoricalPass, scale: float, noise: float, batch: int) -> LossTerms:  # type: ignore[override]
        """The loss terms at this step's draws: the cross-entropy from the logits, the KL as the Gaussian step's."""
        log_p = torch.log_softmax(net.f, dim=-1)  # (S, B, K)
        picked = float((log_p * net.onehot).sum())
        nll = -picked * scale / self.samples
        kl = self._kl_value()
        dtype = self.theta.dtype
        return LossTerms(nll=torch.tensor(nll, dtype=dtype), kl=torch.tensor(kl, dtype=dtype),
                         total=torch.tensor(nll + self.kl_weight * kl, dtype=dtype))

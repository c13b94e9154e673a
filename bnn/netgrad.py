"""The network's forward and backward pass written out by hand, on preallocated buffers.

:class:`bnn.network.Layout` evaluates f(x; w) for S weight vectors; autograd then records
every operator and replays its derivative. On networks this small each operator costs
microseconds of dispatch whatever its size, so the derivative is written here once, as the
same batched matmuls autograd would run, with nothing recorded:

    forward   z_k = [a_k, 1] @ [W_k; b_k]     a_{k+1} = act(z_k)       f = z_L
    backward  [dW_k; db_k] = [a_k, 1]^T @ dz_k      da_k = dz_k @ W_k^T      dz_{k-1} = act'(.) * da_k

Each layer's weights and bias are stored in the flat vector as one (in + 1, out) row-major
block (``bnn.network``), so with a column of ones appended to every layer's input one
matmul gives a layer's output, and one its weight and bias gradient together. Every
intermediate lives in a buffer made once per (samples, batch size), and every view of one
is made then too. Each pass is then written down once as a list of operations bound to those
buffers (``functools.partial``), a tape that a step replays: a step dispatches only arithmetic,
with no Python deciding anything between the kernels (that deciding cost ~15 us of a 45 us step).

:class:`WeightPass` draws nothing: it takes S weight vectors (S, P) and returns their
gradients (S, P), the piece Bayes-by-Backprop's reparameterised gradient needs (and the
gradient HMC's leapfrog and the MAP trainer of :mod:`bnn.methods.optimise` use). The S vectors
share one batch (B, D), or, with ``per_sample=True``, each has its own (S, B, D): an ensemble's
members on their own minibatches; the first layer is then a bmm and so is its weight gradient.
:class:`LocalPass` is the local reparameterisation (Kingma et al. 2015): each unit's
pre-activation is drawn per example from N(a mu_W + mu_b, a^2 sigma_W^2 + sigma_b^2), and its
backward pass gives the gradients of mu and of sigma directly. Both are checked against
autograd in tests/bnn/test_fast_grad.py.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import torch
from torch import Tensor

from bnn.config import Activation
from bnn.network import Layout

Op = Callable[[], object]
_ACT = {Activation.SIGMOID: Tensor.sigmoid_, Activation.TANH: Tensor.tanh_, Activation.RELU: Tensor.relu_}
_ACT_BACKWARD = {  # (grad, act output) -> d act / d z * grad, autograd's own kernels
    Activation.SIGMOID: torch.ops.aten.sigmoid_backward.grad_input,
    Activation.TANH: torch.ops.aten.tanh_backward.grad_input,
    Activation.RELU: lambda grad, out, grad_input: torch.ops.aten.threshold_backward.grad_input(
        grad, out, 0, grad_input=grad_input),
}


def act_op(activation: Activation, h: Tensor) -> Op:
    """h <- act(h), in place (a layer's output buffer is its own input)."""
    return partial(_ACT[activation], h)


def act_backward_op(activation: Activation, grad: Tensor, out: Tensor, dest: Tensor) -> Op:
    """dest <- act'(z) * grad, from the activation's output ``out``; dest may be grad itself."""
    return partial(_ACT_BACKWARD[activation], grad, out, grad_input=dest)


def run(ops: list[Op]) -> None:
    for op in ops:
        op()


def _inputs(layout: Layout, samples: int, batch: int, dtype: torch.dtype) -> tuple[Tensor, list[Tensor]]:
    """The data's input with its ones column (B, D + 1), and each hidden layer's output
    with its ones column (S, B, width + 1)."""
    xa = torch.ones((batch, layout.widths[0] + 1), dtype=dtype)
    hidden = [torch.ones((samples, batch, width + 1), dtype=dtype) for width in layout.widths[1:-1]]
    return xa, hidden


def blocks(layout: Layout, flat: Tensor) -> list[Tensor]:
    """(..., P) -> per layer the (..., in + 1, out) view of its weight-and-bias block."""
    out, start = [], 0
    for o, i in layout.shapes:
        out.append(flat[..., start:start + (i + 1) * o].unflatten(-1, (i + 1, o)))
        start += (i + 1) * o
    return out


class WeightPass:
    """f (S, B) of S weight vectors on a batch of B points, and the weights' gradient (S, P).

    ``forward_ops`` read the weights in ``w`` and the inputs ``load`` copied; ``residual_ops``
    compute r = f - y; ``backward_ops(scale)`` write the gradient of scale * sum r * f (the loss's
    when d loss / d f = scale * r) into ``gw``, the scale riding on the output layer's two products.
    """

    def __init__(self, layout: Layout, samples: int, batch: int, w: Tensor, gw: Tensor, *,
                 per_sample: bool = False) -> None:
        s, b, dtype = samples, batch, w.dtype
        self.activation = layout.activation
        self.per_sample = per_sample
        self.xa, self.a = _inputs(layout, s, b, dtype)
        if per_sample:  # every sample its own batch: inputs (S, B, D + 1), targets (S, B)
            self.xa = torch.ones((s, b, layout.widths[0] + 1), dtype=dtype)
        self.x = self.xa[..., :-1]  # (B, D) or (S, B, D), where a batch's inputs are copied
        self.y = torch.empty((s, b) if per_sample else b, dtype=dtype)
        # layer k's input with its ones column
        self.inputs = [self.xa if per_sample else self.xa.expand(s, *self.xa.shape), *self.a]
        self.units = [a[..., :-1] for a in self.a]  # layer k + 1's input without it: act(z_k) is written here
        self.w, self.gw = blocks(layout, w), blocks(layout, gw)
        self.f = torch.empty((s, b, 1), dtype=dtype)
        self.r = torch.empty((s, b, 1), dtype=dtype)  # f - y
        self.da = [torch.empty((s, b, width), dtype=dtype) for width in layout.widths[1:-1]]
        self.forward_ops = self._forward_ops(layout)
        self.residual_ops: list[Op] = [partial(torch.sub, self.f.view(s, b), self.y, out=self.r.view(s, b))]
        self._backward: dict[float, list[Op]] = {}

    def load(self, x: Tensor, y: Tensor) -> None:
        """Take a batch: inputs (B, D), targets (B,); with ``per_sample``, (S, B, D) and (S, B)."""
        self.x.copy_(x)
        self.y.copy_(y)

    def _forward_ops(self, layout: Layout) -> list[Op]:
        ops, last = [], len(self.w) - 1
        for k, wb in enumerate(self.w):
            out = self.f if k == last else self.units[k]
            if k == 0 and layout.widths[0] == 1 and last > 0:
                # A 1-D input makes the first layer an outer product b + x (B, 1) * W (S, 1, H):
                # broadcasting beats a matmul with an inner dimension of 2 (~9x at S = 32). With
                # per-sample inputs x is (S, B, 1) and the same broadcast holds.
                ops.append(partial(torch.addcmul, wb[:, 1:], self.x, wb[:, :1], out=out))
            elif k == last and self.per_sample and self.f.shape[0] > 1 and self.inputs[k][0].numel() >= 1024:
                # The output layer's bmm (S, B, in + 1) @ (S, in + 1, 1) takes a slow path for S > 1
                # (measured 62 us at S = 10, B = 128, in = 50 in float32); a product and a sum over the
                # last axis take 19. Only per-sample batches, which are minibatches of real data, go here.
                prod = torch.empty(self.inputs[k].shape, dtype=out.dtype)
                ops += [partial(torch.mul, self.inputs[k], wb.transpose(1, 2), out=prod),
                        partial(torch.sum, prod, -1, keepdim=True, out=out)]
            else:
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
        s, b = self.r.shape[:2]
        # The output layer has one unit: its weight gradient r^T [a, 1] is stored (S, 1, in + 1).
        g_last = self.gw[last].transpose(1, 2)
        ops: list[Op] = [partial(torch.baddbmm, g_last, self.r.transpose(1, 2), self.inputs[last], beta=0,
                                 alpha=scale, out=g_last)]
        if last == 0:
            return ops
        zero = torch.zeros((), dtype=self.r.dtype)  # d a = scale * r W^T: an outer product
        ops.append(partial(torch.addcmul, zero, self.r, self.w[last][:, :-1].transpose(1, 2), value=scale,
                           out=self.da[last - 1]))
        for k in range(last - 1, 0, -1):
            dz = self.da[k]
            ops += [act_backward_op(act, dz, self.units[k], dz),
                    partial(torch.bmm, self.inputs[k].transpose(1, 2), dz, out=self.gw[k]),
                    partial(torch.bmm, dz, self.w[k][:, :-1].transpose(1, 2), out=self.da[k - 1])]
        if s == 1 or self.per_sample:  # per-sample inputs: the first layer's gradient is a bmm like the rest
            return ops + [act_backward_op(act, self.da[0], self.units[0], self.da[0]),
                          partial(torch.bmm, self.inputs[0].transpose(1, 2), self.da[0], out=self.gw[0])]
        # The first layer's input is shared by the samples, so its weight gradients for all S are one
        # matmul [x, 1]^T (D + 1, B) @ dz (B, S * H) once dz is laid out point-major (B, S, H) (S small
        # matmuls otherwise, ~3x slower at S = 32 on the article's net). The activation's backward
        # writes dz there directly; one copy puts the result into gw's (S, D + 1, H) block.
        h = self.da[0].shape[2]
        dz0 = torch.empty((b, s, h), dtype=self.r.dtype)
        g0 = torch.empty((self.xa.shape[1], s * h), dtype=self.r.dtype)
        return ops + [act_backward_op(act, self.da[0], self.units[0], dz0.transpose(0, 1)),
                      partial(torch.mm, self.xa.t(), dz0.view(b, s * h), out=g0),
                      partial(self.gw[0].copy_, g0.view(-1, s, h).transpose(0, 1))]

    # One-off calls (tests, samplers): the same operations.
    def forward(self) -> Tensor:
        run(self.forward_ops)
        return self.f

    def residual(self) -> Tensor:
        run(self.residual_ops)
        return self.r

    def backward(self, scale: float) -> None:
        run(self.backward_ops(scale))


class LocalPass:
    """f (S, B) by local reparameterisation from (mu, sigma), and the gradients of mu and sigma^2.

    ``forward_ops`` draw each layer's noise (S, B, out) in order, as ``Layout.forward_local`` does;
    ``backward_ops`` start from d loss / d f = c * r, c a 0-d tensor (the step's scale), and write
    d/d mu into ``g_mu`` and d/d sigma^2 into ``g_var``. Through h = mean + sd * eps, d mean = dz
    and d var = dz * eps / (2 sd).
    """

    def __init__(self, layout: Layout, samples: int, batch: int, mu: Tensor, var: Tensor, g_mu: Tensor,
                 g_var: Tensor, scale: Tensor, generator: torch.Generator | None) -> None:
        s, b, dtype = samples, batch, mu.dtype
        self.activation = layout.activation
        self.xa, self.a = _inputs(layout, s, b, dtype)
        self.x = self.xa[:, :-1]
        self.y = torch.empty(b, dtype=dtype)
        self.xa2 = torch.ones_like(self.xa)  # the squared input (its ones stay ones)
        self.a2 = [torch.ones_like(a) for a in self.a]
        self.flat = [self.xa, *(a.view(s * b, -1) for a in self.a)]  # (rows, in + 1) per layer
        self.flat2 = [self.xa2, *(a.view(s * b, -1) for a in self.a2)]
        self.units = [a[..., :-1] for a in self.a]
        self.mu, self.var, self.g_mu, self.g_var = (blocks(layout, t) for t in (mu, var, g_mu, g_var))
        widths = layout.widths[1:]
        rows = [b] + [s * b] * (len(widths) - 1)  # the first layer's moments are shared by the samples
        self.mean = [torch.empty((r, o), dtype=dtype) for r, o in zip(rows, widths)]
        self.sd = [torch.empty((r, o), dtype=dtype) for r, o in zip(rows, widths)]
        self.eps = [torch.empty((s, b, o), dtype=dtype) for o in widths]
        self.out = [*self.units, torch.empty((s, b, 1), dtype=dtype)]
        self.r = torch.empty((s, b, 1), dtype=dtype)
        self.dz = [torch.empty((s, b, o), dtype=dtype) for o in widths]
        self.t = [torch.empty((s, b, o), dtype=dtype) for o in widths]  # dz * eps / sd
        self.tmp = [torch.empty((s * b, width), dtype=dtype) for width in widths[:-1]]
        self.sums = (torch.empty((b, widths[0]), dtype=dtype), torch.empty((b, widths[0]), dtype=dtype))
        self.forward_ops = self._forward_ops(generator)
        self.residual_ops: list[Op] = [partial(torch.sub, self.out[-1].view(s, b), self.y, out=self.r.view(s, b))]
        self.backward_ops = self._backward_ops(scale)

    def load(self, x: Tensor, y: Tensor) -> None:
        """Take a batch: inputs (B, D), targets (B,)."""
        self.x.copy_(x)
        self.y.copy_(y)
        torch.square(self.xa, out=self.xa2)

    def _forward_ops(self, generator: torch.Generator | None) -> list[Op]:
        ops, last = [], len(self.mu) - 1
        for k in range(last + 1):
            shape = self.eps[k].shape if k > 0 else self.mean[k].shape
            if k > 0:
                ops.append(partial(torch.square, self.a[k - 1], out=self.a2[k - 1]))
            ops += [partial(torch.mm, self.flat[k], self.mu[k], out=self.mean[k]),
                    partial(torch.mm, self.flat2[k], self.var[k], out=self.sd[k]),
                    partial(Tensor.sqrt_, self.sd[k]),
                    partial(Tensor.normal_, self.eps[k], generator=generator),
                    partial(torch.addcmul, self.mean[k].view(shape), self.sd[k].view(shape), self.eps[k],
                            out=self.out[k])]
            if k < last:
                ops.append(act_op(self.activation, self.out[k]))
        return ops

    def _backward_ops(self, scale: Tensor) -> list[Op]:
        last = len(self.mu) - 1
        s, b = self.r.shape[:2]
        ops: list[Op] = [partial(torch.mul, self.r, scale, out=self.dz[last])]
        for k in range(last, -1, -1):
            dz, t = self.dz[k], self.t[k]
            shape = dz.shape if k > 0 else self.mean[0].shape
            ops += [partial(torch.mul, dz, self.eps[k], out=t), partial(Tensor.div_, t, self.sd[k].view(shape))]
            if k == 0:  # the first layer's moments were shared by the samples: their gradients sum over them
                ops += [partial(torch.sum, dz, 0, out=self.sums[0]), partial(torch.sum, t, 0, out=self.sums[1])]
                dz2, t2 = self.sums
            else:
                dz2, t2 = dz.view(s * b, -1), t.view(s * b, -1)
            ops += [partial(torch.mm, self.flat[k].t(), dz2, out=self.g_mu[k]),
                    partial(torch.addmm, self.g_var[k], self.flat2[k].t(), t2, beta=0, alpha=0.5,
                            out=self.g_var[k])]
            if k > 0:  # d a = dz mu_W^T + 2 a (d var var_W^T), then back through the activation
                da = self.dz[k - 1]
                ops += [partial(torch.mm, dz2, self.mu[k][:-1].t(), out=da.view(s * b, -1)),
                        partial(torch.mm, t2, self.var[k][:-1].t(), out=self.tmp[k - 1]),
                        partial(Tensor.addcmul_, da, self.units[k - 1], self.tmp[k - 1].view(s, b, -1)),
                        act_backward_op(self.activation, da, self.units[k - 1], da)]
        return ops

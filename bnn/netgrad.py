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
is made then too: a step dispatches only arithmetic.

:class:`WeightPass` draws nothing: it takes S weight vectors (S, P) and returns their
gradients (S, P), the piece Bayes-by-Backprop's reparameterised gradient needs (and the
gradient an HMC or MAP sampler of the same network needs). :class:`LocalPass` is the local
reparameterisation (Kingma et al. 2015): each unit's pre-activation is drawn per example
from N(a mu_W + mu_b, a^2 sigma_W^2 + sigma_b^2), and its backward pass gives the gradients
of mu and of sigma directly. Both are checked against autograd in tests/bnn/test_fast_grad.py.
"""

from __future__ import annotations

import torch
from torch import Tensor

from bnn.config import Activation
from bnn.network import Layout

# The activation in place (a layer's output buffer is its own input), and
# d act / d z from the activation's output, written into the gradient's buffer (autograd's own kernels).
_IN_PLACE = {Activation.SIGMOID: Tensor.sigmoid_, Activation.TANH: Tensor.tanh_, Activation.RELU: Tensor.relu_}
# (grad, out, dest): dest = act'(z) * grad, written into dest (which may be grad itself).
_BACKWARD = {
    Activation.SIGMOID: lambda grad, out, dest: torch.ops.aten.sigmoid_backward.grad_input(grad, out, grad_input=dest),
    Activation.TANH: lambda grad, out, dest: torch.ops.aten.tanh_backward.grad_input(grad, out, grad_input=dest),
    Activation.RELU: lambda grad, out, dest: torch.ops.aten.threshold_backward.grad_input(grad, out, 0,
                                                                                         grad_input=dest),
}


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
    """f (S, B) of S weight vectors on a batch of B points, and the weights' gradient (S, P)."""

    def __init__(self, layout: Layout, samples: int, batch: int, w: Tensor, gw: Tensor) -> None:
        s, b, dtype = samples, batch, w.dtype
        self.act, self.act_backward = _IN_PLACE[layout.activation], _BACKWARD[layout.activation]
        self.xa, self.a = _inputs(layout, s, b, dtype)
        self.x = self.xa[:, :-1]  # (B, D), where a step's inputs are copied
        self.xa_s = self.xa.expand(s, *self.xa.shape)  # (S, B, D + 1), a view
        self.inputs = [self.xa_s, *self.a]  # layer k's input with its ones column
        self.units = [a[..., :-1] for a in self.a]  # layer k + 1's input without it: act(z_k) is written here
        self.w, self.gw = blocks(layout, w), blocks(layout, gw)
        self.f = torch.empty((s, b, 1), dtype=dtype)
        self.r = torch.empty((s, b, 1), dtype=dtype)  # f - y
        self.f2, self.r2 = self.f.view(s, b), self.r.view(s, b)
        self.da = [torch.empty((s, b, width), dtype=dtype) for width in layout.widths[1:-1]]
        self.zero = torch.zeros((), dtype=dtype)
        # Views the backward pass uses, made once: transposed inputs, W_k^T, the output layer's gradient.
        self.inputs_t = [a.transpose(1, 2) for a in self.inputs]
        self.w_t = [wb[:, :-1].transpose(1, 2) for wb in self.w]  # (S, out, in)
        self.gw_last = self.gw[-1].transpose(1, 2)  # (S, 1, in + 1): one output unit
        self.r_t = self.r.transpose(1, 2)  # (S, 1, B)
        self.first = (self.w[0][:, 1:], self.w[0][:, :1])  # b (S, 1, H), W (S, 1, H) of a 1-D input
        # A 1-D input makes the first layer an outer product: broadcasting beats a (., 1+1) matmul.
        self.outer_first = layout.widths[0] == 1 and len(layout.shapes) > 1
        # The first layer's input is shared by the samples, so its weight gradients for all S are one
        # matmul [x, 1]^T (D + 1, B) @ dz (B, S * H) if dz is laid out point-major (B, S, H) (S small
        # matmuls otherwise, ~3x slower at S = 32 on the article's net). The activation's backward
        # writes dz there directly; one copy puts the result into gw's (S, D + 1, H) block.
        self.point_major = s > 1 and len(layout.shapes) > 1
        if self.point_major:
            h = layout.widths[1]
            self.dz0 = torch.empty((b, s, h), dtype=dtype)
            self.dz0_view = self.dz0.transpose(0, 1)  # (S, B, H), the activation backward's destination
            self.dz0_flat = self.dz0.view(b, s * h)
            self.g0 = torch.empty((layout.widths[0] + 1, s * h), dtype=dtype)
            self.g0_view = self.g0.view(-1, s, h).transpose(0, 1)  # (S, D + 1, H)
            self.xa_t = self.xa.t()

    def load(self, x: Tensor) -> None:
        """Take a batch's inputs (B, D)."""
        self.x.copy_(x)

    def forward(self) -> Tensor:
        """f (S, B, 1) at the weights in ``w`` and the inputs in ``x``."""
        last = len(self.w) - 1
        for k, wb in enumerate(self.w):
            out = self.f if k == last else self.units[k]
            if k == 0 and self.outer_first:
                torch.addcmul(self.first[0], self.x, self.first[1], out=out)  # b + x (B, 1) * W
            else:
                torch.bmm(self.inputs[k], wb, out=out)
            if k < last:
                self.act(out)
        return self.f

    def residual(self, y: Tensor) -> Tensor:
        """r = f - y (S, B, 1), kept for the backward pass."""
        torch.sub(self.f2, y, out=self.r2)
        return self.r

    def backward(self, scale: float) -> None:
        """The gradients of scale * sum_{s, i} r_si f_si, i.e. of the loss when d loss / d f = scale * r,
        written into ``gw`` (S, P). The scale rides on the last layer's two matmuls."""
        last = len(self.w) - 1
        # The output layer has one unit: its weight gradient is r^T [a, 1], stored (S, 1, in + 1).
        torch.baddbmm(self.gw_last, self.r_t, self.inputs[last], beta=0, alpha=scale, out=self.gw_last)
        if last == 0:
            return
        torch.addcmul(self.zero, self.r, self.w_t[last], value=scale, out=self.da[last - 1])  # an outer product
        for k in range(last - 1, 0, -1):
            dz = self.da[k]
            self.act_backward(dz, self.units[k], dz)
            torch.bmm(self.inputs_t[k], dz, out=self.gw[k])
            torch.bmm(dz, self.w_t[k], out=self.da[k - 1])
        if self.point_major:
            self.act_backward(self.da[0], self.units[0], self.dz0_view)
            torch.mm(self.xa_t, self.dz0_flat, out=self.g0)
            self.gw[0].copy_(self.g0_view)
        else:
            self.act_backward(self.da[0], self.units[0], self.da[0])
            torch.bmm(self.inputs_t[0], self.da[0], out=self.gw[0])


class LocalPass:
    """f (S, B) by local reparameterisation from (mu, sigma), and the gradients of mu and sigma."""

    def __init__(self, layout: Layout, samples: int, batch: int, mu: Tensor, var: Tensor, g_mu: Tensor,
                 g_var: Tensor) -> None:
        s, b, dtype = samples, batch, mu.dtype
        self.act, self.act_backward = _IN_PLACE[layout.activation], _BACKWARD[layout.activation]
        self.xa, self.a = _inputs(layout, s, b, dtype)
        self.x = self.xa[:, :-1]
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
        self.out = [*(a[..., :-1] for a in self.a), torch.empty((s, b, 1), dtype=dtype)]
        self.f2 = self.out[-1].view(s, b)
        self.r = torch.empty((s, b, 1), dtype=dtype)
        self.r2 = self.r.view(s, b)
        self.dz = [torch.empty((s, b, o), dtype=dtype) for o in widths]  # dz_k, then dz_k * eps_k / sd_k
        self.t = [torch.empty((s, b, o), dtype=dtype) for o in widths]
        self.tmp = [torch.empty((s * b, width), dtype=dtype) for width in widths[:-1]]
        self.dz0, self.t0 = torch.empty((b, widths[0]), dtype=dtype), torch.empty((b, widths[0]), dtype=dtype)
        self.samples, self.batch = s, b

    def load(self, x: Tensor) -> None:
        """Take a batch's inputs (B, D)."""
        self.x.copy_(x)
        torch.square(self.xa, out=self.xa2)

    def forward(self, generator: torch.Generator | None) -> Tensor:
        """f (S, B, 1); each layer's noise (S, B, out) drawn in order, as ``Layout.forward_local`` draws it."""
        last = len(self.mu) - 1
        for k in range(last + 1):
            if k > 0:
                torch.square(self.a[k - 1], out=self.a2[k - 1])
            torch.mm(self.flat[k], self.mu[k], out=self.mean[k])
            torch.mm(self.flat2[k], self.var[k], out=self.sd[k])
            self.sd[k].sqrt_()
            self.eps[k].normal_(generator=generator)
            shape = self.eps[k].shape if k > 0 else self.mean[k].shape
            out = self.out[k]
            torch.addcmul(self.mean[k].view(shape), self.sd[k].view(shape), self.eps[k], out=out)
            if k < last:
                self.act(out)
        return self.out[-1]

    def residual(self, y: Tensor) -> Tensor:
        torch.sub(self.f2, y, out=self.r2)
        return self.r

    def backward(self, scale: float) -> None:
        """Gradients of the loss with d loss / d f = scale * r: d/d mu into ``g_mu``, d/d sigma^2 into
        ``g_var``, each (P,). Through h = mean + sd * eps: d mean = dz and d var = dz * eps / (2 sd)."""
        last = len(self.mu) - 1
        s, b = self.samples, self.batch
        torch.mul(self.r, scale, out=self.dz[last])
        for k in range(last, -1, -1):
            dz, t = self.dz[k], self.t[k]
            shape = dz.shape if k > 0 else self.mean[0].shape
            torch.mul(dz, self.eps[k], out=t)
            t.div_(self.sd[k].view(shape))  # dz * eps / sd = 2 d var
            if k == 0:  # the moments were shared by the samples: their gradients sum over them
                torch.sum(dz, 0, out=self.dz0)
                torch.sum(t, 0, out=self.t0)
                dz2, t2 = self.dz0, self.t0
            else:
                dz2, t2 = dz.view(s * b, -1), t.view(s * b, -1)
            torch.mm(self.flat[k].t(), dz2, out=self.g_mu[k])
            torch.addmm(self.g_var[k], self.flat2[k].t(), t2, beta=0, alpha=0.5, out=self.g_var[k])
            if k == 0:
                break
            # d a = dz @ mu_W^T + 2 a * (d var @ var_W^T), then back through the activation
            da = self.dz[k - 1]
            torch.mm(dz2, self.mu[k][:-1].t(), out=da.view(s * b, -1))
            torch.mm(t2, self.var[k][:-1].t(), out=self.tmp[k - 1])
            da.addcmul_(self.units[k - 1], self.tmp[k - 1].view(s, b, -1))
            self.act_backward(da, self.units[k - 1], da)

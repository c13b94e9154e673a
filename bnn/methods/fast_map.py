"""The MAP trainer's fast engine: the members' gradient by hand, Adam in place.

:func:`bnn.methods.optimise.train` minimises, for each of M point-estimate networks, the mean
negative log-likelihood of its batch plus (weight_decay / 2) ||w||^2. Autograd records every
operator of that and replays its derivative; on networks this small each operator costs
microseconds of dispatch whatever its size, so :class:`FastTrainer` writes the derivative down
once (:mod:`bnn.netgrad`), on buffers made once, and updates in place (:mod:`bnn.adam`). For the
Gaussian likelihood (:class:`bnn.netgrad.WeightPass`: the members' shared full batch, or each
member's own minibatch with ``per_sample``), with r = f - y on a batch of B points,

    d loss / d w_m     = (1 / (B noise^2)) sum_b r_mb d f_mb / d w_m  +  weight_decay * w_m
    d loss / d rho     = sigmoid(rho) (M / noise - sum_mb r_mb^2 / (B noise^3))    (noise = softplus(rho))

For a classifier's full batch (:class:`bnn.fast_categorical.CategoricalPass`, the members as its
samples) the output gradient is (softmax(f) - onehot(c)) / B in place of r / (B noise^2). For a
heteroscedastic noise's full batch (:class:`bnn.fast_hetero.HeteroscedasticPass`, the members as its
samples) each member's two outputs (f, g) get, with sigma = softplus(g + c) + floor and z = (f - y) / sigma,

    d loss / d f = z / (B sigma),      d loss / d g = (1 - z^2) / (B sigma) * sigmoid(g + c).

tests/bnn/methods/test_optimise_fast.py, test_classification_methods.py and
test_heteroscedastic_methods.py check it against autograd.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from bnn.adam import Adam
from bnn.errors import TrainingDiverged
from bnn.fast_categorical import CategoricalPass
from bnn.fast_hetero import HeteroscedasticPass
from bnn.methods.base import MethodCallback, MethodProgress, Prepared
from bnn.model import softplus_inverse
from bnn.netgrad import Op, WeightPass
from bnn.network import Layout

CALLBACK_EVERY = 10
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SOFTPLUS_THRESHOLD = 20.0  # F.softplus's default: x above it is returned as is


@dataclass(frozen=True)
class Trained:
    """What the trainer hands back."""

    weights: Tensor  # (M, P), detached
    noise_sigma: float  # model units
    history: pd.DataFrame  # epoch, loss (mean over members of the objective above)
    stopped_early: bool
    engine: str = "autograd"  # "fast", or "autograd: <why the fast engine does not apply>"


def diverged(method: str, loss: float, epoch: int, lr: float) -> TrainingDiverged:
    return TrainingDiverged(f"{method}: training diverged: the loss became {loss} at epoch {epoch}; "
                            f"lower the learning rate (now {lr:g})")


def orders(members: int, n: int, batch: int, generator: torch.Generator) -> Tensor:
    """Each member's order of the points for one epoch: (M, N); the identity for full batch."""
    if batch >= n:
        return torch.arange(n).expand(members, n)
    return torch.argsort(torch.rand((members, n), generator=generator), dim=1)


class FastTrainer:
    """``train``'s loop with the gradient by hand (the module docstring's formulas) and Adam in place.

    The parameters are one flat buffer [w (M P) | noise rho], the gradient another; a batch size's
    step is a tape of operations on them (:mod:`bnn.netgrad`), made on its first use. A full batch
    is shared by the members and loaded once; minibatches are gathered per member into a
    ``per_sample`` pass. The minibatch orders are drawn by :func:`_orders`, as the autograd loop does.
    """

    def __init__(self, layout: Layout, w0: Tensor, data: Prepared, *, weight_decay: float | Tensor, lr: float,
                 batch_size: int | None, learn_noise: bool, heteroscedastic: bool = False) -> None:
        m, p = w0.shape
        dtype = w0.dtype
        self.layout, self.data, self.members, self.lr, self.learn_noise = layout, data, m, float(lr), learn_noise
        self.categorical = data.classes is not None
        self.heteroscedastic = heteroscedastic  # full batch only, as a classifier (optimise.unsupported)
        self.n = data.n
        self.batch = self.n if batch_size is None else min(batch_size, self.n)
        self.theta = torch.empty(m * p + 1, dtype=dtype)  # [w | noise rho]
        self.grad = torch.zeros(m * p + 1, dtype=dtype)
        self.w, self.gw = self.theta[:m * p].view(m, p), self.grad[:m * p].view(m, p)
        self.w.copy_(w0)
        self.theta[m * p] = softplus_inverse(data.noise_sigma)
        self.noise_rho, self.g_noise = self.theta[m * p], self.grad[m * p]
        n_opt = m * p + 1 if learn_noise else m * p
        self.adam = Adam([self.theta[:n_opt]], lr=lr)
        self._adam_grads = [self.grad[:n_opt]]
        if isinstance(weight_decay, Tensor) and weight_decay.dim() == 1:
            self.decay: float | None = None
            self.decay_vec: Tensor | None = weight_decay.to(dtype).contiguous()
            self.w2 = torch.empty((m, p), dtype=dtype)
        else:
            self.decay, self.decay_vec = float(weight_decay), None
        self.scale = torch.zeros((), dtype=dtype)  # 1 / (B noise^2), for a learned noise
        self.rr = torch.zeros((), dtype=dtype)  # sum r^2 over the members and the batch
        self.ww = torch.zeros((), dtype=dtype)  # sum of decay * w^2
        self.passes: dict[int, tuple[WeightPass, list[Op]]] = {}
        if self.batch < self.n:  # the data with its ones column, gathered per member into a pass's input
            self.xa = torch.cat([data.x, torch.ones((self.n, 1), dtype=dtype)], dim=1)
        else:
            net, _ = self._pass(self.n)
            net.load(data.x, data.y)

    def _pass(self, batch: int) -> tuple[WeightPass | CategoricalPass, list[Op]]:
        if batch in self.passes:
            return self.passes[batch]
        shared = batch >= self.n
        net: WeightPass | CategoricalPass
        if self.categorical:  # full batch only (``unsupported``): d loss / d f = (softmax(f) - onehot) / B
            net = CategoricalPass(self.layout, self.members, batch, self.w, self.gw)
        elif self.heteroscedastic:  # r = (d/d f, d/d g) unscaled; ``terms`` the sum of z^2 / 2 + log sigma
            net = HeteroscedasticPass(self.layout, self.members, batch, self.w, self.gw, self.data.noise_sigma)
        else:
            net = WeightPass(self.layout, self.members, batch, self.w, self.gw, per_sample=not shared)
        flat = net.r.view(-1)
        ops: list[Op] = [*net.forward_ops, *net.residual_ops]
        if self.heteroscedastic:  # rr holds the NLL's sum, whose finiteness the divergence check reads
            ops.append(partial(Tensor.copy_, self.rr, net.terms))  # type: ignore[union-attr]
        else:
            ops.append(partial(torch.dot, flat, flat, out=self.rr))
        if self.categorical or self.heteroscedastic:
            ops += net.backward_ops(1.0 / batch)
        elif self.learn_noise:  # the noise changes every step: r is scaled by a tensor
            ops += [partial(Tensor.mul_, net.r, self.scale), *net.backward_ops(1.0)]
        else:
            ops += net.backward_ops(1.0 / (batch * self.data.noise_sigma**2))
        if self.decay_vec is not None:
            ops.append(partial(Tensor.addcmul_, self.gw, self.w, self.decay_vec))
        elif self.decay:
            ops.append(partial(Tensor.add_, self.gw, self.w, alpha=self.decay))
        self.passes[batch] = net, ops
        return net, ops

    def _noise(self) -> float:
        if not self.learn_noise:
            return self.data.noise_sigma
        rho = float(self.noise_rho)
        return rho if rho > _SOFTPLUS_THRESHOLD else math.log1p(math.exp(rho))

    def gradient(self, idx: Tensor | None, batch: int) -> tuple[float, float] | None:
        """Fill ``grad`` = [d/d w | d/d noise rho] on the members' batches idx (M, B) (None: the full
        batch). Returns (sum r^2, noise) when a learned noise needed them, else None."""
        net, ops = self._pass(batch)
        if idx is not None:
            flat = idx.reshape(-1)
            torch.index_select(self.xa, 0, flat, out=net.xa.view(-1, net.xa.shape[-1]))
            torch.index_select(self.data.y, 0, flat, out=net.y.view(-1))
        if not self.learn_noise:
            for op in ops:
                op()
            return None
        noise = self._noise()
        self.scale.fill_(1.0 / (batch * noise * noise))
        for op in ops:
            op()
        rr, rho = float(self.rr), float(self.noise_rho)
        self.g_noise.fill_((self.members / noise - rr / (batch * noise**3)) / (1.0 + math.exp(-rho)))
        return rr, noise

    def step(self, idx: Tensor | None, batch: int, check: bool, loss: bool) -> float | None:
        """One Adam step on the members' batches idx (M, B) (None: the full batch). Returns the mean
        objective over the members before the update when ``loss``, or when ``check`` finds it is not
        finite; else None.

        ``check`` reads sum r^2 and the noise, whose finiteness is the objective's: non-finite weights
        make f, and so r, non-finite; only weights so large that decay * ||w||^2 overflows while f
        does not would go unseen, and their gradient makes the next step's r non-finite. The full
        objective (one more reduction) is computed only when asked (every ``CALLBACK_EVERY`` epochs)."""
        terms = self.gradient(idx, batch)
        out = None
        if check or loss:
            rr, noise = terms if terms is not None else (float(self.rr), self.data.noise_sigma)
            if loss or not (math.isfinite(rr) and (self.categorical or math.isfinite(noise))):
                out = self._loss(rr, noise, batch)
        self.adam.step(self._adam_grads)
        return out

    def _loss(self, rr: float, noise: float, batch: int) -> float:
        """Mean over the members of the objective at the current weights (rr from this step's residuals)."""
        if self.decay_vec is not None:
            torch.mul(self.w, self.w, out=self.w2)
            torch.dot(self.w2.sum(dim=0), self.decay_vec, out=self.ww)
            ww = float(self.ww)
        elif self.decay:
            flat = self.w.view(-1)
            ww = self.decay * float(torch.dot(flat, flat, out=self.ww))
        else:
            ww = 0.0
        m = self.members
        if self.categorical:  # the mean cross-entropy of this step's logits
            net = self.passes[batch][0]
            data = -float((torch.log_softmax(net.f, dim=-1) * net.onehot).sum()) / (batch * m)  # type: ignore[union-attr]
        elif self.heteroscedastic:  # rr is sum_mb z^2 / 2 + log sigma
            data = rr / (batch * m) + _HALF_LOG_2PI
        else:
            data = rr / (2 * noise * noise * batch * m) + math.log(noise) + _HALF_LOG_2PI
        return data + 0.5 * ww / m

    def run(self, epochs: int, generator: torch.Generator, method: str, callback: MethodCallback | None) -> Trained:
        """``train``'s epochs, reports, divergence check and early stop."""
        n, batch, members = self.n, self.batch, self.members
        rows: list[tuple[int, float]] = []
        stopped = False
        starts = list(range(0, n, batch))
        for epoch in range(1, epochs + 1):
            report = epoch % CALLBACK_EVERY == 0 or epoch == epochs
            if batch >= n:
                loss = self.step(None, n, True, report)
            else:  # as the autograd loop: the loss of an epoch's last minibatch
                order = orders(members, n, batch, generator)
                for start in starts:
                    idx = order[:, start:start + batch]
                    last = start == starts[-1]
                    loss = self.step(idx, idx.shape[1], last, last and report)
            if loss is not None and not math.isfinite(loss):
                raise diverged(method, loss, epoch, self.lr)
            if report:
                rows.append((epoch, loss))  # type: ignore[arg-type]
                if callback is not None and callback(MethodProgress(method, "train", epoch, epochs, loss)):
                    stopped = epoch < epochs
                    break
        history = pd.DataFrame(rows, columns=["epoch", "loss"])
        noise = float(F.softplus(self.noise_rho)) if self.learn_noise else self.data.noise_sigma
        return Trained(self.w.clone(), noise, history, stopped, "fast")

"""Adam on M point-estimate networks at once: the trainer of the ensemble, MC dropout and
the Laplace approximation's MAP fit.

The M weight vectors live in one (M, P) tensor and every loss is a sum over members of
per-member losses, so the gradient of member m depends on member m alone and one Adam
step trains all M in a single batched pass (Lakshminarayanan et al. 2017 train the
members of a deep ensemble independently; batching changes the arithmetic, not the
maths). Each member sees its own minibatch order. The objective of a member is

    mean over the batch of -log p(y | f(x))  +  (weight_decay / 2) ||w||^2,

which for weight_decay = 1 / (N prior_sigma^2) is the negative log posterior divided
by N: its minimum is the MAP of the model's prior. The likelihood is the model's
(:func:`bnn.methods.likelihood.mean_nll`): N(f, noise^2), whose learned noise std is one
softplus-parameterised scalar shared by the members, or for a classifier the softmax
cross-entropy of K logits.

Two engines compute the gradient. The fast one (:class:`FastTrainer`) covers the plain
Gaussian likelihood (:func:`layer_nll`: the ensemble and the Laplace MAP fit): the network's
forward and backward pass by hand (:class:`bnn.netgrad.WeightPass`, the members' shared
full batch, or each member's own minibatch with ``per_sample``), on buffers made once, then
Adam in place (:mod:`bnn.adam`). With r = f - y on a batch of B points,

    d loss / d w_m     = (1 / (B noise^2)) sum_b r_mb d f_mb / d w_m  +  weight_decay * w_m
    d loss / d rho     = sigmoid(rho) (M / noise - sum_mb r_mb^2 / (B noise^3))    (noise = softplus(rho))

A classifier's full batch is :class:`bnn.fast_categorical.CategoricalPass` (the members as its
samples), whose output gradient is (softmax(f) - onehot(c)) / B in place of r / (B noise^2); a
classifier on minibatches (each member its own, which that pass does not take) goes to autograd.
Autograd on ``data_nll`` is the oracle and the fallback, for any other ``data_nll`` (MC
dropout's masks) and anything else the fast engine does not know. ``engine="auto"`` (the
default, or what :func:`using_engine` sets) picks the fast one where it applies; both draw
the same minibatch orders from the generator, so a fit is reproducible by seed on either.
tests/bnn/methods/test_optimise_fast.py checks the gradients and whole fits against autograd.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.adam import Adam
from bnn.config import Config
from bnn.errors import TrainingDiverged
from bnn.fast_categorical import CategoricalPass
from bnn.methods import likelihood
from bnn.methods.base import MethodCallback, MethodProgress, Prepared, Stopwatch, prepare
from bnn.model import softplus_inverse
from bnn.netgrad import Op, WeightPass
from bnn.network import ACTIVATIONS, Layout
from bnn.posterior import gaussian_log_prob

# data_nll(w (M, P), x (M, B, D), y (M, B), noise_sigma) -> (M,) mean negative log-likelihood
DataNLL = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
CALLBACK_EVERY = 10
Engine = Literal["auto", "fast", "autograd"]
_ENGINE: ContextVar[Engine] = ContextVar("bnn_methods_optimise_engine", default="auto")
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


def map_weight_decay(n: int, prior_sigma: float) -> float:
    """The weight decay whose minimum is the MAP under N(0, prior_sigma^2): 1 / (N prior_sigma^2)."""
    return 1.0 / (n * prior_sigma**2)


def mean_gaussian_nll(f: Tensor, y: Tensor, noise_sigma: Tensor) -> Tensor:
    """Mean over the last axis of -log N(y; f, noise^2): (..., B) -> (...)."""
    return -gaussian_log_prob(y, f, noise_sigma).mean(dim=-1)


@contextmanager
def using_engine(engine: Engine) -> Iterator[None]:
    """Within the block, ``train`` calls without an ``engine`` use this one (benchmarks, tests:
    the methods' ``fit`` functions take no engine argument)."""
    token = _ENGINE.set(engine)
    try:
        yield
    finally:
        _ENGINE.reset(token)


def unsupported(w0: Tensor, data: Prepared, data_nll: DataNLL, weight_decay: float | Tensor,
                batch_size: int | None = None) -> str | None:
    """Why the fast engine cannot train this, or None when it can."""
    if type(data_nll) is not LayerNLL:  # a subclass may compute another likelihood
        return "the likelihood is not layer_nll's plain network (e.g. MC dropout's masks)"
    categorical = data.classes is not None
    if data_nll.categorical != categorical:
        return "layer_nll's likelihood is not the data's (labels need categorical=True)"
    if categorical and batch_size is not None and batch_size < data.n:
        return "a classifier on minibatches (each member its own) is not covered"
    layout = data_nll.layout
    if type(layout) is not Layout or layout.activation not in ACTIVATIONS:
        return f"no derivative is written for the network {layout!r}"
    if w0.dim() != 2 or w0.shape[1] != layout.size:
        return "the weights are not (members, P) of the likelihood's network"
    y_ok = data.y.dtype == (torch.int64 if categorical else w0.dtype)
    if w0.dtype not in (torch.float32, torch.float64) or data.x.dtype != w0.dtype or not y_ok:
        return "the weights and the data are not all float32 or all float64"
    if w0.device.type != "cpu" or data.x.device.type != "cpu":
        return "the weights or the data are not on the CPU"
    if isinstance(weight_decay, Tensor) and weight_decay.shape not in ((), (layout.size,)):
        return f"a weight decay of shape {tuple(weight_decay.shape)} (one number or one per weight is covered)"
    return None


def train(w0: Tensor, data: Prepared, data_nll: DataNLL, *, weight_decay: float | Tensor, epochs: int, lr: float,
          batch_size: int | None, learn_noise: bool, generator: torch.Generator, method: str,
          callback: MethodCallback | None = None, engine: Engine | None = None) -> Trained:
    """Minimise the objective of every member from w0 (M, P) by full-batch or minibatch Adam.

    ``weight_decay`` is one number or one per weight (P,). ``engine``: "auto" (None: what
    :func:`using_engine` set, "auto" by default) takes the fast engine where it applies,
    "autograd" forces the oracle, "fast" raises ``ValueError`` where it does not apply.
    """
    engine = _ENGINE.get() if engine is None else engine
    if engine not in ("auto", "fast", "autograd"):
        raise ValueError(f"engine must be 'auto', 'fast' or 'autograd', got {engine!r}")
    why = unsupported(w0, data, data_nll, weight_decay, batch_size) if engine != "autograd" else "asked for"
    if why is None:
        trainer = FastTrainer(data_nll.layout, w0, data, weight_decay=weight_decay, lr=lr,  # type: ignore[attr-defined]
                              batch_size=batch_size, learn_noise=learn_noise)
        return trainer.run(epochs, generator, method, callback)
    if engine == "fast":
        raise ValueError(f"the fast engine does not cover this fit: {why}")
    w = w0.clone().requires_grad_(True)
    noise_rho = torch.tensor(softplus_inverse(data.noise_sigma), dtype=w.dtype, requires_grad=learn_noise)
    params = [w, noise_rho] if learn_noise else [w]
    optimiser = torch.optim.Adam(params, lr=lr)
    members, n = w.shape[0], data.n
    batch = n if batch_size is None else min(batch_size, n)
    rows: list[tuple[int, float]] = []
    stopped = False
    for epoch in range(1, epochs + 1):
        order = _orders(members, n, batch, generator)
        for start in range(0, n, batch):
            idx = order[:, start:start + batch]  # (M, B)
            optimiser.zero_grad(set_to_none=True)
            per_member = data_nll(w, data.x[idx], data.y[idx], F.softplus(noise_rho))
            per_member = per_member + 0.5 * (weight_decay * w * w).sum(dim=1)
            per_member.sum().backward()
            optimiser.step()
        loss = float(per_member.detach().mean())
        if not math.isfinite(loss):
            raise _diverged(method, loss, epoch, lr)
        if epoch % CALLBACK_EVERY == 0 or epoch == epochs:
            rows.append((epoch, loss))
            if callback is not None and callback(MethodProgress(method, "train", epoch, epochs, loss)):
                stopped = epoch < epochs
                break
    history = pd.DataFrame(rows, columns=["epoch", "loss"])
    # a fixed noise is reported as given, not through softplus(softplus^-1(.))'s round-off
    noise = float(F.softplus(noise_rho.detach())) if learn_noise else data.noise_sigma
    return Trained(w.detach(), noise, history, stopped, f"autograd: {why}")


def _diverged(method: str, loss: float, epoch: int, lr: float) -> TrainingDiverged:
    return TrainingDiverged(f"{method}: training diverged: the loss became {loss} at epoch {epoch}; "
                            f"lower the learning rate (now {lr:g})")


class FastTrainer:
    """``train``'s loop with the gradient by hand (the module docstring's formulas) and Adam in place.

    The parameters are one flat buffer [w (M P) | noise rho], the gradient another; a batch size's
    step is a tape of operations on them (:mod:`bnn.netgrad`), made on its first use. A full batch
    is shared by the members and loaded once; minibatches are gathered per member into a
    ``per_sample`` pass. The minibatch orders are drawn by :func:`_orders`, as the autograd loop does.
    """

    def __init__(self, layout: Layout, w0: Tensor, data: Prepared, *, weight_decay: float | Tensor, lr: float,
                 batch_size: int | None, learn_noise: bool) -> None:
        m, p = w0.shape
        dtype = w0.dtype
        self.layout, self.data, self.members, self.lr, self.learn_noise = layout, data, m, float(lr), learn_noise
        self.categorical = data.classes is not None
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
        else:
            net = WeightPass(self.layout, self.members, batch, self.w, self.gw, per_sample=not shared)
        flat = net.r.view(-1)
        ops: list[Op] = [*net.forward_ops, *net.residual_ops, partial(torch.dot, flat, flat, out=self.rr)]
        if self.categorical:
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
                order = _orders(members, n, batch, generator)
                for start in starts:
                    idx = order[:, start:start + batch]
                    last = start == starts[-1]
                    loss = self.step(idx, idx.shape[1], last, last and report)
            if loss is not None and not math.isfinite(loss):
                raise _diverged(method, loss, epoch, self.lr)
            if report:
                rows.append((epoch, loss))  # type: ignore[arg-type]
                if callback is not None and callback(MethodProgress(method, "train", epoch, epochs, loss)):
                    stopped = epoch < epochs
                    break
        history = pd.DataFrame(rows, columns=["epoch", "loss"])
        noise = float(F.softplus(self.noise_rho)) if self.learn_noise else self.data.noise_sigma
        return Trained(self.w.clone(), noise, history, stopped, "fast")


def init_weights(layout: Layout, members: int, generator: torch.Generator) -> Tensor:
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per weight, as torch's Linear, independently per member: (M, P)."""
    bound = 1.0 / layout.fan_in().sqrt()
    return (torch.rand((members, layout.size), generator=generator) * 2 - 1) * bound


def forward(layout: Layout, x: Tensor, w: Tensor, masks: list[Tensor] | None = None) -> Tensor:
    """f (S, B) of the networks w (S, P) at inputs x (B, D), or (S, B, D) for one batch per network.

    Hidden layer k's outputs are multiplied by ``masks[k]`` (S, B or 1, H_k) when given
    (MC dropout). :meth:`Layout.forward` takes one shared x; the members of an ensemble
    each see their own minibatch, hence this variant.
    """
    act = ACTIVATIONS[layout.activation]
    layers = layout.split(w)
    h = x
    for k, (weight, bias) in enumerate(layers):
        h = torch.matmul(h, weight.transpose(1, 2)) + bias.unsqueeze(1)  # (S, B, out)
        if k < len(layers) - 1:
            h = act(h) if masks is None else act(h) * masks[k]
    return h.squeeze(-1)


class LayerNLL:
    """The members' mean NLL on their own batches x (M, B, D) (no randomness), Gaussian or, with
    ``categorical``, the cross-entropy of K logits: the likelihood the fast engine knows (it reads
    ``layout`` and ``categorical``)."""

    def __init__(self, layout: Layout, categorical: bool = False) -> None:
        self.layout, self.categorical = layout, categorical

    def __call__(self, w: Tensor, x: Tensor, y: Tensor, noise: Tensor) -> Tensor:
        return likelihood.mean_nll(forward(self.layout, x, w), y, noise, self.categorical)


def layer_nll(layout: Layout, generator: torch.Generator | None = None, categorical: bool = False) -> DataNLL:
    """The members' mean NLL on their own batches x (M, B, D) (no randomness)."""
    return LayerNLL(layout, categorical)


@dataclass(frozen=True)
class Networks:
    """Trained point-estimate networks and the setting they were trained in."""

    data: Prepared
    layout: Layout
    trained: Trained

    def fitted_fields(self, name: str, config: Config, settings: Any, clock: Stopwatch) -> dict[str, Any]:
        """The :class:`FittedMethod` fields every trained method fills the same way (the config with
        a classifier's K, as :func:`bnn.fit` records it)."""
        if self.data.classes is not None:
            config = config.replace(classes=self.data.classes)
        return dict(name=name, config=config, method_config=settings, scaling=self.data.scaling, n_train=self.data.n,
                    noise_sigma_model=self.trained.noise_sigma, seconds=clock.seconds(),
                    stopped_early=self.trained.stopped_early, history=self.trained.history)


def train_networks(x: ArrayLike, y: ArrayLike, config: Config, settings: Any, *, members: int, method: str,
                   callback: MethodCallback | None, dtype: torch.dtype | None = None,
                   make_nll: Callable[[Layout, torch.Generator], DataNLL] | None = None,
                   decay: float | Tensor | None = None, engine: Engine | None = None) -> Networks:
    """Prepare the points, initialise ``members`` networks of the config's model and train them.

    ``settings`` has epochs, lr, batch_size; ``make_nll`` defaults to :func:`layer_nll` of the
    config's likelihood; ``decay`` defaults to the MAP's 1/(N prior_sigma^2); ``engine``: see :func:`train`.
    """
    config = likelihood.resolve(config, x, y)
    data = prepare(x, y, config, dtype=dtype)
    layout = likelihood.model_layout(data.x.shape[1], config)
    if make_nll is None:
        make_nll = partial(layer_nll, categorical=likelihood.is_categorical(config))
    generator = torch.Generator().manual_seed(config.seed)
    w0 = init_weights(layout, members, generator).to(data.x.dtype)
    if decay is None:
        decay = map_weight_decay(data.n, config.prior_sigma)
    trained = train(w0, data, make_nll(layout, generator), weight_decay=decay, epochs=settings.epochs,
                    lr=settings.lr, batch_size=settings.batch_size, learn_noise=config.learn_noise,
                    generator=generator, method=method, callback=callback, engine=engine)
    return Networks(data, layout, trained)


def _orders(members: int, n: int, batch: int, generator: torch.Generator) -> Tensor:
    """Each member's order of the points for one epoch: (M, N); the identity for full batch."""
    if batch >= n:
        return torch.arange(n).expand(members, n)
    return torch.argsort(torch.rand((members, n), generator=generator), dim=1)

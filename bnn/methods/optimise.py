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
softplus-parameterised scalar shared by the members, or with a heteroscedastic noise each
member's own sigma(x) from its second output (a mean-variance network, as the members of
Lakshminarayanan et al. 2017), or for a classifier the softmax cross-entropy of K logits.

Two engines compute the gradient. The fast one (:class:`bnn.methods.fast_map.FastTrainer`)
writes the network's forward and backward pass by hand for :func:`layer_nll`'s plain network
(the ensemble and the Laplace MAP fit): the Gaussian likelihood on full batches or minibatches,
a classifier's and a heteroscedastic noise's on the full batch. Autograd on ``data_nll`` is the
oracle and the fallback, for any other ``data_nll`` (MC dropout's masks), a classifier or a
heteroscedastic noise on minibatches (the hand-written passes of :mod:`bnn.fast_categorical` and
:mod:`bnn.fast_hetero` share one batch between their draws, while each member has its own
minibatch) and anything else the fast engine does not know (:func:`unsupported` says why).
``engine="auto"`` (the default, or what :func:`using_engine` sets) picks the fast one where it
applies; both draw the same minibatch orders from the generator, so a fit is reproducible by seed
on either.
tests/bnn/methods/test_optimise_fast.py (and test_heteroscedastic_methods.py) check the gradients
and whole fits against autograd.
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

from bnn.config import Config
from bnn.methods import likelihood
from bnn.methods.base import MethodCallback, MethodProgress, Prepared, Stopwatch, prepare
from bnn.methods.fast_map import CALLBACK_EVERY, FastTrainer, Trained, diverged
from bnn.methods.fast_map import orders as _orders
from bnn.model import softplus_inverse
from bnn.network import ACTIVATIONS, Layout

# data_nll(w (M, P), x (M, B, D), y (M, B), noise_sigma) -> (M,) mean negative log-likelihood
DataNLL = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
Engine = Literal["auto", "fast", "autograd"]
_ENGINE: ContextVar[Engine] = ContextVar("bnn_methods_optimise_engine", default="auto")


def map_weight_decay(n: int, prior_sigma: float) -> float:
    """The weight decay whose minimum is the MAP under N(0, prior_sigma^2): 1 / (N prior_sigma^2)."""
    return 1.0 / (n * prior_sigma**2)


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
    if data_nll.heteroscedastic:
        if categorical or layout.widths[-1] != 2:
            return "a heteroscedastic noise needs a regression network with two outputs (f, g)"
        if batch_size is not None and batch_size < data.n:
            return "a heteroscedastic noise on minibatches (each member its own) is not covered"
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
                              batch_size=batch_size, learn_noise=learn_noise,
                              heteroscedastic=data_nll.heteroscedastic)  # type: ignore[attr-defined]
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
            raise diverged(method, loss, epoch, lr)
        if epoch % CALLBACK_EVERY == 0 or epoch == epochs:
            rows.append((epoch, loss))
            if callback is not None and callback(MethodProgress(method, "train", epoch, epochs, loss)):
                stopped = epoch < epochs
                break
    history = pd.DataFrame(rows, columns=["epoch", "loss"])
    # a fixed noise is reported as given, not through softplus(softplus^-1(.))'s round-off
    noise = float(F.softplus(noise_rho.detach())) if learn_noise else data.noise_sigma
    return Trained(w.detach(), noise, history, stopped, f"autograd: {why}")


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
    """The members' mean NLL on their own batches x (M, B, D) (no randomness), Gaussian (with
    ``heteroscedastic``, of outputs (f, g) and a std per point; ``noise`` is then the base of
    :func:`bnn.noise.noise_std`) or, with ``categorical``, the cross-entropy of K logits: the
    likelihood the fast engine knows (it reads ``layout``, ``categorical`` and ``heteroscedastic``)."""

    def __init__(self, layout: Layout, categorical: bool = False, heteroscedastic: bool = False) -> None:
        self.layout, self.categorical, self.heteroscedastic = layout, categorical, heteroscedastic

    def __call__(self, w: Tensor, x: Tensor, y: Tensor, noise: Tensor) -> Tensor:
        return likelihood.mean_nll(forward(self.layout, x, w), y, noise, self.categorical, self.heteroscedastic)


def layer_nll(layout: Layout, generator: torch.Generator | None = None, categorical: bool = False,
              heteroscedastic: bool = False) -> DataNLL:
    """The members' mean NLL on their own batches x (M, B, D) (no randomness)."""
    return LayerNLL(layout, categorical, heteroscedastic)


@dataclass(frozen=True)
class Networks:
    """Trained point-estimate networks and the setting they were trained in."""

    data: Prepared
    layout: Layout
    trained: Trained

    def fitted_fields(self, name: str, config: Config, settings: Any, clock: Stopwatch) -> dict[str, Any]:
        """The :class:`FittedMethod` fields every trained method fills the same way (the config with
        a classifier's K, as :func:`bnn.fit` records it; a heteroscedastic noise has no one std: NaN)."""
        if self.data.classes is not None:
            config = config.replace(classes=self.data.classes)
        noise = math.nan if likelihood.is_heteroscedastic(config) else self.trained.noise_sigma
        return dict(name=name, config=config, method_config=settings, scaling=self.data.scaling, n_train=self.data.n,
                    noise_sigma_model=noise, seconds=clock.seconds(),
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
        make_nll = partial(layer_nll, categorical=likelihood.is_categorical(config),
                           heteroscedastic=likelihood.is_heteroscedastic(config))
    generator = torch.Generator().manual_seed(config.seed)
    w0 = init_weights(layout, members, generator).to(data.x.dtype)
    if decay is None:
        decay = map_weight_decay(data.n, config.prior_sigma)
    trained = train(w0, data, make_nll(layout, generator), weight_decay=decay, epochs=settings.epochs,
                    lr=settings.lr, batch_size=settings.batch_size, learn_noise=config.learn_noise,
                    generator=generator, method=method, callback=callback, engine=engine)
    return Networks(data, layout, trained)

"""Adam on M point-estimate networks at once: the trainer of the ensemble, MC dropout and
the Laplace approximation's MAP fit.

The M weight vectors live in one (M, P) tensor and every loss is a sum over members of
per-member losses, so the gradient of member m depends on member m alone and one Adam
step trains all M in a single batched pass (Lakshminarayanan et al. 2017 train the
members of a deep ensemble independently; batching changes the arithmetic, not the
maths). Each member sees its own minibatch order. The objective of a member is

    mean over the batch of -log N(y; f(x), noise^2)  +  (weight_decay / 2) ||w||^2,

which for weight_decay = 1 / (N prior_sigma^2) is the negative log posterior divided
by N: its minimum is the MAP of the model's prior. A learned noise std is one
softplus-parameterised scalar shared by the members.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config
from bnn.errors import TrainingDiverged
from bnn.methods.base import MethodCallback, MethodProgress, Prepared, Stopwatch, prepare
from bnn.model import softplus_inverse
from bnn.network import ACTIVATIONS, Layout
from bnn.posterior import gaussian_log_prob

# data_nll(w (M, P), x (M, B, D), y (M, B), noise_sigma) -> (M,) mean negative log-likelihood
DataNLL = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]
CALLBACK_EVERY = 10


@dataclass(frozen=True)
class Trained:
    """What the trainer hands back."""

    weights: Tensor  # (M, P), detached
    noise_sigma: float  # model units
    history: pd.DataFrame  # epoch, loss (mean over members of the objective above)
    stopped_early: bool


def map_weight_decay(n: int, prior_sigma: float) -> float:
    """The weight decay whose minimum is the MAP under N(0, prior_sigma^2): 1 / (N prior_sigma^2)."""
    return 1.0 / (n * prior_sigma**2)


def mean_gaussian_nll(f: Tensor, y: Tensor, noise_sigma: Tensor) -> Tensor:
    """Mean over the last axis of -log N(y; f, noise^2): (..., B) -> (...)."""
    return -gaussian_log_prob(y, f, noise_sigma).mean(dim=-1)


def train(w0: Tensor, data: Prepared, data_nll: DataNLL, *, weight_decay: float | Tensor, epochs: int, lr: float,
          batch_size: int | None, learn_noise: bool, generator: torch.Generator, method: str,
          callback: MethodCallback | None = None) -> Trained:
    """Minimise the objective of every member from w0 (M, P) by full-batch or minibatch Adam.

    ``weight_decay`` is one number or one per weight (P,).
    """
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
            raise TrainingDiverged(f"{method}: training diverged: the loss became {loss} at epoch {epoch}; "
                                   f"lower the learning rate (now {lr:g})")
        if epoch % CALLBACK_EVERY == 0 or epoch == epochs:
            rows.append((epoch, loss))
            if callback is not None and callback(MethodProgress(method, "train", epoch, epochs, loss)):
                stopped = epoch < epochs
                break
    history = pd.DataFrame(rows, columns=["epoch", "loss"])
    # a fixed noise is reported as given, not through softplus(softplus^-1(.))'s round-off
    noise = float(F.softplus(noise_rho.detach())) if learn_noise else data.noise_sigma
    return Trained(w.detach(), noise, history, stopped)


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


def layer_nll(layout: Layout, generator: torch.Generator | None = None) -> DataNLL:
    """The members' mean Gaussian NLL on their own batches x (M, B, D) (no randomness)."""

    def nll(w: Tensor, x: Tensor, y: Tensor, noise: Tensor) -> Tensor:
        return mean_gaussian_nll(forward(layout, x, w), y, noise)

    return nll


@dataclass(frozen=True)
class Networks:
    """Trained point-estimate networks and the setting they were trained in."""

    data: Prepared
    layout: Layout
    trained: Trained

    def fitted_fields(self, name: str, config: Config, settings: Any, clock: Stopwatch) -> dict[str, Any]:
        """The :class:`FittedMethod` fields every trained method fills the same way."""
        return dict(name=name, config=config, method_config=settings, scaling=self.data.scaling, n_train=self.data.n,
                    noise_sigma_model=self.trained.noise_sigma, seconds=clock.seconds(),
                    stopped_early=self.trained.stopped_early, history=self.trained.history)


def train_networks(x: ArrayLike, y: ArrayLike, config: Config, settings: Any, *, members: int, method: str,
                   callback: MethodCallback | None, dtype: torch.dtype | None = None,
                   make_nll: Callable[[Layout, torch.Generator], DataNLL] = layer_nll,
                   decay: float | Tensor | None = None) -> Networks:
    """Prepare the points, initialise ``members`` networks of the config's model and train them.

    ``settings`` has epochs, lr, batch_size; ``decay`` defaults to the MAP's 1/(N prior_sigma^2).
    """
    data = prepare(x, y, config, dtype=dtype)
    layout = Layout.of(data.x.shape[1], config.hidden, config.activation)
    generator = torch.Generator().manual_seed(config.seed)
    w0 = init_weights(layout, members, generator).to(data.x.dtype)
    if decay is None:
        decay = map_weight_decay(data.n, config.prior_sigma)
    trained = train(w0, data, make_nll(layout, generator), weight_decay=decay, epochs=settings.epochs,
                    lr=settings.lr, batch_size=settings.batch_size, learn_noise=config.learn_noise,
                    generator=generator, method=method, callback=callback)
    return Networks(data, layout, trained)


def _orders(members: int, n: int, batch: int, generator: torch.Generator) -> Tensor:
    """Each member's order of the points for one epoch: (M, N); the identity for full batch."""
    if batch >= n:
        return torch.arange(n).expand(members, n)
    return torch.argsort(torch.rand((members, n), generator=generator), dim=1)

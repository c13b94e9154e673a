"""A deep ensemble (Lakshminarayanan et al. 2017, "Simple and Scalable Predictive
Uncertainty Estimation using Deep Ensembles"): M networks of the model, each started
from its own random initialisation and trained to the MAP, predicting as the uniform
mixture of the members.

The members are the rows of one (M, P) weight tensor trained in one batched Adam pass
(:mod:`bnn.methods.optimise`), not a Python loop over networks. The likelihood is the
model's (every method shares the model of :class:`bnn.Config`): by default the homoscedastic
Gaussian; with ``noise="heteroscedastic"`` each member is the paper's mean-variance network, a
second output g giving its own sigma_m(x) = :func:`bnn.noise.noise_std` (g), trained by the Gaussian
NLL plus the prior's weight decay, and the predictive is the paper's uniform mixture
mean_m N(f_m(x), sigma_m(x)^2) (the prediction table's mixture of draws with a std each). The fast
engine covers it on the full batch; minibatches take autograd (:func:`bnn.methods.optimise.unsupported`).
Adversarial training is left out, as the paper's ablations show it matters little next to the ensembling.
A classifier (``likelihood="categorical"``) trains each member on the softmax cross-entropy
of K logits (the paper's classification case); member m's draw is its K logits, so the
predictive is the mean of the members' softmax probabilities.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config
from bnn.methods import optimise
from bnn.methods.base import FittedMethod, MethodCallback, Stopwatch
from bnn.methods.config_checks import check_int, check_training
from bnn.network import Layout

MAX_MEMBERS = 1000


@dataclass(frozen=True)
class EnsembleConfig:
    """A deep ensemble's own settings; the model and seed come from :class:`bnn.Config`."""

    members: int = 10
    epochs: int = 2000
    lr: float = 0.01  # Adam learning rate
    batch_size: int | None = None  # None: full batch
    weight_decay: float | None = None  # None: 1/(N prior_sigma^2), the MAP of the model's prior

    def __post_init__(self) -> None:
        check_int(self, "members", 1, MAX_MEMBERS)
        check_training(self)


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedEnsemble(FittedMethod):
    layout: Layout
    weights: Tensor  # (M, P)

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        """Member m's function repeated in turn: S = M draws are each member once; (S, N), (S, N, 2) =
        (f, g) with a heteroscedastic noise, or (S, N, K) logits."""
        members = self.weights.shape[0]
        f = self.layout.forward(x.to(self.weights.dtype), self.weights)  # (M, N)
        return f[torch.arange(samples) % members]


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: EnsembleConfig | None = None,
        callback: MethodCallback | None = None) -> FittedEnsemble:
    """Train ``members`` networks of the config's model together."""
    settings = method_config or EnsembleConfig()
    clock = Stopwatch()
    nets = optimise.train_networks(x, y, config, settings, members=settings.members, method="ensemble",
                                   callback=callback, decay=settings.weight_decay)
    return FittedEnsemble(**nets.fitted_fields("ensemble", config, settings, clock), layout=nets.layout,
                          weights=nets.trained.weights)

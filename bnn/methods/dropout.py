"""MC dropout (Gal & Ghahramani 2016, "Dropout as a Bayesian Approximation"): train one
network of the model with dropout on its hidden units and weight decay, then keep
dropout on at prediction time; each dropout mask is one function draw.

Gal & Ghahramani read dropout training as variational inference with a Bernoulli
approximate posterior; matching its KL to the model's N(0, prior_sigma^2) prior gives
the weight decay (their appendix, with prior length-scale 1 / prior_sigma): weights fed
by dropped units decay by (1 - rate) / (N prior_sigma^2), the rest by
1 / (N prior_sigma^2), in the per-point objective of :mod:`bnn.methods.optimise`. That is the
default; ``weight_decay`` replaces it by one number for all weights. Dropout acts on
hidden units only: dropping the one input of a 1-D problem would blank the input.
During training each point gets its own mask (ordinary dropout); at prediction each
draw keeps one mask for all inputs, so a draw is a whole function, not noise per point.
A classifier (``likelihood="categorical"``) trains the same way on the softmax cross-entropy
of K logits, and each mask is one draw of the K logits (Gal & Ghahramani's classification
case); the masks make it an autograd fit (:mod:`bnn.methods.optimise`).
With a heteroscedastic noise (``noise="heteroscedastic"``) the network has a second output g that
shares the dropped hidden units, sigma(x) = :func:`bnn.noise.noise_std` (g): the training loss is
the Gaussian NLL with that std per point (Kendall & Gal 2017, "What uncertainties do we need in
Bayesian deep learning", section 3's aleatoric loss), and each mask draws both f and sigma, so the
predictive is the mixture over masks of N(f_s(x), sigma_s(x)^2). An autograd fit too (the masks).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config
from bnn.data import as_inputs
from bnn.methods import likelihood, optimise
from bnn.methods.base import FittedMethod, MethodCallback, Stopwatch
from bnn.methods.config_checks import check_float, check_training
from bnn.network import Layout


@dataclass(frozen=True)
class DropoutConfig:
    """MC dropout's own settings; the model and seed come from :class:`bnn.Config`."""

    rate: float = 0.1  # probability of dropping each hidden unit
    weight_decay: float | None = None  # None: from the prior, as in the module docstring
    epochs: int = 2000
    lr: float = 0.01  # Adam learning rate
    batch_size: int | None = None  # None: full batch

    def __post_init__(self) -> None:
        check_float(self, "rate", 0.0, 0.95)
        check_training(self)


def masked_forward(layout: Layout, x: Tensor, w: Tensor, masks: list[Tensor]) -> Tensor:
    """The network with hidden layer k's outputs multiplied by masks[k] (S, B or 1, H_k).

    x (B, D) or (M, B, D), w (M, P) with M = 1 or S: f (S, B), or (S, B, K) for K outputs.
    """
    return optimise.forward(layout, x, w, masks)


def draw_masks(layout: Layout, rate: float, shape: tuple[int, int], generator: torch.Generator,
               dtype: torch.dtype) -> list[Tensor]:
    """Inverted-dropout masks, 0 or 1/(1 - rate), of shape (*shape, H_k) per hidden layer."""
    keep = 1.0 - rate
    return [(torch.rand((*shape, width), generator=generator, dtype=dtype) < keep).to(dtype) / keep
            for width in layout.widths[1:-1]]


def prior_decay(layout: Layout, n: int, prior_sigma: float, rate: float) -> Tensor:
    """Per-weight decay matching N(0, prior_sigma^2) (Gal & Ghahramani 2016, appendix): (P,)."""
    parts = []
    for k, (o, i) in enumerate(layout.shapes):
        keep = 1.0 - rate if k > 0 else 1.0  # layer k > 0 reads dropped hidden units
        parts += [torch.full((o * i,), keep), torch.ones(o)]
    return torch.cat(parts) / (n * prior_sigma**2)


@dataclass(kw_only=True)  # the base's fields have defaults; these are required
class FittedDropout(FittedMethod):
    layout: Layout
    weights: Tensor  # (1, P)

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        masks = draw_masks(self.layout, self.method_config.rate, (samples, 1), generator, self.weights.dtype)
        return masked_forward(self.layout, x.to(self.weights.dtype), self.weights, masks)


def fit(x: ArrayLike, y: ArrayLike, config: Config, method_config: DropoutConfig | None = None,
        callback: MethodCallback | None = None) -> FittedDropout:
    """Train one network of the config's model with dropout and weight decay."""
    settings = method_config or DropoutConfig()
    clock = Stopwatch()
    config = likelihood.resolve(config, x, y)
    categorical, hetero = likelihood.is_categorical(config), likelihood.is_heteroscedastic(config)
    layout = likelihood.model_layout(as_inputs(x).shape[1], config)
    decay = settings.weight_decay
    if decay is None:
        decay = prior_decay(layout, as_inputs(x).shape[0], config.prior_sigma, settings.rate)

    def make_nll(layout: Layout, generator: torch.Generator) -> optimise.DataNLL:
        def nll(w: Tensor, xb: Tensor, yb: Tensor, noise: Tensor) -> Tensor:
            masks = draw_masks(layout, settings.rate, tuple(xb.shape[:2]), generator, w.dtype)
            return likelihood.mean_nll(masked_forward(layout, xb, w, masks), yb, noise, categorical, hetero)

        return nll

    nets = optimise.train_networks(x, y, config, settings, members=1, method="dropout", callback=callback,
                                   make_nll=make_nll, decay=decay)
    return FittedDropout(**nets.fitted_fields("dropout", config, settings, clock), layout=nets.layout,
                         weights=nets.trained.weights)

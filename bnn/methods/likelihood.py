"""The likelihood every method fits, written once: Gaussian regression (one noise std, or one per
input) or a softmax classifier.

The model of :class:`bnn.Config` has either one output f(x) with y ~ N(f, noise^2)
(``likelihood="gaussian"``) or K outputs, the logits of p(c | x, w) = softmax(f(x; w))_c
(``likelihood="categorical"``, labels 0..K-1; Bridle 1990's softmax, the engine's
:func:`bnn.loss.expected_categorical_nll`). The methods differ in how they treat the weights,
never in the likelihood, so the switch between the two lives here and nowhere else:

- :func:`resolve` fixes K from the labels (``classes=None``: the largest label + 1), so that the
  fitted method's config records the model it fitted, as :func:`bnn.fit` does;
- :func:`model_layout` is the network with 1 or K outputs;
- :func:`mean_nll` is the per-point negative log-likelihood the MAP trainer
  (:mod:`bnn.methods.optimise`, the ensemble, MC dropout, the Laplace MAP) minimises, and
  :func:`log_likelihood` the summed log-likelihood the HMC reference samples under.

For the categorical likelihood the derivative in f is softmax(f) - onehot(c), the part the
residual f - y plays for the Gaussian (:mod:`bnn.fast_categorical` uses it for the hand-written
gradients).

A heteroscedastic noise (``noise="heteroscedastic"``, :mod:`bnn.noise`) gives the network a second
output g sharing every hidden layer, and y ~ N(f, sigma(g)^2) with sigma = :func:`bnn.noise.noise_std`
(g, base), base the config's noise std in model units: the mean-variance network of Nix & Weigend
1994 that Lakshminarayanan et al. 2017 train as ensemble members. The outputs are then (..., B, 2) =
(f, g), and both functions below take ``heteroscedastic=True`` with ``noise_sigma`` the base. Its
derivatives in (f, g) are (f - y) / sigma^2 and (1 - z^2) / sigma * sigmoid(g + c), z = (y - f) / sigma
(:mod:`bnn.fast_hetero`, which the MAP trainer's fast engine and the HMC sampler reuse).
:func:`refuse_heteroscedastic` is how a method that cannot fit it says so.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor

from bnn.config import Config, Likelihood, NoiseModel
from bnn.data import as_inputs, as_labels
from bnn.errors import ConfigError
from bnn.network import Layout
from bnn.noise import noise_std
from bnn.posterior import gaussian_log_prob


def is_categorical(config: Config) -> bool:
    """True for ``likelihood="categorical"`` (a softmax over K logits)."""
    return config.likelihood is Likelihood.CATEGORICAL


def is_heteroscedastic(config: Config) -> bool:
    """True for ``noise="heteroscedastic"``: a second output g sets a noise std per input."""
    return config.noise is NoiseModel.HETEROSCEDASTIC


def refuse_heteroscedastic(config: Config, method: str, why: str) -> None:
    """Raise a ConfigError naming ``method`` and ``why`` if the config asks for a heteroscedastic noise."""
    if is_heteroscedastic(config):
        raise ConfigError(f"{method}: noise='heteroscedastic' is not supported: {why}; use noise='fixed' "
                          "or 'learned', or a method that fits it (bbb, ensemble, dropout, hmc, fullcov)")


def resolve(config: Config, x: ArrayLike, y: ArrayLike) -> Config:
    """The config with K set for a classifier whose ``classes`` is None (checked labels required);
    a regression's config unchanged."""
    if not is_categorical(config) or config.classes is not None:
        return config
    _, classes = as_labels(y, n=as_inputs(x).shape[0])
    return config.replace(classes=classes)


def outputs(config: Config) -> int:
    """The network's output width: K for a (resolved) classifier, 2 (f, g) for a heteroscedastic
    noise, else 1."""
    if is_categorical(config):
        if config.classes is None:
            raise ValueError("a categorical config must be resolved (classes set) before its network is built")
        return config.classes
    return 2 if is_heteroscedastic(config) else 1


def model_layout(input_dim: int, config: Config) -> Layout:
    """The config's network on ``input_dim`` inputs, with 1 output, (f, g) or K logits."""
    return Layout((input_dim, *config.hidden, outputs(config)), config.activation)


def mean_nll(f: Tensor, y: Tensor, noise_sigma: Tensor | float, categorical: bool,
             heteroscedastic: bool = False) -> Tensor:
    """Mean over the batch of -log p(y | f): f (..., B) with y (..., B) for the Gaussian (noise std
    ``noise_sigma``), or (f, g) (..., B, 2) with ``heteroscedastic`` (``noise_sigma`` the base of
    :func:`bnn.noise.noise_std`), or logits f (..., B, K) with int64 labels y (..., B) for the
    categorical (``noise_sigma`` ignored): (...)."""
    if categorical:
        return F.cross_entropy(f.movedim(-1, 1) if f.dim() > 2 else f, y, reduction="none").mean(dim=-1)
    if heteroscedastic:
        return -gaussian_log_prob(y, f[..., 0], noise_std(f[..., 1], float(noise_sigma))).mean(dim=-1)
    return -gaussian_log_prob(y, f, noise_sigma).mean(dim=-1)


def log_likelihood(f: Tensor, y: Tensor, noise_sigma: float, categorical: bool,
                   heteroscedastic: bool = False) -> Tensor:
    """Sum over the data of log p(y | f) up to a constant in f (the Gaussian's normaliser is left
    out; with ``heteroscedastic``, only its 2 pi: -log sigma depends on the weights): f (C, N),
    (f, g) (C, N, 2) or logits (C, N, K), y (N,): (C,)."""
    if categorical:
        log_p = torch.log_softmax(f, dim=-1)  # (C, N, K)
        return log_p.gather(-1, y.expand(f.shape[0], -1).unsqueeze(-1)).sum(dim=(1, 2))
    if heteroscedastic:
        sigma = noise_std(f[..., 1], noise_sigma)
        return -(0.5 * ((y - f[..., 0]) / sigma).square() + sigma.log()).sum(dim=1)
    return -((y - f) ** 2).sum(dim=1) / (2 * noise_sigma**2)

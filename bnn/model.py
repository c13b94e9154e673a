"""A Bayesian multilayer perceptron: one output under a Gaussian likelihood, or K under a softmax.

The network (:class:`bnn.network.Layout`) evaluated at weights drawn from the
mean-field posterior (:class:`bnn.posterior.MeanFieldGaussian`), as in Blundell et al.
2015. ``hidden=()`` is a single Bayesian linear layer, i.e. Bayesian linear regression,
which the tests use as a closed-form oracle. The observation noise std is fixed, or one
learned softplus-parameterised scalar. With ``likelihood="categorical"`` the last layer has K
outputs, the logits of a softmax over the classes (K must be resolved: ``config.classes`` set);
the noise parameter is then kept, frozen and unused, so every model has the same parameters.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from bnn.config import Config, Init, Likelihood, NoiseModel
from bnn.errors import ConfigError
from bnn.network import Layout
from bnn.noise import head_weights
from bnn.posterior import MeanFieldGaussian

# rho of the "scaled" initialisation: sigma = softplus(-5) = 0.0067, small next to the
# U(-1/sqrt(fan_in), 1/sqrt(fan_in)) means, so early training behaves like a plain net.
SCALED_INIT_RHO = -5.0


def softplus_inverse(y: float) -> float:
    """log(exp(y) - 1), written to stay finite for large y."""
    return y + math.log(-math.expm1(-y))


class BayesMLP(nn.Module):
    """input_dim -> hidden... -> 1 (or 2, or K), every weight Bayesian; forward gives f samples (S, N) (or
    (f, g) (S, N, 2) with a heteroscedastic noise head, or logits (S, N, K))."""

    def __init__(self, input_dim: int, config: Config, generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.likelihood = config.likelihood
        self.classes = config.classes
        # a heteroscedastic noise is a second output sharing every hidden layer (bnn.noise)
        self.heteroscedastic = config.noise is NoiseModel.HETEROSCEDASTIC
        if config.likelihood is Likelihood.CATEGORICAL:
            if config.classes is None:
                raise ConfigError("a categorical model needs its number of classes: set classes")
            self.layout = Layout((input_dim, *config.hidden, config.classes), config.activation)
        else:
            self.layout = Layout.of(input_dim, config.hidden, config.activation, 2 if self.heteroscedastic else 1)
        scaled = config.init is Init.SCALED
        mu = self.layout.init_mu(scaled, generator)
        if self.heteroscedastic and config.noise_warmup:  # sigma(x) starts as the one std the warm-up learns
            mu[head_weights(self.layout)] = 0.0
        rho = torch.full_like(mu, SCALED_INIT_RHO if scaled else 0.0)
        self.posterior = MeanFieldGaussian(mu, rho)
        self.prior_sigma = config.prior_sigma
        self.local_reparam = config.local_reparam
        self.noise_rho = nn.Parameter(torch.tensor(softplus_inverse(config.noise_sigma)),
                                      requires_grad=config.learn_noise)  # learn_noise is gaussian only
        # A fixed noise enters the loss as a Python float: two fewer tensor ops a step. For a
        # heteroscedastic model it is the scale its noise head starts from (bnn.noise).
        self.fixed_noise: float | None = None if config.learn_noise else config.noise_sigma

    @property
    def input_dim(self) -> int:
        return self.layout.widths[0]

    @property
    def noise_sigma(self) -> Tensor:
        """The likelihood's std (fixed, or learned when the config says so)."""
        return F.softplus(self.noise_rho)

    @property
    def loss_noise(self) -> Tensor | float:
        """The noise std as the loss uses it: a float when fixed, the learned tensor otherwise."""
        return self.noise_sigma if self.fixed_noise is None else self.fixed_noise

    def sample_weights(self, samples: int, generator: torch.Generator | None = None) -> Tensor:
        """(S, P) weight vectors from q."""
        return self.posterior.sample(samples, generator)

    def forward(self, x: Tensor, samples: int = 1, generator: torch.Generator | None = None,
                weights: Tensor | None = None) -> Tensor:
        """x: (N, D) -> sampled network outputs f: (S, N), or logits (S, N, K) for a classifier.

        With ``weights`` (S, P) those are used. Otherwise S fresh weight vectors are
        drawn or, with local reparameterisation, S pre-activation draws per example.
        """
        if weights is None and self.local_reparam:
            return self.layout.forward_local(x, self.posterior.mu, self.posterior.sigma, samples, generator)
        if weights is None:
            weights = self.sample_weights(samples, generator)
        return self.layout.forward(x, weights)

    def kl(self) -> Tensor:
        """Closed-form KL(q || p) summed over every weight and bias."""
        return self.posterior.kl(self.prior_sigma)

"""The prior predictive: network functions with every weight and bias drawn from N(0, σₚ²).

What the model believes before it sees a point, in the same form as a fit (a
:class:`bnn.predict.Predictive`), so the same table, band and draws describe it. The weights
are drawn in model units; ``scaling`` maps them to the data's units as a fit would (identity by
default: with no points there is nothing to standardise by).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from bnn.config import Config
from bnn.data import Scaling
from bnn.network import Layout
from bnn.predict import Predictive


@dataclass(frozen=True)
class Prior(Predictive):
    """The prior of ``config``'s network (its layers, activation and σₚ) over ``scaling.x_mean``'s inputs."""

    config: Config
    scaling: Scaling

    @property
    def layout(self) -> Layout:
        """The network's; with a heteroscedastic noise, its second output is the noise head (:mod:`bnn.noise`),
        whose prior draws give sigma(x) around the config's noise_sigma."""
        outputs = 2 if self.is_heteroscedastic else 1
        return Layout.of(self.input_dim, self.config.hidden, self.config.activation, outputs)

    @property
    def noise_sigma(self) -> float:
        """The likelihood's std as the config starts it, in the target's units (NaN for a noise that depends
        on x: :meth:`sample_noise_std`)."""
        return math.nan if self.is_heteroscedastic else self.config.noise_sigma

    def draw(self, x: Tensor, samples: int, generator: torch.Generator) -> Tensor:
        """S functions with weights w ~ N(0, σₚ² I) at model-unit inputs x (N, D): (S, N), or (f, g) (S, N, 2)."""
        layout = self.layout
        w = torch.randn(samples, layout.size, generator=generator, dtype=x.dtype) * self.config.prior_sigma
        return layout.forward(x, w)


def prior(config: Config | None = None, input_dim: int = 1, scaling: Scaling | None = None) -> Prior:
    """The prior predictive of ``config`` (default: the article's) for ``input_dim`` inputs."""
    scaling = scaling or Scaling.identity(input_dim)
    return Prior(config or Config(), scaling)

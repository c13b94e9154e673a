"""The network as a function of a flat weight vector: f(x; w) for S weight vectors at once.

A multilayer perceptron input_dim -> hidden... -> 1 with a fixed nonlinearity is fully
described by its layer widths; :class:`Layout` slices a flat vector w (S, P) into
per-layer matrices and biases and evaluates all S networks with batched matmuls, so the
sample dimension comes first everywhere. In the flat vector each layer's weight matrix is
stored transposed, (in, out) row-major, followed by its bias: the forward pass then needs
no transpose, which matters when a step is a few dozen tiny kernels. ``split`` still hands
out the usual (S, out, in) orientation. Bayes-by-Backprop,
ensembles and the HMC reference sampler all evaluate networks this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor

from bnn.config import Activation

ACTIVATIONS = {
    Activation.SIGMOID: torch.sigmoid,
    Activation.TANH: torch.tanh,
    Activation.RELU: torch.relu,
}


@dataclass(frozen=True)
class Layout:
    """Widths (input_dim, *hidden, 1) and the activation between layers."""

    widths: tuple[int, ...]
    activation: Activation = Activation.SIGMOID

    @classmethod
    def of(cls, input_dim: int, hidden: tuple[int, ...], activation: Activation, outputs: int = 1) -> Layout:
        """``outputs``: 1 for f, 2 for f and a heteroscedastic noise head (:mod:`bnn.noise`), K for logits."""
        return cls((input_dim, *hidden, outputs), Activation(activation))

    @cached_property
    def shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each layer."""
        return [(b, a) for a, b in zip(self.widths[:-1], self.widths[1:])]

    @cached_property
    def size(self) -> int:
        """P, the number of weights and biases."""
        return sum(o * i + o for o, i in self.shapes)

    @cached_property
    def _sizes(self) -> list[int]:
        return [n for o, i in self.shapes for n in (o * i, o)]

    def fan_in(self) -> Tensor:
        """The fan-in of the layer each flat weight belongs to: (P,)."""
        parts = [torch.full((o * i + o,), float(i)) for o, i in self.shapes]
        return torch.cat(parts)

    def split(self, w: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(S, P) -> per layer (weight (S, out, in), bias (S, out)); views, no copies."""
        return [(weight.transpose(1, 2), bias) for weight, bias in self._parts(w)]

    def _parts(self, w: Tensor) -> list[tuple[Tensor, Tensor]]:
        """(S, P) -> per layer (weight stored as (S, in, out), bias (S, out)): the forward's views."""
        parts = w.split(self._sizes, dim=1)
        return [(parts[2 * k].view(-1, i, o), parts[2 * k + 1]) for k, (o, i) in enumerate(self.shapes)]

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """x (N, D), w (S, P) -> f (S, N); (S, N, out) for more than one output."""
        act = ACTIVATIONS[self.activation]
        layers = self._parts(w)
        h = x.expand(w.shape[0], *x.shape)  # (S, N, D), a view
        for k, (weight, bias) in enumerate(layers):
            h = torch.baddbmm(bias.unsqueeze(1), h, weight)  # (S, N, out)
            if k < len(layers) - 1:
                h = act(h)
        return h.squeeze(-1)

    def forward_local(self, x: Tensor, mu: Tensor, sigma: Tensor, samples: int,
                      generator: torch.Generator | None = None) -> Tensor:
        """Local reparameterisation (Kingma et al. 2015): sample each unit's pre-activation
        N(h mu_W^T + mu_b, h^2 sigma_W^2^T + sigma_b^2) per example instead of the weights.
        Same marginals per unit, less gradient variance. x (N, D) -> f (S, N)."""
        act = ACTIVATIONS[self.activation]
        mus, variances = self._parts(mu.unsqueeze(0)), self._parts((sigma * sigma).unsqueeze(0))
        h = x.unsqueeze(0)  # (1, N, D), broadcast to (S, N, .) after the first draw
        for k, ((wm, bm), (wv, bv)) in enumerate(zip(mus, variances)):
            mean = torch.matmul(h, wm) + bm.unsqueeze(1)
            var = torch.matmul(h * h, wv) + bv.unsqueeze(1)
            eps = torch.randn((samples, *mean.shape[1:]), generator=generator)
            h = mean + var.sqrt() * eps
            if k < len(mus) - 1:
                h = act(h)
        return h.squeeze(-1)

    def init_mu(self, scaled: bool, generator: torch.Generator | None = None) -> Tensor:
        """Zeros (the article), or U(-1/sqrt(fan_in), 1/sqrt(fan_in)) as torch's Linear."""
        if not scaled:
            return torch.zeros(self.size)
        bound = 1.0 / self.fan_in().sqrt()
        return (torch.rand(self.size, generator=generator) * 2 - 1) * bound

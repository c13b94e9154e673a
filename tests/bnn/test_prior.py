"""The prior predictive against closed forms."""

from __future__ import annotations

import numpy as np
import torch

from bnn.config import Config
from bnn.data import Scaling
from bnn.prior import prior

X = np.linspace(-3, 3, 7)


def test_linear_prior_has_the_closed_form_variance() -> None:
    # hidden=() is f(x) = w x + b with w, b ~ N(0, σₚ²) independent: Var f(x) = σₚ² (x² + 1), mean 0.
    # 10,000 draws (the most a prediction takes): the relative standard error of a sample std is
    # 1/sqrt(2 * 10,000) = 0.7 %, so 3 % is four of them; the mean's standard error is σ(x) / 100.
    p = prior(Config(hidden=(), prior_sigma=2.0))
    f = p.sample_functions(X, samples=10_000, seed=3)
    expected = 2.0 * np.sqrt(X**2 + 1)
    np.testing.assert_allclose(f.std(axis=0), expected, rtol=0.03)
    assert np.all(np.abs(f.mean(axis=0)) < 5 * expected / np.sqrt(10_000))


def test_network_prior_output_is_centred_with_the_hidden_layers_variance() -> None:
    # Given the hidden activations h (32 sigmoid units), f = w·h + b is N(0, σₚ² (|h|² + 1)); so
    # Var f = σₚ² (E|h|² + 1), with E|h|² estimated from the same draws' hidden layer below.
    cfg = Config(prior_sigma=1.5)
    f = prior(cfg).sample_functions(X, samples=10_000, seed=4)
    g = torch.Generator().manual_seed(5)
    w1 = torch.randn(200_000, 32, generator=g, dtype=torch.float64) * 1.5
    b1 = torch.randn(200_000, 32, generator=g, dtype=torch.float64) * 1.5
    for j, x in enumerate(X):
        h2 = torch.sigmoid(w1 * x + b1).pow(2).sum(dim=1).mean().item()
        np.testing.assert_allclose(f[:, j].std(), 1.5 * np.sqrt(h2 + 1), rtol=0.03)


def test_scaling_maps_model_units_to_the_data() -> None:
    # the same draws (same seed) in model units, shifted and stretched as a fit's scaling does
    cfg = Config(hidden=(4,))
    plain = prior(cfg).sample_functions(X, samples=50, seed=1)
    scaled = prior(cfg, scaling=Scaling((1.0,), (2.0,), 10.0, 3.0)).sample_functions(1.0 + 2.0 * X, samples=50, seed=1)
    np.testing.assert_allclose(scaled, 10.0 + 3.0 * plain, rtol=1e-5, atol=1e-4)


def test_the_prior_predicts_a_table_with_the_configs_noise() -> None:
    table = prior(Config(noise_sigma=0.25)).predict(X, samples=30, seed=0)
    np.testing.assert_allclose(table["aleatoric_std"], 0.25)
    assert table.shape[0] == len(X)

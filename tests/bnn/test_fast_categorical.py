"""Oracle: the classifier's fast step (bnn.fast_categorical) against autograd on bnn.loss.negative_elbo.

As in test_fast_grad.py: both engines start from the same perturbed parameters and the same
generator state, so they draw the same weights; the hand-written gradient must equal autograd's to
float64 rounding (~1e-13 after the sums, checked at 1e-10) and to float32 rounding (cancellation in
sums of S * B * width products magnifies float32's 6e-8; checked at 1e-4 of the largest entry).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import bnn
from bnn.train import Training, prepare

COMBOS = list(itertools.product([(), (6,), (5, 4)], ["sigmoid", "tanh", "relu"], ["closed", "mc"], [None, 5],
                                [1, 3], [2, 3]))


def _runs(config: bnn.Config) -> tuple[Training, Training]:
    rng = np.random.default_rng(config.classes)
    x, labels = rng.uniform(-2, 2, (12, 3)), np.arange(12) % config.classes
    fast, slow = prepare(x, labels, config, engine="fast"), prepare(x, labels, config, engine="autograd")
    assert fast.engine == "fast"
    generator = torch.Generator().manual_seed(99)
    with torch.no_grad():  # away from the start, so that no gradient is trivially 0
        for p in fast.fitted.model.parameters():
            p.add_(0.4 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    slow.fitted.model.load_state_dict(fast.fitted.model.state_dict())
    return fast, slow


def _gradients(fast: Training, slow: Training, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    state = fast.generator.get_state()
    terms_fast = fast.stepper.gradient(x, y, terms=True)
    slow.generator.set_state(state)
    terms_slow = slow.stepper.gradient(x, y)
    for a, b in zip(terms_fast, terms_slow):  # the same draws: the same loss terms
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-4)
    model = slow.fitted.model
    auto = torch.cat([model.posterior.mu.grad, model.posterior.rho.grad, torch.zeros(1, dtype=x.dtype)])
    return fast.stepper.grad.clone(), auto


def _config(hidden, act, kl, batch, samples, classes) -> bnn.Config:  # noqa: ANN001
    return bnn.Config(likelihood="categorical", classes=classes, hidden=hidden, activation=act, kl=kl,
                      batch_size=batch, train_samples=samples, init="scaled", kl_weight=0.7, prior_sigma=1.5)


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


def test_every_combination_equals_autograd_in_float64(float64) -> None:  # noqa: ANN001
    for combo in COMBOS:
        fast, slow = _runs(_config(*combo))
        for x, y in itertools.islice(fast.batches(), 2):  # a full batch, or a full and a second minibatch
            got, want = _gradients(fast, slow, x, y)
            assert want.abs().max() > 0
            err = float((got - want).abs().max() / want.abs().max())
            assert err < 1e-10, (combo, err)


def test_every_combination_equals_autograd_in_float32() -> None:
    for combo in COMBOS:
        fast, slow = _runs(_config(*combo))
        x, y = next(fast.batches())
        got, want = _gradients(fast, slow, x, y)
        err = float((got - want).abs().max() / want.abs().max())
        assert err < 1e-4, (combo, err)


def test_fits_by_both_engines_agree_and_local_reparameterisation_falls_back() -> None:
    from bnn import datasets2d
    x, labels = datasets2d.spiral(60, arms=3)
    config = bnn.Config(likelihood="categorical", hidden=(8,), activation="tanh", init="scaled", prior_sigma=1.0,
                        lr=0.02, epochs=40, train_samples=2)
    fast, slow = bnn.fit(x, labels, config, engine="fast"), bnn.fit(x, labels, config, engine="autograd")
    # The same draws every step, float32 rounding apart: 40 Adam steps keep the means within 1e-4.
    torch.testing.assert_close(fast.model.posterior.mu, slow.model.posterior.mu, rtol=0, atol=1e-4)
    np.testing.assert_allclose(fast.history["total"], slow.history["total"], rtol=1e-4)
    local = prepare(x, labels, config.replace(local_reparam=True))
    assert local.engine.startswith("autograd: local reparameterisation is not covered for a categorical")
    with pytest.raises(ValueError, match="categorical"):
        prepare(x, labels, config.replace(local_reparam=True), engine="fast")

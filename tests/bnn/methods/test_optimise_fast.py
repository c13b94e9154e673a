"""Oracle: the MAP trainer's fast engine (bnn.methods.optimise.FastTrainer) against autograd.

The fast engine fills [d/d w | d/d noise rho] by hand (bnn.netgrad.WeightPass, then the weight
decay and the learned noise's derivative); autograd differentiates ``train``'s own objective,
sum over members of (mean over the batch of -log N(y; f, noise^2) + (decay / 2) ||w||^2). In
float64 the two are the same function summed in another order (~1e-15 apart); in float32 each
entry is a sum of up to B x width products whose cancellation magnifies float32's 6e-8 rounding.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import bnn
from bnn.errors import TrainingDiverged
from bnn.methods import fit_method, optimise
from bnn.methods.base import prepare
from bnn.model import softplus_inverse
from bnn.network import Layout

DEPTHS = [(), (6,), (5, 4), (3, 4, 5)]
MEMBERS = 3


def _problem(dim: int, dtype: torch.dtype, n: int = 12):
    rng = np.random.default_rng(dim)
    x = rng.uniform(-2, 2, (n, dim))
    y = np.sin(x.sum(axis=1)) + 0.1 * rng.standard_normal(n)
    return prepare(x, y, bnn.Config(noise_sigma=0.3), dtype=dtype)


def _decay(kind: str, layout: Layout) -> float | torch.Tensor:
    if kind == "float":
        return 0.05
    return torch.linspace(0.01, 0.2, layout.size)  # float32, as dropout's prior_decay: the engine casts it


def _gradients(layout: Layout, data, decay, learn: bool, batch: int | None, dtype: torch.dtype,
               noise_rho: float) -> tuple[torch.Tensor, torch.Tensor]:
    """[d/d w | d/d noise rho] by the fast engine and by autograd, at the same weights and batches."""
    generator = torch.Generator().manual_seed(7)
    w0 = torch.randn((MEMBERS, layout.size), generator=generator, dtype=dtype)
    trainer = optimise.FastTrainer(layout, w0, data, weight_decay=decay, lr=0.01, batch_size=batch,
                                   learn_noise=learn)
    trainer.noise_rho.fill_(noise_rho)
    if batch is None:
        idx = torch.arange(data.n).expand(MEMBERS, data.n)
        trainer.gradient(None, data.n)
    else:
        idx = optimise._orders(MEMBERS, data.n, batch, generator)[:, :batch]
        trainer.gradient(idx, batch)
    w = w0.clone().requires_grad_(True)
    rho = torch.tensor(noise_rho, dtype=dtype, requires_grad=True)
    per_member = optimise.layer_nll(layout)(w, data.x[idx], data.y[idx], F.softplus(rho))
    (per_member + 0.5 * (decay * w * w).sum(dim=1)).sum().backward()
    auto = torch.cat([w.grad.reshape(-1), rho.grad.reshape(1) if learn else torch.zeros(1, dtype=dtype)])
    return trainer.grad.clone(), auto


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_fast_gradient_equals_autograds(dtype: torch.dtype) -> None:
    # 192 combinations a dtype. float64: measured <= 8e-16 of the largest entry; 1e-10 leaves ~1e5 for
    # another order of the sums, and is far below any wrong derivative. float32: measured <= 2.6e-7
    # (sums of up to 12 x 6 products that partly cancel, each rounded to 6e-8); bounded at 2e-5. The
    # noise's gradient is compared as a number of its own (measured <= 5e-16 and 2e-7 relative).
    tol = 1e-10 if dtype == torch.float64 else 2e-5
    combos = itertools.product(DEPTHS, ["sigmoid", "tanh", "relu"], [False, True], ["float", "per-weight"],
                               [None, 5], [1, 3])
    for hidden, act, learn, decay_kind, batch, dim in combos:
        data = _problem(dim, dtype)
        layout = Layout.of(dim, hidden, act)
        decay = _decay(decay_kind, layout)
        # a learned noise away from the data's (its gradient is not ~0); a fixed one is the data's
        rho = softplus_inverse(data.noise_sigma) - (0.4 if learn else 0.0)
        got, want = _gradients(layout, data, decay, learn, batch, dtype, rho)
        combo = (hidden, act, learn, decay_kind, batch, dim)
        err = float((got[:-1] - want[:-1]).abs().max() / want[:-1].abs().max())
        assert err < tol, (combo, err)
        if learn:
            assert abs(float(got[-1] - want[-1])) <= tol * abs(float(want[-1])), (combo, got[-1], want[-1])
        else:
            assert got[-1] == 0


def _fits(dtype: torch.dtype, batch: int | None, learn: bool, decay, epochs: int = 200, members: int = 4,
          hidden=(8, 8), act="tanh", lr=0.01):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, (20, 2))
    y = np.sin(x[:, 0]) * x[:, 1] + 0.1 * rng.standard_normal(20)
    data = prepare(x, y, bnn.Config(noise_sigma=0.2), dtype=dtype)
    layout = Layout.of(2, hidden, act)
    w0 = optimise.init_weights(layout, members, torch.Generator().manual_seed(0)).to(dtype)
    decay = decay if not callable(decay) else decay(layout)
    out = {}
    for engine in ("fast", "autograd"):
        out[engine] = optimise.train(w0, data, optimise.layer_nll(layout), weight_decay=decay, epochs=epochs, lr=lr,
                                     batch_size=batch, learn_noise=learn, generator=torch.Generator().manual_seed(1),
                                     method="ensemble", engine=engine)
    return out["fast"], out["autograd"]


@pytest.mark.parametrize("batch,learn", [(None, False), (None, True), (6, False), (6, True)])
def test_whole_fits_agree_in_float64(batch: int | None, learn: bool) -> None:
    # 200 full-batch steps, or 100 epochs of 4 minibatches (each member its own order, drawn from the
    # same seed by both engines): the same maths in another order; measured <= 1.6e-15 apart in the
    # weights (of size ~1) and 5e-14 relative in the losses; 1e-9 leaves 1e5 for rounding to grow.
    epochs = 200 if batch is None else 100
    fast, slow = _fits(torch.float64, batch, learn, lambda layout: torch.linspace(0.001, 0.05, layout.size),
                       epochs=epochs)
    assert fast.engine == "fast" and slow.engine == "autograd: asked for"
    torch.testing.assert_close(fast.weights, slow.weights, rtol=0, atol=1e-9)
    assert abs(fast.noise_sigma - slow.noise_sigma) < 1e-12
    assert list(fast.history.epoch) == list(slow.history.epoch)
    np.testing.assert_allclose(fast.history.loss, slow.history.loss, rtol=1e-11)


@pytest.mark.parametrize("batch,learn", [(None, False), (None, True), (6, False), (6, True)])
def test_whole_fits_agree_in_float32(batch: int | None, learn: bool) -> None:
    # float32: each step's gradients differ by rounding (~3e-7 relative, above), and Adam carries
    # that along a stable run: measured <= 8.4e-7 apart in the weights (of size ~1) and 1.9e-6 in
    # the losses (0.004 to 1) after 200 steps or 100 epochs of 4 minibatches. Bounded at 5e-5 in
    # the weights and 2e-5 in the losses: 60x and 10x.
    fast, slow = _fits(torch.float32, batch, learn, 0.01, epochs=200 if batch is None else 100)
    torch.testing.assert_close(fast.weights, slow.weights, rtol=0, atol=5e-5)
    assert abs(fast.noise_sigma - slow.noise_sigma) < 1e-5
    np.testing.assert_allclose(fast.history.loss, slow.history.loss, rtol=0, atol=2e-5)


def test_a_fast_fit_is_reproducible_by_seed() -> None:
    a, _ = _fits(torch.float32, 6, True, 0.01, epochs=30)
    b, _ = _fits(torch.float32, 6, True, 0.01, epochs=30)
    assert torch.equal(a.weights, b.weights) and a.noise_sigma == b.noise_sigma


def test_the_methods_pick_their_engines(article_points) -> None:  # noqa: ANN001
    x, y = article_points
    settings = {"epochs": 20}
    with optimise.using_engine("fast"):  # the ensemble and Laplace's MAP fit are covered
        fit_method("ensemble", x, y, bnn.Config(), settings)
        fit_method("laplace", x, y, bnn.Config(), settings)
        with pytest.raises(ValueError, match="MC dropout's masks"):  # dropout keeps autograd
            fit_method("dropout", x, y, bnn.Config(), settings)
    with optimise.using_engine("autograd"):
        slow = fit_method("ensemble", x, y, bnn.Config(), settings)
    fast = fit_method("ensemble", x, y, bnn.Config(), settings)  # auto: the fast engine
    torch.testing.assert_close(fast.weights, slow.weights, rtol=0, atol=1e-5)  # float32, 20 epochs


def test_engine_selection() -> None:
    data = _problem(1, torch.float32)
    layout = Layout.of(1, (4,), "tanh")
    w0 = optimise.init_weights(layout, 2, torch.Generator().manual_seed(0))
    kwargs = dict(weight_decay=0.01, epochs=2, lr=0.01, batch_size=None, learn_noise=False,
                  generator=torch.Generator(), method="ensemble")
    assert optimise.train(w0, data, optimise.layer_nll(layout), **kwargs).engine == "fast"

    def custom(w, x, y, noise):  # noqa: ANN001, ANN202
        return optimise.layer_nll(layout)(w, x, y, noise)

    assert optimise.train(w0, data, custom, **kwargs).engine.startswith("autograd: the likelihood")
    with pytest.raises(ValueError, match="does not cover"):
        optimise.train(w0, data, custom, engine="fast", **kwargs)
    with pytest.raises(ValueError, match="does not cover"):  # float64 weights on float32 data
        optimise.train(w0.double(), data, optimise.layer_nll(layout), engine="fast", **kwargs)
    with pytest.raises(ValueError, match="engine must be"):
        optimise.train(w0, data, custom, engine="jit", **kwargs)


@pytest.mark.parametrize("engine", ["fast", "autograd"])
def test_divergence_is_reported_alike(engine: str) -> None:
    data = _problem(1, torch.float32)
    layout = Layout.of(1, (4,), "tanh")
    w0 = torch.full((2, layout.size), float("nan"))
    with pytest.raises(TrainingDiverged, match="ensemble: training diverged: the loss became nan at epoch 1"):
        optimise.train(w0, data, optimise.layer_nll(layout), weight_decay=0.01, epochs=5, lr=0.01, batch_size=4,
                       learn_noise=True, generator=torch.Generator(), method="ensemble", engine=engine)


def test_the_fast_engine_stops_when_the_callback_asks() -> None:
    data = _problem(1, torch.float32)
    layout = Layout.of(1, (4,), "tanh")
    w0 = optimise.init_weights(layout, 2, torch.Generator().manual_seed(0))
    seen = []

    def stop(progress) -> bool:  # noqa: ANN001
        seen.append(progress.step)
        return progress.step >= 30

    out = optimise.train(w0, data, optimise.layer_nll(layout), weight_decay=0.01, epochs=100, lr=0.01, batch_size=5,
                         learn_noise=False, generator=torch.Generator(), method="ensemble", callback=stop)
    assert out.engine == "fast" and out.stopped_early and seen == [10, 20, 30]
    assert list(out.history.epoch) == [10, 20, 30]

"""Oracle: the fast step's hand-written gradients against autograd's, on every option combination.

Both engines start from the same parameters and the same generator state, so they draw the
same noise; the fast step's ``gradient`` fills [d/d mu | d/d rho | d/d noise rho], autograd's
leaves them in ``.grad``. In float64 the two are the same function evaluated in a different
order of operations, so they agree to ~1e-13; in float32 each gradient is a sum of up to
S * B * width products, and cancellation in those sums magnifies float32's 6e-8 rounding.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

import bnn
from bnn.train import Training, prepare

DEPTHS = [(), (6,), (5, 4), (3, 4, 5)]
COMBOS = [c for c in itertools.product(DEPTHS, ["sigmoid", "tanh", "relu"], ["closed", "mc"], [False, True],
                                       [False, True], [None, 5], [1, 7])
          if not (c[4] and c[2] == "mc")]  # local reparameterisation has no Monte Carlo KL (Config refuses it)


def _points(dim: int, dtype: torch.dtype) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(dim)
    x = rng.uniform(-2, 2, (12, dim))
    return x, np.sin(x.sum(axis=1)) + 0.1 * rng.standard_normal(12)


def _runs(config: bnn.Config, dim: int) -> tuple[Training, Training]:
    """A fast and an autograd run from the same perturbed parameters (so no gradient is trivially 0)."""
    x, y = _points(dim, torch.get_default_dtype())
    fast, slow = prepare(x, y, config, engine="fast"), prepare(x, y, config, engine="autograd")
    generator = torch.Generator().manual_seed(99)
    with torch.no_grad():
        for p in fast.fitted.model.parameters():
            p.add_(0.4 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    slow.fitted.model.load_state_dict(fast.fitted.model.state_dict())
    return fast, slow


def gradients(fast: Training, slow: Training, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[d/d mu | d/d rho | d/d noise rho] by each engine, from the same generator state."""
    state = fast.generator.get_state()
    terms_fast = fast.stepper.gradient(x, y, terms=True)
    slow.generator.set_state(state)
    terms_slow = slow.stepper.gradient(x, y)
    for a, b in zip(terms_fast, terms_slow):  # the loss terms too: the same draws, the same values
        torch.testing.assert_close(a, b.detach(), rtol=1e-5, atol=1e-4)
    model = slow.fitted.model
    noise = model.noise_rho.grad if model.noise_rho.grad is not None else torch.zeros((), dtype=x.dtype)
    auto = torch.cat([model.posterior.mu.grad, model.posterior.rho.grad, noise.reshape(1)])
    return fast.stepper.grad.clone(), auto


def _config(hidden, act, kl, learn, local, batch, samples) -> bnn.Config:  # noqa: ANN001
    return bnn.Config(hidden=hidden, activation=act, kl=kl, learn_noise=learn, local_reparam=local,
                      batch_size=batch, train_samples=samples, init="scaled", kl_weight=0.7, noise_sigma=0.3)


@pytest.fixture
def float64():
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(torch.float32)


@pytest.mark.parametrize("dim", [1, 3])
def test_every_combination_equals_autograd_in_float64(dim: int, float64) -> None:  # noqa: ANN001
    # The same maths in another order: float64 leaves ~1e-16 per operation, ~1e-13 after the
    # sums; 1e-10 of the largest entry is 1000x that, and far below any error in a derivative.
    for combo in COMBOS:
        fast, slow = _runs(_config(*combo), dim)
        for x, y in itertools.islice(fast.batches(), 2):  # a full batch, or a full and a second minibatch
            got, want = gradients(fast, slow, x, y)
            assert want.abs().max() > 0
            err = float((got - want).abs().max() / want.abs().max())
            assert err < 1e-10, (combo, err)


@pytest.mark.parametrize("dim", [1, 3])
def test_every_combination_equals_autograd_to_float32_rounding(dim: int) -> None:
    # float32 rounds each operation to ~6e-8; the gradients are sums of up to 7 x 12 x 6 products
    # that partly cancel, and measured differences reached 4e-5 of the largest entry (depth 3). The
    # bound 2e-4 leaves 5x; a wrong derivative is off by O(1) (the float64 test pins the maths).
    for combo in COMBOS:
        fast, slow = _runs(_config(*combo), dim)
        x, y = next(fast.batches())
        got, want = gradients(fast, slow, x, y)
        err = float((got - want).abs().max() / want.abs().max())
        assert err < 2e-4, (combo, err)


def test_the_weight_pass_is_the_network_gradient(float64) -> None:  # noqa: ANN001
    # WeightPass alone (the piece an HMC or MAP sampler would reuse): d/dw of sum_si c r_si f_si.
    from bnn.netgrad import WeightPass
    from bnn.network import Layout

    layout = Layout((3, 5, 4, 1), bnn.Activation.TANH)
    generator = torch.Generator().manual_seed(0)
    w = torch.randn((4, layout.size), generator=generator)
    x, y = torch.randn((9, 3), generator=generator), torch.randn(9, generator=generator)
    gw = torch.empty_like(w)
    net = WeightPass(layout, 4, 9, w, gw)
    net.load(x, y)
    f = net.forward().squeeze(-1)
    net.residual()
    net.backward(0.5)
    w_auto = w.clone().requires_grad_(True)
    f_auto = layout.forward(x, w_auto)
    torch.testing.assert_close(f, f_auto.detach())
    (0.25 * (f_auto - y).square().sum()).backward()  # d/df = 0.5 (f - y)
    torch.testing.assert_close(gw, w_auto.grad, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_weight_pass_with_inputs_per_sample_is_the_network_gradient(dtype: torch.dtype) -> None:
    # per_sample=True: weight vector s sees its own batch x[s] (an ensemble's members on their own
    # minibatches). Against autograd through bnn.methods.optimise.forward, which takes x (S, B, D).
    # float64: the same sums in another order, ~1e-15; 1e-11 of the largest entry leaves 1000x.
    # float32: a gradient entry is a sum of up to B x width = 9 x 6 products; rounding (6e-8 each)
    # measured 1.2e-7 of the largest entry, bounded at 1e-5 (a wrong derivative is off by O(1)).
    from bnn.methods.optimise import forward
    from bnn.netgrad import WeightPass
    from bnn.network import Layout

    tol = 1e-11 if dtype == torch.float64 else 1e-5
    for hidden, act, dim, samples in itertools.product([(), (6,), (5, 4), (3, 4, 5)], ["sigmoid", "tanh", "relu"],
                                                       [1, 3], [1, 4]):
        layout = Layout.of(dim, hidden, act)
        generator = torch.Generator().manual_seed(len(hidden) * 7 + dim)
        w = torch.randn((samples, layout.size), generator=generator, dtype=dtype)
        x = torch.randn((samples, 9, dim), generator=generator, dtype=dtype)
        y = torch.randn((samples, 9), generator=generator, dtype=dtype)
        gw = torch.empty_like(w)
        net = WeightPass(layout, samples, 9, w, gw, per_sample=True)
        net.load(x, y)
        f = net.forward().squeeze(-1)
        r = net.residual().squeeze(-1)
        net.backward(0.5)
        w_auto = w.clone().requires_grad_(True)
        f_auto = forward(layout, x, w_auto)
        torch.testing.assert_close(f, f_auto.detach(), rtol=tol, atol=tol)
        torch.testing.assert_close(r, (f_auto - y).detach(), rtol=tol, atol=tol)
        (0.25 * (f_auto - y).square().sum()).backward()  # d/df = 0.5 (f - y)
        err = float((gw - w_auto.grad).abs().max() / w_auto.grad.abs().max())
        assert err < tol, (hidden, act, dim, samples, err)


def test_the_weight_pass_with_one_batch_per_sample_equals_the_shared_batch(float64) -> None:  # noqa: ANN001
    # The same batch copied to every sample: the per-sample path gives the shared path's numbers.
    from bnn.netgrad import WeightPass
    from bnn.network import Layout

    layout = Layout((2, 5, 4, 1), bnn.Activation.SIGMOID)
    generator = torch.Generator().manual_seed(3)
    w = torch.randn((3, layout.size), generator=generator)
    x, y = torch.randn((7, 2), generator=generator), torch.randn(7, generator=generator)
    gw_shared, gw_each = torch.empty_like(w), torch.empty_like(w)
    shared = WeightPass(layout, 3, 7, w, gw_shared)
    each = WeightPass(layout, 3, 7, w, gw_each, per_sample=True)
    shared.load(x, y)
    each.load(x.expand(3, 7, 2), y.expand(3, 7))
    for net in (shared, each):
        net.forward()
        net.residual()
        net.backward(1.5)
    torch.testing.assert_close(each.f, shared.f, rtol=1e-14, atol=1e-14)
    torch.testing.assert_close(gw_each, gw_shared, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_the_weight_pass_per_sample_on_large_batches_is_the_network_gradient(dtype: torch.dtype) -> None:
    # Per-sample batches of B x (in + 1) >= 1024 compute the output layer as a product and a sum
    # (faster than bmm's path for a single output unit): the same tolerances as above, which the
    # longer sums (128 x 51 products) meet: measured 8e-16 and 2.5e-7.
    from bnn.methods.optimise import forward
    from bnn.netgrad import WeightPass
    from bnn.network import Layout

    tol = 1e-11 if dtype == torch.float64 else 1e-5
    for hidden in [(), (50,), (20, 50)]:
        layout = Layout.of(8, hidden, "relu")
        generator = torch.Generator().manual_seed(len(hidden))
        w = torch.randn((4, layout.size), generator=generator, dtype=dtype) / 3
        x = torch.randn((4, 128, 8), generator=generator, dtype=dtype)
        y = torch.randn((4, 128), generator=generator, dtype=dtype)
        gw = torch.empty_like(w)
        net = WeightPass(layout, 4, 128, w, gw, per_sample=True)
        assert any(getattr(op, "func", None) is torch.sum for op in net.forward_ops)  # the product-and-sum layer
        net.load(x, y)
        f = net.forward().squeeze(-1)
        net.residual()
        net.backward(0.5)
        w_auto = w.clone().requires_grad_(True)
        f_auto = forward(layout, x, w_auto)
        torch.testing.assert_close(f, f_auto.detach(), rtol=tol, atol=tol * float(f_auto.detach().abs().max()))
        (0.25 * (f_auto - y).square().sum()).backward()
        err = float((gw - w_auto.grad).abs().max() / w_auto.grad.abs().max())
        assert err < tol, (hidden, err)

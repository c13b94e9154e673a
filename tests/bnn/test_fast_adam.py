"""bnn.adam.Adam against torch.optim.Adam, step by step."""

from __future__ import annotations

import pytest
import torch

from bnn.adam import Adam


@pytest.mark.parametrize(("dtype", "rtol"), [
    # float64: the same update in another order of operations, ~1e-16 per step; over 100 steps
    # the parameters drift apart by at most ~1e-13 of their size.
    (torch.float64, 1e-12),
    # float32: ~6e-8 per operation; each step's difference feeds the next one's moments, and
    # 100 steps measured below 1e-6 of the parameters' size.
    (torch.float32, 1e-5),
])
def test_100_steps_equal_torch_optim_adam(dtype: torch.dtype, rtol: float) -> None:
    generator = torch.Generator().manual_seed(0)
    shapes = [(7, 3), (11,), ()]
    ours = [torch.randn(s, generator=generator, dtype=dtype) for s in shapes]
    theirs = [p.clone().requires_grad_(True) for p in ours]
    adam = Adam(ours, lr=0.05)
    reference = torch.optim.Adam(theirs, lr=0.05, foreach=False)
    for step in range(100):
        # gradients of changing sign and scale over 4 orders of magnitude, as a noisy ELBO gives
        grads = [torch.randn(s, generator=generator, dtype=dtype) * 10.0 ** (step % 5 - 2) for s in shapes]
        adam.step(grads)
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        reference.step()
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b.detach(), rtol=rtol, atol=rtol)


def test_updates_parameters_that_require_gradients_in_place() -> None:
    # The autograd engine's parameters are leaves that require gradients: updated under no_grad, in place.
    p = torch.nn.Parameter(torch.ones(3))
    before = p.data_ptr()
    Adam([p], lr=0.1).step([torch.ones(3)])
    assert p.data_ptr() == before and p.requires_grad
    torch.testing.assert_close(p.detach(), torch.full((3,), 0.9))  # Adam's first step moves lr against the sign

"""Adam (Kingma & Ba 2015) updating parameters in place, without ``torch.optim``.

Constructing the first ``torch.optim`` optimiser in a process imports ``torch._dynamo``
(``Optimizer.__init__`` does), about a second of CPU before a run's first step: longer
than the whole of a short run. This module applies ``torch.optim.Adam``'s update (its
defaults: no weight decay, no amsgrad) with in-place tensor operations on state allocated
once, so a step allocates nothing:

    m <- m + (1 - beta1) (g - m)            v <- v + (1 - beta2) (g^2 - v)
    theta <- theta - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

The last line is computed as theta - a m / (sqrt(v) + b) with a = lr sqrt(1 - beta2^t) /
(1 - beta1^t) and b = eps sqrt(1 - beta2^t): the same number up to float rounding, one
operation fewer. Every operation takes tensors or a ``value=`` scalar: an op with a plain
Python number as its operand (``v.mul_(beta2)``) wraps it in a new tensor each call, ~1.5 us
of a ~8 us update. tests/bnn/test_fast_adam.py checks 100 steps against ``torch.optim.Adam``.

Why not torch's fused kernel (``torch._fused_adam_``, one operation): on the CPU it splits
even a 200-weight update across every intra-op thread, which wakes torch's thread pool on
each step; the woken threads then spin, doubling the process's CPU time on a 2-core machine.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class Adam:
    """Adam with torch's defaults (betas 0.9, 0.999; eps 1e-8; no weight decay) on ``params``.

    ``step(grads)`` takes one gradient per parameter, in the same order. The parameters are
    updated in place, so views of them (and tensors they are views of) see every update.
    """

    def __init__(self, params: list[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.denom = [torch.empty_like(p) for p in self.params]
        self.shift = torch.zeros((), dtype=self.params[0].dtype if self.params else None)  # b, refilled each step
        self.count = 0
        # In-place updates of tensors that require gradients must not be recorded by autograd.
        self.needs_no_grad = any(p.requires_grad for p in self.params)

    def step(self, grads: list[Tensor]) -> None:
        """One update of every parameter from its gradient."""
        self.count += 1
        if self.needs_no_grad:
            with torch.no_grad():
                self._update(grads)
        else:  # plain tensors (the fast step's buffer): no_grad's ~1 us is saved
            self._update(grads)

    def _update(self, grads: list[Tensor]) -> None:
        beta1, beta2 = self.betas
        bias1, root2 = 1 - beta1**self.count, math.sqrt(1 - beta2**self.count)
        self.shift.fill_(self.eps * root2)
        for p, g, m, v, d in zip(self.params, grads, self.exp_avg, self.exp_avg_sq, self.denom):
            m.lerp_(g, 1 - beta1)
            v.lerp_(torch.mul(g, g, out=d), 1 - beta2)
            torch.sqrt(v, out=d).add_(self.shift)
            p.addcdiv_(m, d, value=-self.lr * root2 / bias1)

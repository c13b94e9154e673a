"""Adam (Kingma & Ba 2015) updating parameters in place, without ``torch.optim``.

Constructing the first ``torch.optim`` optimiser in a process imports ``torch._dynamo``
(``Optimizer.__init__`` does), about a second of CPU before a run's first step: longer
than the whole of a short run. This module applies the same update to the same tensors
without that import. It calls the kernel that ``torch.optim.Adam(fused=True)`` calls,
``torch._fused_adam_``, so a step gives bit for bit the numbers the engine's Adam gave
before (tests/bnn/test_fast_adam.py checks 100 steps against ``torch.optim.Adam``). Where a
torch build lacks that kernel, the update is written with ``torch._foreach_*`` ops: the
textbook algorithm in ``torch.optim.Adam``'s order of operations, equal to it to float
rounding.

The state is preallocated once: the moments are tensors shaped like the parameters and
the step count a 0-d tensor, so a step allocates nothing.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_FUSED = getattr(torch, "_fused_adam_", None)


class Adam:
    """Adam with torch's defaults (betas 0.9, 0.999; eps 1e-8; no weight decay) on ``params``.

    ``step(grads)`` takes one gradient per parameter, in the same order. The parameters are
    updated in place, so views of them (and tensors they are views of) see every update.
    """

    def __init__(self, params: list[Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, fused: bool | None = None) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.fused = (_FUSED is not None) if fused is None else fused
        if self.fused and _FUSED is None:
            raise RuntimeError("this torch build has no torch._fused_adam_ kernel")
        self.exp_avg = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        # torch.optim.Adam(fused=True) keeps the step as a float32 tensor; the same here. It is set
        # with fill_: _foreach_add_ on CPU scalars costs ~9 us, a tenth of a whole step.
        self.steps = [torch.zeros((), dtype=torch.float32) for _ in self.params]
        self.count = 0
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
        if self.fused:
            for t in self.steps:  # the count as torch.optim's float32 tensor holds it (exact to 2^24)
                t.fill_(self.count)
            _FUSED(self.params, grads, self.exp_avg, self.exp_avg_sq, [], self.steps, lr=self.lr,
                   beta1=self.betas[0], beta2=self.betas[1], weight_decay=0.0, eps=self.eps,
                   amsgrad=False, maximize=False)
        else:
            self._foreach_step(grads)

    def _foreach_step(self, grads: list[Tensor]) -> None:
        """``torch.optim.adam._multi_tensor_adam`` without weight decay, amsgrad or capturable."""
        beta1, beta2 = self.betas
        torch._foreach_add_(self.steps, 1)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - beta1)
        torch._foreach_mul_(self.exp_avg_sq, beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - beta2)
        step = self.count
        bias1, bias2 = 1 - beta1**step, 1 - beta2**step
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, math.sqrt(bias2))
        torch._foreach_add_(denom, self.eps)
        torch._foreach_addcdiv_(self.params, self.exp_avg, denom, -self.lr / bias1)

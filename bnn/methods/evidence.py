"""The marginal likelihood (evidence) of the linearised network, and its maximisation over the
prior std and the noise std (MacKay 1992; Immer et al. 2021, "Improving predictions of Bayesian
neural nets via local linearization", and "Scalable marginal likelihood estimation for model
selection in deep learning").

Linearised at the MAP w*, the network is a linear model in its K random weights,

    f_lin(x; w) = f(x; w*) + J(x) (w - w*),    w ~ N(0, prior^2 I),    y ~ N(f_lin, noise^2 I),

whose evidence is exactly Gaussian: with pseudo-targets t = y - f(x; w*) + J w* (N,),
t ~ N(0, prior^2 J J^T + noise^2 I). By the matrix determinant and Woodbury lemmas, in weight space:

    -2 log p(t) = N log 2pi + N log noise^2 + K log prior^2 + log det H
                  + t^T t / noise^2 - g^T H^-1 g / noise^4,
    H = J^T J / noise^2 + I / prior^2,    g = J^T t.

This is the Laplace evidence log p(y | w) + log p(w) - 1/2 log det(H / 2pi) evaluated at the
linearised model's own mode for those hyperparameters; at the hyperparameters the MAP was
trained with the two modes coincide, so it equals the usual post-hoc Laplace evidence there.
Unlike the formula with w* held fixed, it is exact for Bayesian linear regression whatever
(prior, noise) it is evaluated at, which is what the tests check.

With J^T J = U diag(lam) U^T computed once, one evaluation costs O(K), so the maximiser is a
dense grid over (log prior, log noise) (the evidence need not be unimodal) refined by L-BFGS.

A classifier (``likelihood="categorical"``) has no closed-form evidence and no noise: its prior
std alone is tuned, by the Laplace evidence at the MAP with the softmax GGN
(:func:`softmax_log_evidence`), the same grid-then-L-BFGS search in one dimension.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

PRIOR_BOUNDS = (1e-3, 1e3)  # the weights' prior std, model units
NOISE_BOUNDS = (1e-4, 10.0)  # the noise std, times the targets' std in model units
GRID = 41  # points per axis of the search grid (0.15 decades apart for the prior)
LBFGS_ITERATIONS = 100


@dataclass(frozen=True)
class LinearisedData:
    """What the evidence of the linearised model needs, computed once from J (N, K) and t (N,)."""

    eigenvalues: Tensor  # (K,) of J^T J
    projected: Tensor  # (K,) U^T J^T t
    sum_squares: float  # t^T t
    n: int

    @classmethod
    def of(cls, jac: Tensor, targets: Tensor) -> LinearisedData:
        eigenvalues, vectors = torch.linalg.eigh(jac.T @ jac)
        return cls(eigenvalues.clamp(min=0.0), vectors.T @ (jac.T @ targets), float(targets @ targets),
                    int(targets.shape[0]))


def log_evidence(data: LinearisedData, log_prior: Tensor, log_noise: Tensor) -> Tensor:
    """log p(t) of the linearised model at log prior std and log noise std (any broadcastable shape)."""
    log_prior, log_noise = torch.broadcast_tensors(torch.as_tensor(log_prior, dtype=data.eigenvalues.dtype),
                                                   torch.as_tensor(log_noise, dtype=data.eigenvalues.dtype))
    noise2 = torch.exp(2 * log_noise).unsqueeze(-1)  # (..., 1)
    h = data.eigenvalues / noise2 + torch.exp(-2 * log_prior).unsqueeze(-1)  # (..., K) eigenvalues of H
    k = data.eigenvalues.shape[0]
    quad = data.sum_squares / noise2[..., 0] - (data.projected**2 / h).sum(-1) / noise2[..., 0] ** 2
    return -0.5 * (data.n * math.log(2 * math.pi) + 2 * data.n * log_noise + 2 * k * log_prior
                   + torch.log(h).sum(-1) + quad)


def maximise_bounded(objective: Callable[[Tensor], Tensor], start: Tensor, low: Tensor, high: Tensor,
                     iterations: int = LBFGS_ITERATIONS) -> tuple[Tensor, float]:
    """L-BFGS (strong Wolfe) from ``start`` on parameters kept inside [low, high] by the map
    low + (high - low) sigmoid(u): -> (argmax, max)."""
    span = high - low
    inside = ((start - low) / span).clamp(1e-6, 1 - 1e-6)
    u = torch.logit(inside).detach().requires_grad_(True)
    optimiser = torch.optim.LBFGS([u], lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe",
                                  tolerance_grad=1e-9, tolerance_change=1e-12)

    def closure() -> Tensor:
        optimiser.zero_grad()
        loss = -objective(low + span * torch.sigmoid(u))
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        best = low + span * torch.sigmoid(u)
        return best, float(objective(best))


def maximise_evidence(data: LinearisedData, prior: float, noise: float, noise_scale: float,
                      tune_noise: bool = True) -> tuple[float, float, float]:
    """The (prior std, noise std, log evidence) of largest evidence: the start, the best grid point
    over the bounds, or L-BFGS from that grid point, whichever is best; the noise stays at ``noise``
    unless ``tune_noise``. ``noise_scale`` (the targets' std) scales the noise's bounds."""
    dtype = data.eigenvalues.dtype
    lp = torch.linspace(math.log(PRIOR_BOUNDS[0]), math.log(PRIOR_BOUNDS[1]), GRID, dtype=dtype)
    noise_low, noise_high = (math.log(b * noise_scale) for b in NOISE_BOUNDS)
    ln = (torch.linspace(noise_low, noise_high, GRID, dtype=dtype) if tune_noise
          else torch.tensor([math.log(noise)], dtype=dtype))
    grid = log_evidence(data, lp[:, None], ln[None, :])  # (GRID, GRID or 1)
    i, j = divmod(int(torch.argmax(grid)), grid.shape[1])
    start = torch.stack([lp[i], ln[j]])
    low = torch.tensor([lp[0], ln[0] if tune_noise else ln[0] - 1], dtype=dtype)
    high = torch.tensor([lp[-1], ln[-1] if tune_noise else ln[0] + 1], dtype=dtype)
    if tune_noise:
        best, value = maximise_bounded(lambda v: log_evidence(data, v[0], v[1]), start, low, high)
    else:
        best1, value = maximise_bounded(lambda v: log_evidence(data, v[0], ln[0]), start[:1], low[:1], high[:1])
        best = torch.cat([best1, ln[:1]])
    candidates = [(math.log(prior), math.log(noise), float(log_evidence(data, math.log(prior), math.log(noise)))),
                  (float(lp[i]), float(ln[j]), float(grid[i, j])),
                  (float(best[0]), float(best[1]), value)]
    log_prior, log_noise, value = max(candidates, key=lambda c: c[2])
    return math.exp(log_prior), math.exp(log_noise) if tune_noise else noise, value


def softmax_log_evidence(eigenvalues: Tensor, weight_norm2: float, log_lik: float, log_prior: Tensor) -> Tensor:
    """The Laplace evidence of a classifier at its MAP w* for the prior std exp(log_prior) (any shape),

        log p(D | w*) + log N(w*; 0, prior^2 I) - 1/2 log det(H / 2pi),    H = G + I / prior^2,

    = log p(D | w*) - |w*|^2 / (2 prior^2) - K log prior - 1/2 sum log(g_i + 1 / prior^2), with g
    the eigenvalues (K,) of the softmax GGN G over the K random weights (MacKay 1992; Immer et al.
    2021's post-hoc prior tuning). w* stays the MAP trained under the config's prior."""
    log_prior = torch.as_tensor(log_prior, dtype=eigenvalues.dtype)
    precision = torch.exp(-2 * log_prior)
    k = eigenvalues.shape[0]
    return (log_lik - 0.5 * weight_norm2 * precision - k * log_prior
            - 0.5 * torch.log(eigenvalues + precision.unsqueeze(-1)).sum(-1))


def maximise_softmax_evidence(eigenvalues: Tensor, weight_norm2: float, log_lik: float,
                              prior: float) -> tuple[float, float]:
    """The (prior std, log evidence) of largest :func:`softmax_log_evidence`: the start, the best of
    a grid over ``PRIOR_BOUNDS`` or L-BFGS from it, whichever is best. A classifier has no noise to tune."""
    dtype = eigenvalues.dtype
    eigenvalues = eigenvalues.clamp(min=0.0)
    lp = torch.linspace(math.log(PRIOR_BOUNDS[0]), math.log(PRIOR_BOUNDS[1]), GRID, dtype=dtype)

    def objective(v: Tensor) -> Tensor:
        return softmax_log_evidence(eigenvalues, weight_norm2, log_lik, v[..., 0])

    grid = objective(lp[:, None])
    i = int(torch.argmax(grid))
    best, value = maximise_bounded(objective, lp[i:i + 1], lp[:1], lp[-1:])
    start = math.log(prior)
    candidates = [(start, float(objective(torch.tensor([start], dtype=dtype)))), (float(lp[i]), float(grid[i])),
                  (float(best[0]), value)]
    log_prior, value = max(candidates, key=lambda c: c[1])
    return math.exp(log_prior), value

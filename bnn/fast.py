"""Bayes-by-Backprop's training step without autograd: the negative ELBO's gradient by hand.

For q(w) = N(mu, sigma^2), sigma = softplus(rho), and w_s = mu + sigma * eps_s (Blundell et
al. 2015, section 3.2), the chain rule through the reparameterisation gives, with
g_s = d loss / d w_s from the network's backward pass (:mod:`bnn.netgrad`),

    d loss / d mu  = sum_s g_s + kl_weight * d KL / d mu
    d loss / d rho = (sum_s g_s * eps_s + kl_weight * d KL / d sigma) * sigmoid(rho)

with the closed-form KL's d/d mu = mu / prior^2 and d/d sigma = sigma / prior^2 - 1 / sigma,
and the Monte Carlo KL adding w_s / (S prior^2) to every g_s and -1 / sigma to d/d sigma.
The likelihood's d/d f = (N / |B|) (f - y) / (S noise^2); a learned noise std gets
d/d noise = (N / |B|) (|B| / noise - sum (f - y)^2 / (S noise^3)). Local
reparameterisation's backward pass gives d/d mu and d/d sigma^2 directly. Adam then
updates (mu, rho, noise rho) in place (:mod:`bnn.adam`).

The model's parameters are made views of one flat buffer [mu | rho | noise rho], which the
step reads and Adam writes: a caller that overwrites them in place between steps (a warm
start, ``load_state_dict``) is seen by the next step, and one that replaces a parameter's
tensor is noticed and copied in. The step draws its noise from the run's generator in the
order of ``bnn.loss.negative_elbo``, so both paths see the same draws, and
tests/bnn/test_fast_grad.py checks every gradient against autograd's.

Classification (a categorical likelihood, K outputs) is :class:`bnn.fast_categorical.CategoricalFastStep`,
this step with a softmax network pass; with local reparameterisation it is not covered, and
:func:`unsupported` says so (``bnn.train.prepare(engine="auto")`` then takes autograd).
"""

from __future__ import annotations

import math
from functools import partial

import torch
from torch import Tensor

from bnn.adam import Adam
from bnn.config import KLEstimator, Likelihood
from bnn.loss import LossTerms
from bnn.model import BayesMLP
from bnn.netgrad import LocalPass, Op, WeightPass
from bnn.network import ACTIVATIONS, Layout
from bnn.posterior import MeanFieldGaussian

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SOFTPLUS_THRESHOLD = 20.0  # F.softplus's default: x above it is returned as is


def unsupported(model: object) -> str | None:
    """Why the fast step cannot train ``model``, or None when it can."""
    if type(model) is not BayesMLP:
        return f"the model is a {type(model).__name__}, not bnn.model.BayesMLP"
    if model.likelihood is Likelihood.CATEGORICAL and model.local_reparam:
        return "local reparameterisation is not covered for a categorical likelihood (classification)"
    if model.heteroscedastic and model.local_reparam:
        return "local reparameterisation is not covered for a heteroscedastic noise"
    if type(model.posterior) is not MeanFieldGaussian or type(model.layout) is not Layout:
        return "the model's posterior or network has been replaced"
    if model.layout.activation not in ACTIVATIONS:
        return f"no derivative is written for the activation {model.layout.activation!r}"
    params = [model.posterior.mu, model.posterior.rho, model.noise_rho]
    if any(p.dtype not in (torch.float32, torch.float64) or p.dtype != params[0].dtype for p in params):
        return "the parameters are not all float32 or all float64"
    if any(p.device.type != "cpu" for p in params):
        return "the parameters are not on the CPU"
    if not (params[0].requires_grad and params[1].requires_grad):
        return "mu or rho does not require a gradient (frozen by the caller)"
    if params[2].requires_grad != (model.fixed_noise is None):
        return "the noise parameter's requires_grad disagrees with the model's learn_noise"
    return None


class FastStep:
    """One optimiser step of the negative ELBO on a minibatch, gradients by hand, Adam in place."""

    def __init__(self, model: BayesMLP, *, n_total: int, samples: int, kl: KLEstimator, kl_weight: float,
                 lr: float, generator: torch.Generator) -> None:
        self.model, self.n_total, self.samples = model, n_total, samples
        self.kl, self.kl_weight, self.generator = KLEstimator(kl), float(kl_weight), generator
        self.prior_sigma = float(model.prior_sigma)
        self.local = bool(model.local_reparam)
        self.learn_noise = model.fixed_noise is None
        p = self.p = model.layout.size
        dtype = model.posterior.mu.dtype
        self.theta = torch.empty(2 * p + 1, dtype=dtype)  # [mu | rho | noise rho]: the model's parameters
        self.grad = torch.zeros(2 * p + 1, dtype=dtype)
        self.mu, self.rho, self.noise_rho = self.theta[:p], self.theta[p:2 * p], self.theta[2 * p]
        self.g_mu, self.g_rho, self.g_noise = self.grad[:p], self.grad[p:2 * p], self.grad[2 * p]
        self._bind()
        self.sigma, self.dsigma = torch.empty(p, dtype=dtype), torch.empty(p, dtype=dtype)
        self.ones, self.zero = torch.ones(p, dtype=dtype), torch.zeros((), dtype=dtype)
        if self.local:
            self.var, self.g_var = torch.empty(p, dtype=dtype), torch.empty(p, dtype=dtype)
        else:
            self.eps = torch.empty((samples, p), dtype=dtype)
            self.w = torch.empty((samples, p), dtype=dtype)
            # One sample needs no sum over samples: the weights' gradient is the mean's.
            self.gw = self.g_mu.view(1, p) if samples == 1 else torch.empty((samples, p), dtype=dtype)
        self.scale = torch.zeros((), dtype=dtype)  # d loss / d f = scale * (f - y), where a tensor is needed
        self.rr = torch.zeros((), dtype=dtype)  # sum (f - y)^2 before any scaling, for a learned noise
        self.tapes: dict[int, tuple[WeightPass | LocalPass, list[Op]]] = {}  # per batch size
        self._loaded: tuple[object, ...] | None = None  # (pass, x, x's version, y, y's version) last loaded
        n_opt = 2 * p + 1 if self.learn_noise else 2 * p
        self.adam = Adam([self.theta[:n_opt]], lr=lr)
        self._adam_grads = [self.grad[:n_opt]]

    # ---- the parameters as views of theta ---------------------------------------------
    def _bind(self) -> None:
        """Copy the model's current parameters into theta and make them views of it."""
        owners = ((self.model.posterior._parameters, "mu"), (self.model.posterior._parameters, "rho"),
                  (self.model._parameters, "noise_rho"))
        with torch.no_grad():
            for (params, name), view in zip(owners, (self.mu, self.rho, self.noise_rho)):
                if params[name].data_ptr() != view.data_ptr():
                    view.copy_(params[name].detach())
                    params[name].data = view
        # What _check_bound compares each step (nn.Module's attribute lookup would cost ~1 us a parameter).
        self._owners = [(params, name, params[name]) for params, name in owners]
        self._ptrs = [self.mu.data_ptr(), self.rho.data_ptr(), self.noise_rho.data_ptr()]

    def _check_bound(self) -> None:
        """Re-bind when a parameter was replaced, or given new storage, since the last step."""
        for (params, name, param), ptr in zip(self._owners, self._ptrs):
            if params[name] is not param or param.data_ptr() != ptr:
                self._bind()
                return

    # ---- one step -----------------------------------------------------------------------
    def step(self, x: Tensor, y: Tensor, terms: bool = True) -> LossTerms | None:
        """Gradients at the current parameters on (x (B, D), y (B,)), then Adam's update.
        Returns the loss terms before the update when ``terms`` (they cost a few operators more)."""
        out = self.gradient(x, y, terms)
        self.adam.step(self._adam_grads)
        return out

    def gradient(self, x: Tensor, y: Tensor, terms: bool = True) -> LossTerms | None:
        """Fill ``grad`` = [d/d mu | d/d rho | d/d noise rho] of the negative ELBO on (x, y)."""
        self._check_bound()
        batch = x.shape[0]
        net, tape = self.tapes.get(batch) or self._tape(batch)
        # A full batch is the same two tensors every step: copied into the pass's buffers once
        # (again if they were written to in place, or another batch size came in between).
        last = self._loaded
        if (last is None or last[0] is not net or last[1] is not x or last[3] is not y or last[2] != x._version
                or last[4] != y._version):
            net.load(x, y)
            self._loaded = (net, x, x._version, y, y._version)
        scale, noise = self.n_total / batch, self._noise()
        if self.learn_noise or self.local:
            self.scale.fill_(scale / (noise * noise * self.samples))
        for op in tape:
            op()
        if self.learn_noise:
            self._noise_gradient(scale, noise, batch)
        return self._terms(net, scale, noise, batch) if terms else None

    def _tape(self, batch: int) -> tuple[WeightPass | LocalPass, list[Op]]:
        """The step on a batch of ``batch`` points as a list of operations on fixed buffers."""
        layout, s = self.model.layout, self.samples
        g_sigma = self.g_rho  # d/d sigma is gathered where d/d rho ends up
        ops: list[Op] = [partial(torch._C._nn.softplus, self.rho, 1, _SOFTPLUS_THRESHOLD, out=self.sigma),
                         partial(torch.sigmoid, self.rho, out=self.dsigma)]  # d softplus / d rho
        if self.local:
            net = LocalPass(layout, s, batch, self.mu, self.var, self.g_mu, self.g_var, self.scale, self.generator)
            ops += [partial(torch.mul, self.sigma, self.sigma, out=self.var), *net.forward_ops, *net.residual_ops,
                    *self._rr_ops(net), *net.backward_ops,
                    partial(torch.addcmul, self.zero, self.g_var, self.sigma, value=2.0, out=g_sigma)]
        else:
            net = WeightPass(layout, s, batch, self.w, self.gw)
            ops += [partial(Tensor.normal_, self.eps, generator=self.generator),
                    partial(torch.addcmul, self.mu, self.sigma, self.eps, out=self.w),
                    *net.forward_ops, *net.residual_ops, *self._rr_ops(net)]
            if self.learn_noise:  # the noise changes every step: scale r by a tensor
                ops += [partial(Tensor.mul_, net.r, self.scale), *net.backward_ops(1.0)]
            else:
                ops += net.backward_ops(self.n_total / batch / (self._noise() ** 2 * s))
            ops += self._reparameterise_ops(g_sigma)
        ops += self._kl_ops(g_sigma)
        ops.append(partial(Tensor.mul_, self.g_rho, self.dsigma))  # d sigma / d rho = sigmoid(rho)
        self.tapes[batch] = net, ops
        return net, ops

    def _rr_ops(self, net: WeightPass | LocalPass) -> list[Op]:
        flat = net.r.view(-1)
        return [partial(torch.dot, flat, flat, out=self.rr)] if self.learn_noise else []

    def _reparameterise_ops(self, g_sigma: Tensor) -> list[Op]:
        """From the weights' gradients g (S, P) to d/d mu = sum_s g_s and d/d sigma = sum_s g_s eps_s."""
        ops: list[Op] = []
        if self.kl is KLEstimator.MC:  # d/d w_s of mean_s |w_s|^2 / (2 prior^2)
            ops.append(partial(Tensor.add_, self.gw, self.w,
                               alpha=self.kl_weight / (self.prior_sigma**2 * self.samples)))
        if self.samples == 1:  # gw is d/d mu already
            return ops + [partial(torch.mul, self.g_mu, self.eps[0], out=g_sigma)]
        return ops + [partial(torch.sum, self.gw, 0, out=self.g_mu), partial(Tensor.mul_, self.gw, self.eps),
                      partial(torch.sum, self.gw, 0, out=g_sigma)]

    def _kl_ops(self, g_sigma: Tensor) -> list[Op]:
        kw, prior_var = self.kl_weight, self.prior_sigma**2
        ops: list[Op] = []
        if self.kl is KLEstimator.CLOSED:
            ops += [partial(Tensor.add_, self.g_mu, self.mu, alpha=kw / prior_var),
                    partial(Tensor.add_, g_sigma, self.sigma, alpha=kw / prior_var)]
        return ops + [partial(Tensor.addcdiv_, g_sigma, self.ones, self.sigma, value=-kw)]  # -sum log sigma

    def _noise(self) -> float:
        if not self.learn_noise:
            return float(self.model.fixed_noise)
        rho = float(self.noise_rho)
        return rho if rho > _SOFTPLUS_THRESHOLD else math.log1p(math.exp(rho))

    def _noise_gradient(self, scale: float, noise: float, batch: int) -> None:
        """d/d noise rho of (N/|B|) [sum r^2 / (2 S noise^2) + |B| log noise], through noise = softplus(rho)."""
        dnoise = 1.0 / (1.0 + math.exp(-float(self.noise_rho)))
        self.g_noise.fill_(scale * dnoise * (batch / noise - float(self.rr) / (noise**3 * self.samples)))

    def _kl_value(self) -> float:
        """The KL term of ``bnn.loss.negative_elbo`` at this step's sigma (and draws, for the MC estimate)."""
        p, prior = self.p, self.prior_sigma
        log_sigma = float(torch.log(self.sigma).sum())
        if self.kl is KLEstimator.CLOSED:
            squares = float(torch.dot(self.sigma, self.sigma)) + float(torch.dot(self.mu, self.mu))
            return squares * (0.5 / prior**2) - log_sigma + p * (math.log(prior) - 0.5)
        w, eps = self.w.view(-1), self.eps.view(-1)
        squares = float(torch.dot(w, w)) * (0.5 / prior**2) - 0.5 * float(torch.dot(eps, eps))
        return squares / self.samples - log_sigma + p * math.log(prior)

    def _terms(self, net: WeightPass | LocalPass, scale: float, noise: float, batch: int) -> LossTerms:
        """The loss terms of ``bnn.loss.negative_elbo`` at this step's draws, from the forward pass's values
        (a few reductions, the arithmetic in Python floats)."""
        flat = net.r.view(-1)
        rr = float(self.rr) if self.learn_noise else float(torch.dot(flat, flat))
        nll = rr * (0.5 * scale / (noise * noise * self.samples)) + scale * batch * (math.log(noise) + _HALF_LOG_2PI)
        kl = self._kl_value()
        dtype = self.theta.dtype
        return LossTerms(nll=torch.tensor(nll, dtype=dtype), kl=torch.tensor(kl, dtype=dtype),
                         total=torch.tensor(nll + self.kl_weight * kl, dtype=dtype))

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
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from bnn.adam import Adam
from bnn.config import KLEstimator
from bnn.loss import LossTerms
from bnn.model import BayesMLP
from bnn.netgrad import LocalPass, WeightPass
from bnn.network import ACTIVATIONS, Layout
from bnn.posterior import MeanFieldGaussian

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)
_SOFTPLUS_THRESHOLD = 20.0  # F.softplus's default: x above it is returned as is


def unsupported(model: object) -> str | None:
    """Why the fast step cannot train ``model``, or None when it can."""
    if type(model) is not BayesMLP:
        return f"the model is a {type(model).__name__}, not bnn.model.BayesMLP"
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
            self.eps_row = self.eps[0]
        self.passes: dict[int, WeightPass | LocalPass] = {}
        self._last_x: Tensor | None = None
        self._last_version = -1
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
        net = self._pass(batch)
        if x is not self._last_x or x._version != self._last_version:  # a full batch is copied once
            net.load(x)
            self._last_x, self._last_version = x, x._version
        if y.dtype != self.theta.dtype:
            y = y.to(self.theta.dtype)
        torch._C._nn.softplus(self.rho, 1, _SOFTPLUS_THRESHOLD, out=self.sigma)  # F.softplus, into a buffer
        torch.sigmoid(self.rho, out=self.dsigma)
        scale, noise = self.n_total / batch, self._noise()
        c = scale / (noise * noise * self.samples)  # d loss / d f = c (f - y)
        g_sigma = self.g_rho  # d/d sigma is gathered where d/d rho ends up
        if self.local:
            torch.mul(self.sigma, self.sigma, out=self.var)
            net.forward(self.generator)
            r = net.residual(y)
            net.backward(c)
            torch.addcmul(self.zero, self.g_var, self.sigma, value=2.0, out=g_sigma)  # d var / d sigma = 2 sigma
        else:
            self.eps.normal_(generator=self.generator)
            torch.addcmul(self.mu, self.sigma, self.eps, out=self.w)
            net.forward()
            r = net.residual(y)
            net.backward(c)
            self._reparameterise(g_sigma)
        self._kl_gradient(g_sigma)
        self.g_rho.mul_(self.dsigma)  # d sigma / d rho = sigmoid(rho)
        if self.learn_noise:
            self._noise_gradient(r, scale, noise, batch)
        return self._terms(r, scale, noise, batch) if terms else None

    def _pass(self, batch: int) -> WeightPass | LocalPass:
        net = self.passes.get(batch)
        if net is None:
            layout = self.model.layout
            if self.local:
                net = LocalPass(layout, self.samples, batch, self.mu, self.var, self.g_mu, self.g_var)
            else:
                net = WeightPass(layout, self.samples, batch, self.w, self.gw)
            self.passes[batch] = net
            self._last_x = None
        return net

    def _noise(self) -> float:
        if not self.learn_noise:
            return float(self.model.fixed_noise)
        rho = float(self.noise_rho)
        return rho if rho > _SOFTPLUS_THRESHOLD else math.log1p(math.exp(rho))

    def _reparameterise(self, g_sigma: Tensor) -> None:
        """From the weights' gradients g (S, P) to d/d mu = sum_s g_s and d/d sigma = sum_s g_s eps_s."""
        if self.kl is KLEstimator.MC:  # d/d w_s of mean_s |w_s|^2 / (2 prior^2)
            self.gw.add_(self.w, alpha=self.kl_weight / (self.prior_sigma**2 * self.samples))
        if self.samples == 1:  # gw is d/d mu already
            torch.mul(self.g_mu, self.eps_row, out=g_sigma)
            return
        torch.sum(self.gw, 0, out=self.g_mu)
        self.gw.mul_(self.eps)
        torch.sum(self.gw, 0, out=g_sigma)

    def _kl_gradient(self, g_sigma: Tensor) -> None:
        kw, prior_var = self.kl_weight, self.prior_sigma**2
        if self.kl is KLEstimator.CLOSED:
            self.g_mu.add_(self.mu, alpha=kw / prior_var)
            g_sigma.add_(self.sigma, alpha=kw / prior_var)
        g_sigma.addcdiv_(self.ones, self.sigma, value=-kw)  # -sum log sigma, in both estimators

    def _noise_gradient(self, r: Tensor, scale: float, noise: float, batch: int) -> None:
        """d/d noise rho of (N/|B|) [sum r^2 / (2 S noise^2) + |B| log noise], through noise = softplus(rho)."""
        rho = float(self.noise_rho)
        dnoise = 1.0 / (1.0 + math.exp(-rho))
        flat = r.view(-1)
        torch.dot(flat, flat, out=self.g_noise)
        self.g_noise.mul_(-scale * dnoise / (noise**3 * self.samples)).add_(scale * batch * dnoise / noise)

    def _terms(self, r: Tensor, scale: float, noise: float, batch: int) -> LossTerms:
        """The loss terms of ``bnn.loss.negative_elbo`` at this step's draws, from the forward pass's values."""
        flat = r.view(-1)
        nll = torch.dot(flat, flat) * (0.5 * scale / (noise * noise * self.samples)) + (
            scale * batch * (math.log(noise) + _HALF_LOG_2PI))
        p, prior = self.p, self.prior_sigma
        log_sigma = self.sigma.log().sum()
        if self.kl is KLEstimator.CLOSED:
            kl = (torch.dot(self.sigma, self.sigma) + torch.dot(self.mu, self.mu)) * (0.5 / prior**2) - log_sigma + (
                p * (math.log(prior) - 0.5))
        else:
            squares = self.w.square().sum() * (0.5 / prior**2) - 0.5 * self.eps.square().sum()
            kl = squares / self.samples - log_sigma + p * math.log(prior)
        total = nll + kl if self.kl_weight == 1.0 else nll + self.kl_weight * kl
        return LossTerms(nll=nll, kl=kl, total=total)

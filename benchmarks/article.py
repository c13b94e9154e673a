"""The article's training loop, re-implemented plainly, as the baseline of ``benchmarks.engine_bench``.

The article (a re-implementation of Blundell et al. 2015, "Weight Uncertainty in
Neural Networks") trains its Bayesian network with a Python loop over Monte Carlo
samples: each sample runs the network once, with Gaussian weights drawn and
``torch.distributions.Normal`` objects built per layer. This module does the same, in
our own code, so that the benchmark can time it beside ``bnn.fit``; it is not used for
anything else.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from numpy.typing import ArrayLike
from torch import Tensor, nn
from torch.distributions import Normal


class ArticleLayer(nn.Module):
    """A Bayesian linear layer as the article writes it: mu/rho per weight and bias (all 0),
    weights drawn with ``Normal(0, 1).sample`` on every forward, sigma = log(1 + exp(rho)),
    and log p(w), log q(w) of the drawn weights from ``Normal`` objects, kept on the layer."""

    def __init__(self, n_in: int, n_out: int, prior_sigma: float) -> None:
        super().__init__()
        self.w_mu = nn.Parameter(torch.zeros(n_out, n_in))
        self.w_rho = nn.Parameter(torch.zeros(n_out, n_in))
        self.b_mu = nn.Parameter(torch.zeros(n_out))
        self.b_rho = nn.Parameter(torch.zeros(n_out))
        self.prior = Normal(0.0, prior_sigma)
        self.w, self.b = self.w_mu.detach(), self.b_mu.detach()
        self.log_prior, self.log_post = torch.zeros(()), torch.zeros(())

    def forward(self, x: Tensor) -> Tensor:
        # The article's softplus, as written; it computes it twice per forward, we once.
        w_sigma = torch.log(1 + torch.exp(self.w_rho))
        b_sigma = torch.log(1 + torch.exp(self.b_rho))
        w = self.w_mu + w_sigma * Normal(0.0, 1.0).sample(self.w_mu.shape)
        b = self.b_mu + b_sigma * Normal(0.0, 1.0).sample(self.b_mu.shape)
        self.w, self.b = w, b  # kept on the layer, as the article does
        self.log_prior = self.prior.log_prob(w).sum() + self.prior.log_prob(b).sum()
        # The article builds q from the means' `.data`: the same value as with the live
        # means; the gradient gains a zero-mean term (tests/benchmarks/test_bench.py shows which).
        self.log_post = (Normal(self.w_mu.detach(), w_sigma).log_prob(w).sum()
                         + Normal(self.b_mu.detach(), b_sigma).log_prob(b).sum())
        return F.linear(x, w, b)


class ArticleNet(nn.Module):
    """The article's 1-H-1 sigmoid network and its loss: a Python loop over S samples of
    (output, log prior, log posterior, Gaussian log likelihood), then
    loss = mean(log q) - mean(log p) - mean(log likelihood), i.e. the negative ELBO with
    the Monte Carlo KL ``log q - log p``, the estimator of ``bnn.Config(kl="mc")``.

    A faithful, straightforward equivalent, not a slowed one: per-sample terms are
    collected in lists and stacked (as fast as the article's preallocated tensors
    written row by row), and each layer's sigma is computed once per forward. As in the
    article, ``torch.distributions`` checks its arguments (its default; ~15% of the time)."""

    def __init__(self, hidden: int = 32, prior_sigma: float = 10.0, noise_sigma: float = 0.1) -> None:
        super().__init__()
        self.hidden = ArticleLayer(1, hidden, prior_sigma)
        self.out = ArticleLayer(hidden, 1, prior_sigma)
        self.noise_sigma = noise_sigma

    def forward(self, x: Tensor) -> Tensor:
        return self.out(torch.sigmoid(self.hidden(x)))

    def loss(self, x: Tensor, y: Tensor, samples: int) -> Tensor:
        """x (N, 1), y (N,) -> the negative ELBO estimated from ``samples`` draws."""
        log_priors, log_posts, log_likes = [], [], []
        for _ in range(samples):
            f = self(x).reshape(-1)
            log_priors.append(self.hidden.log_prior + self.out.log_prior)
            log_posts.append(self.hidden.log_post + self.out.log_post)
            log_likes.append(Normal(f, self.noise_sigma).log_prob(y).sum())
        return torch.stack(log_posts).mean() - torch.stack(log_priors).mean() - torch.stack(log_likes).mean()


def article_train(x: ArrayLike, y: ArrayLike, epochs: int, samples: int, seed: int = 0) -> list[float]:
    """The article's training run (Adam, lr 0.1, full batch); the loss every 10 epochs.

    ``Normal.sample`` takes no generator, so, like the article, this draws from torch's
    global generator, seeded here inside ``fork_rng`` to leave the caller's state alone.
    """
    xt = torch.as_tensor(x, dtype=torch.float32).reshape(-1, 1)
    yt = torch.as_tensor(y, dtype=torch.float32).reshape(-1)
    losses = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = ArticleNet()
        optimiser = torch.optim.Adam(net.parameters(), lr=0.1)
        for epoch in range(epochs):
            optimiser.zero_grad()
            loss = net.loss(xt, yt, samples)
            loss.backward()
            optimiser.step()
            if epoch % 10 == 0:  # the article prints the loss every 10 epochs; bnn.fit logs it so
                losses.append(loss.item())
    return losses

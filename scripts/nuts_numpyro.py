"""NumPyro's NUTS on the article's problem: a longer independent run than Pyro's for the fixture.

    /path/to/venv-with-numpyro/bin/python scripts/nuts_numpyro.py --chains 16 --warmup 1000 \
        --draws 2000 --depth 10 --out /tmp/nuts.npz
    python scripts/nuts_fixture.py --from-npz /tmp/nuts.npz --out tests/fixtures/nuts_article_numpyro.json

Same model as ``bnn.Config()`` (1-32-1 sigmoid, N(0, 10^2) prior on all 97 weights, Gaussian
likelihood of std 0.1 on the article's six points, float64), written here in JAX: neither the
sampler (NumPyro's NUTS, Hoffman & Gelman 2014, with its own step-size and diagonal mass-matrix
adaptation) nor the gradient (JAX) is the project's. It runs in a separate environment (JAX and
NumPyro are not project dependencies), so it imports nothing from ``bnn``: the points are written
out below and checked against ``bnn.toys.article_points`` when the fixture is built. Each chain
starts from its own prior draw. Saves f on the grid for every draw: (chains, draws, 201).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

GRID = np.linspace(-5.0, 5.0, 201)
HIDDEN, NOISE, PRIOR = 32, 0.1, 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1000)
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--depth", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    from numpyro.infer import MCMC, NUTS

    x = jnp.array([-2.0, -1.8, -1.0, 1.0, 1.8, 2.0])  # bnn.toys.article_points, checked when the fixture is built
    y = -x**4 + 3 * x**2 + 1
    size = 3 * HIDDEN + 1

    def net(w, xs):
        w1, b1 = w[:HIDDEN], w[HIDDEN:2 * HIDDEN]
        w2, b2 = w[2 * HIDDEN:3 * HIDDEN], w[3 * HIDDEN]
        return jax.nn.sigmoid(xs[:, None] * w1 + b1) @ w2 + b2

    def potential(w):
        return ((y - net(w, x)) ** 2).sum() / (2 * NOISE**2) + (w * w).sum() / (2 * PRIOR**2)

    grid = jnp.array(GRID)
    f_grid = jax.jit(jax.vmap(lambda w: net(w, grid)))
    rng = np.random.default_rng(args.seed)
    per_chain, info = [], []
    for c in range(args.chains):
        init = jnp.array(rng.standard_normal(size) * PRIOR)
        mcmc = MCMC(NUTS(potential_fn=potential, max_tree_depth=args.depth), num_warmup=args.warmup,
                    num_samples=args.draws, progress_bar=False)
        start = time.process_time()
        mcmc.run(jax.random.PRNGKey(args.seed * 1000 + c), init_params=init, extra_fields=("diverging", "accept_prob"))
        seconds = time.process_time() - start
        f = np.asarray(f_grid(mcmc.get_samples()))
        extra = mcmc.get_extra_fields()
        per_chain.append(f)
        info.append((seconds, int(np.sum(extra["diverging"])), float(np.mean(extra["accept_prob"]))))
        print(f"chain {c}: {seconds:.0f} s CPU, std f(0) {f[:, 100].std():.2f}, "
              f"divergences {info[-1][1]}, accept {info[-1][2]:.2f}", flush=True)
        np.savez(args.out, f=np.stack(per_chain), seconds=np.array([i[0] for i in info]),
                 divergences=np.array([i[1] for i in info]), accept=np.array([i[2] for i in info]),
                 settings=np.array([args.chains, args.warmup, args.draws, args.depth, args.seed]),
                 x=np.asarray(x))


if __name__ == "__main__":
    main()

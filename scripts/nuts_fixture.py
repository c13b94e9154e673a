"""Pyro's NUTS on the article's problem, once: the independent check of the reference sampler.

    python scripts/nuts_fixture.py [--chains 4] [--warmup 300] [--draws 300] [--depth 8] [--out FILE]

Same model as ``bnn.Config()`` (1-32-1 sigmoid, N(0, 10^2) prior on all 97 weights, Gaussian
likelihood of std 0.1 on the article's six points), float64, but the network is written
here in plain torch (checked against :class:`bnn.network.Layout` once) and sampled by
Pyro's NUTS (Hoffman & Gelman 2014, with Pyro's own step-size and mass-matrix warm-up),
so neither the sampler nor the gradient is the project's. Each chain starts from its own
prior draw, like the reference's, and runs in turn in this one process.

Writes tests/fixtures/nuts_article.json: the grid x (201 points over [-5, 5]), the pooled
mean and std of f there, each chain's std of f (to see how much the chains disagree),
the rank-normalised R-hat and bulk ESS of f at the probes over the NUTS chains, the
settings, and the CPU seconds. NUTS chains get stuck in modes too, so the fixture says
how converged it is rather than assuming it; see docs/hmc-reference.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

import bnn
from bnn.methods.diagnostics import ess_bulk, rank_rhat
from bnn.network import Layout
from bnn.toys import article_points

OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nuts_article.json"
GRID = np.linspace(-5.0, 5.0, 201)
PROBES = np.linspace(-5.0, 5.0, 21)


def net(w: torch.Tensor, x: torch.Tensor, hidden: int) -> torch.Tensor:
    """f(x; w) for weights (..., P) in bnn.network's flat order: the (2, H) block [W1; b1], then (H + 1, 1) [W2; b2]."""
    w1, b1 = w[..., :hidden], w[..., hidden:2 * hidden]
    w2, b2 = w[..., 2 * hidden:3 * hidden], w[..., 3 * hidden]
    h = torch.sigmoid(x[:, None] * w1[..., None, :] + b1[..., None, :])  # (..., N, H)
    return (h * w2[..., None, :]).sum(-1) + b2[..., None]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=300)
    parser.add_argument("--depth", type=int, default=8, help="NUTS's maximum tree depth")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--from-npz", type=Path, help="build the fixture from scripts/nuts_numpyro.py's output")
    parser.add_argument("--thin", type=int, default=1, help="keep every k-th draw (with --from-npz)")
    args = parser.parse_args(argv)
    if args.from_npz:
        from_numpyro(args)
        return

    import pyro
    from pyro.infer import MCMC, NUTS

    torch.set_num_threads(1)
    config = bnn.Config()
    h = config.hidden[0]
    x_np, y_np = article_points()
    x, y = torch.tensor(x_np), torch.tensor(y_np)
    noise, prior = config.noise_sigma, config.prior_sigma
    layout = Layout.of(1, config.hidden, config.activation)
    probe = torch.randn(3, layout.size, dtype=torch.float64)
    torch.testing.assert_close(net(probe, x, h), layout.forward(x[:, None], probe))  # the same network

    def potential(params: dict[str, torch.Tensor]) -> torch.Tensor:
        w = params["w"]
        return ((y - net(w, x, h)) ** 2).sum() / (2 * noise**2) + (w * w).sum() / (2 * prior**2)

    grid = torch.tensor(GRID)
    per_chain, seconds, chain_info = [], [], []
    generator = torch.Generator().manual_seed(args.seed)
    for c in range(args.chains):
        pyro.set_rng_seed(args.seed * 1000 + c)
        init = {"w": torch.randn(layout.size, generator=generator, dtype=torch.float64) * prior}
        kernel = NUTS(potential_fn=potential, max_tree_depth=args.depth, jit_compile=True, ignore_jit_warnings=True)
        mcmc = MCMC(kernel, num_samples=args.draws, warmup_steps=args.warmup, initial_params=init,
                    disable_progbar=True)
        start = time.process_time()
        mcmc.run()
        seconds.append(time.process_time() - start)
        w = mcmc.get_samples()["w"]
        with torch.no_grad():
            per_chain.append(net(w, grid, h).numpy())  # (D, G)
        diag = mcmc.diagnostics()
        chain_info.append({"seconds": round(seconds[-1], 1), "step_size": float(kernel.step_size),
                           "divergences": len(diag["divergences"]["chain 0"]),
                           "accept": round(float(diag["acceptance rate"]["chain 0"]), 3)})
        print(f"chain {c}: {seconds[-1]:.0f} s CPU, std f(0) {per_chain[-1][:, 100].std():.2f}", flush=True)
        write(args, np.stack(per_chain), seconds, chain_info, pyro.__version__)  # after every chain: usable if cut


def from_numpyro(args: argparse.Namespace) -> None:
    """The fixture from NumPyro's chains (scripts/nuts_numpyro.py), after checking its points are the article's."""
    run = np.load(args.from_npz)
    x_np, _ = article_points()
    np.testing.assert_allclose(run["x"], x_np)  # the same data as bnn.toys
    chains, warmup, draws, depth, seed = (int(v) for v in run["settings"])
    args.chains, args.warmup, args.draws, args.depth, args.seed = chains, warmup, draws, depth, seed
    info = [{"seconds": round(float(s), 1), "divergences": int(d), "accept": round(float(a), 3)}
            for s, d, a in zip(run["seconds"], run["divergences"], run["accept"])]
    write(args, run["f"][:, ::args.thin], list(run["seconds"]), info, "n/a (NumPyro 0.22.0, JAX 0.10.2)",
          sampler="NumPyro NUTS")


def write(args: argparse.Namespace, f: np.ndarray, seconds: list[float], chain_info: list[dict],
          pyro_version: str, sampler: str = "Pyro NUTS") -> None:
    """The fixture from the chains so far, f (C, D, G)."""
    pooled = f.reshape(-1, f.shape[-1])
    at = [int(np.argmin(np.abs(GRID - p))) for p in PROBES]
    rhat = [rank_rhat(f[:, :, i]) for i in at] if f.shape[0] > 1 else []
    ess = [ess_bulk(f[:, :, i]) for i in at]
    summary = {
        "what": f"{sampler} on the article's problem (bnn.Config() defaults), f(x) on an even grid over [-5, 5]",
        "settings": {"chains": f.shape[0], "chains_planned": args.chains, "warmup": args.warmup, "draws": args.draws,
                     "max_tree_depth": args.depth, "seed": args.seed, "init": "each chain from its own prior draw",
                     "thin": getattr(args, "thin", 1), "dtype": "float64", "pyro": pyro_version,
                     "torch": torch.__version__},
        "cpu_seconds": round(sum(seconds), 1),
        "chains": chain_info,
        "probes": PROBES.tolist(),
        "rank_rhat": [round(v, 3) for v in rhat],
        "ess_bulk": [round(v, 1) for v in ess],
        "x": GRID.round(4).tolist(),
        "mean": np.round(pooled.mean(axis=0), 4).tolist(),
        "std": np.round(pooled.std(axis=0), 4).tolist(),
        "chain_std": np.round(f.std(axis=1), 3).tolist(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {args.out}: {f.shape[0]} chains, {sum(seconds):.0f} s CPU, max rank R-hat "
          f"{max(rhat, default=float('nan')):.3f}, min bulk ESS {min(ess):.0f}", flush=True)

if __name__ == "__main__":
    main()

"""Choose the UCI protocol's settings on validation data, never on a test split.

    python -m benchmarks.uci_validation --datasets yacht,concrete,energy,boston --variants learned,hetero

For each data set: the first standard split's training rows, of which a random 20 % (seeded) is
held out as the validation part; each variant of :class:`bnn.evaluation.uci_protocol.Protocol`
trains on the other 80 % exactly as the benchmark trains on a split and is scored on the
validation part (log-likelihood of the predictive mixture, RMSE, 95 % coverage). Prints one table,
variants side by side, and CPU seconds. The variants are named below; the benchmark's settings
and what was tried are in docs/uci-benchmark.md.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bnn.config import NoiseModel
from bnn.evaluation import uci
from bnn.evaluation.uci_protocol import Protocol, run_split
from bnn.train import set_threads

VARIANTS = {
    "learned": Protocol(),
    # without the mean warm-up: the heteroscedastic setting of commit 7b0d3b2 (local reparameterisation on)
    "hetero": Protocol(noise=NoiseModel.HETEROSCEDASTIC, noise_warmup=0.0),
    "hetero-noise0.25": Protocol(noise=NoiseModel.HETEROSCEDASTIC, noise_sigma=0.25, noise_warmup=0.0),
    "hetero-mc4": Protocol(noise=NoiseModel.HETEROSCEDASTIC, train_samples=4, noise_warmup=0.0),
    "hetero-nolocal": Protocol(noise=NoiseModel.HETEROSCEDASTIC, local_reparam=False, noise_warmup=0.0),
    "learned-nolocal": Protocol(local_reparam=False),
    # the mean warm-up (bnn.noise.NoiseWarmup): one learned std for the first quarter / half of the steps;
    # half is the protocol's setting since it won on these validation parts
    "hetero-warmup0.25": Protocol(noise=NoiseModel.HETEROSCEDASTIC, noise_warmup=0.25),
    "hetero-warmup0.5": Protocol(noise=NoiseModel.HETEROSCEDASTIC, noise_warmup=0.5),
}


def validation_part(dataset: uci.UCIDataset, share: float = 0.2, seed: int = 0) -> tuple[np.ndarray, ...]:
    train, _ = dataset.split(0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(train.size)
    n_val = int(round(share * train.size))
    val, fit = order[:n_val], order[n_val:]
    x, y = dataset.x[train], dataset.y[train]
    return x[fit], y[fit], x[val], y[val]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(uci.data_dir("../shared/data/uci")))
    parser.add_argument("--datasets", default="yacht,concrete,energy,boston")
    parser.add_argument("--variants", default="learned,hetero")
    args = parser.parse_args()
    set_threads(1)  # as the benchmark's workers: tiny nets, and two threads stall on a busy machine
    names = args.variants.split(",")
    print("| data set | " + " | ".join(f"{v} LL | {v} RMSE | {v} cov95 | {v} CPU s" for v in names) + " |")
    print("|---|" + "---|" * (4 * len(names)))
    for name in args.datasets.split(","):
        dataset = uci.load(args.data_dir, name)
        x_fit, y_fit, x_val, y_val = validation_part(dataset)
        cells = []
        for variant in names:
            protocol = VARIANTS[variant]
            config = protocol.config(dataset.n_hidden, y_fit, split=0)
            start = time.process_time()
            result = run_split(x_fit, y_fit, x_val, y_val, config, protocol.predict_samples)
            cpu = time.process_time() - start
            s = result.scores
            cells.append(f"{s.test_ll:.3f} | {s.rmse:.4g} | {100 * s.coverage[0.95]:.1f} | {cpu:.0f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()

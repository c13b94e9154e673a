"""``python -m bnn fit --method NAME``: any inference method of :mod:`bnn.methods` from the CLI.

``--method`` picks the method (default ``bbb``, the engine's own run); its own settings
come as a JSON object with ``--method-options '{"members": 5}'`` (parsed with
``json.loads``, never evaluated) and are checked by the method's config dataclass.
The model (widths, activation, prior, noise, seed) is the same ``--config``/flags as
for Bayes-by-Backprop. Progress goes to stderr as a tqdm bar per phase (the sampler
has a warm-up and a sampling phase).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np
from tqdm import tqdm

from bnn.cli.inputs import parse_json
from bnn.config import Config
from bnn.methods import METHODS, FittedMethod, MethodProgress, config_for, fit_method


def add_method_options(p: argparse.ArgumentParser) -> None:
    """Declare ``--method`` and ``--method-options`` on a subcommand."""
    g = p.add_argument_group("inference method")
    g.add_argument("--method", choices=list(METHODS), default="bbb",
                   help="bbb: Bayes-by-Backprop (default); dropout: MC dropout; ensemble: deep ensemble; "
                        "laplace: GGN Laplace around the MAP, prior tuned by the evidence; hmc: the reference HMC "
                        "sampler; gp: exact GP regression with an RBF kernel (a different model); fullcov: "
                        "full-covariance Gaussian VI ('{\"rank\": k}' for low rank plus diagonal)")
    g.add_argument("--method-options", metavar="JSON", default=None,
                   help="the method's own settings as a JSON object, e.g. '{\"members\": 5}' for ensemble")


def parse_method_options(name: str, text: str | None) -> Any:
    """The method's config dataclass from ``--method-options`` (checked before any training)."""
    if text is None:
        return config_for(name)
    return config_for(name, parse_json(text, "--method-options"))


def fit_with_progress(name: str, x: np.ndarray, y: np.ndarray, config: Config, settings: Any,
                      quiet: bool) -> FittedMethod:
    """Fit method ``name``, with a progress bar on stderr unless ``quiet``; a summary line after."""
    if quiet:
        return fit_method(name, x, y, config, settings)
    bars: dict[str, tqdm] = {}

    def show(progress: MethodProgress) -> None:
        bar = bars.get(progress.phase)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[progress.phase] = tqdm(total=progress.steps, desc=f"{name} {progress.phase}",
                                              file=sys.stderr, disable=None)
        bar.set_postfix(loss=f"{progress.loss:.4g}", refresh=False)
        bar.update(progress.step - bar.n)

    try:
        fitted = fit_method(name, x, y, config, settings, callback=show)
    finally:
        for bar in bars.values():
            bar.close()
    extra = ", ".join(f"{k} {v:.4g}" for k, v in fitted.diagnostics().items())
    print(f"{METHODS[name].label}: fitted {fitted.n_train} points in {fitted.seconds:.1f} s"
          + (f"; {extra}" if extra else ""), file=sys.stderr)
    certificate = getattr(fitted, "certificate", None)  # the reference sampler's verdict, in words
    if certificate is not None:
        print(f"{METHODS[name].label}: {certificate().line()}", file=sys.stderr)
    return fitted

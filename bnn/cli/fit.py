"""``python -m bnn fit``: train on points and write the posterior predictive table as CSV.

With no options it is the article's run: its six points of -x^4 + 3x^2 + 1, ``Config()`` and
100 predictive samples at 100 points of [-5, 5]. ``--method`` fits another inference method
of :mod:`bnn.methods` to the same model.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bnn import toys
from bnn.cli.inputs import EXPRESSION_POINTS, UsageError, prediction_inputs, training_points
from bnn.cli.method_options import add_method_options, fit_with_progress, parse_method_options
from bnn.cli.options import (
    add_config_options,
    add_prediction_options,
    check_output_paths,
    check_prediction_options,
    config_from_args,
    write_table,
)
from bnn.config import Config
from bnn.data import as_inputs
from bnn.io import save
from bnn.predict import predict
from bnn.train import Fitted, Progress, fit


def add_fit(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="train on points, write the predictive table as CSV",
                       description="Train on points (default: the article's six) and write the predictive "
                                   "table (x, mean, std, lower, upper, ...) as CSV.")
    points = p.add_argument_group("points (default: the article's six points)").add_mutually_exclusive_group()
    points.add_argument("--points", metavar="X,Y;X,Y;...", help="'x,y;x,y;...' (or 'x0,x1,y;...' for several inputs)")
    points.add_argument("--points-csv", metavar="FILE", help="CSV with columns x,y or x0,...,x{D-1},y")
    points.add_argument("--function", metavar="NAME|EXPR",
                        help=f"a toy ({', '.join(toys.names())}) or an expression of x such as 'sin(3*x)'")
    gen = p.add_argument_group("with --function (a toy alone gives its default points)")
    gen.add_argument("--n-points", type=int, metavar="N",
                     help=f"how many points (default: the toy's, {EXPRESSION_POINTS} for expressions)")
    gen.add_argument("--noise", type=float, metavar="S",
                     help="std of the Gaussian noise added to y (default: the toy's, 0 for expressions)")
    gen.add_argument("--range", metavar="A:B",
                     help="the interval of x, evenly filled (default: the toy's, -2:2 for expressions)")
    gen.add_argument("--data-seed", type=int, metavar="N", default=0, help="seed of that noise (default 0)")
    add_config_options(p)
    add_method_options(p)
    add_prediction_options(p)
    out = p.add_argument_group("saving")
    out.add_argument("--save-model", metavar="FILE", help="write the trained model (load with predict --model)")
    out.add_argument("--save-config", metavar="FILE.json", help="write the run's config as JSON")
    out.add_argument("--quiet", action="store_true", help="no progress bar or summary on stderr")
    p.set_defaults(run=run_fit)


def run_fit(args: argparse.Namespace) -> int:
    check_output_paths(args.out, args.save_model, args.save_config)
    check_prediction_options(args)
    config = config_from_args(args)
    settings = parse_method_options(args.method, args.method_options)
    if args.method != "bbb" and args.save_model:
        raise UsageError("--save-model saves Bayes-by-Backprop models only; drop it or use --method bbb")
    x, y = training_points(args)
    x_new = prediction_inputs(args, as_inputs(x).shape[1], fallback=x)
    if args.save_config:
        Path(args.save_config).write_text(config.to_json() + "\n")
    if args.method != "bbb":  # the other inference methods of bnn.methods, same model and table
        method = fit_with_progress(args.method, x, y, config, settings, quiet=args.quiet)
        write_table(method.predict(x_new, samples=args.samples, level=args.level), args.out)
        return 0
    fitted = train(x, y, config, quiet=args.quiet)
    if args.save_model:
        save(fitted, args.save_model)
    write_table(predict(fitted, x_new, samples=args.samples, level=args.level), args.out)
    return 0


def train(x: np.ndarray, y: np.ndarray, config: Config, quiet: bool) -> Fitted:
    if quiet:
        return fit(x, y, config)
    # tqdm, not a hand-written line: it gives rate and ETA, and switches itself off (disable=None)
    # when stderr is not a terminal, so logs and pipes stay clean.
    with tqdm(total=config.epochs, unit="epoch", desc="training", file=sys.stderr, disable=None) as bar:

        def show(progress: Progress) -> None:
            bar.set_postfix(loss=f"{progress.total:.4g}", refresh=False)
            bar.update(progress.epoch - bar.n)

        fitted = fit(x, y, config, callback=show)
    last = fitted.history.iloc[-1]
    print(f"trained on {fitted.n_train} points for {int(last.epoch)} epochs in {fitted.seconds:.1f} s; "
          f"final loss {last.total:.4g} (nll {last.nll:.4g}, kl {last.kl:.4g})", file=sys.stderr)
    return fitted



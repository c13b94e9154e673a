"""``python -m bnn predict``: the predictive table of a model saved by ``fit --save-model``."""

from __future__ import annotations

import argparse

from bnn.cli.inputs import prediction_inputs
from bnn.cli.options import add_prediction_options, check_output_paths, check_prediction_options, write_table
from bnn.io import load
from bnn.predict import predict


def add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict from a model saved by fit --save-model")
    p.add_argument("--model", metavar="FILE", required=True, help="a file written by fit --save-model")
    add_prediction_options(p)
    p.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    check_output_paths(args.out)
    check_prediction_options(args)
    fitted = load(args.model)
    x_new = prediction_inputs(args, fitted.input_dim, fallback=None)
    write_table(predict(fitted, x_new, samples=args.samples, level=args.level), args.out)
    return 0



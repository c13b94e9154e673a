"""The command line: ``python -m bnn fit`` trains a Bayes-by-Backprop network (Blundell
et al. 2015) on points and writes the posterior predictive table as CSV;
``python -m bnn predict`` does the same from a saved model.

With no options, ``fit`` is the article's run: its six points of -x^4 + 3x^2 + 1,
``Config()`` and 100 predictive samples at 100 points of [-5, 5]. The training
options are derived from the fields of :class:`bnn.Config`, so the two cannot drift.

To add a subcommand, write ``_add_<name>(subparsers)`` that declares its options and
``set_defaults(run=...)``, and list it in :func:`build_parser`. Every input error ends
as one line ``error: ...`` on stderr and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from bnn import toys
from bnn.cli_inputs import (
    DEFAULT_GRID,
    EXPRESSION_POINTS,
    UsageError,
    prediction_inputs,
    training_points,
)
from bnn.config import Config
from bnn.data import as_inputs
from bnn.errors import BNNError, ConfigError
from bnn.io import load, save
from bnn.methods_cli import add_method_options, fit_with_progress, parse_method_options
from bnn.predict import check_level, check_samples, predict
from bnn.train import Fitted, Progress, fit, set_threads
from bnn.uci_cli import add_uci

EXIT_INPUT, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130

_CONFIG_HELP = {
    "hidden": "hidden widths, e.g. 32 or 32,32; '' for none (Bayesian linear regression)",
    "activation": "hidden nonlinearity",
    "prior_sigma": "std of the N(0, s^2) prior on every weight",
    "noise_sigma": "likelihood noise std (the start value with --learn-noise)",
    "learn_noise": "learn one noise std with the weights",
    "init": "initialisation of the variational parameters",
    "lr": "Adam learning rate",
    "epochs": "passes over the data",
    "batch_size": "minibatch size; 'none' for full batch",
    "train_samples": "Monte Carlo weight samples per step",
    "kl": "KL term: closed form or the article's single-sample estimate",
    "kl_weight": "multiplies the KL term (1 = the true ELBO)",
    "local_reparam": "sample pre-activations per example (Kingma et al. 2015)",
    "standardize": "fit on standardised x and y",
    "seed": "seed of the initialisation, minibatches and weight draws",
}


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of printing usage, and that takes negative values."""

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(message)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[no-untyped-def]
        # argparse reads "--grid -5:5:100" as two options; glue such a value to its option.
        args = list(sys.argv[1:] if args is None else args)
        known = self._option_string_actions
        glued: list[str] = []
        i = 0
        while i < len(args):
            action = known.get(args[i])
            if (action is not None and action.nargs is None and i + 1 < len(args)
                    and args[i + 1].startswith("-") and args[i + 1] not in known):
                glued.append(f"{args[i]}={args[i + 1]}")
                i += 2
            else:
                glued.append(args[i])
                i += 1
        return super().parse_known_args(glued, namespace)


# ---- parsing -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bnn", description="Bayes-by-Backprop regression (Blundell et al. 2015).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_fit, _add_predict, add_uci):
        add(sub)
    return parser


def _add_fit(sub: argparse._SubParsersAction) -> None:
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
    _add_prediction_options(p)
    out = p.add_argument_group("saving")
    out.add_argument("--save-model", metavar="FILE", help="write the trained model (load with predict --model)")
    out.add_argument("--save-config", metavar="FILE.json", help="write the run's config as JSON")
    out.add_argument("--quiet", action="store_true", help="no progress bar or summary on stderr")
    p.set_defaults(run=run_fit)


def _add_predict(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="predict from a model saved by fit --save-model")
    p.add_argument("--model", metavar="FILE", required=True, help="a file written by fit --save-model")
    _add_prediction_options(p)
    p.set_defaults(run=run_predict)


def _add_prediction_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("prediction")
    g.add_argument("--grid", metavar="A:B:N", help=f"N evenly spaced x in [A, B] (default {DEFAULT_GRID})")
    g.add_argument("--x-csv", metavar="FILE", help="inputs from a CSV (columns x or x0,...,x{D-1}; others ignored)")
    g.add_argument("--samples", type=int, metavar="S", default=100, help="posterior function draws (default 100)")
    g.add_argument("--level", type=float, metavar="P", default=0.95, help="central interval probability (default 0.95)")
    g.add_argument("--out", metavar="FILE.csv", help="write the table here (default: stdout)")
    g.add_argument("--threads", type=int, metavar="N", default=1, help="torch threads (default 1: the nets are small)")


def add_config_options(p: argparse.ArgumentParser) -> None:
    """--config FILE.json and one option per :class:`Config` field, each overriding the file."""
    g = p.add_argument_group("model and training (default: the article's run)")
    g.add_argument("--config", metavar="FILE.json", help="a Config as JSON (e.g. from --save-config)")
    types, defaults = typing.get_type_hints(Config), Config().to_dict()
    for f in dataclasses.fields(Config):
        flag, kind = "--" + f.name.replace("_", "-"), types[f.name]
        shown = ",".join(map(str, defaults[f.name])) if f.name == "hidden" else defaults[f.name]
        help_ = f"{_CONFIG_HELP.get(f.name, f.name)} (default: {shown})"
        if kind is bool:  # --learn-noise / --no-learn-noise
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_)
        elif isinstance(kind, type) and issubclass(kind, Enum):
            g.add_argument(flag, choices=[m.value for m in kind], default=argparse.SUPPRESS, help=help_)
        else:
            metavar = {int: "N", float: "X", int | None: "N|none", tuple[int, ...]: "W,W,..."}.get(kind)
            g.add_argument(flag, type=_value_parser(kind, f.name), default=argparse.SUPPRESS, metavar=metavar,
                           help=help_)


def _value_parser(kind: object, name: str) -> typing.Callable[[str], object]:
    if kind in (int, float):
        return kind  # type: ignore[return-value]
    if kind == int | None:
        return _whole_or_none
    if kind == tuple[int, ...]:
        return _widths
    raise TypeError(f"no command-line form for Config.{name} of type {kind}: extend cli._value_parser")


def _whole_or_none(text: str) -> int | None:
    if text.strip().lower() in ("none", "full"):
        return None
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number or 'none', got {text!r}") from None


def _widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(w) for w in text.split(",")) if text.strip() else ()
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected widths such as 32 or 32,32 ('' for none), got {text!r}") from None


def config_from_args(args: argparse.Namespace) -> Config:
    """The --config file (or the defaults) with the options given on the command line on top."""
    base = Config()
    if args.config:
        try:
            base = Config.from_json(_read_text(args.config))
        except ConfigError as exc:
            raise ConfigError(f"{args.config}: {exc}") from None
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(Config) if hasattr(args, f.name)}
    return base.replace(**changes)


# ---- commands ------------------------------------------------------------------------------
def run_fit(args: argparse.Namespace) -> int:
    _check_output_paths(args.out, args.save_model, args.save_config)
    _check_prediction_options(args)
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
        _write_table(method.predict(x_new, samples=args.samples, level=args.level), args.out)
        return 0
    fitted = _train(x, y, config, quiet=args.quiet)
    if args.save_model:
        save(fitted, args.save_model)
    _write_table(predict(fitted, x_new, samples=args.samples, level=args.level), args.out)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    _check_output_paths(args.out)
    _check_prediction_options(args)
    fitted = load(args.model)
    x_new = prediction_inputs(args, fitted.input_dim, fallback=None)
    _write_table(predict(fitted, x_new, samples=args.samples, level=args.level), args.out)
    return 0


def _train(x: np.ndarray, y: np.ndarray, config: Config, quiet: bool) -> Fitted:
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


def _check_output_paths(*paths: str | None) -> None:
    # Before training, so that a typo in a path does not waste the run.
    for path in paths:
        if path and path != "-" and not Path(path).resolve().parent.is_dir():
            raise UsageError(f"cannot write {path}: the folder {Path(path).parent} does not exist")


def _check_prediction_options(args: argparse.Namespace) -> None:
    # predict() checks these too, but only after training: fail before it instead.
    check_samples(args.samples)
    check_level(args.level)


def _write_table(table: pd.DataFrame, out: str | None) -> None:
    table.to_csv(sys.stdout if out in (None, "-") else out, index=False)


def _read_text(path: str) -> str:
    try:
        return Path(path).read_text()
    except UnicodeDecodeError:
        raise ConfigError("not a text (JSON) file") from None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (0, 1 bad input, 2 bad usage, 130 interrupted)."""
    try:
        args = build_parser().parse_args(argv)
        if args.command is None:
            raise UsageError("choose a command: fit, predict or uci (python -m bnn COMMAND --help)")
        set_threads(getattr(args, "threads", 1))
        return args.run(args)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except UsageError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except BNNError as exc:
        return _fail(str(exc), EXIT_INPUT)
    except OSError as exc:  # a file that cannot be read or written
        return _fail(f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc), EXIT_INPUT)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)


def _fail(message: str, code: int) -> int:
    print("error: " + " ".join(message.split()), file=sys.stderr)  # one line, whatever the message held
    return code

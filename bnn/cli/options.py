"""Options shared by the ``fit`` and ``predict`` commands: the model (one option per
:class:`bnn.Config` field, derived from the dataclass so the two cannot drift), the prediction
grid and output, and the checks made before any training starts."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from enum import Enum
from pathlib import Path

import pandas as pd

from bnn.cli.files import MAX_CONFIG_BYTES, read_text
from bnn.cli.inputs import DEFAULT_GRID, UsageError, parse_json
from bnn.config import Config
from bnn.errors import ConfigError
from bnn.io import safe_csv
from bnn.predict import check_level, check_samples

_CONFIG_HELP = {
    "hidden": "hidden widths, e.g. 32 or 32,32; '' for none (Bayesian linear regression)",
    "activation": "hidden nonlinearity",
    "prior_sigma": "std of the N(0, s^2) prior on every weight",
    "noise_sigma": "likelihood noise std (the start value with --learn-noise)",
    "learn_noise": "learn one noise std with the weights (the same as --noise-model learned)",
    "noise": "the observation noise: one fixed std, one learned std, or a std per input (heteroscedastic)",
    "noise_warmup": "share of the optimiser steps a heteroscedastic noise trains as one learned std first (0 = none)",
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


# Config fields whose flag is not --<field>: fit's --noise is the generated points' noise
_FLAGS = {"noise": "--noise-model"}


def _dest(name: str) -> str:
    """Where argparse keeps a Config field's option (not where a command's own option of that name is)."""
    return _FLAGS[name].lstrip("-").replace("-", "_") if name in _FLAGS else name


class Parser(argparse.ArgumentParser):
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


def add_prediction_options(p: argparse.ArgumentParser) -> None:
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
        flag, kind = _FLAGS.get(f.name, "--" + f.name.replace("_", "-")), types[f.name]
        shown = ",".join(map(str, defaults[f.name])) if f.name == "hidden" else defaults[f.name]
        help_ = f"{_CONFIG_HELP.get(f.name, f.name)} (default: {shown})"
        if kind is bool:  # --learn-noise / --no-learn-noise
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_)
        elif isinstance(kind, type) and issubclass(kind, Enum):
            g.add_argument(flag, dest=_dest(f.name), choices=[m.value for m in kind], default=argparse.SUPPRESS,
                           help=help_)
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
        text = read_text(args.config, "--config", MAX_CONFIG_BYTES)
        try:
            base = Config.from_dict(parse_json(text, "the --config file"))
        except ConfigError as exc:
            raise ConfigError(f"{args.config}: {exc}") from None
    changes = {f.name: getattr(args, _dest(f.name)) for f in dataclasses.fields(Config) if hasattr(args, _dest(f.name))}
    return base.replace(**changes)


def check_output_paths(*paths: str | None) -> None:
    # Before training, so that a typo in a path does not waste the run.
    for path in paths:
        if path and path != "-" and not Path(path).resolve().parent.is_dir():
            raise UsageError(f"cannot write {path}: the folder {Path(path).parent} does not exist")


def check_prediction_options(args: argparse.Namespace) -> None:
    # predict() checks these too, but only after training: fail before it instead.
    check_samples(args.samples)
    check_level(args.level)


def write_table(table: pd.DataFrame, out: str | None) -> None:
    """The table as CSV on stdout (``out`` None or '-') or in the file ``out``.

    Through :func:`bnn.io.safe_csv`, so no text cell or column name reads as a spreadsheet formula;
    a table of numbers comes out byte for byte as ``table.to_csv(index=False)``."""
    text = safe_csv(table)
    if out in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(out).write_text(text, encoding="utf-8", newline="")  # the line ends safe_csv chose, untranslated



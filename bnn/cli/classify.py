"""``python -m bnn classify``: train a Bayes-by-Backprop classifier, score it on held-out points, and
write the predictive table on a grid and on the held-out points.

The points come from a 2-D toy (``--dataset``, :mod:`bnn.datasets2d`) or from a CSV with columns
x (or x0,...,x{D-1}) and label. A seeded share of them (``--test-fraction``, default 0.2; the seed
is ``--data-seed``, by default the model's ``--seed``) is held out; the rest trains the network.
The held-out scores (accuracy, NLL, Brier score, ECE: :mod:`bnn.evaluation.classification`) are
printed on stdout, one ``name value`` per line. Tables go to files only, never to stdout, so that
the scores stay readable: ``--out`` writes the predictive table (:func:`bnn.predict`'s columns:
inputs, p0..p{K-1}, label, entropy, aleatoric, epistemic, p{k}_lower, p{k}_upper) on a grid of the
inputs (one or two of them; x0 varies fastest), ``--test-out`` the same on the held-out points
with their ``true_label``. At least one of the scores (a test fraction above 0) and ``--out`` is
required, else the run would show nothing.

The likelihood is always categorical. Without ``--config`` the model's defaults are those of
docs/classification.md's behaviour tests, not the article's regression run: a 32-32 ReLU net,
``init=scaled``, a N(0, 1) prior, Adam at 0.02 for 600 full-batch epochs. Every option of
``fit``'s model group overrides them.
"""

from __future__ import annotations

import argparse
import math
import re

import numpy as np

from bnn import datasets2d
from bnn.cli.files import read_csv
from bnn.cli.fit import train
from bnn.cli.inputs import MAX_DRAWS, UsageError
from bnn.cli.options import (
    add_config_options,
    check_output_paths,
    check_prediction_options,
    config_from_args,
    write_table,
)
from bnn.config import Config, Likelihood
from bnn.data import MAX_POINTS, as_inputs, as_labels
from bnn.errors import PointsError
from bnn.evaluation.classification import classification_scores
from bnn.predict import predict
from bnn.train import Fitted
from bnn.uncertainty import probability_columns

# docs/classification.md: held-out accuracy 0.986-0.996 on moons with these, ~0.2 s a fit
CLASSIFY_DEFAULTS = {"hidden": (32, 32), "activation": "relu", "init": "scaled", "prior_sigma": 1.0,
                     "lr": 0.02, "epochs": 600}
MAX_GRID_AXIS = 500  # points per grid axis: 250,000 rows at most
DEFAULT_GRID_POINTS = 60
SPLIT_STREAM = 1  # the split draws from (seed, 1), a stream apart from the toy's draws from seed
GRID_PADDING = 0.5  # the default grid spans the data's range widened by this share of it on each side


def add_classify(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("classify", help="train a classifier, print held-out scores, write predictive tables",
                       description="Train a Bayes-by-Backprop classifier (likelihood=categorical) on a 2-D toy "
                                   "or a CSV, print accuracy, NLL, Brier score and ECE on held-out points, and "
                                   "write the predictive table on a grid (--out) and on the held-out points "
                                   "(--test-out). Model defaults here: hidden 32,32, relu, init scaled, "
                                   "prior-sigma 1, lr 0.02, epochs 600 (the defaults listed below are fit's).")
    data = p.add_argument_group("points (one of)").add_mutually_exclusive_group(required=True)
    data.add_argument("--dataset", choices=list(datasets2d.DATASETS), help="a 2-D toy of bnn.datasets2d")
    data.add_argument("--points-csv", metavar="FILE", help="CSV with columns x,label or x0,...,x{D-1},label")
    gen = p.add_argument_group("with --dataset")
    gen.add_argument("--n-points", type=int, metavar="N", help="how many points (default: the toy's)")
    gen.add_argument("--noise", type=float, metavar="S", help="std of the jitter (default: the toy's)")
    split = p.add_argument_group("held-out split")
    split.add_argument("--test-fraction", type=float, metavar="F", default=0.2,
                       help="share of the points held out for scoring, in [0, 1) (default 0.2; 0 trains on all)")
    split.add_argument("--data-seed", type=int, metavar="N",
                       help="seed of the toy's points and of the split (default: --seed)")
    add_config_options(p)
    out = p.add_argument_group("prediction and output")
    out.add_argument("--grid", metavar="A:B:N", help="N points in [A, B] on each axis (default: the data's "
                     f"range widened by {GRID_PADDING:g} of it each side, {DEFAULT_GRID_POINTS} points)")
    out.add_argument("--grid-x", metavar="A:B:N", help="the grid of x0 (overrides --grid for it)")
    out.add_argument("--grid-y", metavar="A:B:N", help="the grid of x1 (overrides --grid for it)")
    out.add_argument("--samples", type=int, metavar="S", default=100, help="posterior draws (default 100)")
    out.add_argument("--level", type=float, metavar="P", default=0.95,
                     help="central interval probability of each p{k}_lower/upper (default 0.95)")
    out.add_argument("--out", metavar="FILE.csv", help="write the predictive table on the grid here")
    out.add_argument("--test-out", metavar="FILE.csv", help="write it on the held-out points, with true_label")
    out.add_argument("--threads", type=int, metavar="N", default=1, help="torch threads (default 1)")
    out.add_argument("--quiet", action="store_true", help="no progress bar or training summary on stderr")
    p.set_defaults(run=run_classify)


def run_classify(args: argparse.Namespace) -> int:
    _check_options(args)
    config = classifier_config(args)
    x, labels = _points(args, config)
    labels, k = as_labels(labels, n=len(x), classes=config.classes, name="label")
    config = config.replace(classes=k)  # K from every label, held-out ones too
    train_rows, test_rows = split(len(x), args.test_fraction, _data_seed(args, config))
    grid = grid_inputs(args, x) if args.out else None
    for rows in (len(test_rows), 0 if grid is None else len(grid)):
        if args.samples * rows * k > MAX_DRAWS:
            raise UsageError(f"{args.samples} samples at {rows} points of {k} classes is too many draws "
                             f"(more than {MAX_DRAWS:,}); lower --samples or the number of points")
    fitted = train(x[train_rows], labels[train_rows], config, quiet=args.quiet)
    if len(test_rows):
        _score(fitted, x[test_rows], labels[test_rows], args)
    if grid is not None:
        write_table(predict(fitted, grid, samples=args.samples, level=args.level), args.out)
    return 0


def classifier_config(args: argparse.Namespace) -> Config:
    """The model options on top of --config (or of :data:`CLASSIFY_DEFAULTS`), likelihood categorical."""
    if getattr(args, "likelihood", Likelihood.CATEGORICAL.value) != Likelihood.CATEGORICAL.value:
        raise UsageError("classify fits likelihood=categorical only; drop --likelihood (fit does regression)")
    # categorical set with the other options (not after), so that --classes is checked against it
    config = config_from_args(argparse.Namespace(**{**vars(args), "likelihood": Likelihood.CATEGORICAL.value}))
    if not args.config:
        config = config.replace(**{k: v for k, v in CLASSIFY_DEFAULTS.items() if not hasattr(args, k)})
    return config


def split(n: int, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded random split of rows 0..n-1: (train rows, test rows), round(fraction n) held out."""
    order = np.random.default_rng([seed, SPLIT_STREAM]).permutation(n)
    n_test = round(test_fraction * n)
    if n - n_test < 1 or (test_fraction > 0 and n_test < 1):
        raise UsageError(f"--test-fraction {test_fraction:g} of {n} points leaves {n - n_test} to train on "
                         f"and {n_test} to score; use more points or another fraction")
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def grid_inputs(args: argparse.Namespace, x: np.ndarray) -> np.ndarray:
    """The grid of --out: (N, 1) for one input, (Nx Ny, 2) for two with x0 varying fastest."""
    dim = x.shape[1]
    if dim > 2:
        raise UsageError(f"--out writes a grid of one or two inputs; the points have {dim} (use --test-out)")
    if dim == 1 and args.grid_y is not None:
        raise UsageError("--grid-y is for two inputs; the points have one")
    own = [(args.grid_x, "--grid-x"), (args.grid_y, "--grid-y")]
    axes = []
    for i in range(dim):
        text, option = own[i] if own[i][0] is not None else (args.grid, "--grid")
        axes.append(_axis(text, option, x[:, i]))
    if dim == 1:
        return axes[0][:, None]
    x0, x1 = np.meshgrid(axes[0], axes[1])  # (Ny, Nx) each
    return np.column_stack([x0.ravel(), x1.ravel()])


def _axis(text: str | None, option: str, values: np.ndarray) -> np.ndarray:
    if text is None:
        low, high = float(values.min()), float(values.max())
        pad = GRID_PADDING * (high - low) or 1.0
        return np.linspace(low - pad, high + pad, DEFAULT_GRID_POINTS)
    parts = text.split(":")
    try:
        if len(parts) != 3:
            raise ValueError
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
    except ValueError:
        raise UsageError(f"{option} must be A:B:N such as -3:3:60, got {text!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low <= high and 1 <= n <= MAX_GRID_AXIS):
        raise UsageError(f"{option} needs finite A <= B and N in [1, {MAX_GRID_AXIS}], got {text!r}")
    return np.linspace(low, high, n)


def _check_options(args: argparse.Namespace) -> None:
    check_output_paths(args.out, args.test_out)
    check_prediction_options(args)
    if "-" in (args.out, args.test_out):
        raise UsageError("classify writes its tables to files only (stdout holds the scores); give a file name")
    if args.points_csv is not None and (args.n_points, args.noise) != (None, None):
        raise UsageError("--n-points and --noise go with --dataset")
    if args.data_seed is not None and not 0 <= args.data_seed < 2**63:  # Config.seed's range
        raise UsageError(f"--data-seed must be in [0, 2^63), got {args.data_seed}")
    if not 0 <= args.test_fraction < 1:
        raise UsageError(f"--test-fraction must be in [0, 1), got {args.test_fraction:g}")
    if args.test_fraction == 0 and args.test_out:
        raise UsageError("--test-out needs held-out points: give a --test-fraction above 0")
    if args.test_fraction == 0 and not args.out:
        raise UsageError("nothing to show: with --test-fraction 0 there are no scores, so give --out")
    if (args.grid or args.grid_x or args.grid_y) and not args.out:
        raise UsageError("--grid, --grid-x and --grid-y shape the table of --out; give --out too")


def _data_seed(args: argparse.Namespace, config: Config) -> int:
    return config.seed if args.data_seed is None else args.data_seed


def _points(args: argparse.Namespace, config: Config) -> tuple[np.ndarray, np.ndarray]:
    if args.points_csv is not None:
        return read_labelled_csv(args.points_csv)
    options = {"n": args.n_points, "noise": args.noise}
    return datasets2d.make(args.dataset, seed=_data_seed(args, config),
                           **{name: value for name, value in options.items() if value is not None})


def read_labelled_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    """x (N, D) and the label column (checked later by :func:`bnn.data.as_labels`) of a CSV file."""
    frame = read_csv(path, "--points-csv", max_rows=MAX_POINTS)
    d = sum(bool(re.fullmatch(r"x\d+", c)) for c in frame.columns)
    x_cols = ["x"] if "x" in frame.columns else [f"x{i}" for i in range(d)]
    if not x_cols or sorted(frame.columns) != sorted([*x_cols, "label"]):
        found = ", ".join(map(str, frame.columns))
        raise PointsError(f"{path}: the columns must be x,label or x0,...,x{{D-1}},label; found {found}")
    x = as_inputs(frame[x_cols].to_numpy(), name=f"{path}: x")
    return x, frame["label"].to_numpy()


def _score(fitted: Fitted, x: np.ndarray, labels: np.ndarray, args: argparse.Namespace) -> None:
    table = predict(fitted, x, samples=args.samples, level=args.level)
    scores = classification_scores(table[probability_columns(int(fitted.config.classes))].to_numpy(), labels)
    print(f"held_out {scores.n}\naccuracy {scores.accuracy:.4f}\nnll {scores.nll:.4f}\n"
          f"brier {scores.brier:.4f}\nece {scores.ece:.4f}")
    if args.test_out:
        table.insert(table.columns.get_loc("label") + 1, "true_label", labels)
        write_table(table, args.test_out)

"""The command line's inputs: points, grids, JSON and CSV files given as text, parsed and checked.

Every malformed value raises :class:`UsageError` or another :class:`bnn.BNNError` with a
message naming the option, which ``bnn.cli`` prints as one line. Files are read with a
bound by :mod:`bnn.cli.files`.
"""

from __future__ import annotations

import argparse
import json
import re
import typing

import numpy as np
import pandas as pd

from bnn import toys
from bnn.cli.files import read_csv
from bnn.data import MAX_POINTS, as_inputs, as_targets
from bnn.errors import BNNError, ConfigError, ExpressionError, PointsError
from bnn.expr import compile_expression

DEFAULT_GRID = "-5:5:100"
MAX_GRID = 100_000  # prediction points, from --grid or the rows of --x-csv
MAX_DRAWS = 20_000_000  # samples x points: predict holds a few float64 arrays of this size (~160 MB each)
EXPRESSION_RANGE, EXPRESSION_POINTS = (-2.0, 2.0), 20  # the article's data interval


class UsageError(BNNError):
    """A malformed command-line value (--points, --grid, a missing option...)."""


def parse_points(text: str) -> tuple[np.ndarray, np.ndarray]:
    """'x,y;x,y' (or 'x0,x1,y;...') -> x (N, D), y (N,)."""
    rows = [r for r in text.split(";") if r.strip()]
    if not rows:
        raise UsageError("--points is empty; write x,y pairs such as '0,1;1,2.5'")
    values = []
    for i, row in enumerate(rows, 1):
        try:
            values.append([float(v) for v in row.split(",")])
        except ValueError:
            raise UsageError(f"--points: point {i} ({row.strip()!r}) must be numbers separated by commas, "
                             "such as '1.5,2'") from None
    if len({len(v) for v in values}) != 1 or len(values[0]) < 2:
        raise UsageError("--points: every point needs the same count of numbers, at least two (x,y or x0,x1,y)")
    table = np.array(values)
    return as_inputs(table[:, :-1]), as_targets(table[:, -1], n=len(rows))


def parse_grid(text: str) -> np.ndarray:
    """'a:b:n' -> n evenly spaced numbers from a to b."""
    parts = text.split(":")
    try:
        low, high, n = float(parts[0]), float(parts[1]), int(parts[2])
        if len(parts) != 3:
            raise ValueError
    except (ValueError, IndexError):
        raise UsageError(f"--grid must be A:B:N such as -5:5:100, got {text!r}") from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high and 1 <= n <= MAX_GRID):
        raise UsageError(f"--grid needs finite A <= B and N in [1, {MAX_GRID}], got {text!r}")
    return np.linspace(low, high, n)


def parse_range(text: str) -> tuple[float, float]:
    """'a:b' -> (a, b)."""
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"--range must be A:B such as -2:2, got {text!r}") from None
    return low, high


def parse_json(text: str, what: str) -> typing.Any:
    """JSON text -> value, with ``json.loads`` (never evaluated); ConfigError naming ``what`` if malformed."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{what} is not valid JSON: {exc}") from None
    except RecursionError:  # json.loads recurses once per bracket: '[[[[...' must not end in a traceback
        raise ConfigError(f"{what} is nested too deeply to be a config") from None


def read_points_csv(path: str) -> tuple[np.ndarray, np.ndarray]:
    frame = read_csv(path, "--points-csv", max_rows=MAX_POINTS)
    x_cols = _input_columns(frame, path)
    if sorted(frame.columns) != sorted([*x_cols, "y"]):
        found = ", ".join(map(str, frame.columns))
        raise PointsError(f"{path}: the columns must be x,y or x0,...,x{{D-1}},y; found {found}")
    x = as_inputs(frame[x_cols].to_numpy(), name=f"{path}: x")
    return x, as_targets(frame["y"].to_numpy(), n=x.shape[0], name=f"{path}: y")


def read_inputs_csv(path: str) -> np.ndarray:
    frame = read_csv(path, "--x-csv", max_rows=MAX_GRID)
    return as_inputs(frame[_input_columns(frame, path)].to_numpy(), name=f"{path}: x")


def _input_columns(frame: pd.DataFrame, path: str) -> list[str]:
    if "x" in frame.columns:
        return ["x"]
    d = sum(bool(re.fullmatch(r"x\d+", c)) for c in frame.columns)
    x_cols = [f"x{i}" for i in range(d)]
    if d == 0 or not set(x_cols) <= set(frame.columns):
        raise PointsError(f"{path}: no input columns; name them x, or x0,...,x{{D-1}} for several inputs")
    return x_cols


def function_points(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Points of --function: a toy's default set, or evenly spaced points of a toy or expression."""
    if not 0 <= args.data_seed < 2**63:  # numpy's generators take non-negative seeds (Config.seed's range)
        raise UsageError(f"--data-seed must be in [0, 2^63), got {args.data_seed}")
    toy = toys.TOYS.get(args.function)
    if toy is not None and args.n_points is None and args.noise is None and args.range is None:
        return toy.default_points(seed=args.data_seed)
    fn = toy if toy is not None else _expression(args.function)
    default_range = (min(a for a, _ in toy.x_ranges), max(b for _, b in toy.x_ranges)) if toy else EXPRESSION_RANGE
    low, high = parse_range(args.range) if args.range is not None else default_range
    n = args.n_points if args.n_points is not None else toy.n_points if toy else EXPRESSION_POINTS
    noise = args.noise if args.noise is not None else toy.noise if toy else 0.0
    return toys.generate(fn, n, low, high, noise, seed=args.data_seed)


def _expression(text: str) -> typing.Callable[[np.ndarray], np.ndarray]:
    try:
        return compile_expression(text)
    except ExpressionError:
        if text.strip().isidentifier():  # a misspelt toy name, most likely
            raise UsageError(f"unknown function {text!r}: the toys are {', '.join(toys.names())}; "
                             "or give an expression of x such as 'sin(3*x)'") from None
        raise


def training_points(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    if args.function is None and (args.n_points, args.noise, args.range) != (None, None, None):
        raise UsageError("--n-points, --noise and --range go with --function")
    if args.points is not None:
        return parse_points(args.points)
    if args.points_csv is not None:
        return read_points_csv(args.points_csv)
    if args.function is not None:
        return function_points(args)
    return toys.article_points()


def prediction_inputs(args: argparse.Namespace, dim: int, fallback: np.ndarray | None) -> np.ndarray:
    x_new = _chosen_inputs(args, dim, fallback)
    if args.samples * len(x_new) > MAX_DRAWS:
        raise UsageError(f"{args.samples} samples at {len(x_new)} points is too many draws (more than "
                         f"{MAX_DRAWS:,}); lower --samples or the number of points")
    return x_new


def _chosen_inputs(args: argparse.Namespace, dim: int, fallback: np.ndarray | None) -> np.ndarray:
    if args.x_csv is not None:
        if args.grid is not None:
            raise UsageError("give --grid or --x-csv, not both")
        return read_inputs_csv(args.x_csv)
    if dim == 1:
        return parse_grid(args.grid or DEFAULT_GRID)
    if args.grid is None and fallback is not None:
        return fallback  # several inputs and no grid: predict at the training inputs
    raise UsageError(f"the model takes {dim} inputs: give them with --x-csv (--grid is for one input)")

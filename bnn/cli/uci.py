"""``python -m bnn uci``: the UCI benchmark from the command line (protocol in :mod:`bnn.evaluation.uci_protocol`).

Reads the data folder the user names (nothing is copied), trains Bayes-by-Backprop (or
``--method``) on each split with a progress bar on stderr, prints a table of RMSE, test
log-likelihood and 95 % coverage (mean ± standard error over the splits) beside the
published VI, PBP and MC dropout figures, and optionally writes every per-split figure to
JSON. ``--protocol gap`` runs the gap splits (one per input feature) instead; their table
gives each score's mean over the feature splits and its worst split, and no published
columns (the published figures are for the standard splits). ``--method-options JSON`` passes
the method's own settings (the dict :func:`bnn.methods.config_for` takes, such as
``'{"rank": 20}'`` for fullcov or ``'{"tune": "none"}'`` for laplace) over the protocol's;
they are checked before any data is read and written to the JSON output. ``--jobs N`` fits N
splits at a time in worker processes (``--backend ray``: on Ray), with the serial run's figures
(:mod:`bnn.evaluation.parallel`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import asdict, fields, replace
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from bnn.cli.inputs import UsageError, parse_json
from bnn.config import Config, NoiseModel
from bnn.errors import BNNError
from bnn.evaluation import uci, uci_protocol
from bnn.evaluation.parallel import RAY_INSTALL, Backend, ray_installed
from bnn.evaluation.uci import SplitProtocol
from bnn.evaluation.uci_protocol import UCI_METHODS, BenchResult, Protocol, SplitResult, method_settings_with, run
from bnn.methods import config_for
from bnn.train import Progress

TABLE_METHODS = ("VI", "PBP", "MC dropout")
DEFAULT_DATA_DIR = "../shared/data/uci"  # relative to the current folder: the repository root, in this project


class UCIUsageError(UsageError):
    """A bad value of an option of ``python -m bnn uci`` (exit code 2, as every usage error)."""


def add_uci(sub: argparse._SubParsersAction) -> None:
    """Declare the ``uci`` subcommand on the CLI's subparsers."""
    p = sub.add_parser("uci", help="run the UCI regression benchmark (Hernandez-Lobato & Adams 2015 splits)",
                       description="Train Bayes-by-Backprop on the standard splits of a UCI data set and compare "
                                   "with the published VI, PBP and MC dropout scores, or on its gap splits "
                                   "(Foong et al. 2019) with --protocol gap.")
    p.add_argument("--data-dir", default=str(uci.data_dir(DEFAULT_DATA_DIR)),
                   help=f"folder holding bostonHousing/, concrete/, ... and published_results.csv "
                        f"(default: ${uci.ENV_VAR} if set, else {DEFAULT_DATA_DIR} from the current folder)")
    p.add_argument("--dataset", required=True,
                   help=f"one of {', '.join(uci.FOLDERS)} (or its folder name), a comma-separated list, or 'all'")
    p.add_argument("--protocol", choices=[str(m) for m in SplitProtocol], default=str(SplitProtocol.STANDARD),
                   help="standard: the 90/10 splits of the published table (default); gap: one split per input "
                        "feature, holding out the middle third of the rows along it (reported as the mean over "
                        "the feature splits and the worst split)")
    p.add_argument("--splits", type=int, default=None,
                   help="use the first K splits (default: all; with --protocol gap, the first K features)")
    p.add_argument("--steps", type=int, default=Protocol.steps,
                   help="optimiser steps per split; epochs follow from the training size")
    p.add_argument("--epochs", type=int, default=None, help="fixed epochs per split (overrides --steps)")
    p.add_argument("--samples", type=int, default=Protocol.predict_samples,
                   help="posterior draws for the test predictive")
    p.add_argument("--method", choices=UCI_METHODS, default="bbb",
                   help="inference method (bnn.methods): bbb (default), dropout (MC dropout, rate 0.05), "
                        "ensemble (5 members, the paper's 40 epochs), laplace (prior and noise tuned by the "
                        "evidence), fullcov (full-covariance VI: slow, about a minute a split on yacht), all with the "
                        "same network, or gp (exact GP regression; up to 2,000 training rows)")
    p.add_argument("--method-options", metavar="JSON", default=None,
                   help="the method's own settings as a JSON object, over the protocol's (which the JSON output "
                        "records), e.g. '{\"rank\": 20}' for fullcov (low rank plus diagonal) or "
                        "'{\"tune\": \"none\"}' for the untuned laplace")
    p.add_argument("--noise", choices=[NoiseModel.LEARNED.value, NoiseModel.HETEROSCEDASTIC.value],
                   default=NoiseModel.LEARNED.value,
                   help="learned: one noise std learned with the weights (default, the published-table run); "
                        "heteroscedastic: a noise std per input, a second output of the network (bbb only)")
    p.add_argument("--out", default=None, help="write per-split figures and the summary to this JSON file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--jobs", type=int, default=1,
                   help="fit N splits at a time in worker processes, one torch thread each (default 1: one "
                        "after another in this process); the figures equal the serial run's, the bar moves "
                        "per split")
    p.add_argument("--backend", choices=[str(b) for b in Backend], default=str(Backend.LOKY),
                   help="where --jobs run: loky (worker processes here, default) or ray (a local Ray of "
                        f"--jobs CPUs, or the cluster at --address; needs `{RAY_INSTALL}`)")
    p.add_argument("--address", default=None, help="an existing Ray cluster's address, such as ray://HOST:10001 "
                                                   "(with --backend ray; its CPUs, not --jobs, set how many run)")
    p.set_defaults(run=run_uci)


def protocol_from_args(args: argparse.Namespace) -> Protocol:
    for name in ("splits", "steps", "epochs", "samples", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UCIUsageError(f"--{name} must be at least 1, got {value}")
    if args.noise != NoiseModel.LEARNED and args.method != "bbb":
        raise UCIUsageError(f"--noise {args.noise} is for --method bbb: the other methods fit one noise std here")
    protocol = replace(Protocol(), steps=args.steps, predict_samples=args.samples, noise=NoiseModel(args.noise))
    if args.epochs is not None:
        protocol = replace(protocol, min_epochs=args.epochs, max_epochs=args.epochs)
    return protocol


def method_options(method: str, text: str | None, protocol: Protocol) -> dict[str, Any]:
    """``--method-options``'s JSON object, checked by the method's config dataclass over the protocol's
    settings for ``method`` (so a bad key or value fails here, before any data is read)."""
    if text is None:
        return {}
    try:
        options = parse_json(text, "--method-options")
    except BNNError as exc:
        raise UCIUsageError(str(exc)) from None
    if not isinstance(options, dict):
        raise UCIUsageError(f"--method-options must be a JSON object such as '{{\"rank\": 20}}', "
                            f"got {type(options).__name__}")
    if options and method == "bbb":
        raise UCIUsageError("--method-options: bbb has no settings of its own (its model and optimiser are the "
                            "protocol's); give options with another --method")
    try:
        method_config(method, protocol.config(50, np.ones(2), 0), options)
    except BNNError as exc:  # the method's config refused a key or a value
        raise UCIUsageError(f"--method-options for {method}: {exc}") from None
    return options


def method_config(method: str, config: Config, options: dict[str, Any]) -> dict[str, Any]:
    """The settings method ``method`` fits a split of model ``config`` with (the protocol's, the options
    over them), as a JSON object; ``{}`` for Bayes-by-Backprop."""
    settings = config_for(method, method_settings_with(method, config, options))
    return {f.name: _plain(getattr(settings, f.name)) for f in fields(settings)}


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def dataset_names(text: str) -> list[str]:
    if text.strip().lower() == "all":
        return list(uci.FOLDERS)
    names = [uci.canonical_name(part) for part in text.split(",") if part.strip()]
    if not names:
        raise UCIUsageError("--dataset is empty")
    return names


def check_workers(args: argparse.Namespace) -> None:
    """--backend ray needs Ray installed, and --address needs --backend ray."""
    if args.address is not None and args.backend != Backend.RAY:
        raise UCIUsageError("--address names a Ray cluster: give it with --backend ray")
    if args.backend == Backend.RAY and not ray_installed():
        raise UCIUsageError(f"--backend ray needs Ray, which is not installed; install it with `{RAY_INSTALL}`")


def run_uci(args: argparse.Namespace) -> int:
    protocol = protocol_from_args(args)
    check_workers(args)
    options = method_options(args.method, args.method_options, protocol)
    names = dataset_names(args.dataset)
    if args.out and not Path(args.out).resolve().parent.is_dir():
        raise UCIUsageError(f"cannot write {args.out}: the folder {Path(args.out).parent} does not exist")
    split_protocol = SplitProtocol(args.protocol)
    datasets = [uci.load(args.data_dir, name) for name in names]
    # in workers, every set's splits are queued at once: a pool wider than one set starts the next set's
    queued = None if args.jobs == 1 and args.backend == Backend.LOKY else uci_protocol.QueuedSets(
        datasets, protocol, args.splits, args.method, split_protocol, options, args.jobs, args.backend, args.address)
    entries = []
    try:
        for k, dataset in enumerate(datasets):
            result = _run_with_bar(dataset, protocol, args.splits, args.quiet, args.method, split_protocol,
                                   options, queued, k)
            published = uci.published(args.data_dir, dataset.name) if split_protocol is SplitProtocol.STANDARD else {}
            entries.append({**result_entry(result, published), "method": args.method, "method_options": options,
                            "method_settings": method_config(args.method, _first_config(dataset, protocol,
                                                                                        split_protocol), options)})
    finally:
        if queued is not None:
            queued.close()
    print(markdown_table(entries))
    if args.out:
        payload = entries[0] if len(entries) == 1 else {
            "results": entries, "wall_seconds": sum(e["wall_seconds"] for e in entries),
            "cpu_seconds": sum(e["cpu_seconds"] for e in entries)}
        Path(args.out).write_text(json.dumps(payload, indent=2) + "\n")
    return 0


def _first_config(dataset: uci.UCIDataset, protocol: Protocol, split_protocol: SplitProtocol) -> Config:
    """The model and optimiser of the data set's first split (later splits differ in the seed, and in the
    epochs only if their training size does)."""
    train, _ = dataset.split(0, split_protocol)
    return protocol.config(dataset.n_hidden, dataset.y[train], 0)


def _run_with_bar(dataset: uci.UCIDataset, protocol: Protocol, splits: int | None, quiet: bool,
                  method: str = "bbb", split_protocol: SplitProtocol = SplitProtocol.STANDARD,
                  options: dict[str, Any] | None = None, queued: uci_protocol.QueuedSets | None = None,
                  index: int = 0) -> BenchResult:
    """One data set's splits under a progress bar counting epochs: it moves every 200 steps in a serial
    run, and as each split finishes when they were ``queued`` in workers (this set is number ``index``)."""
    available = dataset.count(split_protocol)
    count = available if splits is None else min(splits, available)
    epochs = [protocol.epochs(dataset.split(i, split_protocol)[0].size) for i in range(count)]
    label = dataset.name if split_protocol is SplitProtocol.STANDARD else f"{dataset.name} gap"
    done, finished_splits = 0, 0
    with tqdm(total=sum(epochs), unit="epoch", desc=f"{label} (split 1/{count})", file=sys.stderr,
              disable=True if quiet else None) as bar:

        def show(progress: Progress) -> None:
            bar.update(done + progress.epoch - bar.n)

        def finished(outcome: SplitResult) -> None:
            nonlocal done, finished_splits
            done, finished_splits = done + outcome.epochs, finished_splits + 1
            bar.update(done - bar.n)
            bar.set_description(f"{label} (split {min(finished_splits + 1, count)}/{count})")
            bar.set_postfix(ll=f"{outcome.scores.test_ll:.3f}", rmse=f"{outcome.scores.rmse:.3g}")
            if bar.disable and not quiet:  # no terminal (a log file): one line per split instead
                print(f"{label} split {outcome.split + 1}/{count}: rmse {outcome.scores.rmse:.4g}, "
                      f"test LL {outcome.scores.test_ll:.3f}, 95 % coverage {outcome.scores.coverage[0.95]:.3f} "
                      f"({outcome.seconds:.1f} s)", file=sys.stderr, flush=True)

        if queued is not None:
            return queued.collect(index, on_split=finished)
        return run(dataset, protocol, splits, on_split=finished, callback=show, method=method,
                   split_protocol=split_protocol, method_options=options)


def result_entry(result: BenchResult, published: dict[str, dict[str, tuple[float, float]]]) -> dict[str, Any]:
    """The JSON object of one data set: protocol, per-split figures, summary, worst split, published scores."""
    return {
        "dataset": result.dataset,
        "commit": _commit(),
        "split_protocol": str(result.split_protocol),
        "protocol": asdict(result.protocol),
        "splits": [split.to_dict() for split in result.splits],
        "summary": result.summary(),
        "worst": result.worst(),
        "wall_seconds": result.wall_seconds,
        "cpu_seconds": result.cpu_seconds,
        "published": {m: {k: {"mean": v[0], "se": v[1]} for k, v in s.items()} for m, s in published.items()},
    }


def markdown_table(entries: list[dict[str, Any]]) -> str:
    """RMSE, test LL and 95 % coverage (mean ± se) beside the published columns; for the gap
    splits, each score's mean ± se over the feature splits and its worst split instead."""
    if entries and entries[0].get("split_protocol") == SplitProtocol.GAP:
        return gap_table(entries)
    head = ["data set", "splits", "RMSE (ours)", *(f"RMSE {m}" for m in TABLE_METHODS),
            "test LL (ours)", *(f"LL {m}" for m in TABLE_METHODS), "95 % coverage", "wall (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for e in entries:
        s, pub = e["summary"], e.get("published", {})
        row = [_label(e), str(len(e["splits"])), _pm(s["rmse"]),
               *(_pm(pub.get(m, {}).get("rmse")) for m in TABLE_METHODS), _pm(s["test_ll"]),
               *(_pm(pub.get(m, {}).get("test_ll")) for m in TABLE_METHODS),
               _pm(s["coverage95"], percent=True), f"{e['wall_seconds']:.0f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


GAP_COLUMNS = (("RMSE", "rmse"), ("test LL", "test_ll"), ("95 % coverage", "coverage95"))


def gap_table(entries: list[dict[str, Any]]) -> str:
    """Per data set: RMSE, test LL and 95 % coverage as mean ± se over the feature splits, and the worst
    split's value with the feature it held out along in brackets."""
    head = ["data set", "splits"]
    for title, _ in GAP_COLUMNS:
        head += [f"{title} (mean)", f"{title} (worst, feature)"]
    lines = ["| " + " | ".join([*head, "wall (s)"]) + " |", "|" + "---|" * (len(head) + 1)]
    for e in entries:
        row = [_label(e), str(len(e["splits"]))]
        for _, key in GAP_COLUMNS:
            worst, percent = e["worst"][key], key == "coverage95"
            value = _pm({"mean": worst["value"], "se": 0.0}, percent).split(" ± ")[0]
            row += [_pm(e["summary"][key], percent), f"{value} ({worst['split']})"]
        lines.append("| " + " | ".join([*row, f"{e['wall_seconds']:.0f}"]) + " |")
    return "\n".join(lines)


def _label(entry: dict[str, Any]) -> str:
    """'yacht', 'yacht (laplace)' or 'yacht (fullcov {"rank": 20})': the data set, the method unless
    bbb, and the options given."""
    method, options = entry.get("method", "bbb"), entry.get("method_options") or {}
    extra = " ".join(([] if method == "bbb" else [method]) + ([json.dumps(options)] if options else []))
    return entry["dataset"] + (f" ({extra})" if extra else "")


def _pm(stat: dict[str, float] | None, percent: bool = False) -> str:
    if stat is None:
        return "–"
    if percent:
        return f"{100 * stat['mean']:.1f} ± {100 * stat['se']:.1f}"
    digits = 4 if abs(stat["mean"]) < 0.1 else 3 if abs(stat["mean"]) < 1 else 2
    return f"{stat['mean']:.{digits}f} ± {stat['se']:.{digits}f}"


def _commit() -> str | None:
    """The repository's HEAD, so a result names the code that produced it (None outside git)."""
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None

"""``python -m bnn`` as a user runs it: a real process, its exit code and all it prints.

Each case pays for a fresh interpreter and a torch import (about 2 s of CPU), so only the
contract lives here: the command works end to end, and bad input ends in exactly one
``error:`` line on stderr (no traceback, no warning) and a non-zero exit. Everything else
runs in-process (test_cli.py, test_input_files.py). The processes all start at once (the
``runs`` fixture): importing torch is most of their time, and the cores share it.
"""

from __future__ import annotations

import io
import os
import pickle
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[3]
# A model file is read with a bound; if that bound is ever lost, /dev/zero must fail the child
# against this cap (torch needs well under 1 GB) rather than exhaust a shared machine.
MEMORY_CAP = 4 * 2**30
GOOD = ["fit", "--epochs", "5", "--samples", "5", "--grid", "-1:1:5"]
Run = tuple[int, str, str, Path]  # exit code, stdout, stderr, the case's own folder


class _RunsCode:
    """Unpickling this calls os.mkdir(marker): a model file must never get that far."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[[str], None], tuple[str]]:
        return os.mkdir, (str(self.marker),)


def _foreign_pickle(folder: Path) -> list[str]:
    (folder / "evil.pt").write_bytes(pickle.dumps(_RunsCode(folder / "ran"), protocol=4))
    return ["predict", "--model", str(folder / "evil.pt")]


# case -> (its command line, given its folder; a phrase its error line must hold)
CASES: dict[str, tuple[Callable[[Path], list[str]], str]] = {
    "model: a pickle of protocol 4": (_foreign_pickle, "evil.pt is not a bnn model file"),
    "model /dev/zero": (lambda _: ["predict", "--model", "/dev/zero"], "/dev/zero is not a bnn model file"),
}


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every case (and "good", the command GOOD) run as ``python -m bnn``, all processes started at once."""
    folders = {name: tmp_path_factory.mktemp("run") for name in ["good", *CASES]}
    argv = {"good": GOOD, **{name: make(folders[name]) for name, (make, _) in CASES.items()}}
    started = {name: subprocess.Popen([sys.executable, "-m", "bnn", *args], cwd=REPO, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_cap_memory)
               for name, args in argv.items()}
    done = {}
    try:
        for name, process in started.items():
            out, err = process.communicate(timeout=120)
            done[name] = (process.returncode, out, err, folders[name])
    finally:
        for process in started.values():
            process.kill()  # a no-op for those that ended; after a timeout, no process outlives the tests
    return done


def test_python_m_bnn_fits_and_prints_the_table_and_one_summary_line(runs: dict[str, Run]) -> None:
    code, out, err, _ = runs["good"]
    assert code == 0, err
    table = pd.read_csv(io.StringIO(out))
    assert table["x"].tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0] and table.columns[1] == "mean"
    # stderr is not a terminal here: no progress bar, no warning, the summary line alone
    assert err.startswith("trained on 6 points for 5 epochs") and err.count("\n") == 1, err


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_error_line_and_a_non_zero_exit(case: str, runs: dict[str, Run]) -> None:
    code, out, err, folder = runs[case]
    assert code == 1 and out == ""
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err  # no traceback, no warning
    assert CASES[case][1] in err, err
    assert not (folder / "ran").exists()  # the pickle's code never ran

"""Every file the command line reads is read with a bound: its bytes, and a CSV's rows and columns.

``python -m bnn fit --points-csv /dev/zero`` once grew to 10.8 GB in a minute (issue 8). Here
each file option meets /dev/zero, a FIFO whose writer never stops, an oversized regular file
and a folder, and must end in one ``error:`` line naming the limit. The limits themselves are
the real ones (reading 256 MiB of zeros takes a fraction of a second). Every test of an endless
source carries a timeout and a memory cap: a regression must fail, never hang the suite or
exhaust a shared machine.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pandas as pd
import pytest

import bnn
from bnn import cli
from bnn.cli import files
from bnn.cli.inputs import MAX_GRID
from bnn.cli.options import config_from_args
from bnn.data import MAX_POINTS
from bnn.errors import InputFileError

CliRun = Callable[..., tuple[int, str, str]]  # the cli_run fixture of conftest.py
LIMITS = {"--points-csv": files.MAX_CSV_BYTES, "--x-csv": files.MAX_CSV_BYTES, "--config": files.MAX_CONFIG_BYTES}
# What each option's file starts with, and a chunk that keeps it valid however often it repeats.
HEAD = {"--points-csv": b"x,y\n", "--x-csv": b"x\n", "--config": b'{"epochs": 3'}
CHUNK = {"--points-csv": b"0,1\n" * 2**16, "--x-csv": b"0\n" * 2**17, "--config": b" " * 2**18}
FIFO_TIMEOUT = 60  # seconds; the bounded read of 256 MiB through a pipe takes about one on a loaded machine


def assert_refused(result: tuple[int, str, str], *phrases: str) -> None:
    code, out, err = result
    assert code == 1 and out == "", err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    for phrase in phrases:
        assert phrase in err, err


@contextlib.contextmanager
def fifo(path: Path, chunks: Iterable[bytes], close: bool) -> Iterator[None]:
    """A FIFO at ``path`` whose writer thread sends ``chunks`` (perhaps endless), then closes the pipe
    or (``close=False``) holds it open until the test ends, as a writer that never finishes would."""
    os.mkfifo(path)
    finished = threading.Event()

    def write() -> None:
        try:
            with open(path, "wb") as pipe:
                for chunk in chunks:
                    if finished.is_set():
                        return
                    pipe.write(chunk)
                if not close:
                    finished.wait()
        except BrokenPipeError:
            pass  # the reader stopped reading: what the bound is for

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        yield
    finally:
        finished.set()
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))  # frees a writer still waiting in open()
        writer.join(timeout=10)
        assert not writer.is_alive()


@pytest.mark.usefixtures("memory_cap")
@pytest.mark.parametrize("option", LIMITS)
def test_an_endless_device_is_read_only_up_to_the_limit(option: str, cli_run: CliRun) -> None:
    assert_refused(cli_run("fit", option, "/dev/zero", "--quiet"),
                   f"/dev/zero: the {option} file is larger than {LIMITS[option]:,} bytes")


@pytest.mark.timeout(FIFO_TIMEOUT)
@pytest.mark.usefixtures("memory_cap")
@pytest.mark.parametrize("endless", [True, False], ids=["writes-forever", "passes-the-limit-then-waits"])
@pytest.mark.parametrize("option", LIMITS)
def test_a_pipe_is_read_only_up_to_the_limit(option: str, endless: bool, tmp_path: Path, cli_run: CliRun) -> None:
    # Neither writer ever closes the pipe. The first never stops writing; the second stops one chunk
    # past the limit and waits, so a reader that read to the end of the file would wait for ever.
    chunk = CHUNK[option]
    body = itertools.repeat(chunk) if endless else itertools.repeat(chunk, LIMITS[option] // len(chunk) + 1)
    with fifo(tmp_path / "pipe", itertools.chain([HEAD[option]], body), close=False):
        result = cli_run("fit", option, str(tmp_path / "pipe"), "--quiet")
    assert_refused(result, f"the {option} file is larger than {LIMITS[option]:,} bytes")


@pytest.mark.timeout(FIFO_TIMEOUT)
def test_a_pipe_that_ends_is_read_like_a_file(tmp_path: Path, cli_run: CliRun) -> None:
    # What --points-csv <(command) gives: a FIFO, not a regular file. It must keep working.
    with fifo(tmp_path / "pipe", [b"x,y\n-1,1\n", b"0,0\n1,1\n"], close=True):
        code, out, err = cli_run("fit", "--points-csv", str(tmp_path / "pipe"), "--epochs", "5", "--samples", "5",
                                 "--grid", "0:1:3", "--quiet")
    assert code == 0, err
    assert pd.read_csv(io.StringIO(out))["x"].tolist() == [0.0, 0.5, 1.0]


@pytest.mark.parametrize("option", LIMITS)
def test_an_oversized_regular_file_is_refused(option: str, tmp_path: Path, cli_run: CliRun) -> None:
    path = tmp_path / "big"
    with path.open("wb") as handle:  # sparse: one byte over the limit costs no disk
        handle.write(HEAD[option])
        handle.truncate(LIMITS[option] + 1)
    assert_refused(cli_run("fit", option, str(path), "--quiet"),
                   f"{path}: the {option} file is larger than {LIMITS[option]:,} bytes")


@pytest.mark.parametrize("option", LIMITS)
def test_a_folder_is_refused(option: str, tmp_path: Path, cli_run: CliRun) -> None:
    assert_refused(cli_run("fit", option, str(tmp_path), "--quiet"), f"{tmp_path} is a folder, not a file")


def test_a_config_of_exactly_the_limit_is_read(tmp_path: Path) -> None:
    text = '{"epochs": 3}'
    path = tmp_path / "c.json"
    args = cli.build_parser().parse_args(["fit", "--config", str(path)])
    path.write_text(text + " " * (files.MAX_CONFIG_BYTES - len(text)))
    assert config_from_args(args) == bnn.Config(epochs=3)
    path.write_text(text + " " * (files.MAX_CONFIG_BYTES - len(text) + 1))
    with pytest.raises(InputFileError, match=f"larger than {files.MAX_CONFIG_BYTES:,} bytes"):
        config_from_args(args)


@pytest.mark.parametrize(("option", "limit"), [("--points-csv", MAX_POINTS), ("--x-csv", MAX_GRID)])
def test_more_rows_than_the_option_takes_are_refused(option: str, limit: int, tmp_path: Path,
                                                     cli_run: CliRun) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n" + "0,1\n" * (limit + 1))
    assert_refused(cli_run("fit", option, str(path), "--quiet"),
                   f"{path}: the {option} file holds more than {limit:,} rows")


def test_rows_up_to_the_limit_are_read(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n\n0,1\n1,2\n\n2,3\n")  # blank lines are no rows
    assert files.read_csv(str(path), "--points-csv", max_rows=3)["y"].tolist() == [1, 2, 3]
    with pytest.raises(InputFileError, match="holds more than 2 rows"):
        files.read_csv(str(path), "--points-csv", max_rows=2)


# Headers that fool a count of commas on the first line: blank lines first, a quoted name holding
# a comma or a line break. pandas takes them all; each must count as pandas counts.
TRICKY_HEADERS = ["\n\n", '"a,b",', '"a\nb",', '"a""b",', "\r\n"]


@pytest.mark.parametrize("before", TRICKY_HEADERS, ids=repr)
def test_a_header_wider_than_the_column_limit_is_refused(before: str, tmp_path: Path, cli_run: CliRun) -> None:
    # pandas spends minutes and gigabytes on a header of a million names (10 MB of text), so the
    # width is checked before pandas sees the file.
    path = tmp_path / "wide.csv"
    path.write_text(before + ",".join(["x", "y", *(f"c{i}" for i in range(files.MAX_CSV_COLUMNS))]) + "\n0,1\n")
    assert_refused(cli_run("fit", "--points-csv", str(path), "--quiet"),
                   f"{path}: the --points-csv file has more than {files.MAX_CSV_COLUMNS:,} columns")


@pytest.mark.parametrize("header", ["x", "x,y", " x , y ", "x,y,", "\ufeffx,y", *(h + "x,y" for h in TRICKY_HEADERS)],
                         ids=repr)
def test_the_column_count_is_the_one_pandas_finds(header: str) -> None:
    data = (header + "\n").encode()
    assert files.header_columns(data, stop_after=100) == pd.read_csv(io.BytesIO(data)).shape[1]


def test_the_column_count_stops_past_its_limit() -> None:
    assert files.header_columns(b"a,b,c,d,e,f\n", stop_after=2) == 3
    assert files.header_columns(b"", stop_after=2) == 0


@pytest.mark.parametrize("before", ["", *TRICKY_HEADERS], ids=repr)
def test_a_first_row_longer_than_the_header_is_refused_before_pandas(before: str, tmp_path: Path,
                                                                     cli_run: CliRun) -> None:
    # pandas makes the extra fields of a first data row into index columns: for a million of them
    # (6 MB, far inside the byte limit) that took minutes and gigabytes.
    path = tmp_path / "ragged.csv"
    path.write_text(before + "x,y\n\n" + ",".join(["1"] * 1_000_001) + "\n0,1\n")
    assert_refused(cli_run("fit", "--points-csv", str(path), "--quiet"),
                   "the first row under the header has more values than the header's")


def test_a_row_with_an_extra_value_is_an_error_not_a_misread(tmp_path: Path, cli_run: CliRun) -> None:
    path = tmp_path / "ragged.csv"
    path.write_text("x,y\n1,2,3\n0,1\n")  # pandas alone reads x=2, y=3, with 1 as the row's index
    assert_refused(cli_run("fit", "--points-csv", str(path), "--quiet"), "the first row under the header")
    path.write_text("x,y\n0,1\n1,2,3\n")
    assert_refused(cli_run("fit", "--points-csv", str(path), "--quiet"), "is not a readable CSV file")


def test_deeply_nested_json_is_one_line_not_a_traceback(tmp_path: Path, cli_run: CliRun) -> None:
    # json.loads recurses once per bracket: 100,000 of them raise RecursionError, not a JSON error.
    nested = "[" * 100_000
    (tmp_path / "c.json").write_text(nested)
    assert_refused(cli_run("fit", "--config", str(tmp_path / "c.json"), "--quiet"),
                   f"{tmp_path / 'c.json'}: the --config file is nested too deeply")
    assert_refused(cli_run("fit", "--method", "dropout", "--method-options", nested, "--quiet"),
                   "--method-options is nested too deeply")

"""The command line's input files, each read with a bound: its bytes, and a CSV's rows and columns.

A path on the command line may name anything: a 10 GB table, /dev/zero, a FIFO whose writer
never stops (``fit --points-csv /dev/zero`` once grew to 10.8 GB in a minute). Each file is read
through :func:`bnn.io.read_bounded`, which stops one byte past the limit whatever the file is,
and a CSV is then parsed from memory by pandas, told to stop one row past its limit. So no
input costs more than a bounded amount of memory and time, and going past a limit is one
:class:`bnn.errors.InputFileError` that names it. The limits sit far above the tables this
tool is used with: the largest UCI benchmark file (protein, 45,730 rows) is 3.5 MB.
"""

from __future__ import annotations

import io
import re
import warnings

import pandas as pd

from bnn.data import MAX_FEATURES
from bnn.errors import InputFileError, PointsError
from bnn.io import read_bounded

# 128 MiB. A million points (MAX_POINTS) with four inputs, every number at full precision as numpy
# writes it, take about 113 MB. The parsed table costs more than the text when the cells are short:
# the worst file of this size (one-digit cells in 20,000 columns) parses in about 6 s to a peak of
# 1.5 GB, which doubling the limit would double; ordinary tables stop far below (a million rows
# of five numbers: 0.3 s, +0.2 GB).
MAX_CSV_BYTES = 2**27
# Twice the most inputs a model takes, so an --x-csv may carry as many other columns (ignored).
# pandas spends minutes and gigabytes on a header of a million names (10 MB of text), far
# inside MAX_CSV_BYTES, so the header's width is checked before pandas sees it.
MAX_CSV_COLUMNS = 2 * MAX_FEATURES
# A Config as JSON is under 1 kB; a megabyte leaves room for any layout and costs nothing.
MAX_CONFIG_BYTES = 2**20

# One field of a CSV header as pandas reads it: a quoted name (which may hold commas, doubled
# quotes and line breaks) followed by anything up to the separator, or a bare name.
_FIELD = re.compile(rb'"[^"]*(?:""[^"]*)*"[^,\r\n]*|[^,\r\n]*')
_BLANK_LINES = re.compile(rb"[\r\n]*")  # pandas skips them before the header


def read_csv(path: str, option: str, max_rows: int) -> pd.DataFrame:
    """The CSV file given to ``option``, with at most ``max_rows`` rows (InputFileError past any limit)."""
    what = f"the {option} file"
    data = read_bounded(path, MAX_CSV_BYTES, what)
    columns, end = _count_fields(data, _BLANK_LINES.match(data).end(), MAX_CSV_COLUMNS)  # type: ignore[union-attr]
    if columns > MAX_CSV_COLUMNS:
        raise InputFileError(f"{path}: {what} has more than {MAX_CSV_COLUMNS:,} columns, the most this command reads")
    # pandas takes the extra fields of a first data row longer than the header as index columns,
    # which for millions of them costs minutes: refuse such a row after counting one field more.
    first_row = _BLANK_LINES.match(data, end).end()  # type: ignore[union-attr]
    if first_row < len(data) and _count_fields(data, first_row, columns)[0] > columns:
        raise PointsError(f"{path}: the first row under the header has more values than the header's "
                          f"{columns:,} column names")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # a dropped value is an error, not a warning
            frame = pd.read_csv(io.BytesIO(data), nrows=max_rows + 1, index_col=False)
    except (pd.errors.ParserError, pd.errors.ParserWarning, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PointsError(f"{path} is not a readable CSV file ({exc})") from None
    if len(frame) > max_rows:
        raise InputFileError(f"{path}: {what} holds more than {max_rows:,} rows, the most {option} takes")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def header_columns(data: bytes, stop_after: int) -> int:
    """How many columns pandas finds in the header of CSV ``data``, counting no further than ``stop_after + 1``.

    Bounded work: at most ``stop_after + 1`` fields are matched, each in one pass of ``re``."""
    # Both patterns match the empty string, so match() never returns None.
    return _count_fields(data, _BLANK_LINES.match(data).end(), stop_after)[0]  # type: ignore[union-attr]


def _count_fields(data: bytes, pos: int, stop_after: int) -> tuple[int, int]:
    """The fields of the CSV line starting at ``pos`` (at most ``stop_after + 1`` counted) and where it ends."""
    if pos == len(data):
        return 0, pos
    count = 0
    while count <= stop_after:
        pos = _FIELD.match(data, pos).end()  # type: ignore[union-attr]
        count += 1
        if data[pos:pos + 1] != b",":
            break
        pos += 1
    return count, pos


def read_text(path: str, option: str, max_bytes: int) -> str:
    """The text (UTF-8) of the file given to ``option``; InputFileError past ``max_bytes`` or if not text."""
    data = read_bounded(path, max_bytes, f"the {option} file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputFileError(f"{path}: the {option} file is not text") from None

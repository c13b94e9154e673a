"""Point sets as they arrive (dashboard.model.points): the table's cap on rows, CSV separators,
decimal commas, and the one clipping helper for quoting a cell."""

from __future__ import annotations

import pandas as pd
import pytest

import bnn
from dashboard.model import link
from dashboard.model import points as pts
from dashboard.model.limits import LIMITS
from dashboard.model.points import Points, sniff_separator
from dashboard.model.text import clip


def _editor_with_added_rows(n: int) -> pd.DataFrame:
    """The article's table with ``n`` rows added as the editor sends them (text, no exact values)."""
    added = pd.DataFrame({"x": ["0"] * n, "y": ["0"] * n, "x_value": [None] * n, "y_value": [None] * n})
    return pd.concat([pts.editor_frame(Points.article()), added], ignore_index=True)


def test_a_table_over_the_cap_on_points_is_refused_with_its_row_count() -> None:
    """(This case was an AppTest of 2,001 added rows; the page's handling of a refused table, the
    message under it and the edits kept, is the same for every reason and stays covered there.)"""
    with pytest.raises(bnn.PointsError, match="at most 2,000 points here; the table has 2,007 rows"):
        pts.from_editor(_editor_with_added_rows(2_001))
    at_cap = pts.from_editor(_editor_with_added_rows(LIMITS.points - 6))
    assert len(at_cap) == LIMITS.points


@pytest.mark.parametrize(("text", "separator"), [
    ("x,y\n1,2\n", ","),
    ("x;y\n1;2\n", ";"),
    ("x\ty\n1\t2\n", "\t"),
    ("x;y\n1,5;2,5\n3;4\n", ";"),  # decimal commas inside: still semicolon-separated
    ("x;y\n1,5;2\n", ";"),
    ("\ufeffX, Y ,label\n1,2,a\n", ","),
    ('x,y\n"1,5",2\n', ","),  # a quoted comma is a cell's
    ("x;y\n", ";"),  # a header alone: the sniffer gives up, the header decides
    ("x\n1\n", ","),  # one column: nothing to tell, a comma
    ("", ","),
])
def test_the_separator_is_sniffed(text: str, separator: str) -> None:
    assert sniff_separator(text) == separator


def test_a_long_file_is_sniffed_on_whole_lines() -> None:
    text = "x;y\n" + "12345,678;1,5\n" * 3_000  # 42,000 characters: the sample ends mid-file
    assert sniff_separator(text) == ";"


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_csv_files_with_any_of_the_three_separators_are_read(separator: str) -> None:
    data = separator.join(["x", "y", "note"]) + "\n" + separator.join(["0.5", "-1e-3", "a"]) + "\n"
    points = pts.from_csv(data.encode())
    assert points.x.tolist() == [0.5] and points.y[0] == pytest.approx(-1e-3, rel=1e-7)  # float32


@pytest.mark.parametrize(("text", "words"), [
    ("1,5", "'1,5' is not a number: write 1.5 (a point, not a comma, before the decimals)"),
    ("-0,25", "write -0.25"),
    ("1,5e3", "write 1.5e3"),
    ("1,500", "write 1.500 (a point, not a comma, before the decimals), or 1500 for thousands"),
])
def test_a_decimal_comma_gets_a_hint_to_write_a_point(text: str, words: str) -> None:
    with pytest.raises(bnn.PointsError) as info:
        pts.parse_number(text)
    assert words in str(info.value)


def test_a_semicolon_file_with_decimal_commas_names_each_cell_with_the_hint() -> None:
    with pytest.raises(bnn.PointsError) as info:
        pts.from_csv(b"x;y\n0,5;1\n2;3,25\n")
    message = str(info.value)
    assert "row 1, x: '0,5' is not a number: write 0.5" in message and "row 2, y: '3,25'" in message


def test_a_cell_list_is_not_taken_for_a_decimal_comma() -> None:
    with pytest.raises(bnn.PointsError) as info:
        pts.parse_number("1,2,3")
    assert str(info.value) == "'1,2,3' is not a number"


def test_quoted_user_text_is_clipped_by_the_one_helper() -> None:
    assert not hasattr(pts, "_clip") and not hasattr(link, "_clip")
    long = "z" * 80
    with pytest.raises(bnn.PointsError) as info:
        pts.parse_number(long)
    assert str(info.value) == f"{clip(long, 30)!r} is not a number"
    value = "z" * 60  # a link value may hold up to 64 characters; a message quotes 40 of them
    assert link.decode({"epochs": value}).problems[0].startswith(f"epochs='{'z' * 40}…' was ignored")


@pytest.mark.parametrize("first_row", ["1,2,3", ",".join(["1"] * 60_001)])
def test_a_first_row_longer_than_the_header_is_refused_not_misread(first_row: str) -> None:
    # pandas alone reads "x,y / 1,2,3" as x=2, y=3 with 1 as the row's index, and spends seconds
    # making 60,000 extra fields into index columns.
    with pytest.raises(bnn.PointsError, match="Expected 2 fields in line 2"):
        pts.from_csv(f"x,y\n{first_row}\n0,1\n".encode())

"""The dashboard's state outside the browser: link codec, point sets and CSV, view, caps."""

from __future__ import annotations

import base64
import dataclasses
import zlib
from urllib.parse import parse_qsl, urlencode

import numpy as np
import pytest

import bnn
from bnn import toys
from dashboard.model import link as share
from dashboard.model import points as pts
from dashboard.model.limits import LIMITS, affordable_predict_samples, check_config, check_training_work, training_work
from dashboard.model.link import AppState, LinkError, decode, decode_points, encode, encode_points
from dashboard.model.points import Points
from dashboard.model.view import View


def noisy_points(n: int, seed: int = 0) -> Points:
    x, y = toys.generate(toys.get("periodic"), n, -2.0, 2.0, noise=0.3, seed=seed)
    return Points.of(x, y)


def rich_state() -> AppState:
    config = bnn.Config(hidden=(16, 8), activation="tanh", prior_sigma=1.5, noise_sigma=0.25, learn_noise=True,
                        init="scaled", lr=0.003, epochs=1234, batch_size=7, train_samples=3, kl="mc",
                        kl_weight=0.5, standardize=True, seed=42)
    view = View(samples=321, level=0.9, inner=0.5, band="y", functions=12, x_low=-7.5, x_high=3.25)
    return AppState(config=config, view=view, points=noisy_points(50), toy="periodic", expression="sin(2*x)")


# ---- round trips --------------------------------------------------------------------------
def test_default_state_is_an_empty_query() -> None:
    encoded = encode(AppState())
    assert encoded.params == {} and encoded.points_in_link
    assert decode({}) == share.Decoded(AppState())


def test_every_field_round_trips_through_a_real_query_string() -> None:
    state = rich_state()
    query = encode(state).query
    # what a browser sends back: parse the query string as a server would
    decoded = decode(dict(parse_qsl(query, keep_blank_values=True)))
    assert decoded.problems == ()
    assert decoded.state == state


def test_only_changed_fields_travel() -> None:
    params = encode(AppState(config=bnn.Config(epochs=500))).params
    assert params == {"epochs": "500"}


def test_points_round_trip_bit_for_bit_and_the_fit_is_identical() -> None:
    points = noisy_points(40, seed=3)
    back = decode_points(encode_points(points))
    assert back.to_bytes() == points.to_bytes()
    # the network computes in float32, so the fit on the link's points is the same fit
    cfg = bnn.Config(epochs=30)
    a, b = bnn.fit(points.x, points.y, cfg), bnn.fit(back.x, back.y, cfg)
    assert np.array_equal(a.history["total"].to_numpy(), b.history["total"].to_numpy())


def test_points_are_held_as_float32() -> None:
    p = Points.of([0.1, 1 / 3], [2.0, np.pi])
    assert np.array_equal(p.x, np.float32([0.1, 1 / 3]).astype(np.float64))
    assert Points.of(p.x, p.y) == p  # rounding is idempotent


def test_link_is_compact() -> None:
    # shuffle + deflate: about 8 characters a point for noisy float32 data (raw base64 would be 10.7)
    chars = len(encode_points(noisy_points(500)))
    assert chars < 500 * 9.5


def test_too_many_points_for_a_link_are_left_out_and_said_so() -> None:
    state = AppState(points=noisy_points(1500))
    encoded = encode(state)
    assert not encoded.points_in_link
    assert "pts" not in encoded.params and encoded.params["npts"] == "1500"
    assert len(encoded.query) <= LIMITS.link_chars
    decoded = decode(encoded.params)
    assert decoded.points_left_out == 1500 and decoded.state.points == Points.article()


def test_largest_link_stays_under_a_proxy_request_line_limit() -> None:
    # nginx, in front of most hosted apps, refuses request lines over 8 KiB by default
    for n in (100, 500, 700, 900):
        encoded = encode(rich_state().replace(points=noisy_points(n)))
        assert len(encoded.query) <= LIMITS.link_chars < 8 * 1024 - 200  # room for "GET /path? HTTP/1.1"


# ---- hand-edited and garbage links ----------------------------------------------------------
@pytest.mark.parametrize(("key", "value", "words"), [
    ("epochs", "abc", "not a whole number"),
    ("epochs", "0", "epochs must be in"),
    ("epochs", "999999", "epochs must be in [1, 20,000] here, got 999,999"),
    ("epochs", "1e3", "not a whole number"),
    ("lr", "nan", "not a number"),
    ("lr", "inf", "not a number"),
    ("lr", "1_0", "not a number"),
    ("lr", " 0.1", "not a number"),
    ("lr", "20", "lr must be in"),
    ("prior", "-1", "prior_sigma must be in"),
    ("hidden", "32-999", "units per hidden layer must be in [1, 256] here, got 999"),
    ("hidden", "8-8-8-8", "at most 3 hidden layers"),
    ("hidden", "32,16", "layer widths joined by '-'"),
    ("act", "softmax", "activation must be one of"),
    ("learn_noise", "yes", "use 1 or 0"),
    ("samples", "5000", "samples must be in"),
    ("level", "1.5", "level must be in"),
    ("inner", "0.99", "inner level"),
    ("band", "z", "band must be"),
    ("xmin", "10", "x range"),
    ("xmax", "1e9", "x range"),
    ("seed", "99999999999", "seed must be in [0, 2,147,483,647] here"),
    # a negative whole number is a whole number: the message is the field's range, never "not a whole number"
    ("seed", "-4", "seed must be in [0,"),
    ("epochs", "-5", "epochs must be in [1,"),
    ("mc", "-2", "train_samples must be in [1,"),
    ("batch", "-3", "batch_size must be in [1, 2,000] here, got -3"),
    ("samples", "-1", "samples must be in [1,"),
    ("level", "-0.5", "level must be in [0.5,"),
    ("noise", "-1", "noise_sigma must be in (0,"),
    ("epochs", "2.5", "not a whole number"),
    ("npts", "-5", "must be a count of points"),
    ("mc", "9" * 70, "characters long"),
    ("toy", "nope", "unknown toy"),
])
def test_each_bad_value_is_named_and_the_rest_of_the_link_survives(key: str, value: str, words: str) -> None:
    decoded = decode({key: value, "funcs": "7"})
    assert len(decoded.problems) == 1
    assert key in decoded.problems[0] and words in decoded.problems[0]
    assert decoded.state.view.functions == 7  # the good value next to it is kept


def test_settings_that_do_not_go_together_fall_back_to_defaults() -> None:
    decoded = decode({"local": "1", "kl": "mc"})
    assert decoded.state.config == bnn.Config()
    assert "do not go together" in decoded.problems[-1]


def test_unknown_keys_are_reported_but_streamlit_keys_are_not() -> None:
    decoded = decode({"foo": "1", "embed": "true", "epochs": "10"})
    assert decoded.state.config.epochs == 10
    assert decoded.problems == ("the link's unknown setting(s) 'foo' were ignored",)


def test_repeated_keys_use_the_last_value() -> None:
    assert decode({"epochs": ["10", "20"]}).state.config.epochs == 20


def test_a_newer_link_format_is_read_with_a_note() -> None:
    decoded = decode({"v": "2", "epochs": "10"})
    assert decoded.state.config.epochs == 10 and "format" in decoded.problems[0]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(("text", "words"), [
    ("not base64!", "characters that a link never writes"),
    ("AAAA", "damaged"),
    (encode_points(noisy_points(20))[:-5], "damaged"),
    (_b64(zlib.compress(b"\x00" * 12)), "damaged"),  # not a whole number of (x, y) pairs
    # Points() without .of() skips the checks, to forge what a hand-made link could hold
    (encode_points(Points(np.array([1.0]), np.array([np.nan]))), "finite"),
    (encode_points(Points(np.array([1.0]), np.array([3e7]))), "within ±1e6"),
    (_b64(zlib.compress(b"\x00" * 8 * (LIMITS.points + 1))), "more than 2,000 points"),
    (_b64(zlib.compress(b"\x00" * 5_000_000, 9)), "more than 2,000 points"),  # 5 MB in 6.5 kB: cut short
    ("A" * (LIMITS.link_chars + 1), "at most"),
])
def test_bad_points_in_a_link_are_refused_with_a_reason(text: str, words: str) -> None:
    with pytest.raises(bnn.BNNError, match=words):
        decode_points(text)
    decoded = decode({"pts": text})
    assert decoded.state.points == Points.article() and "points could not be read" in decoded.problems[0]


def test_a_query_string_of_garbage_never_raises() -> None:
    rng = np.random.default_rng(0)
    keys = ["epochs", "lr", "hidden", "pts", "level", "band", "expr", "toy", "xmin", "seed", "zzz"]
    alphabet = list("0123456789abcxyz-_.eE+ %&=?!\x00é")
    for _ in range(300):
        query = {str(rng.choice(keys)): "".join(rng.choice(alphabet, size=int(rng.integers(0, 30))))
                 for _ in range(int(rng.integers(1, 5)))}
        decoded = decode(query)  # must not raise, whatever the values
        assert isinstance(decoded.state, AppState)


def test_expression_is_bounded_in_length() -> None:
    decoded = decode({"expr": "x+" * 200 + "x"})
    assert decoded.state.expression == "" and "expr" in decoded.problems[0]


# ---- CSV and tables -------------------------------------------------------------------------
def test_csv_round_trip_is_exact() -> None:
    points = noisy_points(200)
    assert pts.from_csv(pts.to_csv(points)) == points
    assert pts.to_csv(Points.article()).decode().splitlines()[:3] == ["x,y", "-2,-3", "-1.8,0.2224"]


def test_csv_accepts_extra_columns_case_and_a_bom() -> None:
    data = "\ufeffX, Y ,label\n1,2,a\n3,4,b\n".encode()
    points = pts.from_csv(data)
    assert points.x.tolist() == [1.0, 3.0] and points.y.tolist() == [2.0, 4.0]


@pytest.mark.parametrize(("data", "words"), [
    (b"", "not a readable CSV"),
    (b"x,y\n", "at least one point"),
    (b"a,b\n1,2\n", "columns x and y"),
    (b"x\n1\n", "columns x and y"),
    (b"x,y\n1,two\n", "row 1, y: 'two' is not a number"),
    (b"x,y\n1,2\n3,\n", "row 2, y: the cell is empty"),
    (b"x,y\n1,inf\n", "row 1, y: 'inf' is not a finite number"),
    (b"x,y\nnan,1\n", "row 1, x: 'nan' is not a finite number"),
    (b"x,y\n1,1e300\n", "row 1, y: '1e300' is outside ±1e6"),
    (b"x,y\n1,1e400\n", "row 1, y: '1e400' is too large"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
    ("x,y\n1,2\n".encode("utf-16"), "binary"),
    (b"x,y\n\xff\xfe,1\n", "UTF-8"),
    (b"x,y\n" + b"1,2\n" * (LIMITS.points + 1), "at most 2,000 points"),
    (b"x,y\n" + b"1," + b"1" * LIMITS.upload_bytes + b"\n", "MB"),
])
def test_bad_csv_files_get_a_clear_message(data: bytes, words: str) -> None:
    with pytest.raises(bnn.PointsError, match=words):
        pts.from_csv(data)


def test_random_bytes_and_scrambled_csv_only_ever_raise_points_errors() -> None:
    rng = np.random.default_rng(0)
    alphabet = np.frombuffer(b'xy,;\n\r"\' 0123456789.eE-+naif\t#', dtype=np.uint8)
    for i in range(1000):
        if i % 2:
            data = rng.integers(0, 256, size=int(rng.integers(0, 200)), dtype=np.uint8).tobytes()
        else:
            data = b"x,y\n" + rng.choice(alphabet, size=int(rng.integers(0, 200))).tobytes()
        try:
            pts.from_csv(data)
        except bnn.PointsError:
            pass  # anything else would reach the page as an unexplained error


def test_table_rows_are_checked_with_their_row_number() -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0, 2.0, None], "y": [1.0, 2.0, 3.0]})
    with pytest.raises(bnn.PointsError, match="row 3, x: the cell is empty"):
        pts.from_frame(frame)
    assert len(pts.from_frame(frame.iloc[:0])) == 0  # no rows: no points (the chart shows the prior)


@pytest.mark.parametrize(("text", "value"), [
    ("1e-3", 0.001), ("2.5e1", 25.0), ("-1.8", -1.8), ("+.5", 0.5), ("7.", 7.0), (" 3 ", 3.0),
    ("1E+2", 100.0), ("\u22122", -2.0), ("1e-400", 0.0), ("1e6", 1e6), (4, 4.0), (-0.25, -0.25),
])
def test_numbers_as_people_type_them_are_read(text: object, value: float) -> None:
    assert pts.parse_number(text) == value


@pytest.mark.parametrize(("text", "words"), [
    ("abc", "'abc' is not a number"), ("1,5", "'1,5' is not a number"), ("1_000", "is not a number"),
    ("0x10", "is not a number"), ("1e", "is not a number"), ("nan", "not a finite number"),
    ("-inf", "not a finite number"), ("Infinity", "not a finite number"), ("1e400", "'1e400' is too large"),
    ("9999999", "'9999999' is outside ±1e6 (larger"), ("", "empty"), ("  ", "empty"), (None, "empty"),
    (float("nan"), "empty"), (float("inf"), "too large"), (True, "is not a number"),
])
def test_bad_cells_get_a_reason(text: object, words: str) -> None:
    with pytest.raises(bnn.PointsError) as info:
        pts.parse_number(text)
    assert words in str(info.value)


def test_every_bad_cell_is_named_by_row_and_column_up_to_a_few() -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": ["1", "abc", "3"], "y": ["1e400", "2", ""]})
    with pytest.raises(bnn.PointsError) as info:
        pts.from_frame(frame)
    message = str(info.value)
    assert message.startswith("row 1, y: '1e400' is too large")
    assert "row 2, x: 'abc' is not a number" in message and "row 3, y: the cell is empty" in message
    many = pd.DataFrame({"x": ["a"] * 8, "y": ["1"] * 8})
    with pytest.raises(bnn.PointsError) as info:
        pts.from_frame(many)
    assert str(info.value).endswith("row 5, x: 'a' is not a number; and 3 more. Write numbers like 0.5, -2 or 1e-3")


def test_a_row_with_both_cells_empty_is_skipped() -> None:
    import pandas as pd

    frame = pd.DataFrame({"x": ["1", None, "", "3"], "y": ["2", None, " ", "4"]})  # rows just added
    points = pts.from_frame(frame)
    assert points.x.tolist() == [1.0, 3.0] and points.y.tolist() == [2.0, 4.0]
    assert pts.from_frame(frame.iloc[1:3]) == pts.Points.none()
    with pytest.raises(bnn.PointsError, match="row 4, y: the cell is empty"):  # rows counted as shown
        pts.from_frame(pd.DataFrame({"x": ["1", None, None, "5"], "y": ["2", None, None, None]}))


def test_the_editor_shows_six_digits_and_keeps_the_exact_values() -> None:
    points = noisy_points(50)
    frame = pts.editor_frame(points)
    assert all(len(v.lstrip("-").replace(".", "").split("e")[0].lstrip("0")) <= 6 for v in frame["x"])
    assert frame["y"].iloc[0] == f"{points.y[0]:.6g}"
    assert pts.from_editor(frame) == points  # shown to 6 digits, read back bit for bit
    # a typed cell is parsed, its row's other cell keeps its exact value; added rows have no exact value
    frame.loc[0, "x"] = "1e-3"
    frame.loc[len(frame)] = {"x": "2.5e1", "y": "-3", "x_value": None, "y_value": None}
    edited = pts.from_editor(frame)
    assert edited.x[0] == np.float32(0.001) and edited.y[0] == points.y[0]
    assert (edited.x[-1], edited.y[-1]) == (25.0, -3.0) and len(edited) == 51
    assert pts.to_csv(edited).decode().splitlines()[1].startswith("0.001,")
    assert pts.from_editor(pts.editor_frame(Points.article())) == Points.article()


# ---- view and caps ---------------------------------------------------------------------------
def test_view_defaults_are_the_articles_plot() -> None:
    view = View()
    assert (view.samples, view.level, view.band, view.x_low, view.x_high) == (100, 0.95, ("f",), -5.0, 5.0)


@pytest.mark.parametrize("kwargs", [{"samples": 0}, {"samples": 1.5}, {"level": 0.2}, {"level": float("nan")},
                                    {"inner": 0.97}, {"x_low": 3.0, "x_high": 3.0}, {"functions": 51},
                                    {"band": "both"}, {"band": ()}, {"band": "f-zz"}, {"x_high": 1e9}])
def test_view_refuses_bad_values(kwargs: dict) -> None:
    with pytest.raises(bnn.ConfigError):
        View(**kwargs)


def test_caps_refuse_each_knob_and_their_product() -> None:
    check_config(bnn.Config())
    for bad in ({"epochs": 20_001}, {"hidden": (257,)}, {"hidden": (8, 8, 8, 8)}, {"train_samples": 65},
                {"seed": 2**31}):
        with pytest.raises(bnn.ConfigError):
            check_config(bnn.Config(**bad))
    # each knob within its cap, the product far beyond the budget
    heavy = bnn.Config(hidden=(256, 256, 256), epochs=20_000, train_samples=64)
    with pytest.raises(bnn.ConfigError, match="heavier"):
        check_training_work(heavy, 2000)
    check_training_work(bnn.Config(), 6)
    check_training_work(bnn.Config(epochs=20_000), 6)  # the article's net, ten times longer: fine


def test_training_work_counts_steps_samples_points_and_weights() -> None:
    # 1-32-1 has 32 + 32 + 32 + 1 = 97 weights; full batch: one step per epoch
    cfg = bnn.Config(epochs=10, train_samples=2)
    assert training_work(cfg, 6, LIMITS) == 10 * (2 * 6 * 97 + LIMITS.step_overhead)
    assert training_work(cfg, 6, dataclasses.replace(LIMITS, step_overhead=0.0)) == 10 * 2 * 6 * 97
    # batches of 4 of 6 points: two steps per epoch, the last batch is counted as full (an upper bound)
    assert training_work(cfg.replace(batch_size=4), 6, LIMITS) == 20 * (2 * 4 * 97 + LIMITS.step_overhead)


def test_predictive_samples_are_capped_for_big_networks_only() -> None:
    assert affordable_predict_samples(bnn.Config(), 1000) == 1000
    big = bnn.Config(hidden=(256, 256, 256))
    n = affordable_predict_samples(big, 1000)
    assert 1 <= n < 1000 and n * LIMITS.grid * 132_353 <= LIMITS.predict_work


@pytest.mark.parametrize(("keys", "fields"), [
    (share.CONFIG_KEYS, dataclasses.fields(bnn.Config)), (share._VIEW_KEYS, dataclasses.fields(View)),
])
def test_every_field_has_a_query_key_of_its_own(keys: dict[str, str], fields: tuple) -> None:
    """A field without a key would silently not travel in a link (a reader gets its default)."""
    assert set(keys) == {f.name for f in fields}
    other = set(share._OTHER_KEYS) | set(share.IGNORED_KEYS)
    assert len(set(share.CONFIG_KEYS.values()) | set(share._VIEW_KEYS.values()) | other) == \
        len(share.CONFIG_KEYS) + len(share._VIEW_KEYS) + len(other)  # no two fields share a key


def test_urlencode_of_encoded_params_matches_query() -> None:
    encoded = encode(rich_state())
    assert encoded.query == urlencode(encoded.params)
    with pytest.raises(LinkError):
        decode_points("@@")


def test_no_points_travel_in_a_link_and_come_back_as_none() -> None:
    state = AppState(points=Points.none())
    decoded = decode(encode(state).params)
    assert decoded.problems == () and len(decoded.state.points) == 0 and decoded.state == state
    assert pts.to_csv(Points.none()) == b"x,y\n"

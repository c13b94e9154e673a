"""AppTest runs of every page: defaults, controls reaching bnn, bad input, downloads; the runner.

The main page trains the article's run on its first load (about a second). The fit
cache lives in the ``dashboard.model.runner`` module, shared by every AppTest in this process, so
only the first test pays for it.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import re
from pathlib import Path
from typing import Any

import markdown_it  # the CommonMark reference parser (a dev dependency)
import numpy as np
import pandas as pd
import pytest
from editor_view import band_traces, editor_points  # noqa: F401  (editor_points: the playground tests)
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

import bnn
from bnn.predict import SUMMARY_COLUMNS
from dashboard import session
from dashboard.live import SHOWN
from dashboard.model import pin, runner
from dashboard.model.limits import LIMITS, check_training_work
from dashboard.model.link import AppState, decode
from dashboard.model.points import Points
from dashboard.model.text import WORD_JOINER

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120  # seconds; a first load trains ~1 s alone, several times that on a busy CI machine


def main_page(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update(query or {})
    return at.run()


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash-escaped ASCII punctuation character


def rendered(markdown: str) -> str:
    """The text a visitor reads of a message: AppTest holds its Markdown source, in which the
    visitor's text is backslash-escaped and its autolinks broken by an invisible word joiner
    (dashboard.model.text.escape_markdown)."""
    return _ESCAPED.sub(r"\1", markdown).replace(WORD_JOINER, "")


def errors(at: AppTest) -> list[str]:
    return [rendered(e.value) for e in at.error]


def warnings(at: AppTest) -> list[str]:
    return [rendered(w.value) for w in at.warning]


def captions(at: AppTest) -> list[str]:
    return [rendered(c.value) for c in at.caption]


def shown_config(at: AppTest) -> bnn.Config:
    return at.session_state[SHOWN].fitted.config


# ---- the main page ------------------------------------------------------------------------------
def test_first_load_trains_and_shows_the_articles_run() -> None:
    at = main_page()
    assert not at.exception and not errors(at)
    shown = at.session_state[SHOWN]
    assert shown.fitted.config == bnn.Config()
    assert shown.state.points == Points.article()
    assert any("Trained 2,000 epochs" in c for c in captions(at))
    assert at.query_params == {}  # the article's state is the empty link
    keys = {d.key for d in at.download_button}
    assert {"download_predictions", "download_config", "download_model", "download_points"} <= keys


def test_controls_change_the_config_that_reaches_bnn() -> None:
    at = main_page()
    at.toggle(key="live_mode").set_value(False)  # Train trains: the controls are all set before one fit
    at.slider(key="layers").set_value(2)
    at.run()
    at.number_input(key="units_1").set_value(8)
    at.number_input(key="units_2").set_value(4)
    at.selectbox(key="activation").set_value("tanh")
    at.number_input(key="prior_sigma").set_value(2.0)
    at.selectbox(key="noise_model").set_value("learned")
    at.number_input(key="noise_sigma").set_value(0.3)
    at.number_input(key="lr").set_value(0.05)
    at.number_input(key="epochs").set_value(60)
    at.number_input(key="train_samples").set_value(2)
    at.selectbox(key="kl").set_value("mc")
    at.number_input(key="seed").set_value(7)
    at.selectbox(key="init").set_value("scaled")
    at.number_input(key="kl_weight").set_value(0.5)
    at.number_input(key="batch_size").set_value(3)
    at.toggle(key="standardize").set_value(True)
    at.run()
    assert not errors(at)
    assert any("press **Train**" in i.value for i in at.info)  # not trained until asked
    at.button(key="train").click().run()
    expected = bnn.Config(hidden=(8, 4), activation="tanh", prior_sigma=2.0, learn_noise=True, noise_sigma=0.3,
                          lr=0.05, epochs=60, train_samples=2, kl="mc", seed=7, init="scaled", kl_weight=0.5,
                          batch_size=3, standardize=True)
    assert shown_config(at) == expected
    # the link carries the same state: decoding the page's query gives this config back
    assert decode(at.query_params).state.config == expected


def test_view_controls_redraw_without_training_and_reach_the_link() -> None:
    at = main_page()
    fitted = at.session_state[SHOWN].fitted
    at.number_input(key="samples").set_value(300)
    at.slider(key="level").set_value(0.8)
    at.slider(key="inner").set_value(0.5)
    at.pills(key="band").set_value(["y"])
    at.run()
    assert not errors(at) and at.session_state[SHOWN].fitted is fitted  # same fit, no retraining
    assert at.query_params == {"samples": "300", "level": "0.8", "inner": "0.5", "band": "y"}
    at.pills(key="band").set_value(["f", "noise", "y"]).run()
    assert at.query_params["band"] == "y-noise-f" and at.session_state[SHOWN].fitted is fitted
    at.pills(key="band").set_value([]).run()  # no band: a message, and the last good view stays
    assert any("at least one" in e for e in errors(at)) and at.query_params["band"] == "y-noise-f"


def test_presets_are_frozen_and_build_a_state() -> None:
    for preset in session.PRESETS.values():
        assert isinstance(preset, session.Preset) and isinstance(preset.build(), AppState)
        with pytest.raises(dataclasses.FrozenInstanceError):
            preset.label = "changed"  # type: ignore[misc]
    assert session.PRESETS["gap"].build().toy == "gap"


def test_presets_set_controls_and_points() -> None:
    at = main_page()
    at.button(key="preset_noise").click().run()
    assert at.selectbox(key="noise_model").value == "learned"
    assert at.selectbox(key="activation").value == "tanh"
    assert len(at.session_state["points"]) == 100
    at.button(key="preset_article").click().run()
    assert at.query_params == {} and at.session_state[SHOWN].fitted.config == bnn.Config()


def preset_buttons(at: AppTest) -> dict[str, str]:
    """Each preset button's type: "primary" marks the active preset."""
    return {name: at.button(key=f"preset_{name}").proto.type for name in session.PRESETS}


def generator_fields(at: AppTest) -> tuple[float, ...]:
    return tuple(at.number_input(key=key).value for key in ("gen_n", "gen_low", "gen_high", "gen_noise", "gen_seed"))


def test_the_active_preset_is_the_one_whose_state_is_on_the_page() -> None:
    at = main_page()
    others = {"noise": "secondary", "grows": "secondary", "middle": "secondary"}
    assert preset_buttons(at) == {"article": "primary", "gap": "secondary", **others}
    assert at.button(key="preset_article").proto.icon == ":material/check:"
    assert generator_fields(at) == (6, -2.0, 2.0, 0.0, 0)  # the article's data: six points on [-2, 2], no noise
    at.button(key="preset_gap").click().run()
    assert preset_buttons(at) == {"article": "secondary", "gap": "primary", **others}
    assert at.button(key="preset_article").proto.icon == ""
    # the gap preset's points: 20 on [-4, -2] and [2, 4] with noise 0.1; the fields span both clusters
    assert generator_fields(at) == (20, -4.0, 4.0, 0.1, 0)
    at.number_input(key="seed").set_value(3).run()  # any change: no preset is the page's state any more
    assert set(preset_buttons(at).values()) == {"secondary"}
    assert any("no preset matches" in c for c in captions(at))
    at.number_input(key="seed").set_value(0).run()  # and back: the gap preset is active again
    assert preset_buttons(at)["gap"] == "primary" and not any("no preset matches" in c for c in captions(at))


def test_the_noise_presets_generator_fields_make_its_points() -> None:
    at = main_page()
    at.button(key="preset_noise").click().run()
    preset_points = at.session_state["points"]
    assert generator_fields(at) == (100, -2.0, 2.0, 0.3, 0)
    at.button(key="generate").click().run()  # Generate with the fields as the preset left them
    assert at.session_state["points"] == preset_points and preset_buttons(at)["noise"] == "primary"


def test_the_heteroscedastic_presets_show_a_noise_band_that_follows_the_scatter() -> None:
    at = main_page()
    at.button(key="preset_grows").click().run()
    assert not errors(at)
    config = at.session_state[SHOWN].fitted.config
    assert config.noise == "heteroscedastic" and at.selectbox(key="noise_model").value == "heteroscedastic"
    assert at.pills(key="band").value == ["y", "noise", "f"] and preset_buttons(at)["grows"] == "primary"
    traces = band_traces(at)
    assert {"band_hi", "band_noise_hi", "band_f_hi"} <= {t.get("uid") for t in traces.values()}
    noise = next(t for t in traces.values() if t.get("uid") == "band_noise_hi")
    lower = next(t for t in traces.values() if t.get("uid") == "band_noise_lo")
    x, width = np.asarray(noise["x"]), np.asarray(noise["y"]) - np.asarray(lower["y"])
    # the scatter's std grows from 0.05 at x = -3 to 0.95 at x = 3: the noise band must widen with it
    assert width[np.argmin(np.abs(x - 2.5))] > 3 * width[np.argmin(np.abs(x + 2.5))]
    at.selectbox(key="noise_model").set_value("learned").run()  # one sigma: the noise band's width is constant
    traces = band_traces(at)
    noise = next(t for t in traces.values() if t.get("uid") == "band_noise_hi")
    lower = next(t for t in traces.values() if t.get("uid") == "band_noise_lo")
    width = np.asarray(noise["y"]) - np.asarray(lower["y"])
    assert np.ptp(width) < 1e-3 * width.mean()


def loss_chart(at: AppTest) -> dict[str, Any]:
    """The loss chart's Plotly spec."""
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"].get("yaxis", {}).get("title", {}).get("text") == "loss":
            return spec
    raise AssertionError("no loss chart on the page")


def test_the_loss_chart_starts_on_a_log_scale() -> None:
    at = main_page()
    assert at.toggle(key="log_loss").value is True
    assert loss_chart(at)["layout"]["yaxis"]["type"] == "log"
    assert not any("log scale" in c for c in captions(at))  # the article's loss stays above zero
    at.toggle(key="log_loss").set_value(False).run()
    assert loss_chart(at)["layout"]["yaxis"]["type"] == "linear"


def test_a_loss_at_or_below_zero_is_named_under_the_log_chart() -> None:
    at = main_page()
    at.button(key="preset_gap").click().run()
    at.button(key="train").click().run()
    history = at.session_state[SHOWN].fitted.history
    below = history["epoch"][history["nll"] <= 0]
    assert len(below)  # 20 points with noise 0.1 fit closely: densities above 1
    [note] = [c for c in captions(at) if "log scale" in c]
    assert f"negative log-likelihood from epoch {below.min():,} ({len(below)} of {len(history)} logged values)" in note
    assert "total" not in note  # the KL keeps the total above zero


def test_generate_points_from_a_named_toy_and_from_a_formula() -> None:
    at = main_page()
    at.selectbox(key="function").set_value("periodic")
    at.number_input(key="gen_n").set_value(30)
    at.button(key="generate").click().run()
    assert len(at.session_state["points"]) == 30 and not errors(at)
    at.selectbox(key="function").set_value("formula").run()
    at.text_input(key="expression").set_value("2*x + 1")
    at.number_input(key="gen_noise").set_value(0.0)
    at.button(key="generate").click().run()
    points = at.session_state["points"]
    assert not errors(at)
    # y was computed from x before both were rounded to float32 (relative error 6e-8 each)
    np.testing.assert_allclose(points.y, 2 * points.x + 1, atol=1e-6)
    assert at.query_params["expr"] == "2*x + 1"


def test_pin_keeps_a_run_drawn_and_compares_the_next_one_with_it() -> None:
    at = main_page()
    first = at.session_state[SHOWN]
    at.button(key="pin").click().run()
    assert at.button(key="pin").disabled  # the run on screen is the pinned one
    at.number_input(key="seed").set_value(5)
    at.number_input(key="epochs").set_value(300).run()
    assert "pinned run: mean" in band_traces(at)  # drawn while the controls change...
    at.button(key="train").click().run()
    assert not at.exception and not errors(at) and shown_config(at) == bnn.Config(seed=5, epochs=300)
    traces = band_traces(at)  # ...and after retraining, under the new band
    grid = np.linspace(-5, 5, LIMITS.grid)
    # the oracle: the engine on the pinned fit, rounded to float32 as the chart's numbers travel (the
    # same draws with the same seed, so the same numbers to the last bit of float32)
    pinned = bnn.predict(first.fitted, grid, samples=100)
    f32 = np.float32
    np.testing.assert_array_equal(traces["pinned run: mean"]["y"], pinned["mean"].to_numpy().astype(f32))
    np.testing.assert_array_equal(traces["pinned run: 95% interval of f"]["y"],
                                  pinned["f_upper"].to_numpy().astype(f32))
    current = bnn.predict(at.session_state[SHOWN].fitted, grid, samples=100)
    np.testing.assert_array_equal(traces["predictive mean"]["y"], current["mean"].to_numpy().astype(f32))
    table = next(d.value for d in at.dataframe if d.value.index.name == "metric")
    x = Points.article().x
    expected_pinned = pin.run_metrics(pinned, x, first.fitted.history["total"].iloc[-1], first.fitted.noise_sigma)
    np.testing.assert_allclose(table["pinned"], list(expected_pinned.values()), rtol=1e-9)
    np.testing.assert_allclose(table["difference"], table["current"] - table["pinned"])
    assert (table["difference"].abs() > 0).sum() >= 4  # another seed and a tenth of the epochs: other numbers
    assert any("Changed since: epochs 2,000 → 300; seed 0 → 5" in c for c in captions(at))
    at.button(key="unpin").click().run()
    assert not any(name.startswith("pinned") for name in band_traces(at))
    assert not any(d.value.index.name == "metric" for d in at.dataframe) and not at.button(key="pin").disabled


# ---- bad input -----------------------------------------------------------------------------------
def test_a_bad_control_value_gets_a_message_and_the_last_good_result_stays() -> None:
    at = main_page()
    before = at.session_state[SHOWN]
    at.number_input(key="prior_sigma").set_value(0.0).run()
    assert any("prior_sigma must be in (0, 1e6]" in e for e in errors(at))
    assert not at.exception and at.session_state[SHOWN].fitted is before.fitted
    assert "prior" not in at.query_params  # the link keeps the last good settings


@pytest.mark.parametrize(("text", "words"), [
    ("__import__('os').system('true')", "only named functions may be called"),
    ("x.__class__", "attribute access"),
    ("x +* 2", "syntax error at column 4"),
    ("sin(x", "never closed"),
])
def test_an_unsafe_or_malformed_formula_gets_a_message(text: str, words: str) -> None:
    at = main_page()
    at.selectbox(key="function").set_value("formula").run()
    at.text_input(key="expression").set_value(text).run()
    assert not at.exception
    assert any(words in e for e in errors(at)), errors(at)
    at.button(key="generate").click().run()  # generating from it is refused too, with the same reason
    assert at.session_state["points"] == Points.article() and any(words in e for e in errors(at))


def test_bad_table_edits_get_a_message_and_keep_the_last_good_points() -> None:
    at = main_page()
    band = at.session_state[SHOWN]
    for edit, words in [
        ({"edited_rows": {0: {"x": None}}, "added_rows": [], "deleted_rows": []}, "row 1, x: the cell is empty"),
        ({"edited_rows": {0: {"x": "abc"}}, "added_rows": [], "deleted_rows": []}, "row 1, x: 'abc' is not a number"),
        ({"edited_rows": {2: {"y": "1e400"}}, "added_rows": [], "deleted_rows": []}, "row 3, y: '1e400' is too large"),
        ({"edited_rows": {1: {"x": "nan"}, 4: {"y": "inf"}}, "added_rows": [], "deleted_rows": []},
         "row 2, x: 'nan' is not a finite number; row 5, y: 'inf' is not a finite number"),
        ({"edited_rows": {}, "added_rows": [{"x": "1e300", "y": "1"}], "deleted_rows": []},
         "row 7, x: '1e300' is outside"),
        ({"edited_rows": {}, "added_rows": [{"x": "0.5"}], "deleted_rows": []}, "row 7, y: the cell is empty"),
        # (a table over the cap on points: tests/dashboard/model/test_points.py, on the parser alone)
    ]:
        at.session_state["points_editor"] = edit
        at.run()
        assert not at.exception
        assert any(words in e and "your edits stay in it" in e for e in errors(at)), (words, errors(at))
        assert at.session_state["points"] == Points.article()  # the last good points stay in use...
        assert at.session_state["points_editor"]["edited_rows"] == edit["edited_rows"]  # ...and the edits in the table
        assert at.session_state[SHOWN].fitted is band.fitted  # and so does the band


def test_a_good_table_edit_changes_the_points_and_the_link() -> None:
    at = main_page()
    at.session_state["points_editor"] = {"edited_rows": {}, "added_rows": [{}], "deleted_rows": []}
    at.run()  # a row just added and not typed in yet: no message, not a point
    assert not errors(at) and at.session_state["points"] == Points.article()
    at.session_state["points_editor"] = {"edited_rows": {}, "added_rows": [{"x": "0", "y": "1"}],
                                         "deleted_rows": []}
    at.run()
    assert not errors(at) and len(at.session_state["points"]) == 7
    assert decode(at.query_params).state.points == at.session_state["points"]


@pytest.mark.parametrize(("name", "data", "words"), [
    ("points.csv", b"a,b\n1,2\n", "columns x and y"),
    ("points.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    ("points.csv", b"x,y\n1,nan\n", "finite"),
])
def test_a_bad_upload_gets_a_message(name: str, data: bytes, words: str) -> None:
    at = main_page()
    at.file_uploader(key="upload").upload(name, data, "text/csv").run()
    assert not at.exception
    assert any(words in e and name in e for e in errors(at)), errors(at)
    assert at.session_state["points"] == Points.article()


def test_a_good_upload_replaces_the_points() -> None:
    at = main_page()
    at.file_uploader(key="upload").upload("mine.csv", b"x,y\n0,1\n1,2\n2,3\n", "text/csv").run()
    assert not errors(at)
    assert at.session_state["points"].x.tolist() == [0.0, 1.0, 2.0]
    assert at.selectbox(key="function").value == "none"  # an uploaded set has no known true function


def test_a_hand_edited_link_gets_a_message_and_defaults() -> None:
    at = main_page({"epochs": "abc", "lr": "0.05", "pts": "%%%", "act": "soft"})
    assert not at.exception
    text = " ".join(warnings(at))
    assert "epochs='abc'" in text and "act='soft'" in text and "points could not be read" in text
    assert shown_config(at) == bnn.Config(lr=0.05)  # the good value survives
    at.button(key="dismiss_link_problems").click().run()
    assert not at.warning


def test_a_link_reproduces_the_state_it_was_made_from() -> None:
    x, y = bnn.toys.generate(bnn.toys.get("gap"), 25, -3.0, 3.0, noise=0.1, seed=1)
    state = AppState(config=bnn.Config(epochs=80, seed=3), points=Points.of(x, y), toy="gap")
    from dashboard.model.link import encode

    at = main_page(encode(state).params)
    shown = at.session_state[SHOWN]
    assert shown.state.config == state.config and shown.state.points == state.points
    # the same seed and points give the same fit as a direct call to the engine
    direct = bnn.fit(state.points.x, state.points.y, state.config)
    for name in ("mu", "rho"):
        assert bnn.train.torch.equal(getattr(shown.fitted.model.posterior, name), getattr(direct.model.posterior, name))


def test_a_link_whose_points_did_not_fit_says_so() -> None:
    at = main_page({"npts": "1500", "epochs": "45"})
    assert any("1,500 points were too many to travel in a link" in w for w in warnings(at))
    assert at.session_state[SHOWN].state.points == Points.article() and shown_config(at).epochs == 45


def test_live_mode_fits_each_change_without_pressing_train_and_off_waits_for_train() -> None:
    at = main_page()
    assert at.toggle(key="live_mode").value  # on by default
    at.number_input(key="epochs").set_value(40).run()
    assert shown_config(at).epochs == 40 and not at.info
    at.toggle(key="live_mode").set_value(False)
    at.number_input(key="epochs").set_value(50).run()
    assert shown_config(at).epochs == 40 and any("press **Train**" in i.value for i in at.info)
    at.button(key="train").click().run()
    assert shown_config(at).epochs == 50


def test_a_run_over_the_work_budget_is_refused_with_a_message() -> None:
    at = main_page()
    at.slider(key="layers").set_value(3).run()
    for k in (1, 2, 3):
        at.number_input(key=f"units_{k}").set_value(256)
    at.number_input(key="epochs").set_value(20_000)
    at.number_input(key="train_samples").set_value(64)
    at.button(key="train").click().run()
    assert not at.exception
    # one message, which says what to lower; nothing on the page says "press Train" (it would fail again)
    [message] = errors(at)
    assert "heavier than one visitor may ask" in message and "lower the epochs to at most" in message
    assert "the last finished fit, of other settings" in message and not at.info


def test_a_diverging_run_says_so_and_keeps_the_last_good_band() -> None:
    at = main_page()
    at.toggle(key="live_mode").set_value(False)  # one run of the bad settings, when Train is pressed
    before = at.session_state[SHOWN]
    at.slider(key="layers").set_value(2).run()
    for k in (1, 2):
        at.number_input(key=f"units_{k}").set_value(64)
    at.selectbox(key="activation").set_value("relu")
    at.selectbox(key="init").set_value("scaled")
    at.number_input(key="prior_sigma").set_value(1e6)
    at.number_input(key="lr").set_value(10.0)
    at.number_input(key="epochs").set_value(200).run()
    at.button(key="train").click().run()
    assert not at.exception
    [message] = errors(at)
    assert "training diverged" in message and "lower the learning rate (now 10)" in message
    assert at.session_state[SHOWN].fitted is before.fitted  # the article's band stays on screen
    assert not any(np.isnan(t["y"]).any() for t in band_traces(at).values() if t.get("y") is not None)


def test_a_first_run_that_diverges_leaves_only_its_message() -> None:
    # nothing on screen yet: the diverged run's live band, loss curve and progress bar must go too
    at = main_page({"hidden": "64-64", "act": "relu", "init": "scaled", "prior": "1000000.0", "lr": "10.0",
                    "epochs": "200"})
    assert not at.exception and SHOWN not in at.session_state
    [message] = errors(at)
    assert "training diverged" in message
    assert not at.get("plotly_chart") and not at.get("progress")


HEAVY_LINK = {"hidden": "256-256-256", "epochs": "20000", "mc": "64"}  # each within its cap, not all three


def test_a_link_over_the_work_budget_says_one_thing_and_what_to_lower() -> None:
    at = main_page(HEAVY_LINK)
    for _ in range(2):  # on opening the link, and again after a press on Train
        assert not at.exception and SHOWN not in at.session_state and not at.info
        [message] = errors(at)
        assert message.startswith("Not trained: this run is about") and "lower the epochs to at most" in message
        assert "on screen" not in message and "last finished fit" not in message  # nothing is on screen
        at.button(key="train").click().run()
    # the epochs it names are the most the budget allows: that many pass the caps, one more does not
    most = int(re.search(r"epochs to at most ([\d,]+)", message).group(1).replace(",", ""))
    config = bnn.Config(hidden=(256, 256, 256), epochs=most, train_samples=64)
    check_training_work(config, len(Points.article()))
    with pytest.raises(bnn.ConfigError):
        check_training_work(config.replace(epochs=most + 1), len(Points.article()))


# ---- the visitor's text is shown as typed, never as Markdown ---------------------------------------------
HOSTILE_LINK = {"epochs": "[CLICK](https://evil.example/x)", "lr": "![t](http://host/track.png)", "__proto__": "1"}


def as_html(markdown: str) -> str:
    return markdown_it.MarkdownIt("commonmark").render(markdown)


def test_a_hostile_link_is_quoted_literally_in_its_warning() -> None:
    at = main_page(HOSTILE_LINK)
    assert not at.exception
    [warning] = at.warning
    html = as_html(warning.value)
    assert "<a" not in html and "<img" not in html and "<strong>" not in html and "<em>" not in html
    assert html.count("<li>") == 3  # the app's own list of problems is still a list
    text = rendered(warning.value)
    for shown in ("epochs='[CLICK](https://evil.example/x)'", "lr='![t](http://host/track.png)'", "'__proto__'"):
        assert shown in text, text
    assert shown_config(at) == bnn.Config()  # the defaults stood in


def test_a_formula_is_quoted_literally_in_its_message() -> None:
    at = main_page()
    at.selectbox(key="function").set_value("formula").run()
    at.text_input(key="expression").set_value("x**x**x**x").run()
    at.button(key="generate").click().run()  # x^x is undefined for negative x: refused, quoting the formula
    [message] = [e.value for e in at.error]
    assert "'x**x**x**x' is not a number" in rendered(message)
    assert "<strong>" not in as_html(message) and "<em>" not in as_html(message)


def test_an_uploaded_file_name_and_its_cells_are_quoted_literally() -> None:
    at = main_page()
    name = "[pts](https://evil.example).csv"
    at.file_uploader(key="upload").upload(name, b"x,y\n**1**,2\n", "text/csv").run()
    [message] = [e.value for e in at.error]
    assert "<a" not in as_html(message) and "<strong>" not in as_html(message)
    assert rendered(message).startswith(f"{name}: row 1, x: '**1**' is not a number")


# ---- formulas, the true function, CSV separators, the pin table -----------------------------------------
def test_a_formula_over_the_length_cap_is_refused_and_the_last_good_one_stays() -> None:
    at = main_page()
    at.selectbox(key="function").set_value("formula").run()
    at.text_input(key="expression").set_value("2*x + 1").run()
    assert at.query_params["expr"] == "2*x + 1" and "true function" in band_traces(at)
    long = "x + 0." + "0" * 240 + "1"  # a good formula of 247 characters: a max_chars box would cut it silently
    at.text_input(key="expression").set_value(long).run()
    assert not at.exception
    [message] = errors(at)
    assert "the formula is 247 characters long; at most 200 are allowed here" in message
    assert "stays f(x) = 2*x + 1" in message
    assert at.query_params["expr"] == "2*x + 1"  # the last good formula is still the true function...
    truth = band_traces(at)["true function"]
    np.testing.assert_allclose(truth["y"], 2 * np.linspace(-5, 5, LIMITS.grid) + 1)  # ...and it is drawn
    assert at.text_input(key="expression").value == long  # the visitor's text stays in the box


def test_a_true_function_that_overflows_says_where_it_is_not_drawn() -> None:
    at = main_page({"expr": "exp(x)", "xmin": "-1000", "xmax": "1000"})
    assert not at.exception and not errors(at)
    note = next(c for c in captions(at) if c.startswith("The true function is not drawn"))
    # exp overflows past x = 709.8; the grid's points are 1000/49.5 = 20.2 apart
    assert "undefined or infinite for x in [717.2, 1000]" in note and "beyond ±1e6 for x in [30.3, 697]" in note
    truth = band_traces(at)["true function"]["y"]
    grid = np.linspace(-1000, 1000, LIMITS.grid)
    drawn = grid < 14  # exp(x) <= 1e6 for x <= 13.8
    np.testing.assert_array_equal(truth[drawn], np.exp(grid[drawn]).astype(np.float32))  # as the chart's float32
    assert np.isnan(truth[~drawn]).all()


def test_a_semicolon_csv_is_read_and_a_decimal_comma_gets_a_hint() -> None:
    at = main_page()
    at.file_uploader(key="upload").upload("mine.csv", b"x;y\n0.5;1\n1;2\n", "text/csv").run()
    assert not errors(at) and at.session_state["points"].x.tolist() == [0.5, 1.0]
    at.file_uploader(key="upload").upload("comma.csv", b"x;y\n0,5;1\n", "text/csv").run()
    assert any("row 1, x: '0,5' is not a number: write 0.5" in e for e in errors(at)), errors(at)
    assert at.session_state["points"].x.tolist() == [0.5, 1.0]  # the last good points stay


def test_the_pin_table_shows_a_dash_for_a_region_the_view_does_not_reach() -> None:
    at = main_page({"xmin": "-2", "xmax": "2"})  # the article's points span [-2, 2]: nothing is far from them
    at.button(key="pin").click().run()
    element = next(d for d in at.dataframe if d.value.index.name == "metric")
    assert np.isnan(element.value.loc["epistemic std far from the data", "pinned"])
    assert element.proto.placeholder == "—"  # Streamlit would print "None" in the cell


# ---- downloads -------------------------------------------------------------------------------------
class RecordingStorage(app_test_module.MemoryMediaFileStorage):
    """AppTest's in-memory media store, remembered so a test can read what a download holds."""

    last: RecordingStorage | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        RecordingStorage.last = self


def download_bytes(at: AppTest, key: str) -> bytes:
    url = at.download_button(key=key).proto.url
    assert RecordingStorage.last is not None
    return RecordingStorage.last.get_file(url.rsplit("/", 1)[-1]).content


def test_downloads_hold_the_engines_columns_the_config_and_the_points(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)
    at = main_page()
    table = pd.read_csv(io.BytesIO(download_bytes(at, "download_predictions")))
    assert list(table.columns) == ["x", *SUMMARY_COLUMNS]
    assert len(table) == LIMITS.grid == 100  # the article's plot: 100 points on [-5, 5]
    assert table["x"].iloc[0] == -5.0 and table["x"].iloc[-1] == 5.0
    # the same numbers as the engine's own predict on the same grid (same seed, same draws)
    fitted = at.session_state[SHOWN].fitted
    direct = bnn.predict(fitted, np.linspace(-5, 5, 100), samples=100, level=0.95)
    np.testing.assert_allclose(table.to_numpy(), direct.to_numpy(), rtol=1e-9, atol=1e-12)
    assert bnn.Config.from_json(download_bytes(at, "download_config").decode()) == bnn.Config()
    assert download_bytes(at, "download_points").decode().startswith("x,y\n-2,-3\n-1.8,0.2224\n")


def test_scientific_notation_in_the_table_is_read_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_test_module, "MemoryMediaFileStorage", RecordingStorage)
    at = main_page()
    at.session_state["points_editor"] = {"edited_rows": {0: {"x": "1e-3"}, 1: {"y": "2.5E1"}},
                                         "added_rows": [{"x": "-4.5e0", "y": "+.5"}], "deleted_rows": []}
    at.run()
    assert not errors(at)
    points = at.session_state["points"]
    assert points.x[0] == np.float32(1e-3) and points.y[1] == 25.0 and (points.x[-1], points.y[-1]) == (-4.5, 0.5)
    assert points.y[0] == -3.0 and points.x[1] == np.float32(-1.8)  # the row's other cell keeps its value
    csv = download_bytes(at, "download_points").decode().splitlines()
    assert csv[1] == "0.001,-3" and csv[2] == "-1.8,25" and csv[-1] == "-4.5,0.5"


def test_model_file_download_loads_back(tmp_path: Path) -> None:
    from dashboard.result import model_bytes

    x, y = bnn.toys.article_points()
    fitted = bnn.fit(x, y, bnn.Config(epochs=20))
    target = tmp_path / "model.pt"
    target.write_bytes(model_bytes(fitted))
    loaded = bnn.load(target)
    assert loaded.config == fitted.config
    assert np.array_equal(bnn.sample_functions(loaded, [0.5], 10), bnn.sample_functions(fitted, [0.5], 10))


# ---- the other pages ---------------------------------------------------------------------------------
def test_how_it_works_renders_its_formulas() -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "1_How_it_works.py"), default_timeout=TIMEOUT).run()
    assert not at.exception and len(at.latex) >= 6
    assert any("Blundell" in m.value for m in at.markdown)


def test_posterior_page_on_a_fresh_session_fits_and_shows_the_weights() -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "2_Posterior.py"), default_timeout=TIMEOUT).run()
    assert not at.exception and not errors(at)
    assert [m.value for m in at.metric][:2] == ["97", "10"]  # 1-32-1: 97 weights; the article's prior
    table = at.dataframe[0].value
    assert table["count"].sum() == 97
    at.selectbox(key="posterior_group").set_value("layer 2 weights").run()
    assert not at.exception


POSTERIOR = "pages/2_Posterior.py"


def test_every_page_shows_the_fit_of_the_links_state() -> None:
    """A page reached from the main page shows the same fit as the page opened by its URL in a new
    session (a reload): the fit of the link's settings, not an older fit still on the main page."""
    at = main_page()
    at.toggle(key="live_mode").set_value(False)
    at.number_input(key="seed").set_value(5).run()  # not trained: the main page keeps the older band
    assert shown_config(at).seed == 0 and at.query_params == {"seed": "5"}
    at.switch_page(POSTERIOR).run()
    assert not at.exception and not errors(at)
    assert shown_config(at) == bnn.Config(seed=5)  # the link's fit, trained now
    assert any("1-32-1 sigmoid net" in c and "seed 5, 6 points" in c for c in captions(at))
    reloaded = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    reloaded.query_params.update(at.query_params)
    reloaded.switch_page(POSTERIOR).run()
    assert [m.value for m in reloaded.metric] == [m.value for m in at.metric]  # the same numbers
    assert reloaded.session_state[SHOWN].fitted is at.session_state[SHOWN].fitted  # the server's cached fit
    at.switch_page("app.py").run()  # and back on the main page, that fit is the current one
    assert shown_config(at) == bnn.Config(seed=5) and any("Trained 2,000 epochs" in c for c in captions(at))
    assert not at.info and at.query_params == {"seed": "5"}


def test_a_session_that_starts_on_another_page_keeps_the_links_state() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.query_params.update({"act": "tanh", "epochs": "300"})
    at.switch_page(POSTERIOR).run()
    assert shown_config(at) == bnn.Config(activation="tanh", epochs=300)
    assert any("1-32-1 tanh net" in c and "300 epochs" in c for c in captions(at))
    at.switch_page("app.py").run()
    assert at.selectbox(key="activation").value == "tanh" and at.number_input(key="epochs").value == 300
    assert shown_config(at) == bnn.Config(activation="tanh", epochs=300) and not at.info


def test_posterior_page_warns_when_sigma_collapses() -> None:
    at = AppTest.from_file(str(ROOT / "pages" / "2_Posterior.py"), default_timeout=TIMEOUT)
    x, y = bnn.toys.article_points()
    fitted = bnn.fit(x, y, bnn.Config(epochs=5))
    with bnn.train.torch.no_grad():
        fitted.model.posterior.rho.fill_(-20.0)  # sigma = softplus(-20) ~ 2e-9: collapsed
    from dashboard.live import Shown

    at.session_state[SHOWN] = Shown(runner.key_of(AppState()), fitted, AppState())
    at.run()
    assert any("close to a single network" in w for w in warnings(at))


# ---- the code --------------------------------------------------------------------------------------------
def test_dashboard_modules_import_at_the_top_only() -> None:
    """An import inside a function hides a dependency and pays for it on a visitor's click."""
    for path in sorted((ROOT / "dashboard").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not inner, f"{path.relative_to(ROOT)}: {node.name} imports inside its body"


# ---- the runner: cache, interruption, concurrency ------------------------------------------------------
class Interrupt(BaseException):
    """Stands in for Streamlit's RerunException, which is a BaseException too."""


def test_an_interrupted_run_never_enters_the_cache_and_frees_its_slot() -> None:
    cache = runner.FitCache(4)
    state = AppState(config=bnn.Config(epochs=200, seed=11))

    def interrupt(progress: bnn.Progress) -> None:
        if progress.epoch >= 50:
            raise Interrupt

    for _ in range(runner.MAX_CONCURRENT + 1):  # a leaked slot would block the last attempt
        with pytest.raises(Interrupt):
            runner.train(state, on_progress=interrupt, cache=cache)
    assert len(cache) == 0
    fitted = runner.train(state, cache=cache)
    assert runner.train(state, cache=cache) is fitted  # the finished one is cached


def test_cache_is_a_bounded_lru() -> None:
    cache = runner.FitCache(2)
    a, b, c = (("a", b""), ("b", b""), ("c", b""))
    cache.put(a, "A")  # type: ignore[arg-type]
    cache.put(b, "B")  # type: ignore[arg-type]
    assert cache.get(a) == "A"  # a is now the most recent
    cache.put(c, "C")  # type: ignore[arg-type]
    assert cache.get(b) is None and cache.get(a) == "A" and len(cache) == 2


def test_no_points_shows_the_prior_on_the_main_page_and_a_hint_on_the_others() -> None:
    from dashboard.model.link import encode_points
    query = {"pts": encode_points(Points.none())}
    at = main_page(query)
    assert not at.exception and not errors(at) and len(at.session_state["points"]) == 0
    assert any("No points: the chart shows the prior" in i.value for i in at.info)
    assert SHOWN not in at.session_state  # nothing trained
    assert len(editor_points(at)) == 0
    mean = band_traces(at)["predictive mean"]["y"]
    prior = bnn.prior(bnn.Config()).predict(np.linspace(-5, 5, LIMITS.grid), samples=100)
    np.testing.assert_array_equal(mean, prior["mean"].to_numpy().astype(np.float32))  # the prior's band, as drawn
    posterior = AppTest.from_file(str(ROOT / POSTERIOR), default_timeout=TIMEOUT)
    posterior.query_params.update(query)
    posterior.run()
    assert not posterior.exception and not errors(posterior)
    assert any("no points yet" in i.value for i in posterior.info)
    compare = AppTest.from_file(str(ROOT / "pages" / "4_Compare.py"), default_timeout=TIMEOUT)
    compare.query_params.update(query)
    compare.run()
    assert not compare.exception and not compare.button and any("no points yet" in i.value for i in compare.info)

"""The Classify page under AppTest: its first load, presets, settings reaching bnn, the link's c_ keys,
bad values, live mode off, and the budget. (AppTest does not run the canvas's JavaScript: clicks on
the canvas are tested in the browser, tests/e2e/test_e2e_classify.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from page_markdown import rendered
from streamlit.testing.v1 import AppTest

import bnn
from dashboard.model import classify_state as cs

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "5_Classify.py")
TIMEOUT = 120


def page(query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.run()


def shown(at: AppTest) -> tuple[bnn.Fitted, cs.ClassifyState]:
    _, fitted, state = at.session_state["classify_shown"]
    return fitted, state


def canvas(at: AppTest) -> dict:
    [editor] = [el for el in at.get("bidi_component") if el.proto.component_name.endswith("point_editor")]
    return json.loads(editor.proto.json)


def texts(at: AppTest, kind: str) -> list[str]:
    return [rendered(e.value) for e in getattr(at, kind)]


def test_first_load_trains_the_blobs_and_shows_three_maps():
    at = page()
    assert not at.exception and not texts(at, "error")
    fitted, state = shown(at)
    assert state == cs.ClassifyState() and fitted.config == cs.default_config(2)
    assert any("Trained 600 epochs on 200 points" in s for s in texts(at, "success"))
    data = canvas(at)
    assert [c["name"] for c in data["classes"]] == ["class 0", "class 1"]
    assert data["labels"] == cs.ClassifyState().points.labels.tolist()
    specs = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    titles = {a["text"] for layout in specs for a in layout.get("annotations", [])}
    assert {"Predicted class (pale: unsure)", "Aleatoric (expected entropy)",
            "Epistemic (mutual information)"} <= titles
    assert not {k for k in at.query_params if k.startswith("c_")}  # the defaults travel as nothing


def test_a_preset_sets_points_settings_and_link():
    at = page()
    at.button(key="cls_preset_spiral").click().run()
    assert not at.exception
    fitted, state = shown(at)
    assert state == cs.PRESETS["spiral"].state() and fitted.config.classes == 3 and fitted.config.epochs == 3000
    assert at.number_input(key="cls_classes").value == 3 and at.number_input(key="cls_epochs").value == 3000
    assert cs.decode(dict(at.query_params)).state == state
    assert at.button(key="cls_preset_spiral").proto.type == "primary"


def test_settings_reach_bnn_and_the_link():
    at = page()
    at.number_input(key="cls_epochs").set_value(150)
    at.slider(key="cls_layers").set_value(1)
    at.number_input(key="cls_units_1").set_value(8)
    at.selectbox(key="cls_activation").set_value("tanh").run()
    fitted, state = shown(at)
    assert (fitted.config.epochs, fitted.config.hidden, fitted.config.activation) == (150, (8,), "tanh")
    assert at.query_params["c_epochs"] == ["150"] or at.query_params["c_epochs"] == "150"
    reopened = page({k: v if isinstance(v, str) else v[-1] for k, v in at.query_params.items()})
    assert shown(reopened)[1] == state  # the link reproduces the page's state


def test_a_link_with_bad_c_values_names_them_and_uses_defaults():
    at = page({"c_epochs": "-5", "c_pts": "%%%"})
    assert not at.exception
    warned = " ".join(texts(at, "warning"))
    assert "c_epochs" in warned and "Classify points could not be read" in warned
    assert shown(at)[1] == cs.ClassifyState()


def test_a_bad_square_gets_a_message_and_keeps_the_last_good_state():
    at = page()
    at.number_input(key="cls_low").set_value(5.0).run()
    assert not at.exception
    assert any("from low to high" in e for e in texts(at, "error"))
    assert at.session_state["classify_state"].square == cs.Square()
    assert at.get("plotly_chart")  # the maps of the last good state stay


def test_fewer_classes_than_the_points_hold_is_refused():
    at = page()
    at.button(key="cls_preset_spiral").click().run()
    at.number_input(key="cls_classes").set_value(2).run()
    assert any("only 2 classes" in e for e in texts(at, "error"))
    assert at.session_state["classify_state"].classes == 3


def test_live_off_waits_for_train():
    at = page()
    at.toggle(key="classify_live").set_value(False).run()
    at.number_input(key="cls_epochs").set_value(120).run()
    assert shown(at)[1].config.epochs == 600  # not trained yet
    assert any("Press **Train**" in i.value for i in at.info)
    at.button(key="classify_train").click().run()
    assert shown(at)[1].config.epochs == 120


def test_a_run_over_the_budget_is_refused_at_once():
    at = page()
    at.toggle(key="classify_live").set_value(False)
    at.slider(key="cls_layers").set_value(3).run()
    at.toggle(key="classify_live").set_value(True)
    for k in (1, 2, 3):
        at.number_input(key=f"cls_units_{k}").set_value(256)
    at.number_input(key="cls_mc").set_value(64)
    at.number_input(key="cls_epochs").set_value(20_000).run()
    assert not at.exception
    assert any("Not trained: this run is about" in e for e in texts(at, "error"))
    assert shown(at)[1].config.epochs == 600  # the last fit stays on screen


def test_clear_all_points_leaves_an_empty_canvas_and_a_hint():
    at = page()
    at.button(key="cls_clear").click().run()
    assert not at.exception
    assert canvas(at)["labels"] == []
    assert any("No points yet" in i.value for i in at.info)
    assert "c_pts" in at.query_params
    assert np.array_equal(cs.decode(dict(at.query_params)).state.points.x, np.empty((0, 2)))


def test_the_hmc_reference_is_sampled_on_demand_and_cached():
    def certificate_shown(at: AppTest) -> bool:
        return any("HMC, 8 chains × 300 draws: " in c for c in texts(at, "caption"))

    at = page()
    assert not certificate_shown(at)  # nothing until asked
    at.button(key="classify_reference").click().run()
    assert not at.exception and not texts(at, "error") and certificate_shown(at)
    charts = [json.loads(c.proto.spec)["layout"] for c in at.get("plotly_chart")]
    assert sum(1 for layout in charts if "annotations" in layout) == 2  # the page's maps and the reference's
    assert certificate_shown(page())  # another session: the cached reference shows at once, without the button

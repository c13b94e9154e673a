"""The Your data page with a target treated as classes, under AppTest."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
from page_markdown import markdown_shown, rendered
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "3_Your_data.py")
HOSTILE = ['=HYPERLINK("x")', "**bold**", "<img src=x>"]  # a formula, Markdown, HTML


def sectors_csv(n: int = 150, names: list[str] | None = None, seed: int = 0) -> bytes:
    """Inputs a, b; 'kind' by which of three sectors (a, b) lies in; 'grade' the same as 0, 1, 2."""
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(-2, 2, n), rng.uniform(-2, 2, n)
    k = np.where(a + b > 0.5, 0, np.where(a - b > 0, 1, 2))
    names = names or ["cat", "dog", "eel"]
    return pd.DataFrame({"a": a, "b": b, "grade": k, "kind": [names[i] for i in k]}).to_csv(index=False).encode()


def upload(data: bytes, name: str = "animals.csv") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.run()
    at.file_uploader(key="yd_upload").set_value((name, data, "text/csv")).run()
    at.number_input(key="yd_steps").set_value(400)
    return at


def captions(at: AppTest) -> str:
    return " ".join(rendered(c.value) for c in at.caption)


def test_a_text_target_is_taken_as_classes_and_trained() -> None:
    at = upload(sectors_csv())
    assert at.selectbox(key="yd_target").value == "kind"  # the last column, a label
    assert at.checkbox(key="yd_classes").value  # text: classes is the default
    assert at.multiselect(key="yd_inputs").value == ["a", "b", "grade"]
    assert "it holds text, so it can only be predicted as classes" in captions(at)
    assert "3 classes, in this order: cat, dog, eel" in captions(at)
    at.multiselect(key="yd_inputs").set_value(["a", "b"])
    at.button(key="yd_train").click().run()
    assert not at.exception and not at.error
    assert [m.label for m in at.metric] == ["accuracy", "NLL", "Brier score", "ECE"]
    assert float(at.metric[0].value.rstrip("%")) >= 80  # three separable sectors (measured 90.0 % of 30)
    assert "animals.csv: kind from a, b · 3 classes" in rendered(at.subheader[0].value)
    assert len(at.get("plotly_chart")) == 2 and len(at.get("download_button")) == 1
    # Unticked: regression on text is refused with a message, and the last result stays.
    at.checkbox(key="yd_classes").uncheck()
    at.button(key="yd_train").click().run()
    assert "a text target can only be predicted as classes" in rendered(at.error[0].value)
    assert [m.label for m in at.metric][:1] == ["accuracy"] and not at.exception


def test_few_whole_numbers_may_be_classes_or_a_number() -> None:
    at = upload(sectors_csv())
    at.selectbox(key="yd_target").set_value("grade").run()
    assert not at.checkbox(key="yd_classes").value  # numbers: regression is the default
    assert "it holds whole numbers of 3 different values: predict them as classes, or as a number" in captions(at)
    at.multiselect(key="yd_inputs").set_value(["a", "b"])
    at.checkbox(key="yd_classes").check().run()
    assert "3 classes, in this order: 0, 1, 2" in captions(at)
    at.button(key="yd_train").click().run()
    assert not at.exception and not at.error and at.metric[0].label == "accuracy"
    at.selectbox(key="yd_target").set_value("a").run()  # a real number: no box
    assert len(at.checkbox) == 0


def test_too_many_classes_are_named_before_training() -> None:
    rows = ["a,id"] + [f"{i},r{i}" for i in range(30)]
    at = upload("\n".join(rows).encode())
    assert at.selectbox(key="yd_target").value == "a"  # 30 classes: not a default target
    at.selectbox(key="yd_target").set_value("id").run()
    assert at.checkbox(key="yd_classes").value
    assert "as classes: column 'id' has 30 different values; at most 20 classes are allowed." in captions(at)
    at.button(key="yd_train").click().run()
    assert len(at.error) == 1 and "at most 20 classes" in rendered(at.error[0].value) and not at.exception


def test_bad_class_choices_get_one_message_and_the_last_result_stays() -> None:
    at = upload(sectors_csv(60))
    at.selectbox(key="yd_target").set_value("kind").run()
    at.multiselect(key="yd_inputs").set_value(["a", "b"])
    at.button(key="yd_train").click().run()
    assert not at.error and at.metric[0].label == "accuracy"
    rows = ["a,b,kind"] + [f"{i},{i % 7},{'x' if i == 0 else 'yz'[i % 2]}" for i in range(40)]
    at.file_uploader(key="yd_upload").set_value(("rare.csv", "\n".join(rows).encode(), "text/csv")).run()
    at.selectbox(key="yd_target").set_value("kind").run()
    at.button(key="yd_train").click().run()
    assert len(at.error) == 1 and "class 'x' of 'kind' has only 1 row" in rendered(at.error[0].value)
    assert at.metric[0].label == "accuracy" and not at.exception  # the last good result


def test_hostile_class_names_show_as_typed_and_are_neutralised_in_the_download() -> None:
    at = upload(sectors_csv(names=HOSTILE), name="<b>x</b>.csv")
    at.selectbox(key="yd_target").set_value("kind").run()
    at.multiselect(key="yd_inputs").set_value(["a", "b"])
    at.button(key="yd_train").click().run()
    assert not at.exception and not at.error
    shown = " ".join(rendered(m) for m in markdown_shown(at))  # fails on any link or image
    assert "3 classes, in this order: **bold**, <img src=x>, =HYPERLINK(\"x\")." in shown
    assert "in the order **bold**, <img src=x>, =HYPERLINK(\"x\")" in shown
    charts = at.get("plotly_chart")
    assert '&lt;img src=x&gt;' in charts[1].proto.spec and "<img src=x>" not in charts[1].proto.spec
    text = _download(at)
    cells = list(csv.reader(io.StringIO(text)))
    names = {c for line in cells[1:] for c in line[3:5]}  # the true and predicted class names
    assert names == {"**bold**", "<img src=x>", "'=HYPERLINK(\"x\")"}


def _download(at: AppTest) -> str:
    """The download button's CSV: AppTest keeps only its media URL, whose id is Streamlit's hash of the
    bytes (a private helper of the pinned version), so the CSV the model writes for the session's result
    is checked to be the one the button serves."""
    from streamlit.runtime.memory_media_file_storage import _calculate_file_id

    from dashboard.model import your_data_classes as C

    experiment, _ = at.session_state["yd_result"]
    data = C.predictions_csv(experiment)
    url = at.get("download_button")[0].proto.url
    assert Path(url).stem == _calculate_file_id(data, "text/csv", "predictions.csv")
    return data.decode()

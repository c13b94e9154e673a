"""The Compare page under AppTest, and its figure builder.

The page fits nothing until Run; the tests pick small settings through the widgets'
keys so that a run takes a few seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from page_markdown import markdown_shown, rendered
from streamlit.testing.v1 import AppTest

from bnn import methods, toys
from bnn.errors import BNNError
from dashboard.figures import compare as compare_plots

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "4_Compare.py")
TIMEOUT = 180
SMALL = {"cmp_ens_members": 3, "cmp_ens_epochs": 300, "cmp_dropout_epochs": 300, "cmp_lap_epochs": 300,
         "cmp_hmc_chains": 8, "cmp_hmc_warmup": 40, "cmp_hmc_draws": 20, "cmp_hmc_steps": 10}


def page(methods: list[str], source: str = "article") -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["cmp_methods"] = methods
    at.session_state["cmp_source"] = source
    for key, value in SMALL.items():
        at.session_state[key] = value
    return at.run()


def test_nothing_runs_until_asked():
    at = page(["ensemble"], source="gap")  # a setting no other test fits, so the shared cache is empty for it
    at.session_state["cmp_ens_members"] = 4
    at.run()
    assert not at.exception and not at.error
    assert any("Press **Run** to fit: Deep ensemble" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_run_fits_each_method_and_shows_bands_and_scores():
    at = page(["ensemble", "dropout", "laplace", "hmc"])
    at.button(key="cmp_run").click().run()
    assert not at.exception and not at.error
    scores = at.dataframe[0].value
    assert list(scores.index) == ["Deep ensemble", "MC dropout", "Laplace (GGN)", "HMC (reference)"]
    assert (scores["wall time (s)"] > 0).all()
    # the article's points have a gap (-1, 1) and a true function: every score is a number
    assert np.isfinite(scores.to_numpy(dtype=float)).all()
    assert any("HMC: 8 chains × 20 draws" in c.value for c in at.caption)
    # each method's distance to the reference: 0 for HMC itself, above 0 for the others
    distance = scores["distance to HMC"]
    assert distance["HMC (reference)"] == 0 and (distance.drop("HMC (reference)") > 0).all()
    assert at.radio(key="cmp_layout").value == "small multiples"  # the default: no band swamps the others
    # switching to overlaid redraws from the cache, no new fit
    at.radio(key="cmp_layout").set_value("overlaid").run()
    assert not at.exception and at.get("plotly_chart")
    assert not at.info  # nothing left to run


def test_gap_preset_and_a_method_without_a_true_function_score():
    at = page(["ensemble"], source="gap")
    at.button(key="cmp_run").click().run()
    assert not at.exception and not at.error
    scores = at.dataframe[0].value
    # the ensemble's members disagree between the clusters (Foong et al. 2019)
    assert scores.loc["Deep ensemble", "gap score"] > 2


def _table(offset: float) -> pd.DataFrame:
    x = np.linspace(-3, 3, 7)
    return pd.DataFrame({"x": x, "mean": x + offset, "f_lower": x + offset - 1, "f_upper": x + offset + 1,
                         "lower": x + offset - 2, "upper": x + offset + 2})


@pytest.mark.parametrize("overlay", [True, False])
def test_comparison_figure_has_a_band_per_method_and_the_context(overlay):
    tables = {"bbb": _table(0.0), "hmc": _table(1.0)}
    x, y = toys.article_points()
    fig = compare_plots.comparison_figure(tables, {"bbb": "BBB", "hmc": "HMC"}, (x, y),
                                          truth=tables["bbb"]["x"].to_numpy() ** 2, band="f", overlay=overlay)
    names = [t.name for t in fig.data]
    assert names.count("BBB") == 1 and names.count("HMC") == 1
    assert names.count("points") == (1 if overlay else 2)  # each small multiple shows the points
    means = [t for t in fig.data if t.name == "HMC"]
    np.testing.assert_allclose(means[0].y, tables["hmc"]["mean"])


def test_y_range_is_shared_and_clipped_to_the_data_scale():
    wide = _table(0.0)
    wide["f_lower"], wide["f_upper"] = -1000.0, 1000.0
    low, high = compare_plots.y_range({"a": wide}, (np.array([0.0]), np.array([0.0])), None)
    # data and means span -3..3 (spread 6): the band is cut 3 spreads beyond, plus 5 % padding
    assert low == pytest.approx(-21 - 0.05 * 42) and high == pytest.approx(21 + 0.05 * 42)


def test_a_refused_method_says_why_and_the_others_still_run():
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.session_state["cmp_source"] = "main"
    at.query_params["learn_noise"] = "true"  # the main page's link: a learned noise, which HMC refuses
    at.session_state["cmp_methods"] = ["ensemble", "hmc"]
    for key, value in SMALL.items():
        at.session_state[key] = value
    at.run()
    at.button(key="cmp_run").click().run()
    assert not at.exception
    assert any("HMC (reference) was not fitted" in e.value and "fixed noise" in e.value for e in at.error)
    assert list(at.dataframe[0].value.index) == ["Deep ensemble"]


def test_a_refusal_quoting_user_text_shows_it_as_typed(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error of a fit may quote the visitor's text (the main page's link carries a formula): the
    page shows it literally, never as a link or an image fetched from elsewhere."""
    quoted = "[x](https://evil.example) ![t](http://host/t.png) **bold**"

    def refuse(*args: object, **kwargs: object) -> None:
        raise BNNError(f"cannot use {quoted}")

    monkeypatch.setattr(methods, "fit_method", refuse)  # AppTest runs the page in this process
    at = page(["ensemble"])
    at.session_state["cmp_ens_members"] = 5  # a setting no other test fits, so nothing comes from the cache
    at.run()
    at.button(key="cmp_run").click().run()
    assert not at.exception
    assert f"Deep ensemble was not fitted: cannot use {quoted}" in rendered(at.error[0].value)
    shown = markdown_shown(at)
    assert len(shown) > 10  # the walk found the page's elements (a walk finding none would pass)
    for markdown in shown:
        rendered(markdown)


def test_the_main_pages_source_is_the_links_state() -> None:
    """The Compare page's "main page" points and model are those of the link, even before the main
    page has trained them."""
    at = AppTest.from_file(str(Path(PAGE).parents[1] / "app.py"), default_timeout=TIMEOUT).run()
    at.number_input(key="seed").set_value(4).run()  # not trained on the main page
    at.switch_page("pages/4_Compare.py")
    at.session_state["cmp_methods"] = ["bbb"]
    at.run()
    assert not at.exception and at.radio(key="cmp_source").value == "main"
    shown = [rendered(c.value) for c in at.caption]
    assert any("1-32-1 sigmoid net" in c and "seed 4, 6 points" in c for c in shown), shown


def test_every_registered_method_has_its_settings_and_the_default_selection_opens() -> None:
    # a method registered without its own widgets once fell through to HMC's (a duplicate key)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception and not at.error
    assert set(at.multiselect(key="cmp_methods").value) == {"bbb", "dropout", "ensemble", "laplace", "gp", "hmc"}
    at.multiselect(key="cmp_methods").set_value(methods.names()).run()
    assert not at.exception and not at.error


def test_gp_and_full_covariance_vi_run_on_the_page():
    at = page(["gp", "fullcov"])
    at.session_state["cmp_fullcov_epochs"] = 200
    at.session_state["cmp_fullcov_rank"] = 4
    at.run()
    at.button(key="cmp_run").click().run()
    assert not at.exception and not at.error
    scores = at.dataframe[0].value
    assert set(scores.index) == {methods.get("gp").label, methods.get("fullcov").label}
    assert np.isfinite(scores["wall time (s)"].to_numpy(dtype=float)).all()


def test_a_heteroscedastic_main_page_is_compared_and_the_refusing_methods_say_why():
    """The main page's link asks for a noise that depends on x: the ensemble fits it (its scores use each
    draw's sigma(x)), Laplace and the GP refuse with their reason, and the page keeps working."""
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["noise_model"] = "heteroscedastic"
    at.session_state["cmp_methods"] = ["ensemble", "laplace"]
    at.session_state["cmp_ens_members"] = 3
    at.session_state["cmp_ens_epochs"] = 300
    at.run()
    at.button(key="cmp_run").click().run()
    assert not at.exception
    assert any("Laplace (GGN) was not fitted" in e.value and "heteroscedastic" in e.value for e in at.error)
    scores = at.dataframe[0].value
    assert list(scores.index) == ["Deep ensemble"] and np.isfinite(scores.loc["Deep ensemble", "held-out log-lik"])

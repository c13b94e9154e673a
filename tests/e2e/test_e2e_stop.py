"""Stop in a browser: the partly trained fit stays on screen, labelled "stopped at epoch k (not cached,
not in the link)", is the engine's fit stopped after the same epoch, and a button goes back to the
last finished fit."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import stdriver
from playwright.sync_api import Page, expect

import bnn
from dashboard.model import runner
from dashboard.model.link import AppState, encode

pytestmark = pytest.mark.browser

EPOCHS = 20_000  # the cap; with stdriver.make_heavy's network about 18 s alone, long enough to press Stop


def _loss_epochs(page: Page) -> np.ndarray:
    index = page.locator(".js-plotly-plot").evaluate_all(
        "els => els.findIndex(e => e.closest('.st-key-loss_chart') !== null)")
    total = next(t for t in stdriver.plot_traces(page, index) if t["name"] == "total (negative ELBO)")
    return total["x"]


def test_stop_keeps_the_partial_fit_labelled_with_a_way_back(app: Page, screenshot) -> None:
    stdriver.live_off(app)  # Train trains
    stdriver.make_heavy(app)
    stdriver.set_number(app, "epochs", EPOCHS)
    # The last finished fit: the article's, or, when an earlier test on this server trained the heavy
    # network's settings, that cached fit, which the page took up on the way (a suite run had it so)
    finished = stdriver.read_band(app)
    stdriver.click(app, "train")
    expect(app.get_by_text(re.compile(r"Training… epoch [\d,]+ of 20,000"))).to_be_visible()
    # a live frame drawn into the editor
    expect(app.locator(stdriver.BAND_CHART).locator(".gtitle")).to_contain_text("during training: epoch")
    stdriver.rerun_after(app, lambda: stdriver.click(app, "stop"))

    info = app.get_by_test_id("stAlert").filter(has_text="Training stopped at epoch")
    expect(info).to_be_visible()
    found = re.search(r"stopped at epoch ([\d,]+) of 20,000 \(not cached, not in the link\)", info.inner_text())
    assert found, info.inner_text()
    epoch = int(found.group(1).replace(",", ""))
    assert 0 < epoch < EPOCHS
    title = stdriver.wait_for_band_title(app, lambda t: t.startswith("stopped at epoch"))
    assert title == f"stopped at epoch {epoch:,} (not cached, not in the link)"
    assert _loss_epochs(app)[-1] == epoch  # the loss curve ends where the run stopped
    state = AppState(config=bnn.Config(hidden=stdriver.HEAVY_HIDDEN, epochs=EPOCHS))
    assert parse_qs(urlsplit(app.url).query) == {k: [v] for k, v in encode(state).params.items()}  # settings only
    # The oracle: the engine's run of these settings stopped after the same epoch draws the same band
    # (same seed and float32 points; 1e-5 covers float32 summation order, as in test_e2e_band).
    partial = bnn.fit(state.points.x, state.points.y, state.config, callback=lambda p: p.epoch >= epoch,
                      callback_every=runner.callback_every(state))
    band = stdriver.read_band(app)
    expected = bnn.predict(partial, band.x)
    np.testing.assert_allclose(band.mean, expected["mean"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(band.upper, expected["f_upper"], rtol=1e-5, atol=1e-5)
    assert not np.allclose(band.mean, finished.mean)
    screenshot(app, "stopped")

    stdriver.rerun_after(app, lambda: stdriver.click(app, "back_to_finished"))
    expect(app.get_by_text("The band is the last finished fit")).to_be_visible()
    stdriver.wait_for_band_title(app, lambda title: "stopped at epoch" not in title)
    np.testing.assert_array_equal(stdriver.read_band(app).mean, finished.mean)
    expect(app.locator(".st-key-back_to_finished")).to_have_count(0)
    assert not stdriver.exception_texts(app)

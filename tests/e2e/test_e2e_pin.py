"""Pin this run: the pinned band stays drawn (grey, dashed mean) through a retrain with another seed,
with a table of the two runs' numbers; Unpin takes it away."""

from __future__ import annotations

import numpy as np
import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def test_pin_change_the_seed_and_retrain_shows_both_bands(app: Page, screenshot) -> None:
    first = stdriver.read_band(app)
    stdriver.rerun_after(app, lambda: stdriver.click(app, "pin"))
    expect(app.get_by_text("The pin lives in this browser tab only")).to_be_visible()
    stdriver.set_number(app, "seed", 7)
    stdriver.rerun_after(app, lambda: stdriver.click(app, "train"))
    expect(app.get_by_text("Trained 2,000 epochs")).to_be_visible()
    second = stdriver.read_band(app)
    assert not np.array_equal(second.mean, first.mean)  # another seed, another band
    traces = {t["name"]: t for t in stdriver.band_traces(app) if (t["name"] or "").startswith("pinned")}
    # the pinned band is the first run's, to the last digit (same fit, same view, same draws)
    np.testing.assert_array_equal(traces["pinned run: mean"]["y"], first.mean)
    np.testing.assert_array_equal(traces["pinned run: 95% interval of f"]["y"], first.upper)
    table = app.locator(".st-key-pin_table").get_by_test_id("stDataFrame")
    expect(table).to_be_visible()
    rows = stdriver.grid_values(table)
    assert [r[0] for r in rows][:2] == ["final loss (negative ELBO)", "noise σ"] and len(rows) == 6
    expect(app.get_by_text("Changed since: seed 0 → 7")).to_be_visible()
    assert not stdriver.exception_texts(app)
    screenshot(app, "pinned-and-current")
    stdriver.rerun_after(app, lambda: stdriver.click(app, "unpin"))
    assert not any((t["name"] or "").startswith("pinned") for t in stdriver.band_traces(app))
    expect(app.locator(".st-key-pin_table")).to_have_count(0)

"""The heteroscedastic noise in a browser: the preset "Noise that grows with x" trains a net whose
noise band follows the scatter, the band pills switch the f, noise and y bands on and off, and
the link carries both; the Posterior page draws σ(x)."""

from __future__ import annotations

import numpy as np
import pytest
import stdriver
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser


def band_widths(page: Page) -> dict[str, np.ndarray]:
    """Each drawn band's width over the grid, by its uid ("band" is the first chosen: the widest)."""
    traces = {t.get("uid"): t for t in stdriver.band_traces(page)}
    out = {}
    for uid in ("band", "band_noise", "band_f"):
        if f"{uid}_hi" in traces:
            out[uid] = np.asarray(traces[f"{uid}_hi"]["y"]) - np.asarray(traces[f"{uid}_lo"]["y"])
    out["x"] = np.asarray(traces["mean"]["x"])
    return out


def test_the_noise_that_grows_with_x(app: Page, screenshot) -> None:
    stdriver.rerun_after(app, lambda: stdriver.click(app, "preset_grows"))
    stdriver.wait_for_band_title(app, lambda title: title == "", timeout_ms=120_000)  # the finished fit
    assert "noise_model=heteroscedastic" in app.url and "band=y-noise-f" in app.url
    widths = band_widths(app)
    x = widths["x"]
    left, right = np.argmin(np.abs(x + 2.5)), np.argmin(np.abs(x - 2.5))
    assert widths["band_noise"][right] > 3 * widths["band_noise"][left]  # the scatter's std: 0.125 -> 0.875
    assert np.all(widths["band"] >= widths["band_noise"] - 1e-6)  # y = f + noise holds the noise alone
    app.mouse.move(700, 5)  # away from the preset button: its tooltip would cover the sidebar
    app.wait_for_timeout(300)
    screenshot(app, "noise-grows")
    # the pills: switch the noise and y bands off; the f band alone is left, and the link says so
    pills = app.locator(".st-key-band button")
    assert [t for t in pills.all_inner_texts() if t] == ["y (total)", "noise (aleatoric)", "f (epistemic)"]
    for label in ("noise (aleatoric)", "y (total)"):
        stdriver.rerun_after(app, lambda label=label: pills.filter(has_text=label).first.click())
    assert "band=" not in app.url, app.url[:300]  # the f band alone is the default: the link leaves it out
    assert set(band_widths(app)) == {"band", "x"}
    assert not stdriver.exception_texts(app)
    # the Posterior page draws sigma(x) with its interval
    app.get_by_role("link", name="Posterior").click()
    stdriver.wait_for_run(app, timeout_ms=120_000)
    expect(app.get_by_text("The noise, as a function of x")).to_be_visible()
    assert not stdriver.exception_texts(app)

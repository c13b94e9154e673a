"""The main page's "Compare with the reference": the reference's band over the band, with the width
ratio and its certification in one line; refused with a reason when it cannot be computed.

The sampler runs short here (8 chains) so that the test takes seconds: what is tested is the page,
not the sampler (tests/bnn/methods/test_reference.py certifies that)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from editor_view import band_traces
from test_app import captions, main_page, rendered

from bnn.methods.hmc import HMCConfig
from dashboard import reference

SHORT = {"chains": 8, "warmup": 60, "draws": 60, "steps": 10}


@pytest.fixture
def short_sampler(monkeypatch: pytest.MonkeyPatch) -> HMCConfig:
    fields = {f.name for f in dataclasses.fields(HMCConfig)}
    settings = HMCConfig(**{k: v for k, v in SHORT.items() if k in fields})
    monkeypatch.setattr(reference, "SETTINGS", settings)
    return settings


def test_the_toggle_overlays_the_reference_and_says_how_much_wider(short_sampler: HMCConfig) -> None:
    at = main_page()
    assert "reference (HMC): 95% interval of f" not in band_traces(at)  # off by default
    at.toggle(key=reference.TOGGLE).set_value(True).run()  # waits for the sampler, then reruns
    assert not at.exception
    traces = band_traces(at)
    label = next(n for n in traces if n.startswith("reference (HMC") and "interval" in n)
    lower, upper = traces[label]["y"], traces[next(k for k, t in traces.items() if t.get("uid") == "reference_hi")]["y"]
    assert (np.asarray(upper) > np.asarray(lower)).all()
    assert "predictive mean" in traces  # the band itself is still there
    lines = [rendered(m.value) for m in [*at.caption, *at.warning]]
    ratio = [float(m.group(1)) for line in lines if (m := re.search(r"band is \*\*([\d.]+)×\*\* as wide", line))]
    # the article's points: the reference is far wider than mean-field VI's band away from the data
    assert ratio and ratio[0] > 2, lines
    # 8 short chains are not a reference: the line says so, and why
    assert any(re.search(r"\*\*not converged\*\* \(.+\)", line) for line in lines), lines
    # turned off: the overlay goes, the page does not sample again
    at.toggle(key=reference.TOGGLE).set_value(False).run()
    assert not any(n.startswith("reference") for n in band_traces(at))


def test_a_learned_noise_is_refused_with_the_reason(short_sampler: HMCConfig) -> None:
    at = main_page({"learn_noise": "true"})
    at.toggle(key=reference.TOGGLE).set_value(True).run()
    assert not at.exception
    assert any("No reference: the reference samples the model with a fixed noise std" in rendered(i.value)
               for i in at.info)
    assert not any(n.startswith("reference") for n in band_traces(at))
    assert not any("Sampling the reference" in c for c in captions(at))

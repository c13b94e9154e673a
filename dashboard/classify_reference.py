"""The Classify page's HMC reference, on demand: the same network's posterior sampled by HMC, and its maps.

Mean-field VI's epistemic map is often too dark between clusters: its factorised Gaussian cannot
hold the correlated weights that would bend the boundary in different ways. The reference shows
what the exact posterior of the same model says. It is sampled when asked (a button: 8 chains of
plain HMC, about 5-10 s of CPU on the presets), in one of the server's training slots, cached
per (settings, points) for every session, and labelled with its convergence certificate: on
these nets it is often "not converged", which the page says as it is.
"""

from __future__ import annotations

import json

import streamlit as st

from bnn.errors import BNNError
from bnn.methods import hmc
from dashboard import icons
from dashboard.figures import classify as figures
from dashboard.model import runner
from dashboard.model.classify_maps import maps_of
from dashboard.model.classify_state import ClassifyState
from dashboard.model.limits import LIMITS, method_work
from dashboard.model.text import escape_markdown

SETTINGS = hmc.HMCConfig(chains=8, temperatures=1, warmup=300, draws=300, thin=2)
CACHE = runner.FitCache(8)  # reference fits of the Classify page, shared by the server's sessions


def key_of(state: ClassifyState) -> runner.Key:
    return json.dumps(["hmc", state.config.to_dict()], sort_keys=True), state.points.to_bytes()


def check(state: ClassifyState) -> None:
    """Refuse a reference too heavy for a shared server (a BNNError naming what to lower)."""
    settings = {"chains": SETTINGS.chains, "temperatures": SETTINGS.temperatures, "warmup": SETTINGS.warmup,
                "draws": SETTINGS.draws, "thin": SETTINGS.thin, "steps": SETTINGS.steps}
    work = method_work("hmc", settings, state.config, len(state.points), input_dim=2)
    if work > LIMITS.method_work:
        raise BNNError(f"sampling this network on these points would take about {work / LIMITS.method_work:.0f} "
                       "times what one visitor may ask of this server; use fewer points or units")


def section(state: ClassifyState) -> None:
    """The button, and the reference's maps once sampled (for these settings and points)."""
    st.subheader("The exact posterior, sampled by HMC")
    key = key_of(state)
    fitted = CACHE.get(key)
    if fitted is None:
        if not st.button("Sample the HMC reference", key="classify_reference", icon=icons.RUN,
                         help="Plain HMC, 8 chains (a few seconds): the same network and prior, no mean-field "
                              "approximation. Compare its epistemic map with the one above."):
            return
        try:
            check(state)
            with st.spinner("Sampling…"), runner.training_slot(lambda wait: None, kind="reference"):
                fitted = hmc.fit(state.points.x, state.points.labels, state.config, SETTINGS)
        except BNNError as exc:
            st.error(escape_markdown(exc), icon=icons.ERROR)
            return
        CACHE.put(key, fitted)
    certificate = fitted.certificate()
    st.caption(escape_markdown(f"HMC, {SETTINGS.chains} chains × {SETTINGS.draws} draws: {certificate.line()}."))
    maps = maps_of(fitted, state.square)
    st.plotly_chart(figures.maps_figure(maps, state.points, state.square), key="classify_reference_maps")

"""The sidebar: presets, then a control for every part of the model, the training and the view.

Each control is checked as soon as it is drawn, against the engine's rules and the
dashboard's caps, and a bad value gets its message right under it. The caller gets
a Config and a View, or None for a part that holds a bad value (it then keeps its
last good one). Other pages call :func:`model_controls` to share the same controls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from bnn.config import Activation, Config, Init, KLEstimator, NoiseModel
from bnn.errors import BNNError
from dashboard import icons, session
from dashboard.model.limits import LIMITS, check_config
from dashboard.model.text import escape_markdown
from dashboard.model.view import BAND_ORDER, View

KEEP = "session"  # keep values while the visitor looks at another page

ACTIVATION_LABELS = {"sigmoid": "sigmoid (the article's)", "tanh": "tanh", "relu": "ReLU"}
KL_LABELS = {"closed": "closed form", "mc": "Monte Carlo: log q − log p (the article's)"}
INIT_LABELS = {"article": "μ = 0, σ = 0.69 (the article's)", "scaled": "small random μ, σ ≈ 0.007"}
BAND_LABELS = {"f": "f (epistemic)", "noise": "noise (aleatoric)", "y": "y (total)"}
NOISE_LABELS = {"fixed": "fixed σ (the article's)", "learned": "learned σ", "heteroscedastic": "σ(x): depends on x"}


def presets(active: str | None) -> None:
    """The preset buttons; the ``active`` one (whose state is the page's) highlighted and ticked."""
    st.markdown("**Presets**")
    for name, preset in session.PRESETS.items():
        st.button(preset.label, key=f"preset_{name}", help=preset.help, on_click=session.apply_preset, args=(name,),
                  width="stretch", type="primary" if name == active else "secondary",
                  icon=icons.ACTIVE if name == active else None)
    if active is None:
        st.caption("Your own settings: no preset matches them.")


def _checked(values: dict[str, Any], name: str, value: Any, build: Callable[[dict[str, Any]], Any]) -> None:
    """Validate one field alone (so the message lands under its control) and collect it."""
    try:
        build({name: value})
    except BNNError as exc:
        st.error(escape_markdown(exc), icon=icons.ERROR)
        values["_bad"] = True
        return
    values[name] = value


def _config_field(values: dict[str, Any], name: str, value: Any) -> None:
    _checked(values, name, value, lambda kw: check_config(Config(**kw)))


def model_controls() -> Config | None:
    """Network, prior, likelihood and training controls; None if one of them holds a bad value."""
    values: dict[str, Any] = {}
    st.markdown("**Network**")
    layers = st.slider("Hidden layers", 0, LIMITS.layers, key="layers", persist_state=KEEP,
                       help="0 is Bayesian linear regression.")
    widths = tuple(
        int(st.number_input(f"Units in hidden layer {k}", 1, LIMITS.units, step=1, key=f"units_{k}",
                            persist_state=KEEP))
        for k in range(1, layers + 1)
    )
    _config_field(values, "hidden", widths)
    _config_field(values, "activation", st.selectbox(
        "Activation", [a.value for a in Activation], format_func=ACTIVATION_LABELS.get, key="activation",
        persist_state=KEEP))
    _config_field(values, "prior_sigma", st.number_input(
        "Prior σ", 0.0, 1e6, step=0.5, format="%g", key="prior_sigma", persist_state=KEEP,
        help="Every weight's prior is N(0, σ²). The article uses 10."))
    noise = st.selectbox("Noise", [n.value for n in NoiseModel], format_func=NOISE_LABELS.get, key="noise_model",
                         persist_state=KEEP,
                         help="Fixed: one σ, as set below (the article). Learned: one σ optimised with the weights, "
                              "from the value below. Depends on x: a second output of the network gives σ(x) "
                              "(heteroscedastic), Bayesian like the rest, starting at the value below.")
    _config_field(values, "noise", noise)
    _config_field(values, "noise_sigma", st.number_input(
        "Noise σ" if noise == NoiseModel.FIXED else "Initial noise σ", 0.0, 1e6, step=0.01, format="%g",
        key="noise_sigma", persist_state=KEEP, help="Std of the Gaussian likelihood. The article uses 0.1."))
    st.markdown("**Training**")
    _config_field(values, "lr", st.number_input("Learning rate (Adam)", 0.0, 10.0, step=0.01, format="%g",
                                                key="lr", persist_state=KEEP))
    _config_field(values, "epochs", int(st.number_input("Epochs", 1, LIMITS.epochs, step=100, key="epochs",
                                                        persist_state=KEEP)))
    _config_field(values, "train_samples", int(st.number_input(
        "Training MC samples", 1, LIMITS.train_samples, step=1, key="train_samples", persist_state=KEEP,
        help="Weight samples per step in the likelihood's Monte Carlo average (the article: 1).")))
    _config_field(values, "kl", st.selectbox("KL estimator", [k.value for k in KLEstimator],
                                             format_func=KL_LABELS.get, key="kl", persist_state=KEEP))
    _config_field(values, "seed", int(st.number_input("Seed", 0, LIMITS.seed, step=1, key="seed",
                                                      persist_state=KEEP)))
    with st.expander("Advanced"):
        _advanced(values)
    if values.pop("_bad", False):
        return None
    try:
        config = Config(**values)
    except BNNError as exc:  # fields fine alone, not together
        st.error(escape_markdown(exc), icon=icons.ERROR)
        return None
    return config


def _advanced(values: dict[str, Any]) -> None:
    _config_field(values, "init", st.selectbox("Initialisation", [i.value for i in Init],
                                               format_func=INIT_LABELS.get, key="init", persist_state=KEEP))
    _config_field(values, "kl_weight", st.number_input(
        "KL weight", 0.0, 1e6, step=0.1, format="%g", key="kl_weight", persist_state=KEEP,
        help="Multiplies the KL term; 1 is the true ELBO, 0 ignores the prior."))
    batch = int(st.number_input("Batch size (0 = all points)", 0, LIMITS.points, step=1, key="batch_size",
                                persist_state=KEEP))
    _config_field(values, "batch_size", batch or None)
    _config_field(values, "local_reparam", st.toggle(
        "Local reparameterisation", key="local_reparam", persist_state=KEEP,
        help="Sample each unit's pre-activation instead of the weights (Kingma et al. 2015); needs the "
             "closed-form KL."))
    _config_field(values, "standardize", st.toggle("Standardise x and y", key="standardize", persist_state=KEEP))


def view_controls() -> View | None:
    """How the band is drawn; None if a value is bad."""
    values: dict[str, Any] = {}

    def field(name: str, value: Any) -> None:
        _checked(values, name, value, lambda kw: View(**kw))

    st.markdown("**Prediction**")
    field("samples", int(st.number_input("Predictive samples", 1, LIMITS.predict_samples, step=10,
                                         key="samples", persist_state=KEEP)))
    field("level", st.slider("Interval level", 0.5, 0.99, step=0.01, key="level", persist_state=KEEP))
    inner = st.slider("Inner interval (0 = none)", 0.0, 0.95, step=0.05, key="inner", persist_state=KEEP)
    _checked(values, "inner", inner, lambda kw: View(level=values.get("level", View.level), **kw))
    field("band", tuple(st.pills("Bands", [b.value for b in BAND_ORDER], format_func=BAND_LABELS.get, key="band",
                                 selection_mode="multi", persist_state=KEEP,
                                 help="f: what the network may be (the article's band). noise: the noise alone "
                                      "around the mean (follows σ(x) when the noise depends on x). y: where a new "
                                      "observation may fall, both together. Pick one or several.") or ()))
    field("functions", st.slider("Sampled functions drawn", 0, LIMITS.functions, key="functions",
                                 persist_state=KEEP))
    low, high = st.columns(2)
    with low:
        x_low = st.number_input("x from", -LIMITS.view_abs, LIMITS.view_abs, step=0.5, format="%g", key="x_low",
                                persist_state=KEEP)
    with high:
        x_high = st.number_input("x to", -LIMITS.view_abs, LIMITS.view_abs, step=0.5, format="%g", key="x_high",
                                 persist_state=KEEP)
    if values.pop("_bad", False):
        return None
    try:
        return View(**values, x_low=x_low, x_high=x_high)
    except BNNError as exc:  # inner vs level, or the x range
        st.error(escape_markdown(exc), icon=icons.ERROR)
        return None


def render() -> tuple[Config | None, View | None, st.delta_generator.DeltaGenerator]:
    """The whole sidebar of the main page, and the place of its presets at the top: which preset is
    active is known once the points are read too, so the caller draws them (:func:`presets`)."""
    with st.sidebar:
        presets_slot = st.container()
        config = model_controls()
        view = view_controls()
    return config, view, presets_slot

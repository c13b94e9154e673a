"""The Classify page's controls: presets, the network and training settings, the square, the
canvas's background, and the page's explanations.

Each control is seeded from the page's state (:func:`seed`) when the session first shows the
page, when a preset is chosen and when a link brings a state; after that the widgets are the
truth, read into a new :class:`ClassifyState` every run. A bad value gets its message under its
control and the last good state stays.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import streamlit as st

from bnn.config import Activation
from bnn.errors import BNNError
from dashboard import icons, session
from dashboard.model import classify_state
from dashboard.model.classify_state import PRESETS, ClassifyState, Square, active_preset
from dashboard.model.labelled import MAX_CLASSES, LabelledPoints
from dashboard.model.limits import LIMITS, check_config, check_training_work
from dashboard.model.text import escape_markdown

KEEP = "session"
CLASSES = "cls_classes"
SEEDED = "cls_seeded"
BACKGROUND = "cls_background"
_FIELDS = {  # widget key -> Config field
    "cls_activation": "activation", "cls_prior": "prior_sigma", "cls_lr": "lr", "cls_epochs": "epochs",
    "cls_mc": "train_samples", "cls_seed": "seed",
}


def seed(state: ClassifyState) -> None:
    """Every control's value set to ``state`` (the points are the state's)."""
    ss = st.session_state
    c = state.config
    ss.update({key: _plain(getattr(c, name)) for key, name in _FIELDS.items()})
    ss.update({"cls_layers": len(c.hidden), CLASSES: state.classes, "cls_low": state.square.low,
               "cls_high": state.square.high})
    ss.update({f"cls_units_{k}": (c.hidden[k - 1] if k <= len(c.hidden) else 32) for k in range(1, LIMITS.layers + 1)})
    ss[session.CLASSIFY_STATE] = state
    ss[SEEDED] = True


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def apply_preset(name: str) -> None:
    seed(PRESETS[name].state())
    st.session_state.pop("classify_history", None)  # a preset starts a new history (as the main page's reset)


def clear_points() -> None:
    ss = st.session_state
    state: ClassifyState = ss[session.CLASSIFY_STATE]
    ss[session.CLASSIFY_STATE] = state.replace(points=LabelledPoints.none())


def sidebar(state: ClassifyState) -> ClassifyState:
    """The sidebar's controls, read into a state with ``state``'s points; ``state`` itself when a value is bad."""
    if not st.session_state.get(SEEDED):
        seed(state)
    with st.sidebar:
        active = active_preset(state)
        st.markdown("**Data sets**")
        for name, preset in PRESETS.items():
            st.button(preset.label, key=f"cls_preset_{name}", help=preset.help, on_click=apply_preset, args=(name,),
                      width="stretch", type="primary" if name == active else "secondary",
                      icon=icons.ACTIVE if name == active else None)
        st.button("Clear all points", key="cls_clear", on_click=clear_points, width="stretch")
        values = _network()
        square = _square()
    if values is None or square is None:
        return state
    k = values.pop("classes")
    try:
        config = state.config.replace(**values, classes=k)
        check_config(config)
        return ClassifyState(config, state.points, square)
    except BNNError as exc:
        st.sidebar.error(escape_markdown(exc), icon=icons.ERROR)
        return state


def _network() -> dict[str, Any] | None:
    st.markdown("**Network**")
    values: dict[str, Any] = {"classes": int(st.number_input(
        "Classes", 2, MAX_CLASSES, step=1, key=CLASSES, persist_state=KEEP,
        help="How many classes the canvas offers (and the network's outputs)."))}
    layers = st.slider("Hidden layers", 0, LIMITS.layers, key="cls_layers", persist_state=KEEP,
                       help="0 is Bayesian multinomial logistic regression: straight boundaries only.")
    values["hidden"] = tuple(int(st.number_input(f"Units in hidden layer {k}", 1, LIMITS.units, step=1,
                                                 key=f"cls_units_{k}", persist_state=KEEP))
                             for k in range(1, layers + 1))
    values["activation"] = st.selectbox("Activation", [a.value for a in Activation], key="cls_activation",
                                        persist_state=KEEP)
    values["prior_sigma"] = st.number_input("Prior σ", 0.0, 1e6, step=0.5, format="%g", key="cls_prior",
                                            persist_state=KEEP, help="Every weight's prior is N(0, σ²).")
    st.markdown("**Training**")
    values["lr"] = st.number_input("Learning rate (Adam)", 0.0, 10.0, step=0.005, format="%g", key="cls_lr",
                                   persist_state=KEEP)
    values["epochs"] = int(st.number_input("Epochs", 1, LIMITS.epochs, step=100, key="cls_epochs", persist_state=KEEP))
    values["train_samples"] = int(st.number_input("Training MC samples", 1, LIMITS.train_samples, step=1,
                                                  key="cls_mc", persist_state=KEEP))
    values["seed"] = int(st.number_input("Seed", 0, LIMITS.seed, step=1, key="cls_seed", persist_state=KEEP))
    return values


def _square() -> Square | None:
    st.markdown("**Map**")
    low, high = st.columns(2)
    lo = low.number_input("from", -classify_state.MAX_RANGE, classify_state.MAX_RANGE, step=0.5, format="%g",
                          key="cls_low", persist_state=KEEP)
    hi = high.number_input("to", -classify_state.MAX_RANGE, classify_state.MAX_RANGE, step=0.5, format="%g",
                           key="cls_high", persist_state=KEEP)
    try:
        return Square(float(lo), float(hi))
    except BNNError as exc:
        st.error(escape_markdown(exc), icon=icons.ERROR)
        return None


def check_work(state: ClassifyState) -> None:
    """The dashboard's budget for one training run (raises ConfigError naming what to lower)."""
    check_training_work(state.config, len(state.points), input_dim=2)


def background() -> str:
    """What the canvas shows under the points."""
    return st.radio("Canvas shows", ["class", "epistemic", "aleatoric", "entropy"], key=BACKGROUND,
                    horizontal=True, format_func={"class": "predicted class", "epistemic": "epistemic",
                                                  "aleatoric": "aleatoric", "entropy": "total entropy"}.get)


def lesson(fitted: Any, state: ClassifyState) -> None:
    """A note when the fit underfits its own training points: mean-field VI's KL term at work, not a bug."""
    table = fitted.predict(state.points.x, samples=50)
    accuracy = float((table["label"].to_numpy() == state.points.labels).mean())
    if accuracy < 0.95 and len(state.points) >= 20:
        st.caption(f"Training accuracy {accuracy:.0%}. With few points and a tight prior the KL term of mean-field "
                   "VI outweighs the data and the boundary stays simple (it underfits): more points, a wider "
                   "prior or fewer units let the data speak. This is the method, not a bug.")
    else:
        st.caption(f"Training accuracy {accuracy:.0%}.")


def explanation() -> None:
    st.markdown(
        "- **Predicted class**: the class with the highest mean probability over posterior draws; the paler "
        "the colour, the closer that probability is to 1/K (a coin toss).\n"
        "- **Aleatoric** (expected entropy, mean over draws of each draw's entropy): high where every draw "
        "agrees the classes overlap, as in the *Overlapping classes* preset's strip. More data does not "
        "remove it.\n"
        "- **Epistemic** (mutual information = total − aleatoric): high where the draws disagree, away from "
        "the data and between clusters. More data there removes it: click a point into a bright region and "
        "watch it go dark.\n"
        "- The thin grey lines are the decision boundaries of single posterior draws; their spread is the "
        "epistemic uncertainty you can see.\n"
        "- Mean-field VI (this page's method) is known to be over-confident between clusters of data: its "
        "factorised Gaussian cannot hold the correlated weights that would bend the boundary differently "
        "(Foong et al. 2020), so the epistemic map is often darker between the blobs than an exact posterior's.")

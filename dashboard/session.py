"""The dashboard's session state: widget keys, seeding them from a link or a preset, the link.

Every control has a fixed key (tests and browser tests find widgets by it). Values
are seeded into ``st.session_state`` before the widgets are drawn (from the link on
a session's first run, or from a preset button), and never passed as ``value=``,
so Streamlit never sees two sources for one widget. The point set lives under
``POINTS`` as a :class:`dashboard.model.points.Points`; the table editor edits a copy of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import streamlit as st

from bnn import toys
from bnn.config import Config
from dashboard.model import classify_state, link
from dashboard.model.edits import History
from dashboard.model.link import AppState
from dashboard.model.points import Points, editor_frame
from dashboard.model.view import View

POINTS = "points"  # the committed point set (Points)
HISTORY = "point_history"  # undo/redo of the point set (dashboard.model.edits.History)
EDITOR = "points_editor"  # the data editor's edit state
EDITOR_BASE = "points_base"  # the table the editor edits
LINK_PROBLEMS = "link_problems"
LINK = "link_params"  # the query of the dashboard's current state
STATE = "link_state"  # that state (AppState), with every point even when too many travel in a link
LOG_LOSS = "log_loss"  # the "Log-scale loss" toggle (a preference of the session, not in the link)
CLASSIFY_STATE = "classify_state"  # the Classify page's state (ClassifyState), read from the link's c_ keys
CLASSIFY_LINK = "classify_link"  # its c_ query keys, which every page's address carries beside the main page's
CLASSIFY_PROBLEMS = "classify_link_problems"
LIVE = "live_mode"  # the "Live" toggle: train on every change (a preference of the session, on by default)
MAX_LAYERS_SHOWN = 3
DEFAULT_UNITS = 32
FORMULA = "formula"  # value of the "function" selector meaning "the typed formula"
NO_FUNCTION = "none"


def init_session() -> None:
    """On a session's first run, on whichever page it starts, read the link once: seed every control
    from it and keep its state, so that every page shows it and a page switch (which drops the
    address's query) does not lose it."""
    if st.session_state.get("_initialised"):
        return
    decoded = link.decode(st.query_params.to_dict())
    classify = classify_state.decode(st.query_params.to_dict())  # the Classify page's c_ keys
    st.session_state[CLASSIFY_STATE] = classify.state
    st.session_state[CLASSIFY_LINK] = classify_state.encode(classify.state)
    st.session_state[CLASSIFY_PROBLEMS] = list(classify.problems)
    st.session_state[STATE] = decoded.state
    st.session_state[LINK] = link.encode(decoded.state).params
    problems = list(decoded.problems)
    if decoded.points_left_out is not None:
        problems.append(
            f"the sender's {decoded.points_left_out:,} points were too many to travel in a link, so the "
            "article's six points are shown; ask for their CSV and upload it under Points"
        )
    seed_widgets(decoded.state)
    # The generator's fields are not in a link (their result, the points, is): a preset's state gets
    # the preset's fields, any other the article's.
    preset = PRESETS[active_preset(decoded.state) or "article"]
    for key, value in preset.generator.widgets().items():
        st.session_state.setdefault(key, value)
    st.session_state.setdefault(LOG_LOSS, True)  # the first epochs' losses would flatten a linear chart
    st.session_state.setdefault(LIVE, True)  # the playground: the posterior follows every edit
    st.session_state[LINK_PROBLEMS] = problems
    st.session_state["_initialised"] = True


def seed_widgets(state: AppState) -> None:
    """Set every control's value (and the point set) to ``state``."""
    ss = st.session_state
    cfg, view = state.config, state.view
    ss["layers"] = len(cfg.hidden)
    for k in range(1, MAX_LAYERS_SHOWN + 1):
        ss[f"units_{k}"] = cfg.hidden[k - 1] if k <= len(cfg.hidden) else (cfg.hidden or (DEFAULT_UNITS,))[-1]
    for name in ("activation", "init", "kl"):
        ss[name] = getattr(cfg, name).value
    for name in ("prior_sigma", "noise_sigma", "lr", "epochs", "train_samples", "seed",
                 "kl_weight", "local_reparam", "standardize"):
        ss[name] = getattr(cfg, name)
    ss["noise_model"] = cfg.noise.value
    ss["batch_size"] = cfg.batch_size or 0
    for name in ("samples", "level", "inner", "functions", "x_low", "x_high"):
        ss[name] = getattr(view, name)
    ss["band"] = [b.value for b in view.band]
    ss["function"] = FORMULA if state.expression else (state.toy or NO_FUNCTION)
    ss["expression"] = state.expression or "sin(3*x) + 0.3*x^2"
    set_points(state.points)


def set_points(points: Points, record: bool = True) -> None:
    """Commit a new point set and restart the table editor on it (its pending edits are dropped).

    ``record``: the set it replaces can be undone to (every edit; not the link a session opens with,
    nor the history's own undo and redo)."""
    before = st.session_state.get(POINTS)
    if record and before is not None:
        record_edit(before, points)
    st.session_state[POINTS] = points
    st.session_state[EDITOR_BASE] = editor_frame(points)
    st.session_state.pop(EDITOR, None)


def history() -> History:
    return st.session_state.get(HISTORY) or History()


def record_edit(before: Points, after: Points) -> None:
    """A finished edit replaced ``before`` by ``after`` (one entry of the history)."""
    st.session_state[HISTORY] = history().record(before, after)


def undo() -> None:
    """Callback (a button, Ctrl+Z in the chart): the point set before the last edit."""
    changed, points = history().back(committed_points())
    st.session_state[HISTORY] = changed
    set_points(points, record=False)


def redo() -> None:
    """Callback (a button, Ctrl+Shift+Z in the chart): the point set the last undo left."""
    changed, points = history().forward(committed_points())
    st.session_state[HISTORY] = changed
    set_points(points, record=False)


def committed_points() -> Points:
    points = st.session_state.get(POINTS)
    return Points.article() if points is None else points  # not `or`: an empty set is a set


# ---- presets ------------------------------------------------------------------------------
@dataclass(frozen=True)
class GeneratorFields:
    """What the point generator's fields show: N points evenly on [low, high] with noise σ, and a seed."""

    n: int
    low: float
    high: float
    noise: float
    seed: int = 0

    @classmethod
    def of_toy(cls, toy: toys.ToyFunction) -> GeneratorFields:
        """A toy's default data: its number of points, the span of its intervals, its noise."""
        return cls(toy.n_points, min(a for a, _ in toy.x_ranges), max(b for _, b in toy.x_ranges), toy.noise)

    def widgets(self) -> dict[str, int | float]:
        return {"gen_n": self.n, "gen_low": self.low, "gen_high": self.high, "gen_noise": self.noise,
                "gen_seed": self.seed}


@dataclass(frozen=True)
class Preset:
    """A button of the sidebar that sets every control, the points and the generator's fields at once."""

    label: str  # the button's text
    help: str  # its tooltip
    build: Callable[[], AppState]  # the state it sets (built when pressed: some draw points)
    generator: GeneratorFields  # the generator's fields: the preset's data, as near as one interval says it


def _gap() -> AppState:
    return AppState(points=Points.of(*toys.get("gap").default_points()), toy="gap",
                    view=View(x_low=-6.0, x_high=6.0))


NOISY_DATA = GeneratorFields(100, -2.0, 2.0, 0.3)  # Generate with these fields remakes the preset's points


def _noisy() -> AppState:
    d = NOISY_DATA
    x, y = toys.generate(toys.get("periodic"), d.n, d.low, d.high, noise=d.noise, seed=d.seed)
    config = Config(hidden=(16,), activation="tanh", init="scaled", prior_sigma=1.0, lr=0.02,
                    learn_noise=True, noise_sigma=0.1)
    return AppState(config=config, points=Points.of(x, y), toy="periodic", view=View(band="y", inner=0.5))


def _scatter(sigma: Callable[[np.ndarray], np.ndarray]) -> AppState:
    """300 points of sin(x) on [-3, 3] whose noise std is sigma(x) (seeded), and a heteroscedastic net.

    Its settings were picked on the "grows" data (posterior mean of sigma at x = -2.5..2.5: 0.18,
    0.29, 0.53, 0.88, 1.06 against the truth's 0.12..0.88): with fewer points or one Monte Carlo
    sample a step, mean-field VI keeps the noise head's weights uncertain, and the mean of
    softplus over those draws makes sigma(x) too wide and too flat (0.7 everywhere on 150 points)."""
    x = np.linspace(-3.0, 3.0, 300)
    y = np.sin(x) + sigma(x) * np.random.default_rng(0).standard_normal(x.size)
    config = Config(hidden=(16,), activation="tanh", init="scaled", prior_sigma=1.0, lr=0.03, epochs=2000,
                    train_samples=4, standardize=True, noise="heteroscedastic", noise_sigma=0.3)
    return AppState(config=config, points=Points.of(x, y), toy="", expression="sin(x)",
                    view=View(band=("y", "noise", "f"), x_low=-4.0, x_high=4.0))


def _grows() -> AppState:
    return _scatter(lambda x: 0.05 + 0.15 * (x + 3.0))  # 0.05 at x = -3 to 0.95 at x = 3


def _middle() -> AppState:
    return _scatter(lambda x: 0.05 + 0.5 * np.exp(-x * x))  # 0.55 at 0, 0.05 at the ends


SCATTER_DATA = GeneratorFields(300, -3.0, 3.0, 0.0)  # the function's points without the noise that varies


PRESETS = {
    "article": Preset("Article settings", "The article's run: 1-32-1 sigmoid net, six points of -x⁴ + 3x² + 1.",
                      AppState, GeneratorFields.of_toy(toys.get("quartic"))),
    # its points lie on [-4, -2] and [2, 4]; the fields span both (Generate then fills the gap)
    "gap": Preset("Gap between clusters", ("Points on two separate intervals. Mean-field VI's band stays narrow "
                  "in between, where nothing is known (Foong et al. 2019): turn on Compare with the reference to see "
                  "how wide it should be."),
                  _gap, GeneratorFields.of_toy(toys.get("gap"))),
    "noise": Preset("Noisy data, learned noise", "100 noisy points of sin(2x); the noise σ is learned and the "
                    "band shows new observations y, not only f.", _noisy, NOISY_DATA),
    "grows": Preset("Noise that grows with x", "300 points of sin(x) whose scatter grows from 0.05 to 0.95 "
                    "across [-3, 3]; the noise is a function of x (heteroscedastic), so the y band follows the "
                    "scatter. Compare with noise 'learned': one σ, too wide on the left, too narrow on the right.",
                    _grows, SCATTER_DATA),
    "middle": Preset("A noisy region in the middle", "300 points of sin(x), noisy around x = 0 only; a "
                     "heteroscedastic noise widens the band there and nowhere else.", _middle, SCATTER_DATA),
}


@functools.cache
def _preset_states() -> dict[str, AppState]:
    return {name: preset.build() for name, preset in PRESETS.items()}  # seeded: the same state every time


def active_preset(state: AppState) -> str | None:
    """The preset whose state is ``state`` exactly (settings, view, true function and points), if any.

    Equality, not "the last one pressed": any change turns the highlight off, undoing it turns it
    back on, and a link to a preset's state opens with that preset highlighted."""
    return next((name for name, built in _preset_states().items() if built == state), None)


def apply_preset(name: str) -> None:
    """Button callback: seed every control, the points and the generator's fields from a preset."""
    seed_widgets(PRESETS[name].build())
    st.session_state.update(PRESETS[name].generator.widgets())


# ---- the link -----------------------------------------------------------------------------
def link_state() -> AppState:
    """The state every page shows: the main page's settings and points, which its link carries.

    In a session that began on another page (a page opened by its URL, or reloaded), the main page
    has not run yet: the state is the one the link in the address describes."""
    init_session()
    return st.session_state[STATE]


def write_link(state: AppState) -> link.Encoded:
    """Make ``state`` the session's and put it in the page's URL (only when it changed, to keep the
    history quiet)."""
    encoded = link.encode(state)
    st.session_state[STATE] = state
    st.session_state[LINK] = encoded.params
    keep_link()
    return encoded


def keep_link() -> None:
    """Every page carries the dashboard's link, so a link copied anywhere reproduces the state,
    and coming back to the dashboard changes no query (Streamlit's page switch and a query
    change in the same run can leave the address bar on the old page)."""
    wanted = st.session_state.get(LINK)
    if wanted is None:
        return
    current = st.query_params.to_dict()
    wanted = {**wanted, **st.session_state.get(CLASSIFY_LINK, {}),
              **{k: v for k, v in current.items() if k in link.IGNORED_KEYS}}
    if current != wanted:
        st.query_params.from_dict(wanted)


def page_url() -> str:
    """The page's address without its query, when the browser told us (empty in tests)."""
    try:
        return st.context.url or ""
    except Exception:  # older runtimes and bare mode have no browser context
        return ""

"""The Compare page: the same points and the same model under every inference method.

Widgets -> method configs (:mod:`bnn.methods`) -> fits, cached per (method, settings,
model, points) in a bounded cache shared by the server's sessions -> tables and scores
(:mod:`bnn.evaluation.regions`) -> figure (:mod:`dashboard.figures.compare`). A run reports progress per
method; Stop (or any change of a control) interrupts it, as on the main page.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import streamlit as st

from bnn import methods
from bnn.errors import BNNError
from bnn.evaluation import regions
from bnn.evaluation.reference import distance_to_reference
from bnn.methods import METHODS, FittedMethod, MethodProgress
from bnn.methods.hmc import HMCConfig
from dashboard import icons, reference, session
from dashboard.figures.compare import comparison_figure
from dashboard.model import runner
from dashboard.model.limits import LIMITS, method_work
from dashboard.model.link import AppState
from dashboard.model.pin import describe
from dashboard.model.runs import RunRequests
from dashboard.model.text import escape_markdown
from dashboard.points import true_function, truth_on

SOURCES = {"main": "The main page's points and model", "gap": "Gap preset: two clusters with a wide gap",
           "article": "The article's six points"}
REQUESTS = RunRequests(pending_key="cmp_pending", stopped_key="cmp_stopped")
REFUSED = "cmp_refused"
HELD_OUT = 200
MIN_DRAWS = 500  # a reference's heavy-tailed draws need more than the main page's 100 for a smooth band


def band_samples(requested: int) -> int:
    """Draws behind each method's band and scores: the same for every method."""
    return min(max(requested, MIN_DRAWS), LIMITS.predict_samples)


@st.cache_resource
def fit_cache() -> runner.FitCache:
    """Finished fits of this page, shared by the server's sessions (bounded, least recently used)."""
    return runner.FitCache(size=32)


def source_state(source: str) -> AppState:
    if source == "gap":
        return session.PRESETS["gap"].build()
    if source == "article":
        return AppState()
    return session.link_state()  # what the main page's link says, trained there or not


# Selected when the page opens: full-covariance VI (seconds of CPU on the article's net) is one click away.
DEFAULT_METHODS = ("bbb", "dropout", "ensemble", "laplace", "gp", "hmc")


def settings_widgets(name: str) -> dict:
    """The few settings of each method a person may want to change (the rest are the defaults)."""
    if name == "bbb":
        st.caption("Bayes-by-Backprop uses the main page's training settings (epochs, learning rate, ...).")
        return {}
    if name == "dropout":
        return {"rate": st.slider("dropout rate", 0.01, 0.5, 0.1, key="cmp_dropout_rate"),
                "weight_decay": st.number_input("weight decay (0: from the prior)", 0.0, 10.0, 0.0, format="%.4g",
                                                key="cmp_dropout_wd") or None,
                "epochs": st.number_input("epochs", 10, 20_000, 2000, key="cmp_dropout_epochs")}
    if name == "ensemble":
        return {"members": st.number_input("members", 2, 50, 10, key="cmp_ens_members"),
                "epochs": st.number_input("epochs", 10, 20_000, 2000, key="cmp_ens_epochs")}
    if name == "laplace":
        return {"subset": st.radio("weights", ["all", "last_layer"], key="cmp_lap_subset", horizontal=True),
                "epochs": st.number_input("epochs of the MAP fit", 10, 20_000, 2000, key="cmp_lap_epochs")}
    if name == "fullcov":
        rank = st.number_input("covariance rank (0: full)", 0, 64, 0, key="cmp_fullcov_rank",
                               help="Full covariance over every weight, or low rank plus diagonal.")
        return {"rank": int(rank) or None,
                "epochs": st.number_input("epochs", 10, 20_000, 3000, key="cmp_fullcov_epochs")}
    if name == "gp":
        st.caption("Another model: exact GP regression with an RBF kernel, its hyperparameters by marginal "
                   "likelihood. What a smooth prior on functions says.")
        return {}
    if name == "hmc":
        d = HMCConfig()  # the defaults: the reference its docs certify on the article's problem
        return {"chains": st.number_input("chains", 2, 256, d.chains, key="cmp_hmc_chains"),
                "temperatures": st.number_input("temperatures per chain (1: no replica exchange)", 1, 64,
                                                d.temperatures, key="cmp_hmc_temperatures"),
                "warmup": st.number_input("warm-up iterations", 0, 2000, d.warmup, key="cmp_hmc_warmup"),
                "draws": st.number_input("kept draws per chain", 1, 5000, d.draws, key="cmp_hmc_draws"),
                "thin": st.number_input("iterations per kept draw", 1, 20, d.thin, key="cmp_hmc_thin"),
                "steps": st.number_input("most leapfrog steps", 1, 200, d.steps, key="cmp_hmc_steps")}
    st.caption("Fitted with its default settings.")  # a method registered after this page was written
    return {}


def run_method(name: str, settings: dict, state: AppState, slot: st.delta_generator.DeltaGenerator) -> None:
    """Fit one method with a progress bar, and cache it unless it was stopped."""
    label = METHODS[name].label

    def show(p: MethodProgress) -> None:
        slot.progress(min(p.step / max(p.steps, 1), 1.0), text=f"{label}: {p.phase} {p.step:,} of {p.steps:,}")

    work = method_work(name, settings, state.config, len(state.points))
    if work > LIMITS.method_work:
        raise BNNError(f"{label} with these settings is too much work for this server; lower its settings "
                       "or the network's size")
    with runner.training_slot(lambda wait: slot.warning(wait.message()), kind=name, work=work):
        fitted = methods.fit_method(name, state.points.x, state.points.y, state.config, settings, callback=show)
    slot.empty()
    if not fitted.stopped_early:
        fit_cache().put(runner.method_key(name, settings, state), fitted)


def run_missing(missing: dict[str, dict], state: AppState, request: str) -> None:
    buttons = st.columns([1, 1, 4])
    clicked = buttons[0].button("Run", key="cmp_run", type="primary", disabled=not missing)
    if clicked:
        REQUESTS.ask(st.session_state, request)
    if not missing or not REQUESTS.pending(st.session_state, request):
        buttons[1].button("Stop", key="cmp_stop_idle", disabled=True)
        if missing:
            names = ", ".join(METHODS[n].label for n in missing)
            stopped = REQUESTS.stopped(st.session_state, request)
            st.info(("Stopped. " if stopped else "") + f"Press **Run** to fit: {names}.", icon=icons.RUN)
        return
    buttons[1].button("Stop", key="cmp_stop", on_click=REQUESTS.stop, args=(st.session_state,))
    refused = {}
    for name, settings in missing.items():
        try:
            run_method(name, settings, state, st.empty())
        except BNNError as exc:
            refused[name] = str(exc)
    REQUESTS.done(st.session_state)
    st.session_state[REFUSED] = (request, refused)  # shown after the rerun that draws the results
    st.rerun()


def show_refusals(request: str) -> None:
    done_for, refused = st.session_state.get(REFUSED, ("", {}))
    if done_for == request:
        for name, message in refused.items():
            # A fit's message may quote the visitor's text (a formula from the main page's link).
            st.error(f"{METHODS[name].label} was not fitted: {escape_markdown(message)}", icon=icons.ERROR)


@st.cache_data(max_entries=64, show_spinner=False)
def _table(_fitted: FittedMethod, key: runner.Key, x_low: float, x_high: float, level: float,
           samples: int) -> pd.DataFrame:
    return _fitted.predict(np.linspace(x_low, x_high, LIMITS.grid), samples=samples, level=level, seed=0)


def held_out(fn: object, state: AppState) -> tuple[np.ndarray, np.ndarray] | None:
    """Points of the true function over the plotted range, with Gaussian noise of the model's std."""
    if fn is None:
        return None
    x = np.linspace(state.view.x_low, state.view.x_high, HELD_OUT)
    y = truth_on(fn, x)
    keep = np.isfinite(y)
    noise = np.random.default_rng(0).standard_normal(HELD_OUT) * state.config.noise_sigma
    return x[keep], (y + noise)[keep]


def results(fits: dict[str, FittedMethod], keys: dict[str, runner.Key], state: AppState, fn: object) -> None:
    view = state.view
    samples = band_samples(view.samples)
    tables = {n: _table(f, keys[n], view.x_low, view.x_high, view.level, samples) for n, f in fits.items()}
    controls = st.columns(2)
    band = controls[0].radio("Band of", ["f", "y"], key="cmp_band", horizontal=True,
                             format_func=lambda b: {"f": "the function f", "y": "a new observation y"}[b])
    # small multiples first: one panel a method with a shared y range, so that no band (the reference's
    # ±20 between clusters, say) swamps the others; overlaid to see them on top of each other
    overlay = controls[1].radio("Layout", ["small multiples", "overlaid"], key="cmp_layout",
                                horizontal=True) == "overlaid"
    x_grid = next(iter(tables.values()))["x"].to_numpy()
    labels = {n: METHODS[n].label for n in tables}
    fig = comparison_figure(tables, labels, (state.points.x, state.points.y), truth_on(fn, x_grid),
                                          band=band, overlay=overlay)
    st.plotly_chart(fig, key="cmp_chart")
    st.caption(f"{view.level:.0%} bands from {samples} draws each; the y axis is shared and clipped to three "
               "times the data's spread, so a band leaving the frame is wider than shown.")
    scores_table(fits, state, fn, x_grid)


def scores_table(fits: dict[str, FittedMethod], state: AppState, fn: object, x_grid: np.ndarray) -> None:
    test = held_out(fn, state)
    x_test, y_test = test if test is not None else (x_grid[:1], np.zeros(1))
    scores = regions.comparison(fits, x_grid, state.points.x, x_test, y_test, level=state.view.level,
                                samples=band_samples(state.view.samples))
    if test is None:
        scores[["test_ll", "coverage"]] = np.nan
    if "hmc" in fits:  # each band's distance to the reference's, on the same grid and draws
        level, samples = state.view.level, band_samples(state.view.samples)
        tables = {n: f.predict(x_grid, samples=samples, level=level, seed=0) for n, f in fits.items()}
        scores.insert(0, "distance", [distance_to_reference(tables[n], tables["hmc"]) for n in scores.index])
    scores.index = [METHODS[n].label for n in scores.index]
    shown = scores.rename(columns={
        "test_ll": "held-out log-lik", "coverage": f"coverage of {state.view.level:.0%}",
        "width_near": "band width near data", "width_gap": "band width in gaps", "width_far": "band width far",
        "gap_score": "gap score", "seconds": "wall time (s)", "distance": "distance to HMC"})
    st.dataframe(shown.style.format("{:.3g}", na_rep="—"), key="cmp_scores")
    st.caption("Held-out: 200 points of the true function over the plotted range plus noise of the model's σ "
               "(none without a true function). Gap score: mean epistemic std in gaps between clusters divided "
               "by the mean at the data; near 1 means no more doubt between the clusters than on them."
               + ("" if regions.has_gap(state.points.x) else " These points have no gap, so no gap score.")
               + (" Distance to HMC: the grid mean of the 2-Wasserstein distance between the Gaussian summaries "
                  "of f under the method and under HMC, over HMC's mean std (0 is HMC itself)." if "hmc" in fits
                  else ""))
    if "hmc" in fits:
        hmc = fits["hmc"]
        d = hmc.diagnostics()
        certified, reason = reference.certification(hmc)
        verdict = ("converged: rank-normalised R-hat of f < 1.05 and bulk ESS > 200 at every probe" if certified
                   else f"not converged ({escape_markdown(reason)}): treat its band and the distances with care")
        st.caption(f"HMC: {d['chains']:.0f} chains × {d['draws_per_chain']:.0f} draws, acceptance {d['accept']:.2f}, "
                   f"{d['divergences']:.0f} divergences, largest R-hat of f {d['max_rhat_f']:.3f}, smallest ESS "
                   f"{d['min_ess_f']:.0f}; {verdict}.")


def render() -> None:
    """The page: choose points, methods and their settings, run the missing fits, compare the bands."""
    st.title("Compare inference methods")
    st.caption("Mean-field variational inference (Bayes-by-Backprop) is known to be over-confident between clusters "
               "of data (Foong et al. 2019). Fit the same network and prior by other methods, next to the HMC "
               "reference sampler, and judge for yourself.")
    source = st.radio("Points and model", list(SOURCES), format_func=SOURCES.get, key="cmp_source", horizontal=True)
    state = source_state(source)
    if not len(state.points):
        st.info("The main page has no points yet: add points there (a click on its chart adds one), or compare "
                "the methods on the other data above.", icon=icons.PRIOR)
        return
    if source == "main":  # settings that may come from a link: escaped like all the visitor's input
        st.caption(escape_markdown(f"{describe(state.config, len(state.points))}."))
    choice = session.FORMULA if state.expression else (state.toy or session.NO_FUNCTION)
    try:
        fn = true_function(choice, state.expression)
    except BNNError:
        fn = None
    chosen = st.multiselect("Methods", list(METHODS), default=[n for n in METHODS if n in DEFAULT_METHODS],
                            format_func=lambda n: METHODS[n].label, key="cmp_methods")
    settings: dict[str, dict] = {}
    for column, name in zip(st.columns(max(len(chosen), 1)), chosen):
        with column.expander(METHODS[name].label):
            settings[name] = settings_widgets(name)
    keys = {n: runner.method_key(n, s, state) for n, s in settings.items()}
    fits = {n: f for n, k in keys.items() if (f := fit_cache().get(k)) is not None}
    missing = {n: s for n, s in settings.items() if n not in fits}
    request = json.dumps(sorted(str(k) for k in keys.values()))
    show_refusals(request)
    run_missing(missing, state, request)
    if fits:
        results(fits, keys, state, fn)

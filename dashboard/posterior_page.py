"""Posterior: the current fit weight by weight, against the prior, and what the prior alone believes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from bnn import sample_functions
from bnn.evaluation import weights
from dashboard import icons, live
from dashboard.figures.posterior import functions_figure, noise_figure, weights_figure
from dashboard.model.limits import LIMITS
from dashboard.model.pin import describe
from dashboard.model.text import escape_markdown


def summary_table(groups: list[weights.WeightGroup], prior_sigma: float) -> pd.DataFrame:
    rows = []
    for g in groups:
        rows.append({
            "group": g.name, "count": g.mu.size, "mean |μ|": float(np.abs(g.mu).mean()),
            "median σ": float(np.median(g.sigma)), "min σ": float(g.sigma.min()), "max σ": float(g.sigma.max()),
            "σ collapsed": f"{weights.collapsed(g.sigma, prior_sigma).mean():.0%}",
            "at the prior": f"{weights.at_prior(g.mu, g.sigma, prior_sigma).mean():.0%}",
        })
    return pd.DataFrame(rows)


def weight_section(shown: live.Shown) -> None:
    fitted = shown.fitted
    prior = fitted.config.prior_sigma
    groups = weights.groups(fitted)
    mu = np.concatenate([g.mu for g in groups])
    sigma = np.concatenate([g.sigma for g in groups])
    cols = st.columns(4)
    cols[0].metric("weights and biases", f"{mu.size:,}")
    cols[1].metric("prior σ", f"{prior:g}")
    cols[2].metric("median posterior σ", f"{np.median(sigma):.3g}")
    cols[3].metric("final KL(q ‖ p)", f"{fitted.history['kl'].iloc[-1]:.4g}")
    notes = weights.warnings(fitted)
    for note in notes:
        st.warning(escape_markdown(note), icon=icons.WARNING)  # it quotes the prior σ the visitor chose
    if not notes:
        st.success(f"No warning: fewer than {weights.WARN_FRACTION:.0%} of the σ have collapsed (below "
                   f"{weights.COLLAPSED_RATIO:.0%} of the prior's) or stayed at the prior.", icon=icons.OK)
    names = ["all weights and biases", *[g.name for g in groups]]
    choice = st.selectbox("Show", names, key="posterior_group")
    if choice != names[0]:
        group = next(g for g in groups if g.name == choice)
        mu, sigma = group.mu, group.sigma
    st.plotly_chart(weights_figure(mu, sigma, prior), key="weights_chart")
    st.dataframe(summary_table(groups, prior), hide_index=True, key="weights_table")


def noise_section(shown: live.Shown) -> None:
    """The noise std as a function of x (a heteroscedastic fit), with its posterior uncertainty."""
    st.header("The noise, as a function of x")
    st.caption("A second output of the network sets the noise std: σ(x) = softplus(g(x) + c) + a floor of 1 % of "
               "the starting σ. Its weights are Bayesian too, so σ(x) has a posterior: its mean and 95 % interval "
               "over posterior draws, beside the training points' distance from the predicted mean.")
    view, fitted = shown.state.view, shown.fitted
    x = np.linspace(view.x_low, view.x_high, LIMITS.grid)
    sigma = fitted.sample_noise_std(x, samples=200)
    px, py = shown.state.points.x, shown.state.points.y
    mean_at_points = fitted.sample_functions(px, samples=200).mean(axis=0)
    st.plotly_chart(noise_figure(x, sigma, residuals=(px, np.abs(py - mean_at_points))), key="noise_chart")


def prior_section(shown: live.Shown) -> None:
    st.header("Before and after the data")
    st.caption("Left: networks with weights drawn from the prior, what the model believes before it sees any "
               "point; the prior σ sets how wild they are. Right: networks drawn from the fitted posterior.")
    draws = st.slider("Functions drawn", 1, LIMITS.functions, 20, key="prior_draws")
    view = shown.state.view
    x = np.linspace(view.x_low, view.x_high, LIMITS.grid)
    points = (shown.state.points.x, shown.state.points.y)
    left, right = st.columns(2)
    prior_f = weights.prior_functions(shown.fitted, x, samples=draws, seed=shown.fitted.config.seed)
    left.plotly_chart(functions_figure(x, prior_f, points, title="prior"), key="prior_chart")
    post_f = sample_functions(shown.fitted, x, samples=draws)
    right.plotly_chart(functions_figure(x, post_f, points, title="posterior"), key="posterior_chart")


def render() -> None:
    """The page: the fit of the link's state (the main page's, trained now if this session has none), weight
    by weight."""
    st.title("The posterior, weight by weight")
    st.caption("Each weight w has its own Gaussian q(w) = N(μ, σ²); the prior is N(0, σₚ²) for all of them.")
    shown = live.current_fit()
    if shown is not None:
        # the settings may come from a link: escaped like all the visitor's input
        st.caption(escape_markdown(f"The fit of the main page's settings and points (the link's): "
                                   f"{describe(shown.fitted.config, len(shown.state.points))}."))
        weight_section(shown)
        if shown.fitted.is_heteroscedastic:
            noise_section(shown)
        prior_section(shown)

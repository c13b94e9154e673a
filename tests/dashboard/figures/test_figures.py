"""The dashboard's figures and weight diagnostics (dashboard.figures.band, bnn.evaluation.weights) against oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import bnn
from bnn.evaluation import weights
from dashboard.figures import band as plots
from dashboard.figures import loss as loss_figures
from dashboard.figures.posterior import weights_figure
from dashboard.model.view import View


def test_band_data_is_the_engines_predict(article_fit: bnn.Fitted) -> None:
    view = View(samples=150, level=0.9, x_low=-3.0, x_high=4.0)
    data = plots.band_data(article_fit, view, grid=50)
    direct = bnn.predict(article_fit, np.linspace(-3.0, 4.0, 50), samples=150, level=0.9)
    pd.testing.assert_frame_equal(data.table, direct)


def test_inner_band_and_functions_come_from_the_same_draws(article_fit: bnn.Fitted) -> None:
    view = View(samples=200, level=0.95, inner=0.5, functions=7)
    data = plots.band_data(article_fit, view, grid=40)
    t, inner = data.table, data.inner
    assert inner is not None and data.functions.shape == (7, 40)
    # nested percentiles of one sample: the 50 % band lies inside the 95 % band, for f and for y
    assert np.all(inner["f_lower"] >= t["f_lower"]) and np.all(inner["f_upper"] <= t["f_upper"])
    assert np.all(inner["lower"] >= t["lower"]) and np.all(inner["upper"] <= t["upper"])
    draws = bnn.sample_functions(article_fit, t["x"].to_numpy(), samples=200)
    assert np.array_equal(data.functions, draws[:7])


@pytest.mark.parametrize(("band", "lo", "hi"), [("f", "f_lower", "f_upper"), ("y", "lower", "upper")])
def test_band_figure_shades_the_chosen_band(article_fit: bnn.Fitted, band: str, lo: str, hi: str) -> None:
    view = View(band=band, functions=3)
    data = plots.band_data(article_fit, view, grid=30)
    x, y = bnn.toys.article_points()
    truth = bnn.toys.get("quartic")(data.table["x"].to_numpy())
    fig = plots.band_figure(data, view, points=(x, y), truth=truth)
    by_name = {tr.name: tr for tr in fig.data if tr.name}
    assert {"predictive mean", "training points", "true function", "sampled functions"} <= set(by_name)
    shaded = next(tr for tr in fig.data if tr.fill == "tonexty")
    assert np.allclose(shaded.y, data.table[hi])
    mean = by_name["predictive mean"]
    assert np.allclose(np.asarray(mean.customdata)[:, 0], data.table[lo])
    assert "interval" in mean.hovertemplate and "mean" in mean.hovertemplate
    # the axis frames the band and the points; the quartic's -560 at x = 5 does not flatten them
    low, high = fig.layout.yaxis.range
    assert low <= min(data.table[lo].min(), y.min()) and high >= max(data.table[hi].max(), y.max())
    assert low > truth.min()
    assert tuple(fig.layout.xaxis.range) == (-5.0, 5.0)


def test_a_pinned_band_is_drawn_under_the_current_one_in_grey(article_fit: bnn.Fitted) -> None:
    view = View(functions=2)
    current = plots.band_data(article_fit, view, grid=30)
    # another fit's band stands in for the pinned run: twice as wide and shifted up by 50
    pinned = plots.BandData(current.table.assign(f_lower=current.table["f_lower"] * 2 + 50,
                                                 f_upper=current.table["f_upper"] * 2 + 50,
                                                 mean=current.table["mean"] + 50), None, current.functions[:0],
                            current.draws[:0])
    fig = plots.band_figure(current, view, pinned=pinned, pinned_label="pinned run")
    uids = [tr.uid for tr in fig.data]
    assert uids[:3] == ["pinned_lo", "pinned_hi", "pinned_mean"]  # first: drawn under the current band
    assert fig.data[1].fill == "tonexty" and "110, 110, 110" in fig.data[1].fillcolor
    assert fig.data[2].line.dash == "dash" and np.array_equal(fig.data[2].y, pinned.table["mean"])
    assert fig.data[1].name == "pinned run: 95% interval of f"
    low, high = fig.layout.yaxis.range  # the axis frames both bands
    assert high >= pinned.table["f_upper"].max() and low <= current.table["f_lower"].min()
    unpinned = plots.band_figure(current, view)
    assert [tr.uid for tr in unpinned.data] == uids[3:]


@pytest.mark.parametrize("inner", [0.0, 0.5])
def test_updating_a_live_figure_equals_drawing_it_anew(article_fit: bnn.Fitted, inner: float) -> None:
    x, y = bnn.toys.article_points()
    view = View(functions=3, inner=inner, samples=20)
    pinned = plots.band_data(article_fit, View(functions=0, samples=30), grid=25)
    early = bnn.fit(x, y, bnn.Config(epochs=30))
    fig = plots.band_figure(plots.band_data(early, view, grid=25), view, points=(x, y), pinned=pinned, title="a")
    later = plots.band_data(article_fit, view, grid=25)
    plots.update_band(fig, later, view, title="b")
    fresh = plots.band_figure(later, view, points=(x, y), pinned=pinned, title="b")
    assert fig.to_dict() == fresh.to_dict()  # the oracle: a figure built from scratch
    history = article_fit.history
    loss = loss_figures.loss_figure(history.iloc[:10])
    loss_figures.update_loss(loss, history)
    assert loss.to_dict() == loss_figures.loss_figure(history).to_dict()


def test_loss_figure_has_three_terms_and_is_thinned(article_fit: bnn.Fitted) -> None:
    history = pd.DataFrame({"epoch": np.arange(1, 5001), "step": np.arange(1, 5001), "nll": 1.0, "kl": 2.0,
                            "total": 3.0, "noise_sigma": 0.1})
    fig = loss_figures.loss_figure(history, log=True, max_rows=600)
    assert [tr.name for tr in fig.data] == [loss_figures.LOSS_LABELS[c] for c in ("total", "nll", "kl")]
    assert all(len(tr.x) <= 600 for tr in fig.data) and fig.data[0].x[0] == 1
    assert fig.layout.yaxis.type == "log"
    assert loss_figures.loss_figure(article_fit.history).layout.yaxis.type == "linear"


def test_values_a_log_scale_cannot_draw_are_named_with_the_epoch_they_start() -> None:
    nll = [5.0, 3.0, 1.0, 0.0, -1.0, 2.0, -3.0, 1.0, 1.0, 1.0]  # at or below zero at epochs 4, 5 and 7
    kl = [2.0] * 9 + [-0.5]  # a Monte Carlo KL estimate can dip below zero
    history = pd.DataFrame({"epoch": np.arange(1, 11), "step": np.arange(1, 11), "nll": nll, "kl": kl,
                            "total": np.add(nll, kl) + 10, "noise_sigma": 0.1})
    assert loss_figures.not_drawn_on_log(history) == {"nll": (4, 3), "kl": (10, 1)}
    note = loss_figures.log_scale_note(history)
    assert "negative log-likelihood from epoch 4 (3 of 10 logged values)" in note
    assert "KL(q || p) from epoch 10 (1 of 10 logged values)" in note
    assert "density above 1" in note and "Log-scale loss" in note
    positive = history.assign(nll=1.0, kl=1.0)
    assert loss_figures.not_drawn_on_log(positive) == {} and loss_figures.log_scale_note(positive) is None


def test_weight_groups_follow_the_layout(article_fit: bnn.Fitted) -> None:
    groups = weights.groups(article_fit)
    assert [(g.name, g.mu.size) for g in groups] == [
        ("layer 1 weights", 32), ("layer 1 biases", 32), ("layer 2 weights", 32), ("layer 2 biases", 1)]
    flat = np.concatenate([g.mu for g in groups])
    assert np.array_equal(flat, article_fit.model.posterior.mu.detach().numpy())
    sigma = np.concatenate([g.sigma for g in groups])
    assert np.allclose(sigma, np.log1p(np.exp(article_fit.model.posterior.rho.detach().numpy())))


def test_prior_functions_of_a_linear_model_have_the_closed_form_variance() -> None:
    # hidden=() is f(x) = w x + b with w, b ~ N(0, s^2): Var f(x) = s^2 (x^2 + 1), mean 0
    fitted = bnn.fit([0.0, 1.0], [0.0, 1.0], bnn.Config(hidden=(), prior_sigma=2.0, epochs=1))
    x = np.array([-2.0, 0.0, 0.5, 3.0])
    f = weights.prior_functions(fitted, x, samples=40_000, seed=1)
    expected = 4.0 * (x**2 + 1)
    # a variance from S normal draws has relative std sqrt(2/S) = 0.7 %: 4 % is > 5 standard errors
    np.testing.assert_allclose(f.var(axis=0), expected, rtol=0.04)
    assert np.all(np.abs(f.mean(axis=0)) < 5 * np.sqrt(expected / 40_000))


def test_prior_functions_are_seeded_and_shaped(article_fit: bnn.Fitted) -> None:
    a = weights.prior_functions(article_fit, np.linspace(-1, 1, 9), samples=5, seed=3)
    b = weights.prior_functions(article_fit, np.linspace(-1, 1, 9), samples=5, seed=3)
    assert a.shape == (5, 9) and np.array_equal(a, b)


def test_masks_on_known_values() -> None:
    mu = np.array([0.0, 0.5, 5.0, 0.0])
    sigma = np.array([0.05, 9.5, 10.0, 1e-4])
    assert weights.collapsed(sigma, 10.0).tolist() == [True, False, False, True]
    assert weights.at_prior(mu, sigma, 10.0).tolist() == [False, True, False, False]


def test_warnings_name_collapse_and_weights_left_at_the_prior(article_fit: bnn.Fitted) -> None:
    assert weights.warnings(article_fit) == []  # the article's fit shows neither sign
    x, y = bnn.toys.article_points()
    collapsed = bnn.fit(x, y, bnn.Config(epochs=2))
    untouched = bnn.fit(x, y, bnn.Config(epochs=2))
    with torch.no_grad():
        collapsed.model.posterior.rho.fill_(-20.0)  # sigma ~ 2e-9
        untouched.model.posterior.mu.zero_()
        untouched.model.posterior.rho.fill_(float(np.log(np.expm1(10.0))))  # sigma = 10 = the prior's
    assert len(weights.warnings(collapsed)) == 1 and "too narrow" in weights.warnings(collapsed)[0]
    assert len(weights.warnings(untouched)) == 1 and "prior" in weights.warnings(untouched)[0]


def test_weights_figure_draws_the_prior_density() -> None:
    mu, sigma = np.array([-1.0, 0.0, 2.0]), np.array([0.1, 1.0, 3.0])
    fig = weights_figure(mu, sigma, 2.0)
    density = next(tr for tr in fig.data if tr.type == "scatter")
    grid = np.asarray(density.x)
    # the N(0, 2^2) density, integrating to ~1 over +-3 sigma (0.997)
    assert abs(np.trapezoid(density.y, grid) - 0.9973) < 1e-3
    assert np.allclose(next(tr for tr in fig.data if tr.name == "log10 σ").x, np.log10(sigma))


def test_the_editors_figure_frames_the_points_it_does_not_draw(article_fit: bnn.Fitted) -> None:
    # a point far above the band: not a trace of the figure (the point editor draws it), yet in the y range
    view = View()
    data = plots.band_data(article_fit, view, grid=30)
    points = (np.array([0.0]), np.array([500.0]))
    fig = plots.band_figure(data, view, points=points, draw_points=False)
    assert "points" not in [t.uid for t in fig.data]
    assert fig.layout.yaxis.range[1] > 500
    plots.update_band(fig, data, view, title="a live frame")
    assert fig.layout.yaxis.range[1] > 500
    assert plots.band_data(article_fit, View(samples=50), grid=30).draws.shape == (plots.ANIMATION_DRAWS, 30)

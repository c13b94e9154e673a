"""Plotly figures of a held-out evaluation: predicted against actual, the calibration curve, the band.

A predictive distribution is judged on rows it did not see. Predicted against actual
with interval bars shows where the mean misses and whether the intervals reach the
truth; the calibration curve sets each nominal level against the share of test
targets its central interval holds (the diagonal is perfect calibration, below it
over-confidence). One-input data also gets the dashboard's band (:mod:`dashboard.figures.band`).
Column names are the visitor's text and Plotly draws tags such as ``<a href>`` in titles, so they
are shown through :func:`plain`.
"""

from __future__ import annotations

import html

import numpy as np
import plotly.graph_objects as go

from bnn.errors import ConfigError
from dashboard.figures.band import band_data, band_figure
from dashboard.model.view import Band, View
from dashboard.model.your_data import Experiment

TEST_COLOUR = "#ff7f0e"


def plain(text: str) -> str:
    """``text`` shown as typed in a Plotly title: < > & become entities, which Plotly draws as those
    characters, so a column name is never a link or formatting."""
    return html.escape(text, quote=False)


def predicted_vs_actual(experiment: Experiment) -> go.Figure:
    """Test rows: actual on x, predictive mean on y with its central interval as a bar."""
    t = experiment.predictions
    level = f"{experiment.level:.0%}"
    inside = (t["actual"] >= t["lower"]) & (t["actual"] <= t["upper"])
    fig = go.Figure()
    for mask, name, colour in ((inside, f"inside the {level} interval", "#1f77b4"),
                               (~inside, f"outside the {level} interval", "#d62728")):
        part = t[mask]
        fig.add_scatter(
            x=part["actual"], y=part["mean"], mode="markers", name=f"{name} ({int(mask.sum())})",
            marker={"color": colour, "size": 6},
            error_y={"type": "data", "symmetric": False, "array": part["upper"] - part["mean"],
                     "arrayminus": part["mean"] - part["lower"], "thickness": 1, "width": 0, "color": colour},
            customdata=np.stack([part["row"], part["lower"], part["upper"]], axis=1),
            hovertemplate=("row %{customdata[0]}<br>actual %{x:.4g}<br>predicted %{y:.4g}<br>"
                           f"{level} interval" " [%{customdata[1]:.4g}, %{customdata[2]:.4g}]<extra></extra>"),
        )
    lo = float(min(t["actual"].min(), t["lower"].min()))
    hi = float(max(t["actual"].max(), t["upper"].max()))
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", name="predicted = actual",
                    line={"color": "grey", "dash": "dash"}, hoverinfo="skip")
    target = plain(experiment.target)
    fig.update_layout(xaxis_title=f"actual {target}", yaxis_title=f"predicted {target}",
                      margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h", "y": -0.2})
    return fig


def calibration_figure(experiment: Experiment) -> go.Figure:
    """Observed coverage of the central intervals against their nominal level."""
    cal = experiment.calibration()
    n = experiment.scores.n
    # A well-calibrated model's coverage is Binomial(n, p) / n: shade +-2 binomial SE.
    grid = np.linspace(0.0, 1.0, 101)
    se = np.sqrt(grid * (1 - grid) / n)
    fig = go.Figure()
    fig.add_scatter(x=np.concatenate([grid, grid[::-1]]),
                    y=np.concatenate([np.clip(grid + 2 * se, 0, 1), np.clip(grid - 2 * se, 0, 1)[::-1]]),
                    fill="toself", fillcolor="rgba(128, 128, 128, 0.15)", line={"width": 0},
                    name=f"±2 binomial SE ({n} test rows)", hoverinfo="skip")
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                    line={"color": "grey", "dash": "dash"}, hoverinfo="skip")
    fig.add_scatter(x=cal["level"], y=cal["observed"], mode="lines+markers", name="this model",
                    line={"color": "#1f77b4", "width": 3},
                    hovertemplate="nominal %{x:.0%}<br>observed %{y:.1%}<extra></extra>")
    fig.update_layout(xaxis_title="nominal level of the central interval", yaxis_title="share of test rows inside",
                      margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return fig


def band_for_one_input(experiment: Experiment, samples: int = 200) -> go.Figure | None:
    """The main page's band (interval of y) over the input's range, with training and test rows.

    None when the data have more than one input or a range the band cannot show.
    """
    if len(experiment.inputs) != 1:
        return None
    x = np.concatenate([experiment.x_train[:, 0], experiment.predictions.iloc[:, 1].to_numpy()])
    pad = 0.1 * (x.max() - x.min()) or 1.0
    try:
        view = View(samples=samples, level=experiment.level, band=Band.Y, functions=0,
                    x_low=float(x.min() - pad), x_high=float(x.max() + pad))
    except ConfigError:
        return None
    fig = band_figure(band_data(experiment.fitted, view), view,
                      points=(experiment.x_train[:, 0], experiment.y_train))
    t = experiment.predictions
    fig.add_scatter(x=t.iloc[:, 1], y=t["actual"], mode="markers", name="test rows",
                    marker={"color": TEST_COLOUR, "size": 8, "symbol": "diamond"},
                    hovertemplate="test row (%{x:.4g}, %{y:.4g})<extra></extra>")
    fig.update_layout(xaxis_title=plain(experiment.inputs[0]), yaxis_title=plain(experiment.target))
    fig.update_yaxes(autorange=True)
    return fig

"""Plotly figures of a held-out classification: the reliability diagram and the confusion matrix.

The reliability diagram (DeGroot & Fienberg 1983; Guo et al. 2017, fig. 1) puts the held-out rows
in equal-width bins of top-label confidence and draws each bin's accuracy against its mean
confidence: on the diagonal a model is as often right as it claims, below it over-confident. The
confusion matrix counts the rows of each true class (rows) predicted as each class (columns).
Class names are the visitor's text; Plotly draws tags such as ``<a href>`` in tick labels and
hovers, so they pass through :func:`dashboard.figures.your_data.plain`.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from dashboard.figures.your_data import plain
from dashboard.model.your_data_classes import ClassExperiment

_MARGIN = {"l": 10, "r": 10, "t": 10, "b": 10}


def reliability_figure(experiment: ClassExperiment) -> go.Figure:
    """Bars: each bin's accuracy over its confidence range; dots: its mean confidence against its
    accuracy; the diagonal is perfect calibration. The hover gives the bin and its row count."""
    table = experiment.reliability
    full = table[table["count"] > 0]
    width = float(table["upper"].iloc[0] - table["lower"].iloc[0])
    custom = np.stack([full["lower"], full["upper"], full["count"], full["confidence"]], axis=1)
    hover = ("confidence (%{customdata[0]:.2f}, %{customdata[1]:.2f}]: %{customdata[2]} rows<br>"
             "mean confidence %{customdata[3]:.1%}<br>accuracy %{y:.1%}<extra></extra>")
    fig = go.Figure()
    fig.add_bar(x=(full["lower"] + full["upper"]) / 2, y=full["accuracy"], width=width, name="accuracy in the bin",
                marker={"color": "rgba(31, 119, 180, 0.55)", "line": {"color": "#1f77b4", "width": 1}},
                customdata=custom, hovertemplate=hover)
    fig.add_scatter(x=full["confidence"], y=full["accuracy"], mode="markers", name="mean confidence",
                    marker={"color": "#d62728", "size": 8}, customdata=custom, hovertemplate=hover)
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect calibration",
                    line={"color": "grey", "dash": "dash"}, hoverinfo="skip")
    fig.update_layout(xaxis_title="confidence (probability of the predicted class)",
                      yaxis_title="share of held-out rows predicted right", bargap=0, margin=_MARGIN,
                      legend={"orientation": "h", "y": -0.2})
    fig.update_xaxes(range=[0, 1], tickformat=".0%")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return fig


def confusion_figure(experiment: ClassExperiment) -> go.Figure:
    """A heatmap of the counts, true class down, predicted class across, each cell labelled."""
    names = [plain(name) for name in experiment.names]
    counts = experiment.confusion
    totals = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    fig = go.Figure(go.Heatmap(
        z=share, x=names, y=names, customdata=counts, text=counts, texttemplate="%{text}", colorscale="Blues",
        zmin=0, zmax=1, colorbar={"title": {"text": "share of<br>the row"}, "tickformat": ".0%"},
        hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} rows (%{z:.0%} of the class)<extra></extra>"))
    fig.update_layout(margin=_MARGIN, xaxis_title="predicted class", yaxis_title="true class")
    # category axes: class names such as "1" and "10" are labels, not positions on a number line
    fig.update_xaxes(type="category", side="bottom")
    fig.update_yaxes(type="category", autorange="reversed")
    return fig

"""The Classify page's figures: the canvas the points are edited on, and the maps side by side.

Colours read well for colour-blind people: the classes take the Okabe & Ito (2008) palette and a
marker symbol each (so they differ in shape too); the predicted class is its colour, pale where
the network is unsure (lightness by the predicted class's probability, from 1/K to 1); the
uncertainty maps use viridis (perceptually uniform, readable in greyscale and with every common
colour-vision deficiency) on one shared scale from 0 to log K nats, so their brightness compares.
Decision boundaries are the zero lines of the class margins (:func:`dashboard.model.classify_maps.margins`):
thick and black for the posterior mean, thin and grey for a few posterior draws.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.model.classify_maps import Maps, boundary_fields
from dashboard.model.classify_state import Square
from dashboard.model.labelled import LabelledPoints

# Okabe & Ito's colour-blind safe palette (blue, orange, bluish green, vermillion, reddish purple, sky blue)
CLASS_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
CLASS_SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "star")
UNCERTAINTY_SCALE = "Viridis"
POINTS_UID = "points"  # dashboard.editor takes the points' style from this trace
MAPS = {"class": "Predicted class (pale: unsure)", "aleatoric": "Aleatoric (expected entropy)",
        "epistemic": "Epistemic (mutual information)", "entropy": "Total entropy"}


def class_styles(classes: int) -> list[dict[str, str]]:
    """The canvas's class buttons: name, colour and symbol of each class."""
    return [{"name": f"class {k}", "color": CLASS_COLOURS[k], "symbol": CLASS_SYMBOLS[k]} for k in range(classes)]


def _blend(colour: str, amount: float) -> str:
    """``colour`` mixed with white: amount 0 is white, 1 the colour."""
    rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
    mixed = 255 + amount * (rgb - 255)
    return "rgb({:.0f},{:.0f},{:.0f})".format(*mixed)


def class_traces(maps: Maps, **subplot: Any) -> list[go.Heatmap]:
    """One heatmap per class, drawn where it is predicted: pale at probability 1/K, its colour at 1."""
    label, confidence, k = maps.label, maps.confidence, maps.classes
    traces = []
    for c in range(k):
        z = np.where(label == c, confidence, np.nan)
        traces.append(go.Heatmap(
            x=maps.axis, y=maps.axis, z=z, zmin=1 / k, zmax=1.0, showscale=False, name=f"class {c}",
            colorscale=[[0, _blend(CLASS_COLOURS[c], 0.08)], [1, _blend(CLASS_COLOURS[c], 0.75)]],
            hovertemplate=f"class {c}, p = %{{z:.2f}}<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>", **subplot))
    return traces


def uncertainty_trace(maps: Maps, column: str, showscale: bool, **subplot: Any) -> go.Heatmap:
    return go.Heatmap(x=maps.axis, y=maps.axis, z=maps.grid(column), zmin=0.0, zmax=float(np.log(maps.classes)),
                      colorscale=UNCERTAINTY_SCALE, showscale=showscale, name=column,
                      colorbar={"title": {"text": "nats"}, "thickness": 12},
                      hovertemplate=f"{column} %{{z:.3f}} nats<br>(%{{x:.2f}}, %{{y:.2f}})<extra></extra>", **subplot)


def boundary_traces(maps: Maps, draws: bool = True, **subplot: Any) -> list[go.Contour]:
    """The mean's decision boundary (thick, black) and, with ``draws``, each boundary draw's (thin, grey)."""
    out = []
    if draws:
        for s in range(maps.draws.shape[0]):
            out += [_zero_line(maps.axis, f, "rgba(60,60,60,0.45)", 1.0, "boundary of a posterior draw", s == 0,
                               subplot) for f in boundary_fields(maps.draws[s])]
    out += [_zero_line(maps.axis, f, "black", 2.5, "decision boundary (mean)", i == 0, subplot)
            for i, f in enumerate(boundary_fields(maps.probabilities))]
    return out


def _zero_line(axis: np.ndarray, field: np.ndarray, colour: str, width: float, name: str, legend: bool,
               subplot: dict[str, Any]) -> go.Contour:
    return go.Contour(x=axis, y=axis, z=field, autocontour=False, contours={"start": 0, "end": 0, "size": 1,
                                                                            "coloring": "none"},
                      line={"color": colour, "width": width}, showscale=False, hoverinfo="skip", name=name,
                      showlegend=False, legendgroup=name, **subplot)


def points_trace(points: LabelledPoints, size: int = 7, **subplot: Any) -> go.Scatter:
    k = points.labels
    return go.Scatter(x=points.x[:, 0], y=points.x[:, 1], mode="markers", name="training points", showlegend=False,
                      marker={"color": [CLASS_COLOURS[c] for c in k], "symbol": [CLASS_SYMBOLS[c] for c in k],
                              "size": size, "line": {"color": "white", "width": 1}},
                      text=[f"class {c}" for c in k], hovertemplate="%{text} (%{x:.3f}, %{y:.3f})<extra></extra>",
                      **subplot)


def canvas_figure(maps: Maps | None, square: Square, background: str = "class", title: str = "") -> go.Figure:
    """The editor's chart: a square over ``square`` with ``background`` (a key of :data:`MAPS`), the
    boundaries of the mean and of a few draws, and a points trace for the style (the editor draws
    the points themselves). With no maps (no points, or not trained yet) an empty square."""
    fig = go.Figure()
    if maps is not None:
        if background == "class":
            fig.add_traces(class_traces(maps))
        else:
            fig.add_trace(uncertainty_trace(maps, background, showscale=True))
        fig.add_traces(boundary_traces(maps))
    fig.add_trace(go.Scatter(x=[], y=[], mode="markers", uid=POINTS_UID, name="training points",
                             marker={"size": 9, "line": {"color": "white", "width": 1.2}}))
    fig.update_layout(height=520, margin={"l": 50, "r": 20, "t": 40, "b": 40}, showlegend=False,
                      title={"text": html.escape(title), "font": {"size": 14}},
                      plot_bgcolor="white")
    _square_axes(fig, square)
    return fig


def maps_figure(maps: Maps, points: LabelledPoints, square: Square, entropy: bool = False) -> go.Figure:
    """The predicted class, aleatoric and epistemic maps (and the total entropy with ``entropy``) side by
    side on the same axes, each with the training points and the mean's decision boundary."""
    kinds = ["class", "aleatoric", "epistemic"] + (["entropy"] if entropy else [])
    fig = make_subplots(rows=1, cols=len(kinds), subplot_titles=[MAPS[k] for k in kinds],
                        horizontal_spacing=0.05)
    for i, kind in enumerate(kinds, start=1):
        at = {"row": 1, "col": i}
        traces = (class_traces(maps) if kind == "class"
                  else [uncertainty_trace(maps, kind, showscale=i == len(kinds))])
        traces += boundary_traces(maps, draws=False) + [points_trace(points, size=5)]
        for t in traces:
            fig.add_trace(t, **at)
    fig.update_layout(height=360, margin={"l": 40, "r": 10, "t": 40, "b": 30}, showlegend=False,
                      plot_bgcolor="white")
    for i in range(1, len(kinds) + 1):
        _square_axes(fig, square, i)
    return fig


def _square_axes(fig: go.Figure, square: Square, i: int = 1) -> None:
    """Both axes over the square, one unit as long on each, zoom shared between subplots."""
    suffix = "" if i == 1 else str(i)
    rng = [square.low, square.high]
    fig.layout[f"xaxis{suffix}"].update(range=rng, constrain="domain", title={"text": "x0"}, showgrid=False,
                                        **({} if i == 1 else {"matches": "x"}))
    fig.layout[f"yaxis{suffix}"].update(range=rng, constrain="domain", scaleanchor=f"x{suffix}", scaleratio=1,
                                        showgrid=False, title={"text": "x1" if i == 1 else ""},
                                        **({} if i == 1 else {"matches": "y"}))

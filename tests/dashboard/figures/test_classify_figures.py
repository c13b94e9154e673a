"""The Classify page's figures: what each map holds, on which scale, and that nothing is user text unescaped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.figures import classify as figures
from dashboard.model.classify_maps import Maps
from dashboard.model.classify_state import Square
from dashboard.model.labelled import LabelledPoints


def toy_maps(k: int = 3, n: int = 10) -> Maps:
    """Probabilities made by hand: class c where x0 lies in its third of the axis, sure to the right."""
    axis = np.linspace(-1, 1, n)
    x0, x1 = np.meshgrid(axis, axis)
    logits = np.stack([-(x0 - c + 1) ** 2 * 8 for c in range(k)], axis=-1)
    draws = np.stack([np.exp(logits * s) / np.exp(logits * s).sum(-1, keepdims=True) for s in (0.5, 1.0, 2.0)])
    mean = draws.mean(0).reshape(-1, k)
    flat = draws.reshape(3, -1, k)
    alea = -(flat * np.log(flat)).sum(-1).mean(0)
    total = -(mean * np.log(mean)).sum(-1)
    table = pd.DataFrame({"x0": x0.ravel(), "x1": x1.ravel(), **{f"p{c}": mean[:, c] for c in range(k)},
                          "label": mean.argmax(1), "entropy": total, "aleatoric": alea, "epistemic": total - alea})
    return Maps(axis, table, draws)


def test_the_class_map_paints_each_cell_once_in_its_class_colour():
    maps = toy_maps()
    traces = figures.class_traces(maps)
    painted = np.stack([np.isfinite(np.asarray(t.z, dtype=float)) for t in traces])
    assert (painted.sum(0) == 1).all()  # every cell in exactly one class's heatmap
    for c, t in enumerate(traces):
        assert t.zmin == 1 / 3 and t.zmax == 1.0
        assert np.array_equal(painted[c], maps.label == c)


def test_uncertainty_maps_share_one_scale_from_zero_to_log_k():
    fig = figures.maps_figure(toy_maps(), LabelledPoints.of([[0, 0]], [1]), Square(-1.0, 1.0), entropy=True)
    heat = [t for t in fig.data if isinstance(t, go.Heatmap) and t.name in ("aleatoric", "epistemic", "entropy")]
    assert [t.name for t in heat] == ["aleatoric", "epistemic", "entropy"]
    assert {(t.zmin, round(t.zmax, 12)) for t in heat} == {(0.0, round(float(np.log(3)), 12))}
    assert [t.showscale for t in heat] == [False, False, True]  # one colour bar for the shared scale
    titles = [a.text for a in fig.layout.annotations][:3]
    assert titles == [figures.MAPS[k] for k in ("class", "aleatoric", "epistemic")]


def test_boundaries_are_drawn_for_the_mean_and_each_draw():
    maps = toy_maps()
    lines = figures.boundary_traces(maps)
    thin = [t for t in lines if t.line.width == 1.0]
    thick = [t for t in lines if t.line.width == 2.5]
    assert len(thick) == 3 and len(thin) == 3 * 3  # K zero lines each, for the mean and 3 draws
    assert all(t.contours.start == 0 and t.contours.end == 0 for t in lines)
    two = toy_maps(k=2)
    assert len([t for t in figures.boundary_traces(two, draws=False)]) == 1  # K = 2: one line


def test_the_canvas_without_maps_is_an_empty_square_with_the_points_style():
    fig = figures.canvas_figure(None, Square(-2.0, 3.0), title="<b>x</b>")
    assert [t.uid for t in fig.data] == [figures.POINTS_UID]
    assert list(fig.layout.xaxis.range) == [-2.0, 3.0] and fig.layout.yaxis.scaleanchor == "x"
    assert "<b>" not in fig.layout.title.text  # titles are escaped


def test_class_styles_are_colour_blind_safe_and_distinct_in_shape():
    styles = figures.class_styles(6)
    assert len({s["color"] for s in styles}) == 6 and len({s["symbol"] for s in styles}) == 6
    assert styles[0]["color"] == "#0072B2"  # Okabe & Ito's blue

"""The posterior band of a fit: mean, interval(s), drawn functions, points, true function, pinned run.

The band is computed once from S posterior function draws on a grid (as
:func:`bnn.predict` computes it, same seed, same numbers), so the outer band, the
inner band and the drawn functions all come from the same draws. Figures are plain
``plotly.graph_objects.Figure`` objects: the dashboard shows them, a notebook or the
CLI can write them to HTML. Each trace carries a ``uid`` naming its part, so a live
frame puts new numbers into the figure it drew (:func:`update_band`) at a tenth of the cost of a new one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy.special import ndtri

from bnn.predict import Predictive, predictive_table, summarise
from dashboard.model.limits import LIMITS
from dashboard.model.view import Band, View

NOISE_COLOUR = "255, 127, 14"  # the noise-alone band (orange, apart from the blue f and y bands)
Y_COLOUR = "148, 103, 189"  # the y band when drawn with others (purple): f's blue stays the article's
BAND_LABELS = {Band.F: "f (epistemic)", Band.NOISE: "noise (aleatoric)", Band.Y: "y (total)"}

BAND_COLOUR = "31, 119, 180"
PINNED_COLOUR = "110, 110, 110"  # a pinned run: grey, under the current band
INNER_COLOUR = "31, 119, 180"
REFERENCE_COLOUR = "#ff7f0e"  # the reference posterior's lines (orange: apart from the blue band and grey pin)
ANIMATION_DRAWS = 30  # posterior draws the Play button cycles through (3 s at 10 a second)


@dataclass(frozen=True)
class BandData:
    """The predictive table on a grid (the engine's columns), an optional inner band, and
    the first few of the function draws behind them."""

    table: pd.DataFrame
    inner: dict[str, np.ndarray] | None
    functions: np.ndarray  # (k, G)
    draws: np.ndarray  # (A, G): the first ANIMATION_DRAWS draws, which the chart's Play button cycles through

    def noise_band(self, level: float, inner: bool = False) -> dict[str, np.ndarray]:
        """The noise alone around the mean: mean +- z * aleatoric std, z the normal quantile of ``level``."""
        src = self.inner if inner and self.inner is not None else self.table
        z = float(ndtri((1 + level) / 2))
        mean, alea = np.asarray(src["mean"]), np.asarray(src["aleatoric_std"])
        return {"noise_lower": mean - z * alea, "noise_upper": mean + z * alea}


def band_data(fitted: Predictive, view: View, samples: int | None = None, grid: int = LIMITS.grid) -> BandData:
    """Draw ``samples`` (default ``view.samples``) functions on ``grid`` points of the view's range."""
    x = np.linspace(view.x_low, view.x_high, grid)
    f = fitted.sample_functions(x, samples=samples or view.samples)  # (S, G), seeded by the config
    noise = fitted.scoring_noise(x, samples=samples or view.samples)  # sigma(x) per draw if it varies
    table = predictive_table(x[:, None], f, noise, view.level)
    inner = summarise(f, noise, view.inner) if view.inner else None
    return BandData(table, inner, f[: view.functions], f[:ANIMATION_DRAWS])


_BOUNDS = {Band.F: ("f_lower", "f_upper", "f"), Band.NOISE: ("noise_lower", "noise_upper", "the noise"),
           Band.Y: ("lower", "upper", "y")}
_COLOURS = {Band.F: BAND_COLOUR, Band.NOISE: NOISE_COLOUR, Band.Y: Y_COLOUR}


def _bounds(view: View) -> tuple[str, str, str]:
    """The columns of the first chosen band's bounds (the widest: it frames the axis, the pinned run and
    the reference are drawn as it), and what it is a band of."""
    return _BOUNDS[view.band[0]]


def _all_columns(data: BandData, view: View) -> dict[str, np.ndarray]:
    return {**_columns(data.table), **data.noise_band(view.level)}


def band_figure(data: BandData, view: View, points: tuple[np.ndarray, np.ndarray] | None = None,
                truth: np.ndarray | None = None, title: str = "", pinned: BandData | None = None,
                pinned_label: str = "pinned run", draw_points: bool = True,
                reference: pd.DataFrame | None = None, reference_label: str = "reference (HMC)") -> go.Figure:
    """Mean, band(s), drawn functions, true function and points; hover gives x, mean, interval.

    ``pinned``: an earlier run's band, drawn first (under the rest) in grey with a dashed mean.
    ``draw_points=False``: the points frame the y axis but are not drawn (the point editor draws them).
    ``reference``: a prediction table of the reference posterior on the same grid, drawn as orange
    lines (its band's bounds dashed, its mean dotted) over the band; it does not frame the y axis
    (between clusters it is often many times wider than the band, which would flatten the rest).
    Every trace has a ``uid`` naming its part, so :func:`update_band` can put new numbers in."""
    t = _all_columns(data, view)
    lo, hi, what = _bounds(view)
    fig = go.Figure()
    if pinned is not None:
        p = _all_columns(pinned, view)
        _add_band(fig, p["x"], p[lo], p[hi], f"{pinned_label}: {view.level:.0%} interval of {what}",
                  f"rgba({PINNED_COLOUR}, 0.16)", uid="pinned")
        fig.add_scatter(x=p["x"], y=p["mean"], mode="lines", name=f"{pinned_label}: mean", uid="pinned_mean",
                        line={"color": f"rgb({PINNED_COLOUR})", "dash": "dash", "width": 2},
                        hovertemplate="x = %{x:.3f}<br>pinned mean = %{y:.3f}<extra></extra>")
    several = len(view.band) > 1
    for k, b in enumerate(view.band):  # widest first; the first is "band" (it frames the axis)
        blo, bhi, bwhat = _BOUNDS[b]
        colour = BAND_COLOUR if not several and b is not Band.NOISE else _COLOURS[b]
        _add_band(fig, t["x"], t[blo], t[bhi], f"{view.level:.0%} interval of {BAND_LABELS[b] if several else bwhat}",
                  f"rgba({colour}, {0.18 if k == 0 else 0.28})", uid="band" if k == 0 else f"band_{b.value}")
    if data.inner is not None:
        inner = {**data.inner, **data.noise_band(view.inner, inner=True)}
        _add_band(fig, t["x"], inner[lo], inner[hi], f"{view.inner:.0%} interval of {what}",
                  f"rgba({INNER_COLOUR}, 0.30)", uid="inner")
    for k, f in enumerate(data.functions):
        fig.add_scatter(x=t["x"], y=f, mode="lines", line={"width": 1, "color": "rgba(90, 90, 90, 0.45)"},
                        name="sampled functions", legendgroup="functions", showlegend=k == 0, hoverinfo="skip",
                        uid=f"function_{k}")
    if truth is not None:
        fig.add_scatter(x=t["x"], y=truth, mode="lines", name="true function", uid="truth",
                        line={"color": "#2ca02c", "dash": "dash", "width": 2}, hoverinfo="skip")
    fig.add_scatter(
        x=t["x"], y=t["mean"], mode="lines", name="predictive mean", line={"color": f"rgb({BAND_COLOUR})", "width": 3},
        customdata=np.stack([t[lo], t[hi]], axis=1), uid="mean",
        hovertemplate=(f"x = %{{x:.3f}}<br>mean = %{{y:.3f}}<br>{view.level:.0%} interval of {what}: "
                       "[%{customdata[0]:.3f}, %{customdata[1]:.3f}]<extra></extra>"),
    )
    if reference is not None:
        r = _columns(reference)
        style = {"color": REFERENCE_COLOUR, "width": 2}
        fig.add_scatter(x=r["x"], y=r[lo], mode="lines", line={**style, "dash": "dash"}, uid="reference_lo",
                        name=f"{reference_label}: {view.level:.0%} interval of {what}", legendgroup="reference",
                        hovertemplate="x = %{x:.3f}<br>reference lower = %{y:.3f}<extra></extra>")
        fig.add_scatter(x=r["x"], y=r[hi], mode="lines", line={**style, "dash": "dash"}, uid="reference_hi",
                        showlegend=False, legendgroup="reference",
                        hovertemplate="x = %{x:.3f}<br>reference upper = %{y:.3f}<extra></extra>")
        fig.add_scatter(x=r["x"], y=r["mean"], mode="lines", line={**style, "dash": "dot"}, uid="reference_mean",
                        name=f"{reference_label}: mean", legendgroup="reference",
                        hovertemplate="x = %{x:.3f}<br>reference mean = %{y:.3f}<extra></extra>")
    if points is not None and draw_points:
        fig.add_scatter(x=points[0], y=points[1], mode="markers", name="training points", uid="points",
                        marker={"color": "#d62728", "size": 8, "line": {"color": "white", "width": 1}},
                        hovertemplate="point (%{x:.3f}, %{y:.3f})<extra></extra>")
    fig.update_layout(title=title or None, xaxis_title="x", yaxis_title=what, hovermode="closest",
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(range=[view.x_low, view.x_high])
    framed = None if points is None or draw_points or not len(points[1]) else np.asarray(points[1], dtype=np.float64)
    fig.update_layout(meta={"framed_y": None if framed is None else [float(framed.min()), float(framed.max())]})
    fig.update_yaxes(range=_y_range(fig))
    return fig


def _columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    """The table's columns as NumPy arrays: Plotly takes a pandas column through narwhals, about
    0.4 ms a trace, half the cost of building the band's figure."""
    return {name: table[name].to_numpy() for name in table.columns}


def update_band(fig: go.Figure, data: BandData, view: View, title: str = "") -> None:
    """Put a new band of the same view into a figure :func:`band_figure` drew (a live frame):
    about a tenth of the cost of a new figure. The points, truth and pinned band stay."""
    t = _all_columns(data, view)
    lo, hi, _ = _bounds(view)
    ys = {"band_lo": t[lo], "band_hi": t[hi], "mean": t["mean"]}
    for b in view.band[1:]:
        blo, bhi, _ = _BOUNDS[b]
        ys |= {f"band_{b.value}_lo": t[blo], f"band_{b.value}_hi": t[bhi]}
    if data.inner is not None:
        inner = {**data.inner, **data.noise_band(view.inner, inner=True)}
        ys |= {"inner_lo": inner[lo], "inner_hi": inner[hi]}
    ys |= {f"function_{k}": f for k, f in enumerate(data.functions)}
    with fig.batch_update():
        for trace in fig.data:
            if trace.uid in ys:
                trace.y = np.asarray(ys[trace.uid])
            if trace.uid == "mean":
                trace.customdata = np.stack([t[lo], t[hi]], axis=1)
        fig.update_layout(title=title or None)
    fig.update_yaxes(range=_y_range(fig))  # after the batch: it reads the new numbers


def _y_range(fig: go.Figure) -> list[float]:
    """Frame the bands and the points; a true function running off to +-500 must not flatten them."""
    framed = ("band_lo", "band_hi", "pinned_lo", "pinned_hi", "points")
    values = [np.asarray(t.y, dtype=np.float64) for t in fig.data if t.uid in framed and t.y is not None]
    meta = fig.layout.meta
    if isinstance(meta, dict) and meta.get("framed_y"):  # points the figure frames without drawing
        values.append(np.asarray(meta["framed_y"], dtype=np.float64))
    lo, hi = float(min(v.min() for v in values)), float(max(v.max() for v in values))
    pad = 0.08 * (hi - lo) or 1.0
    return [lo - pad, hi + pad]


def _add_band(fig: go.Figure, x: np.ndarray, lower: np.ndarray, upper: np.ndarray, name: str, colour: str,
              uid: str) -> None:
    fig.add_scatter(x=x, y=lower, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
                    legendgroup=name, uid=f"{uid}_lo")
    fig.add_scatter(x=x, y=upper, mode="lines", line={"width": 0}, fill="tonexty", fillcolor=colour, name=name,
                    hoverinfo="skip", legendgroup=name, uid=f"{uid}_hi")

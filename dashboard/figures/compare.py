"""Figures comparing methods on one point set: bands overlaid, or small multiples with shared axes.

Each method's band comes from its prediction table (:meth:`FittedMethod.predict`),
so a band here is the same numbers as the table and the CSV. The y range is shared
and clipped to the data's scale (a method whose band spans +-40 beyond the data would
otherwise flatten every other one); bands leaving it are cut at the frame, which the
caption of the page says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

COLOURS = {
    "bbb": "31, 119, 180",
    "dropout": "255, 127, 14",
    "ensemble": "44, 160, 44",
    "laplace": "148, 103, 189",
    "hmc": "214, 39, 40",
    "fullcov": "140, 86, 75",
    "gp": "23, 190, 207",
}
OTHER_COLOUR = "127, 127, 127"


def band_columns(band: str) -> tuple[str, str]:
    """The table's interval columns for a band of f (the article's) or of y (with noise)."""
    return ("f_lower", "f_upper") if band == "f" else ("lower", "upper")


def y_range(tables: dict[str, pd.DataFrame], points: tuple[np.ndarray, np.ndarray], truth: np.ndarray | None,
            band: str = "f") -> list[float]:
    """A y range that shows the data, the truth and the means, plus the bands up to 3 times the
    data's spread: the same for every panel."""
    lo_col, hi_col = band_columns(band)
    y = np.asarray(points[1], dtype=np.float64)
    core = [y] + [t["mean"].to_numpy() for t in tables.values()]
    if truth is not None:
        core.append(truth[np.isfinite(truth)])
    core_all = np.concatenate([c for c in core if c.size])
    low, high = float(core_all.min()), float(core_all.max())
    spread = max(high - low, 1.0)
    bands = np.concatenate([np.r_[t[lo_col].to_numpy(), t[hi_col].to_numpy()] for t in tables.values()])
    low = max(float(bands.min()), low - 3 * spread)
    high = min(float(bands.max()), high + 3 * spread)
    pad = 0.05 * (high - low)
    return [low - pad, high + pad]


def _add_method(fig: go.Figure, table: pd.DataFrame, name: str, label: str, band: str, show_legend: bool,
                row: int | None = None, col: int | None = None) -> None:
    lo_col, hi_col = band_columns(band)
    colour = COLOURS.get(name, OTHER_COLOUR)
    where = {} if row is None else {"row": row, "col": col}
    x = table["x"]
    fig.add_trace(go.Scatter(x=x, y=table[hi_col], mode="lines", line={"width": 0}, hoverinfo="skip",
                             showlegend=False, legendgroup=name), **where)
    fig.add_trace(go.Scatter(x=x, y=table[lo_col], mode="lines", line={"width": 0}, fill="tonexty",
                             fillcolor=f"rgba({colour}, 0.2)", name=f"{label} band", legendgroup=name,
                             showlegend=False, hoverinfo="skip"), **where)
    fig.add_trace(go.Scatter(x=x, y=table["mean"], mode="lines", line={"color": f"rgb({colour})", "width": 2},
                             name=label, legendgroup=name, showlegend=show_legend,
                             customdata=np.stack([table[lo_col], table[hi_col]], axis=1),
                             hovertemplate=f"{label}<br>x=%{{x:.3g}}<br>mean=%{{y:.3g}}"
                                           "<br>band [%{customdata[0]:.3g}, %{customdata[1]:.3g}]<extra></extra>"),
                  **where)


def _add_context(fig: go.Figure, x: np.ndarray, points: tuple[np.ndarray, np.ndarray], truth: np.ndarray | None,
                 show_legend: bool, row: int | None = None, col: int | None = None) -> None:
    where = {} if row is None else {"row": row, "col": col}
    if truth is not None:
        fig.add_trace(go.Scatter(x=x, y=truth, mode="lines", line={"color": "black", "dash": "dash", "width": 1.5},
                                 name="true function", legendgroup="truth", showlegend=show_legend), **where)
    fig.add_trace(go.Scatter(x=points[0], y=points[1], mode="markers", name="points", legendgroup="points",
                             marker={"color": "black", "size": 7}, showlegend=show_legend), **where)


def comparison_figure(tables: dict[str, pd.DataFrame], labels: dict[str, str],
                      points: tuple[np.ndarray, np.ndarray], truth: np.ndarray | None = None,
                      band: str = "f", overlay: bool = True, columns: int = 2) -> go.Figure:
    """One figure of every method's band on the same x grid (the tables' ``x``)."""
    if not tables:
        return go.Figure()
    x = next(iter(tables.values()))["x"].to_numpy()
    yr = y_range(tables, points, truth, band)
    if overlay:
        fig = go.Figure()
        for name, table in tables.items():
            _add_method(fig, table, name, labels.get(name, name), band, show_legend=True)
        _add_context(fig, x, points, truth, show_legend=True)
        fig.update_yaxes(range=yr)
    else:
        rows = -(-len(tables) // columns)
        fig = make_subplots(rows=rows, cols=columns, shared_xaxes=True, shared_yaxes=True,
                            subplot_titles=[labels.get(n, n) for n in tables], vertical_spacing=0.08)
        for k, (name, table) in enumerate(tables.items()):
            row, col = k // columns + 1, k % columns + 1
            _add_method(fig, table, name, labels.get(name, name), band, show_legend=False, row=row, col=col)
            _add_context(fig, x, points, truth, show_legend=k == 0, row=row, col=col)
        fig.update_yaxes(range=yr)
        fig.update_layout(height=320 * rows)
    what = "f" if band == "f" else "y"
    fig.update_layout(margin={"l": 40, "r": 10, "t": 40, "b": 40}, hovermode="closest",
                      legend={"orientation": "h", "y": -0.12}, title=f"bands of {what}")
    return fig

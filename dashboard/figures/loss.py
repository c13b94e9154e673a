"""The loss curve of a fit: total (negative ELBO), negative log-likelihood and KL against the epoch.

Built once per run; a live frame puts new rows into the figure it drew (:func:`update_loss`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

LOSS_COLOURS = {"total": "#1f77b4", "nll": "#ff7f0e", "kl": "#2ca02c"}
LOSS_LABELS = {"total": "total (negative ELBO)", "nll": "negative log-likelihood", "kl": "KL(q || p)"}


def loss_figure(history: pd.DataFrame, log: bool = False, max_rows: int = 600) -> go.Figure:
    """Total, negative log-likelihood and KL against the epoch; thinned to ``max_rows`` rows."""
    h = _thinned(history, max_rows)
    fig = go.Figure()
    for column in ("total", "nll", "kl"):
        fig.add_scatter(x=h["epoch"], y=h[column], mode="lines", name=LOSS_LABELS[column], uid=column,
                        line={"color": LOSS_COLOURS[column], "width": 2})
    fig.update_layout(xaxis_title="epoch", yaxis_title="loss", hovermode="x unified",
                      margin={"l": 10, "r": 10, "t": 10, "b": 10}, legend={"orientation": "h", "y": -0.25})
    fig.update_yaxes(type="log" if log else "linear")
    return fig


def update_loss(fig: go.Figure, history: pd.DataFrame, max_rows: int = 600) -> None:
    """New rows into a figure :func:`loss_figure` drew (a live frame)."""
    h = _thinned(history, max_rows)
    with fig.batch_update():
        for trace in fig.data:
            trace.x, trace.y = h["epoch"].to_numpy(), h[trace.uid].to_numpy()


def _thinned(history: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    return history.iloc[:: max(1, -(-len(history) // max_rows))] if len(history) else history

"""The loss curve of a fit: total (negative ELBO), negative log-likelihood and KL against the epoch.

Built once per run; a live frame puts new rows into the figure it drew (:func:`update_loss`).
The dashboard draws it on a log scale by default: the first epochs' losses (about 5,000 in the
article's run, 11,000 in the gap preset's, against about 280 at the end) flatten everything
after them on a linear one. A log scale cannot draw a value at or below zero, which the negative
log-likelihood reaches when the fit is close and the noise σ small (a density above 1):
:func:`log_scale_note` says which terms lose values, and from when.
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


def not_drawn_on_log(history: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """The terms with values at or below zero: term -> (first such epoch, how many such rows)."""
    hidden = {}
    for column in ("total", "nll", "kl"):
        below = history["epoch"][history[column] <= 0]
        if len(below):
            hidden[column] = (int(below.min()), len(below))
    return hidden


def log_scale_note(history: pd.DataFrame) -> str | None:
    """What a log-scale loss chart of ``history`` leaves out, and why; None if it draws everything."""
    hidden = not_drawn_on_log(history)
    if not hidden:
        return None
    terms = "; ".join(f"{LOSS_LABELS[c]} from epoch {first:,} ({n:,} of {len(history):,} logged values)"
                      for c, (first, n) in hidden.items())
    why = []
    if "nll" in hidden:
        why.append("A close fit with a small noise σ gives the points a density above 1, so their negative "
                   "log-likelihood drops below zero.")
    if "kl" in hidden:
        why.append("The Monte Carlo KL estimate of one draw can be negative.")
    return (f"Not drawn on this log scale (values at or below zero): {terms}. {' '.join(why)} "
            "Turn off Log-scale loss to see them.")

"""Figures of the fitted posterior: the weights' means and stds against the prior, and drawn functions."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots


def weights_figure(mu: np.ndarray, sigma: np.ndarray, prior_sigma: float, title: str = "") -> go.Figure:
    """Histograms of the posterior means and stds, with the prior N(0, prior_sigma^2) over the means
    and the prior's sigma marked on the stds."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("posterior means μ", "posterior stds σ (log scale)"))
    fig.add_histogram(x=mu, histnorm="probability density", name="μ", marker_color="#1f77b4", row=1, col=1)
    span = max(3 * prior_sigma, float(np.abs(mu).max(initial=0.0)))
    grid = np.linspace(-span, span, 200)
    density = np.exp(-0.5 * (grid / prior_sigma) ** 2) / (prior_sigma * np.sqrt(2 * np.pi))
    fig.add_scatter(x=grid, y=density, mode="lines", name=f"prior N(0, {prior_sigma:g}²)",
                    line={"color": "#d62728", "dash": "dash"}, row=1, col=1)
    # sigmas span orders of magnitude (a collapsed one is 1e-3 of the prior's), so bin log10(sigma)
    fig.add_histogram(x=np.log10(sigma), name="log10 σ", marker_color="#ff7f0e", row=1, col=2)
    fig.add_vline(x=float(np.log10(prior_sigma)), line={"color": "#d62728", "dash": "dash"}, row=1, col=2,
                  annotation_text="prior σ", annotation_position="top left")
    fig.update_xaxes(title_text="μ", row=1, col=1)
    fig.update_xaxes(title_text="log₁₀ σ", row=1, col=2)
    fig.update_layout(title=title or None, showlegend=False, bargap=0.05,
                      margin={"l": 10, "r": 10, "t": 60 if title else 30, "b": 10})
    return fig


def functions_figure(x: np.ndarray, functions: np.ndarray, points: tuple[np.ndarray, np.ndarray] | None = None,
                     title: str = "") -> go.Figure:
    """Function draws (S, N) over x as thin lines, with the points if given."""
    fig = go.Figure()
    for k, f in enumerate(functions):
        fig.add_scatter(x=x, y=f, mode="lines", line={"width": 1, "color": "rgba(31, 119, 180, 0.5)"},
                        name="drawn functions", legendgroup="f", showlegend=k == 0, hoverinfo="skip")
    if points is not None:
        fig.add_scatter(x=points[0], y=points[1], mode="markers", name="training points",
                        marker={"color": "#d62728", "size": 8})
    fig.update_layout(title=title or None, xaxis_title="x", yaxis_title="f(x)",
                      margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
                      legend={"orientation": "h", "y": -0.15})
    return fig


def noise_figure(x: np.ndarray, sigma: np.ndarray, level: float = 0.95, residuals: tuple[np.ndarray, np.ndarray] | None
                 = None) -> go.Figure:
    """A heteroscedastic noise std sigma(x) from posterior draws (S, N): its mean and central ``level``
    interval, with the training points' absolute residuals |y - mean f| if given (the scatter it explains)."""
    tail = 100 * (1 - level) / 2
    lo, hi = np.percentile(sigma, [tail, 100 - tail], axis=0)
    fig = go.Figure()
    if residuals is not None:
        fig.add_scatter(x=residuals[0], y=residuals[1], mode="markers", name="|y − mean f| at the points",
                        marker={"color": "rgba(214, 39, 40, 0.45)", "size": 5})
    fig.add_scatter(x=x, y=lo, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip")
    fig.add_scatter(x=x, y=hi, mode="lines", line={"width": 0}, fill="tonexty", fillcolor="rgba(255, 127, 14, 0.25)",
                    name=f"{level:.0%} interval of σ(x)", hoverinfo="skip")
    fig.add_scatter(x=x, y=sigma.mean(axis=0), mode="lines", name="posterior mean of σ(x)",
                    line={"color": "rgb(255, 127, 14)", "width": 3},
                    hovertemplate="x = %{x:.3f}<br>σ = %{y:.3f}<extra></extra>")
    fig.update_layout(xaxis_title="x", yaxis_title="noise σ(x)", margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      legend={"orientation": "h", "y": -0.2})
    return fig

"""A tiny app around the point editor, for tests/e2e/test_e2e_editor.py only.

The band is a cheap Bayesian linear regression on Gaussian bumps (closed form, a millisecond),
so it follows the points; its figure has the main page's parts (outer and inner band, 9 drawn
functions, mean: 14 traces on 200 x, each with a uid). Python's view of the points, the last command
and counters are plain st.text lines the test reads. Undo/redo is two lists, for this app only.

Query parameters: report_ms=<ms> (live drag reports), points=none (start empty), draws=0 (no Play).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repo, for a run from anywhere

import plotly.graph_objects as go  # noqa: E402

from bnn.errors import PointsError  # noqa: E402
from dashboard.editor import (  # noqa: E402
    Draws,
    parse_points_report,
    point_editor,
    push_figure,
    read_command,
    read_points,
    report_seq,
)
from dashboard.model.points import Points  # noqa: E402

KEY = "editor"
START = Points.of([-2.0, -1.0, 0.5, 2.0], [-1.0, 0.5, 1.0, -0.5])
GRID = np.linspace(-3.0, 3.0, 200)
CENTRES, WIDTH, PRIOR_SD, NOISE = np.linspace(-3.5, 3.5, 15), 0.6, 1.5, 0.3


def features(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * ((np.asarray(x)[:, None] - CENTRES) / WIDTH) ** 2)  # (N, K)


def posterior_draws(points: Points, samples: int, seed: int = 0) -> np.ndarray:
    """f on GRID for ``samples`` draws of the weights' Gaussian posterior: (S, G)."""
    phi = features(points.x)
    precision = np.eye(len(CENTRES)) / PRIOR_SD**2 + phi.T @ phi / NOISE**2
    cov = np.linalg.inv(precision)
    mean = cov @ phi.T @ points.y / NOISE**2
    w = np.random.default_rng(seed).multivariate_normal(mean, cov, size=samples)  # (S, K)
    return w @ features(GRID).T


def band(points: Points, title: str, shift: float = 0.0) -> go.Figure:
    f = posterior_draws(points, 100) + shift  # (S, G)
    fig = go.Figure()
    for level, uid, alpha in ((95, "band", 0.18), (50, "inner", 0.30)):
        lo, hi = np.percentile(f, [50 - level / 2, 50 + level / 2], axis=0)
        fig.add_scatter(x=GRID, y=lo, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip",
                        uid=f"{uid}_lo")
        fig.add_scatter(x=GRID, y=hi, mode="lines", line={"width": 0}, fill="tonexty", name=f"{level}% interval",
                        fillcolor=f"rgba(31, 119, 180, {alpha})", hoverinfo="skip", uid=f"{uid}_hi")
    for k in range(9):
        fig.add_scatter(x=GRID, y=f[k], mode="lines", line={"width": 1, "color": "rgba(90, 90, 90, 0.45)"},
                        name="sampled functions", showlegend=k == 0, hoverinfo="skip", uid=f"function_{k}")
    lo, hi = np.percentile(f, [2.5, 97.5], axis=0)
    fig.add_scatter(x=GRID, y=f.mean(axis=0), mode="lines", name="predictive mean", uid="mean",
                    line={"color": "rgb(31, 119, 180)", "width": 3}, customdata=np.stack([lo, hi], axis=1),
                    hovertemplate="mean = %{y:.3f}<br>interval: [%{customdata[0]:.3f}, "
                                  "%{customdata[1]:.3f}]<extra></extra>")
    fig.update_layout(title=title, hovermode="closest", margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      legend={"orientation": "h", "y": -0.15})
    fig.update_xaxes(range=[-3.0, 3.0])
    fig.update_yaxes(range=[-3.0, 3.0])
    return fig


ss = st.session_state
if "points" not in ss:
    ss.points = Points.none() if st.query_params.get("points") == "none" else START
    ss.ack, ss.undo, ss.redo, ss.drag_base = 0, [], [], None
    ss.edits = ss.live = ss.commands = 0
    ss.command, ss.error, ss.runs = "", "", 0
ss.runs += 1


def on_points() -> None:
    raw = read_points(KEY)
    seq = report_seq(raw)
    try:
        report = parse_points_report(raw)
    except PointsError as exc:
        ss.error = str(exc)
    else:
        ss.error = ""
        if report.final:
            ss.undo.append(ss.drag_base or ss.points)
            ss.redo, ss.drag_base = [], None
        else:
            ss.drag_base = ss.drag_base or ss.points
            ss.live += 1
        ss.points = report.points
        ss.edits += 1
    if seq is not None:
        ss.ack = max(ss.ack, seq)


def on_command() -> None:
    command = read_command(KEY)
    ss.command, ss.commands = command or "", ss.commands + 1
    source, target = (ss.undo, ss.redo) if command == "undo" else (ss.redo, ss.undo)
    if command and source:
        target.append(ss.points)
        ss.points = source.pop()


note = st.text_input("Note", key="note")
report_ms = int(st.query_params.get("report_ms", "0"))
points: Points = ss.points
draws = None if st.query_params.get("draws") == "0" else Draws(GRID, posterior_draws(points, 30, seed=1))
point_editor(band(points, "harness band"), points, key=KEY, ack=ss.ack, on_points=on_points, on_command=on_command,
             can_undo=bool(ss.undo), can_redo=bool(ss.redo), draws=draws, report_every_ms=report_ms,
             status=f"{len(points)} points {note}")
st.text("POINTS=" + json.dumps([[float(x), float(y)] for x, y in zip(points.x, points.y)]) + f" ACK={ss.ack}")
st.text(f"EDITS={ss.edits} LIVE={ss.live} COMMAND={ss.command} COMMANDS={ss.commands} RUNS={ss.runs} "
        f"ERROR={ss.error}")

slot = st.empty()
if st.button("Push frames"):  # a live band streamed into the editor during this one run
    for k in range(1, 4):
        with slot:
            push_figure(band(points, f"live frame {k}", shift=k), editor_key=KEY, frame_key=f"frame-{k}")
        time.sleep(0.3)
st.button("Rerun")

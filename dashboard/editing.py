"""The band chart as the point editor: mounting it, and what its edits and commands do.

The editor (:mod:`dashboard.editor`) reports the whole point set after each edit; the callback
here checks it (:mod:`dashboard.model.editor_report`), commits it as the session's point set
(so the table, the CSV and the link follow on this very run) and records it in the history:
a drag in progress only moves the points (live mode previews them), its release is the edit.
Undo and redo come as commands (the chart's buttons, Ctrl+Z and Ctrl+Shift+Z) and go through
the same history as the table's and the generator's edits.
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from bnn.errors import BNNError
from dashboard import editor, icons, session
from dashboard.model.editor_report import parse_points_report, report_seq
from dashboard.model.points import Points
from dashboard.model.text import escape_markdown

KEY = "band_editor"  # the component's key (no "__": Streamlit refuses it)
ACK = "band_editor_ack"  # the last report the page took in (its seq), sent back to the chart
DRAGGING = "band_editor_dragging"  # the last report was a drag not yet released
ERROR = "band_editor_error"  # why the last report was refused (escaped)
Y_RANGE = "band_editor_y_range"  # the y axis of the figure last sent to the editor (mounted or pushed)
DRAG_REPORT_MS = 300  # in live mode, a drag reports its points this often (each report is a rerun)


def on_points() -> None:
    """The chart reported its points: commit them (a finished edit is one entry of the history)."""
    ss = st.session_state
    raw = editor.read_points(KEY)
    ss.pop(ERROR, None)
    seq = report_seq(raw)
    if seq is not None:
        ss[ACK] = max(seq, int(ss.get(ACK, 0)))  # acknowledged even when refused: the chart adopts ours
    try:
        report = parse_points_report(raw)
    except BNNError as exc:
        ss[ERROR] = escape_markdown(exc)
        ss[DRAGGING] = False
        return
    before = session.committed_points()
    if report.final:
        session.record_edit(before, report.points)
        ss[DRAGGING] = False
    else:
        ss[session.HISTORY] = session.history().moving(before)
        ss[DRAGGING] = True
    session.set_points(report.points, record=False)


def on_command() -> None:
    """Undo or redo from the chart."""
    command = editor.read_command(KEY)
    if command == "undo":
        session.undo()
    elif command == "redo":
        session.redo()


def dragging() -> bool:
    """Whether the last report is a drag in progress (live mode previews it and does not train)."""
    return bool(st.session_state.get(DRAGGING))


def hold_y_range(figure: go.Figure) -> None:
    """While a drag is in progress, ``figure`` keeps the y axis the drag began on: each report's preview
    band would rescale it, and the point under the pointer would jump to another value."""
    ss = st.session_state
    if dragging() and ss.get(Y_RANGE) is not None:
        figure.update_yaxes(range=ss[Y_RANGE])
    else:
        ss[Y_RANGE] = list(figure.layout.yaxis.range)


def mount(figure: go.Figure, points: Points, live: bool, draws: editor.Draws | None = None) -> None:
    """The editor showing ``figure`` (a band without the points) with ``points`` on it."""
    history = session.history()
    editor.point_editor(figure, points, key=KEY, ack=int(st.session_state.get(ACK, 0)), on_points=on_points,
                        on_command=on_command, can_undo=history.can_undo, can_redo=history.can_redo, draws=draws,
                        report_every_ms=DRAG_REPORT_MS if live else 0)
    if st.session_state.get(ERROR):
        st.error(f"That edit was not taken: {st.session_state[ERROR]}", icon=icons.ERROR)


def push(figure: go.Figure, slot: st.delta_generator.DeltaGenerator, frame: int,
         draws: editor.Draws | None = None) -> None:
    """A new band into the mounted editor: a live frame of a run in this script run, or (with its
    ``draws``, for Play) the band of the fit that run finished."""
    st.session_state[Y_RANGE] = list(figure.layout.yaxis.range)
    with slot:
        editor.push_figure(figure, editor_key=KEY, frame_key=f"band_frame_{frame}", draws=draws)

"""The point-set panel: a true function (named or typed), a generator, a table editor, CSV in and out.

Generating, resetting and uploading replace the point set through button and upload
callbacks (before the table is drawn); editing the table changes it in place. A bad
edit, file or formula gets its message under the control, the table and the formula box
keep what the visitor typed, and the last good point set and formula stay in use until
the input is good again. Every message that quotes the visitor's text (a cell, a file
name, a formula) goes through :func:`dashboard.model.text.escape_markdown`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from bnn import toys
from bnn.errors import BNNError, ExpressionError
from bnn.expr import compile_expression
from dashboard import icons, session
from dashboard.model import points as pts
from dashboard.model.limits import LIMITS
from dashboard.model.points import Points
from dashboard.model.text import clip, escape_markdown

KEEP = "session"
GEN_ERROR, UPLOAD_ERROR = "gen_error", "upload_error"
LAST_FORMULA = "last_good_formula"  # the last formula that compiled: the true function while the box holds a bad one


def true_function(choice: str, expression: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """The selected function, or None; raises ExpressionError for a bad formula."""
    if choice == session.NO_FUNCTION:
        return None
    if choice == session.FORMULA:
        # The box takes any length (a max_chars would cut a pasted formula without a word): the cap is here.
        if len(expression.strip()) > LIMITS.expression_chars:
            raise ExpressionError(f"the formula is {len(expression.strip()):,} characters long; at most "
                                  f"{LIMITS.expression_chars} are allowed here")
        return compile_expression(expression)
    return toys.get(choice)


def truth_on(fn: Callable[[np.ndarray], np.ndarray] | None, x: np.ndarray) -> np.ndarray | None:
    """fn on x for drawing; where a formula is undefined (log of a negative...) the curve has a gap."""
    if fn is None:
        return None
    try:
        return np.asarray(fn(x), dtype=np.float64) * np.ones_like(x)
    except BNNError:
        out = np.full_like(x, np.nan)
        for i, xi in enumerate(x):
            try:
                out[i] = float(np.asarray(fn(np.array([xi])))[0])
            except BNNError:
                pass
        return out


def _generate() -> None:
    """Button callback: N points of the selected function with noise."""
    ss = st.session_state
    ss.pop(GEN_ERROR, None)
    try:
        fn = true_function(ss["function"], ss["expression"])
        if fn is None:
            raise ExpressionError("choose a function (or type a formula) to draw points from")
        x, y = toys.generate(fn, int(ss["gen_n"]), float(ss["gen_low"]), float(ss["gen_high"]), float(ss["gen_noise"]),
                             seed=int(ss["gen_seed"]))
        session.set_points(Points.of(x, y))  # checks the dashboard's cap on the number of points
    except BNNError as exc:
        ss[GEN_ERROR] = escape_markdown(exc)


def _reset() -> None:
    st.session_state.pop(GEN_ERROR, None)
    st.session_state["function"] = "quartic"
    session.set_points(Points.article())


def _upload() -> None:
    """Upload callback: a CSV with x and y columns replaces the points."""
    ss = st.session_state
    ss.pop(UPLOAD_ERROR, None)
    file = ss.get("upload")
    if file is None:
        return
    try:
        points = pts.from_csv(file.getvalue())
    except BNNError as exc:
        ss[UPLOAD_ERROR] = f"{escape_markdown(clip(file.name))}: {escape_markdown(exc)}"
        return
    ss["function"] = session.NO_FUNCTION  # an uploaded set has no known true function
    session.set_points(points)


def function_picker() -> tuple[str, str, Callable[[np.ndarray], np.ndarray] | None]:
    """(toy name or "", formula or "", the function or None), with a message under a bad formula."""
    options = [*toys.names(), session.FORMULA, session.NO_FUNCTION]
    labels = {name: f"{name}: {toys.get(name).label}" for name in toys.names()}
    labels |= {session.FORMULA: "a formula of x…", session.NO_FUNCTION: "none (unknown)"}
    choice = st.selectbox("True function", options, format_func=labels.get, key="function", persist_state=KEEP,
                          help="Drawn as a dashed line, and used by Generate.")
    if choice != session.FORMULA:
        return ("" if choice == session.NO_FUNCTION else choice), "", true_function(choice, "")
    text = st.text_input("f(x) =", key="expression", persist_state=KEEP,
                         help=f"Numbers, x, + - * / ^, sin, cos, exp, log, sqrt, abs, where(c, a, b), pi, e … "
                              f"(up to {LIMITS.expression_chars} characters)")
    try:
        fn = true_function(choice, text)
    except BNNError as exc:
        last = st.session_state.get(LAST_FORMULA)
        kept = (f"The true function stays f(x) = {escape_markdown(clip(last))} until the formula is fixed."
                if last else "No true function is drawn until the formula is fixed.")
        st.error(f"{escape_markdown(exc)}. {kept}", icon=icons.ERROR)
        return ("", last, true_function(choice, last)) if last else ("", "", None)
    st.session_state[LAST_FORMULA] = text.strip()
    return "", text.strip(), fn


def generator() -> None:
    cols = st.columns([1, 1, 1, 1, 1])
    cols[0].number_input("N", 1, LIMITS.points, step=1, key="gen_n", persist_state=KEEP)
    cols[1].number_input("from", -LIMITS.view_abs, LIMITS.view_abs, step=0.5, format="%g", key="gen_low",
                         persist_state=KEEP)
    cols[2].number_input("to", -LIMITS.view_abs, LIMITS.view_abs, step=0.5, format="%g", key="gen_high",
                         persist_state=KEEP)
    cols[3].number_input("noise σ", 0.0, 1e3, step=0.05, format="%g", key="gen_noise", persist_state=KEEP)
    cols[4].number_input("seed", 0, 2**31 - 1, step=1, key="gen_seed", persist_state=KEEP)
    left, right = st.columns(2)
    left.button("Generate points", key="generate", on_click=_generate, width="stretch")
    right.button("The article's six points", key="reset_points", on_click=_reset, width="stretch")
    if st.session_state.get(GEN_ERROR):
        st.error(st.session_state[GEN_ERROR], icon=icons.ERROR)  # escaped when it was stored


def table() -> Points | None:
    """The editable table; the points it holds, or None (with a message) while they are bad.

    Its cells are text read by :func:`dashboard.model.points.parse_number`: Streamlit's number editor
    drops the "e" of 1e-3 as it is typed (1e-3 became -13, 1e400 became 1400, silently)."""
    ss = st.session_state
    if session.EDITOR not in ss:  # first draw, a new point set, or back from another page
        ss[session.EDITOR_BASE] = pts.editor_frame(session.committed_points())
    text = st.column_config.TextColumn
    hint = "A number such as 0.5, -2 or 1e-3"
    edited = st.data_editor(
        ss[session.EDITOR_BASE], key=session.EDITOR, num_rows="dynamic", hide_index=True, height=260,
        column_config={"x": text("x", help=hint), "y": text("y", help=hint), "x_value": None, "y_value": None},
    )
    try:
        points = pts.from_editor(edited)
    except BNNError as exc:
        st.error(f"{escape_markdown(exc)}. The last good points are used until the table is fixed; your edits "
                 "stay in it.", icon=icons.ERROR)
        return None
    if points != session.committed_points():  # an edit of the table: one entry of the history
        session.record_edit(session.committed_points(), points)
    ss[session.POINTS] = points
    return points


def render() -> tuple[Points, str, str, Callable[[np.ndarray], np.ndarray] | None]:
    """The whole panel: (points in use, toy, formula, true function)."""
    st.subheader("Points")
    toy, expression, fn = function_picker()
    generator()
    points = table()
    points = session.committed_points() if points is None else points  # an empty set is a set
    st.caption(f"{len(points):,} point(s); up to {LIMITS.points:,}. Click the chart to add one, drag to move, "
               "Shift-click to delete; or type numbers like 0.5, -2 or 1e-3 here (add rows at the bottom, select "
               "rows to delete them). Undo and redo are on the chart (Ctrl+Z, Ctrl+Shift+Z).")
    st.file_uploader("Upload a CSV with columns x and y", type=["csv"], key="upload", on_change=_upload,
                     max_upload_size=max(1, LIMITS.upload_bytes // 1_000_000))
    if st.session_state.get(UPLOAD_ERROR):
        st.error(st.session_state[UPLOAD_ERROR], icon=icons.ERROR)  # escaped when it was stored
    st.download_button("Download the points (CSV)", pts.to_csv(points), file_name="points.csv", mime="text/csv",
                       key="download_points", on_click="ignore")
    return points, toy, expression, fn

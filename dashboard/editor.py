"""The band chart as a point editor: click to add, drag to move, modifier-click to delete.

An ``st.components.v2`` component (no build step): the HTML, CSS and JavaScript are the files in
``editor_assets/``, registered once, when this module is imported. The chart is Plotly's, fed
the band figure; the component owns one trace of its own, the points, and reports every edit
to Python as component state (the whole list, numbered, see
:mod:`dashboard.model.editor_report`); Undo and Redo (toolbar and Ctrl+Z / Ctrl+Shift+Z) come as
a one-shot trigger. Python answers by sending back the points it applied and the number of
the last report it saw (``ack``): the chart adopts Python's points only once they are as new
as its own, so a quick second click is never undone by the answer to the first.

The Plotly bundle (4.8 MB) is not in the component's code, which Streamlit resends with every
rerun that changes the data: it is a file in the app's ``static/`` folder
(``server.enableStaticServing``), written on first use and named by its hash, which the browser
caches. Where that folder cannot be written, a second component whose code is the bundle is
mounted beside the editor; its message never changes, so Streamlit sends it once per session.
Nothing is fetched from a CDN. Findings and measurements: docs/point-editor-design.md.

The same editor is the Classify page's 2-D canvas: given ``classes`` (a name, colour and marker
symbol each), it shows a button per class, adds points of the selected class, draws each point in
its class's colour and symbol, and reports ``[x0, x1, label]`` triples.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import streamlit as st
from plotly.offline import get_plotlyjs
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard.model.editor_report import Draws, Op, Report, parse_points_report, report_seq
from dashboard.model.labelled import LabelledPoints
from dashboard.model.points import Points

__all__ = ["Draws", "Op", "Report", "parse_points_report", "point_editor", "push_figure", "read_command",
           "read_points", "report_seq", "write_bundle"]

POINTS_UID = "points"
# dashboard/figures/band.py's training points, used when the figure brings no points trace
POINTS_STYLE: dict[str, Any] = {
    "name": "training points",
    "marker": {"color": "#d62728", "size": 8, "line": {"color": "white", "width": 1}},
    "hovertemplate": "point (%{x:.3f}, %{y:.3f})<extra></extra>",
}
UIREVISION = "point-editor"  # constant: a new band keeps the user's zoom
_FRAMES = "_point_editor_frames"  # session state: figures pushed so far, by editor key
_ASSETS = Path(__file__).with_name("editor_assets")


def _asset(name: str) -> str:
    return (_ASSETS / name).read_text(encoding="utf-8")


_editor = st.components.v2.component("bnn_point_editor", html=_asset("editor.html"), css=_asset("editor.css"),
                                     js=_asset("editor.js"))
_frame = st.components.v2.component("bnn_point_editor_frame", js=_asset("frame.js"))


def point_editor(figure: go.Figure, points: Points | LabelledPoints, *, key: str, ack: int,
                 on_points: Callable[[], None], on_command: Callable[[], None],
                 can_undo: bool, can_redo: bool,
                 draws: Draws | None = None, report_every_ms: int = 0, status: str = "",
                 classes: Sequence[Mapping[str, str]] | None = None) -> None:
    """Show ``figure`` (the band, without the points) with ``points`` on it, editable.

    ``key`` names the editor (required, once per script run, no ``"__"``): with it the browser
    keeps the same chart, zoom and mode across reruns. ``ack`` is the ``seq`` of the last report
    the page took in (accepted or not); ``on_points`` runs when a report arrives (read it with
    :func:`read_points`), ``on_command`` when Undo or Redo is asked for (:func:`read_command`).
    ``draws``: posterior functions the Play button animates. ``report_every_ms`` > 0 also reports
    a drag while it goes on (``final`` False), at most that often. ``status`` is shown as text.
    ``classes``: for :class:`LabelledPoints`, one ``{"name", "color" ("#rrggbb"), "symbol"}`` per class.
    """
    _check_key(key)
    if isinstance(report_every_ms, bool) or not isinstance(report_every_ms, int) or report_every_ms < 0:
        raise ValueError(f"report_every_ms must be a whole number >= 0, got {report_every_ms!r}")
    fig, rev, style = _figure_json(figure)
    labelled = isinstance(points, LabelledPoints)
    if labelled != (classes is not None):
        raise ValueError("classes go with labelled points, and labelled points need classes")
    data = {
        "figure": fig,
        "figure_rev": rev,
        "frames": st.session_state.get(_FRAMES, {}).get(key, 0),
        "points": _f4(points.x if labelled else np.stack([points.x, points.y], axis=1)),
        "labels": points.labels.tolist() if labelled else None,
        "classes": _checked_classes(classes) if labelled else None,
        "points_style": style,
        "ack": int(ack),
        "report_every_ms": report_every_ms,
        "can_undo": bool(can_undo),
        "can_redo": bool(can_redo),
        "draws": None if draws is None else {"x": _f4(draws.x), "ys": _f4(draws.ys)},
        "draws_rev": None if draws is None else _digest(draws.x.tobytes() + draws.ys.tobytes()),
        "status": str(status),
        "editor_key": key,
        "bundle": _bundle_source(key),
    }
    _editor(key=key, data=data, on_points_change=on_points, on_command_change=on_command)


def push_figure(figure: go.Figure, *, editor_key: str, frame_key: str, draws: Draws | None = None) -> None:
    """Draw ``figure`` in the editor mounted as ``editor_key`` (points, zoom and mode stay).

    For a band that changes while one script run goes on (live training frames), where the
    editor itself cannot be called again. Put it in an ``st.empty()`` slot with a new
    ``frame_key`` per frame; it shows nothing, and removing it does not undo the update. The next
    :func:`point_editor` call draws its own figure again (it counts the frames pushed). ``draws``:
    the posterior draws of ``figure``'s band, for Play (a finished fit's); without them Play waits."""
    _check_key(editor_key)
    _check_key(frame_key)
    frames = st.session_state.setdefault(_FRAMES, {})
    frames[editor_key] = seq = frames.get(editor_key, 0) + 1
    fig, _, _ = _figure_json(figure)
    _frame(key=frame_key, data={"editor_key": editor_key, "seq": seq, "figure": fig,
                                "draws": None if draws is None else {"x": _f4(draws.x), "ys": _f4(draws.ys)}})


def read_points(key: str) -> object | None:
    """The editor's last report as sent (unchecked: see :func:`parse_points_report`), or None."""
    value = st.session_state.get(key)
    return value.get("points") if isinstance(value, dict) else None


def read_command(key: str) -> str | None:
    """"undo" or "redo" during the run a toolbar button or shortcut started, else None."""
    value = st.session_state.get(key)
    command = value.get("command") if isinstance(value, dict) else None
    return command if command in ("undo", "redo") else None


_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_SYMBOL = re.compile(r"[a-z][a-z0-9-]{0,30}")


def _checked_classes(classes: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    """The class buttons' names, colours and symbols, checked (the colour and symbol reach CSS and Plotly)."""
    out = []
    for c in classes:
        name, color, symbol = str(c["name"]), str(c["color"]), str(c["symbol"])
        if not (_COLOUR.fullmatch(color) and _SYMBOL.fullmatch(symbol)):
            raise ValueError(f"a class needs a colour #rrggbb and a Plotly symbol name, got {color!r}, {symbol!r}")
        out.append({"name": name[:40], "color": color, "symbol": symbol})
    if not 2 <= len(out) <= 12:
        raise ValueError(f"2 to 12 classes, got {len(out)}")
    return out


def _check_key(key: str) -> None:
    # Streamlit builds internal ids as <id>__<event>: a key holding "__" is refused deep inside.
    if not isinstance(key, str) or not key or "__" in key:
        raise ValueError(f"an editor key must be a non-empty string without '__', got {key!r}")


def _figure_json(figure: go.Figure) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Plotly JSON with the trace uids kept (``fig.to_json()`` drops them), its digest, and the
    points' style: taken from a points trace the figure brings (which is dropped), else band.py's."""
    text = pio.to_json(figure, validate=False, remove_uids=False)
    fig = json.loads(text)
    traces = [{k: _as_f4(v) for k, v in t.items()} for t in fig.get("data", [])]
    own = [t for t in traces if t.get("uid") == POINTS_UID]
    fig["data"] = [t for t in traces if t.get("uid") != POINTS_UID]
    fig.setdefault("layout", {}).setdefault("uirevision", UIREVISION)
    style = {k: v for k, v in own[0].items() if k not in ("x", "y", "uid", "type", "mode")} if own else POINTS_STYLE
    return fig, _digest(text.encode()), style


def _as_f4(value: Any) -> Any:
    """A float64 array of the figure JSON ({"dtype": "f8", "bdata": ...}) as float32: half the
    bytes, and 7 digits are more than a chart shows."""
    if not (isinstance(value, dict) and value.get("dtype") == "f8" and "bdata" in value):
        return value
    array = np.frombuffer(base64.b64decode(value["bdata"]), dtype="<f8").astype("<f4")
    return {**value, "dtype": "f4", "bdata": base64.b64encode(array.tobytes()).decode("ascii")}  # shape as given


def _f4(values: np.ndarray) -> dict[str, Any]:
    """float32 little-endian, base64: 5.3 bytes a number instead of ~19 as JSON text."""
    flat = np.ascontiguousarray(values, dtype="<f4")
    return {"dtype": "f4", "bdata": base64.b64encode(flat.tobytes()).decode("ascii"), "shape": list(flat.shape)}


def _digest(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()[:16]


# ---- the Plotly bundle --------------------------------------------------------------------------

@cache
def _bundle() -> tuple[str, str]:
    """The bundle that ships inside the plotly package, and a file name carrying its hash."""
    text = get_plotlyjs()
    return text, f"plotly-{hashlib.sha256(text.encode()).hexdigest()[:12]}.min.js"


def write_bundle(static_dir: Path) -> str:
    """Write the Plotly bundle into ``static_dir`` unless it is there; return its file name.

    Atomic (a temporary file renamed), so two servers starting at once never serve half a file.
    Raises OSError when the folder cannot be written."""
    text, name = _bundle()
    path = static_dir / name
    if not path.is_file():
        static_dir.mkdir(parents=True, exist_ok=True)
        tmp = static_dir / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return name


def _bundle_source(key: str) -> dict[str, Any]:
    """Where the editor finds Plotly: a file in the app's static folder, served by Streamlit at
    app/static/ (relative to the app's root URL), or the loader component mounted here."""
    ctx = get_script_run_ctx()
    if ctx is not None and st.get_option("server.enableStaticServing"):
        try:
            name = write_bundle(Path(ctx.main_script_path).resolve().parent / "static")
        except OSError:
            pass  # a read-only app folder: the loader below
        else:
            return {"url": f"app/static/{name}"}
    _loader()(key=f"{key}-plotly")
    return {"loader": True}


@cache
def _loader() -> Callable[..., Any]:
    """A component whose code is the bundle (it sets window.Plotly) and which takes no data, so
    its message never changes and Streamlit sends it as a cached reference after the first run."""
    return st.components.v2.component("bnn_plotly_loader", js=_bundle()[0] + "\nexport default function () {}\n")

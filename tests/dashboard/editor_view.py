"""The point editor as AppTest sees it: a bidi component whose data holds the band figure and the
points (AppTest does not run its JavaScript), and the frames that push a new band into it."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
from streamlit.testing.v1 import AppTest


def band_figure(at: AppTest) -> dict[str, Any]:
    """The band the point editor shows: the last frame pushed into it on this run if any (a fit that
    finished during the run), else the figure it was mounted with."""
    editors = [el for el in at.get("bidi_component") if el.proto.component_name.endswith("point_editor")]
    frames = [el for el in at.get("bidi_component") if el.proto.component_name.endswith("point_editor_frame")]
    if not editors:
        raise AssertionError("no band chart on the page")
    return json.loads((frames or editors)[-1].proto.json)["figure"]


def band_title(at: AppTest) -> str | None:
    title = band_figure(at)["layout"].get("title")
    return title.get("text") if isinstance(title, dict) else title


def _decoded(value: Any) -> Any:
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape(value["shape"]) if "shape" in value else flat
    return value


def band_traces(at: AppTest) -> dict[str, dict[str, Any]]:
    """The band the point editor shows, its traces by name, their numbers decoded (Plotly >= 6 sends
    arrays as base64): the last frame pushed into the editor on this run if any (a fit that finished
    during the run), else the figure the editor was mounted with. The editor draws the points itself."""
    traces = band_figure(at)["data"]
    for t in traces:
        for axis in ("x", "y"):
            t[axis] = _decoded(t.get(axis))
    return {t.get("name") or f"unnamed {k}": t for k, t in enumerate(traces)}


def editor_points(at: AppTest) -> np.ndarray:
    """The points the editor was given, (N, 2)."""
    [editor] = [el for el in at.get("bidi_component") if el.proto.component_name.endswith("point_editor")]
    return np.asarray(_decoded(json.loads(editor.proto.json)["points"]), dtype=np.float64).reshape(-1, 2)

"""Visitors without a browser: Streamlit's own websocket protocol, to measure the server alone.

On the 2-core machine the browsers of a load test take most of the CPU (a fresh Chromium page
spends several CPU seconds to load and draw the dashboard), so the browsers' time to band says
more about the clients than about the server. This client speaks what the browser speaks to the
server and nothing else: it opens ``/_stcore/stream``, asks for a run of the page with the link's
query (a ``BackMsg`` with ``rerun_script``, as the frontend sends on load) and reads the
``ForwardMsg``s until the run has finished with the status line "Trained …" among its elements.
It costs the client a few milliseconds of protobuf parsing per visit, and it does not fetch the
static files (the JavaScript bundle) a browser fetches from the same server process on its first
visit: so its figures are a bound the server could reach with a cache in front of it, not what a
browser sees. View and train visits only (an edit or a Compare run needs widget states).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.load.visitors import Visit


def _texts(msg: ForwardMsg) -> list[str]:
    """The texts of a delta's new element (a caption, a Markdown block, an info box)."""
    element = msg.delta.new_element
    kind = element.WhichOneof("type")
    if kind == "markdown":
        return [element.markdown.body]
    if kind == "alert":
        return [element.alert.body]
    return []


async def visit(url: str, v: Visit, timeout_s: float) -> dict[str, Any]:
    """One view or train visit; its outcome in the shape of :class:`visitors.Outcome`'s dict."""
    out: dict[str, Any] = {"index": v.index, "kind": v.kind, "seed": v.seed, "time_s": None, "timeout": False,
                           "failure": "", "exceptions": 0, "saw_in_line": False, "saw_busy": False, "runs": 0}
    query = f"seed={v.seed}" if v.kind == "train" else ""
    ws_url = url.replace("http://", "ws://", 1).replace("https://", "wss://", 1).rstrip("/") + "/_stcore/stream"
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s):
            async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None) as ws:
                await ws.send(BackMsg(rerun_script=ClientState(query_string=query)).SerializeToString())
                trained = False
                while True:
                    msg = ForwardMsg()
                    msg.ParseFromString(await ws.recv())
                    kind = msg.WhichOneof("type")
                    if kind == "delta":
                        if msg.delta.new_element.WhichOneof("type") == "exception":
                            out["exceptions"] += 1
                        for text in _texts(msg):
                            trained |= text.startswith("Trained ")
                            out["saw_in_line"] |= "in line" in text
                            out["saw_busy"] |= "Busy:" in text
                    elif kind == "script_finished":
                        out["runs"] += 1
                        if msg.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY and trained:
                            out["time_s"] = time.perf_counter() - start
                            break
    except TimeoutError:
        out["timeout"] = True
    except Exception as exc:  # noqa: BLE001  (a visit's failure is a figure of the run)
        out["failure"] = f"{type(exc).__name__}: {str(exc)[:300]}"
    out["errors"] = int(out["timeout"]) + int(bool(out["failure"])) + out["exceptions"]
    return out


async def visits(url: str, planned: list[Visit], timeout_s: float) -> list[dict[str, Any]]:
    """All visits at once (one event loop: the client's cost is parsing, milliseconds a visit)."""
    return list(await asyncio.gather(*(visit(url, v, timeout_s) for v in planned)))

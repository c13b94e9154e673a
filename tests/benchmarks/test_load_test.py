"""The load test: its statistics, its reading of the queue log, its capacity search, and one small
real run (two visitors viewing the default link of a server it starts itself)."""

from __future__ import annotations

import asyncio
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from benchmarks.load import report, stats, wsclient
from benchmarks.load.visitors import Outcome, Visit, benign, plan
from benchmarks.load_test import REPO, chromium_path, edits_as_trainings


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 101])
def test_percentiles_equal_numpys_linear_percentiles(n: int) -> None:
    values = np.random.default_rng(n).exponential(2.0, size=n).tolist()
    for q in (0, 50, 95, 99, 100):
        assert stats.percentile(values, q) == pytest.approx(np.percentile(values, q), rel=1e-12)
    summary = stats.summarise(values)
    assert summary["n"] == n and summary["max"] == max(values)
    assert summary["p50"] == pytest.approx(np.median(values), rel=1e-12)


def test_no_times_give_nan_not_zero() -> None:
    summary = stats.summarise([])
    assert summary["n"] == 0 and all(math.isnan(summary[k]) for k in ("p50", "p95", "max"))


def test_queue_log_counts_admissions_waits_and_places_and_survives_bad_lines() -> None:
    lines = [
        '{"t": 100.0, "event": "admitted", "kind": "fit", "waited": 0.0, "place": 1, "running": 1}',
        '{"t": 101.0, "event": "admitted", "waited": 2.5, "place": 3}',
        '{"t": 101.5, "event": "admitted", "waited": 0.01}',  # a free slot: below the wait threshold
        '{"t": 102.0, "event": "admitted", "waited": "soon", "place": null}',  # unreadable fields
        '{"t": 103.0, "event": "finished", "seconds": 0.8}',
        '{"t": 50.0, "event": "admitted", "waited": 9.0, "place": 7}',  # before the run: left out
        'not json at all', '[1, 2]', '{"t": 104.0, "event": "admitted", "waited": 1.0,', '',
        '{"event": "admitted", "waited": 1.5, "place": 2}',  # no time: counted
        '{"t": 105.0, "event": "something else"}',
    ]
    q = stats.parse_queue_log(lines, since=99.0)
    assert (q.admitted, q.finished, q.malformed) == (5, 1, 3)
    assert q.waited == 2  # 2.5 s and 1.5 s
    assert q.wait_max == 2.5 and q.place_max == 3
    assert q.wait_p50 == pytest.approx(np.median([0.0, 2.5, 0.01, 1.5]))


def test_a_missing_queue_log_is_not_an_empty_one_and_replicas_logs_add_up(tmp_path: Path) -> None:
    assert stats.read_queue_log(()) is None
    assert stats.read_queue_log((tmp_path / "absent.jsonl",)) is None
    (tmp_path / "empty.jsonl").write_text("")
    empty = stats.read_queue_log((tmp_path / "empty.jsonl",))
    assert empty is not None and empty.admitted == 0 and empty.place_max is None
    (tmp_path / "a.jsonl").write_text('{"event": "admitted", "waited": 0.5, "place": 2}\n')
    (tmp_path / "b.jsonl").write_text('{"event": "admitted", "waited": 0.0, "place": 1}\n{"event": "finished"}\n')
    both = stats.read_queue_log([tmp_path / n for n in ("a.jsonl", "b.jsonl", "absent.jsonl")])
    assert both is not None and (both.admitted, both.waited, both.finished, both.place_max) == (2, 1, 1, 2)


def _step(sessions: int, p95: float, errors: int = 0, completed: int | None = None) -> dict:
    return {"sessions": sessions, "p95": p95, "errors": errors,
            "completed": sessions if completed is None else completed}


def test_capacity_is_the_last_count_that_passed_with_every_smaller_one() -> None:
    steps = [_step(1, 0.4), _step(5, 1.1), _step(10, 2.9), _step(15, 3.0), _step(20, 2.0)]
    assert stats.capacity(steps) == 10  # 15 fails (3.0 is not under 3); 20's pass after it is luck
    assert stats.capacity(list(reversed(steps))) == 10  # order of the steps does not matter
    assert stats.capacity([_step(1, 0.5), _step(5, 1.0, errors=1)]) == 1  # an error fails a step
    assert stats.capacity([_step(1, 0.5), _step(5, 1.0, completed=4)]) == 1  # so does a visit without band
    assert stats.capacity([_step(1, 3.5)]) == 0
    assert stats.capacity([_step(1, math.nan)]) == 0  # no band at all: nan is not under the target


def test_mixed_is_70_20_10_and_train_visits_get_seeds_of_their_own() -> None:
    visits = plan("mixed", 20, seed_base=500)
    kinds = [v.kind for v in visits]
    assert (kinds.count("view"), kinds.count("train"), kinds.count("edit")) == (14, 4, 2)
    seeds = [v.seed for v in visits if v.kind == "train"]
    assert len(set(seeds)) == len(seeds) and all(s >= 500 for s in seeds)
    assert all(v.seed is None for v in visits if v.kind == "view")
    assert [v.kind for v in plan("mixed", 1, 0)] == ["view"]
    with pytest.raises(ValueError):
        plan("browse", 2, 0)


def test_the_protocol_client_trains_where_a_browser_would_edit() -> None:
    visits = edits_as_trainings(plan("mixed", 20, seed_base=500), seed_base=500)
    assert [v.kind for v in visits].count("train") == 6 and "edit" not in {v.kind for v in visits}
    seeds = [v.seed for v in visits if v.kind == "train"]
    assert len(set(seeds)) == 6  # each a fit the server has not cached


def test_only_the_apps_own_failures_count_as_errors() -> None:
    origin = "http://127.0.0.1:8501"
    assert benign("https://fonts.gstatic.com/x.svg", "net::ERR_NAME_NOT_RESOLVED", origin) == "offline"
    assert benign(f"{origin}/Compare/_stcore/health", "404", origin) == "base-path probe"
    assert benign(f"{origin}/_stcore/health", "404", origin) is None  # the server's own health: an error
    assert benign(f"{origin}/app/static/x.png", "404", origin) is None
    assert benign(f"{origin}/_stcore/stream", "net::ERR_CONNECTION_RESET", origin) is None
    out = Outcome(0, "view", None, timeout=True, exceptions=2, http_errors=["500 x"])
    assert out.errors == 4 and out.as_dict()["errors"] == 4


def test_table_prints_missing_figures_as_na() -> None:
    step = {"scenario": "view", "sessions": 2, "completed": 2, "p50": 1.0, "p95": 1.5, "max": 2.0, "errors": 0,
            "saw_in_line": 0, "queue": None, "server_cpu_s": None, "client_cpu_s": 3.0, "wall_s": 10.0,
            "server_peak_rss_mb": None, "server_peak_threads": None, "outcomes": []}
    text = report.table([step], cores=2)
    assert text.splitlines()[2].split(" | ")[8:] == ["n/a", "n/a", "n/a", "3.0 (15%)", "n/a", "n/a", "10.0 |"]


@pytest.mark.browser
def test_two_visitors_view_the_default_link_without_an_error(tmp_path: Path) -> None:
    """A real run against a server the load test starts: every field is there, both bands came,
    nothing failed, and viewing a cached link trained nothing (when the server logs its queue).
    20-85 s on the 2-core machine at load average 14-30: the server's first fit and two
    Chromium pages loading the dashboard (about 8 CPU-s each) take most of it."""
    if chromium_path() is None:
        message = "Chromium not found (apt-get install chromium); the load test needs it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    out = tmp_path / "load.json"
    done = subprocess.run([sys.executable, "-m", "benchmarks.load_test", "--scenario", "view", "--sessions", "2",
                           "--json", str(out)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert len(result["commit"]) == 40 and result["nproc"] == os.cpu_count()
    assert len(result["load_before"]) == 3 and len(result["load_after"]) == 3
    [step] = result["steps"]
    assert step["errors"] == 0, [o for o in step["outcomes"] if o["errors"]]
    assert step["completed"] == 2 and len(step["outcomes"]) == 2
    assert 0 < step["p50"] <= step["p95"] <= step["max"] == max(o["time_s"] for o in step["outcomes"])
    assert step["server_cpu_s"] > 0 and step["client_cpu_s"] > 0
    assert 100 < step["server_peak_rss_mb"] < 1024 and step["server_peak_threads"] > 1
    assert step["queue"] is None or step["queue"]["admitted"] == 0  # the warm-up trained it; views only read
    assert "| view | 2 | 2 |" in done.stdout


def _forward(**fields: object) -> bytes:
    msg = ForwardMsg()
    if "caption" in fields:
        msg.delta.new_element.markdown.body = str(fields["caption"])
    if "alert" in fields:
        msg.delta.new_element.alert.body = str(fields["alert"])
    if "exception" in fields:
        msg.delta.new_element.exception.message = str(fields["exception"])
    if "finished" in fields:
        msg.script_finished = fields["finished"]  # type: ignore[assignment]
    return msg.SerializeToString()


async def _serve_and_visit(replies: list[bytes], v: Visit, timeout_s: float = 5) -> tuple[dict, list[BackMsg]]:
    """Run the protocol client against a websocket server that answers its first message with ``replies``."""
    asked: list[BackMsg] = []

    async def handler(ws: websockets.ServerConnection) -> None:
        back = BackMsg()
        back.ParseFromString(await ws.recv())
        asked.append(back)
        for reply in replies:
            await ws.send(reply)
        await ws.wait_closed()

    async with websockets.serve(handler, "127.0.0.1", 0, subprotocols=["streamlit"]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        out = await wsclient.visit(f"http://127.0.0.1:{port}", v, timeout_s)
    return out, asked


def test_protocol_client_waits_for_the_trained_line_of_a_finished_run() -> None:
    replies = [_forward(alert="2nd in line, about 2 s"), _forward(finished=ForwardMsg.FINISHED_EARLY_FOR_RERUN),
               _forward(exception="boom"), _forward(finished=ForwardMsg.FINISHED_SUCCESSFULLY),  # no band yet
               _forward(caption="Trained 2,000 epochs in 0.7 s"), _forward(finished=ForwardMsg.FINISHED_SUCCESSFULLY),
               _forward(caption="never read")]
    out, asked = asyncio.run(_serve_and_visit(replies, Visit(3, "train", 4242)))
    assert asked[0].rerun_script.query_string == "seed=4242"  # the visit's own seed travels in the link
    assert out["time_s"] is not None and out["runs"] == 3 and out["saw_in_line"] and not out["saw_busy"]
    assert out["exceptions"] == 1 and out["errors"] == 1 and not out["timeout"]


def test_protocol_client_times_out_without_a_band() -> None:
    replies = [_forward(caption="Press Train"), _forward(finished=ForwardMsg.FINISHED_SUCCESSFULLY)]
    out, asked = asyncio.run(_serve_and_visit(replies, Visit(0, "view"), timeout_s=0.5))
    assert asked[0].rerun_script.query_string == ""
    assert out["time_s"] is None and out["timeout"] and out["errors"] == 1

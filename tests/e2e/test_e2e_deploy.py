"""Two replicas behind nginx, as an operator runs them (deploy/local.sh 2): a visitor trains,
uploads on the main page and on "Your data", and downloads the predictions, with no failed
request, every request of the browser on one replica; other browsers are spread over both.
And the negative: without affinity (local.sh --no-affinity) an upload gets Streamlit's 400.

The script under test is deploy/local.sh itself, run as a subprocess, so its nginx configuration
(deploy/nginx.conf.template, the file docker-compose mounts) is what is checked. nginx's access log
(JSON lines: request, status, upstream, route) says where each request went: `route` is the
bnn_route cookie, or for a browser's first request the id that becomes its cookie, so it groups
the requests of one browser, its first page load included.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import stdriver
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect

pytestmark = pytest.mark.browser

LOCAL_SH = stdriver.REPO / "deploy" / "local.sh"
UPLOAD = "/_stcore/upload_file/"


@dataclass
class Balancer:
    """deploy/local.sh running: its URL and its nginx access log."""

    proc: subprocess.Popen[bytes]
    url: str
    folder: Path

    def requests(self) -> list[dict[str, Any]]:
        log = self.folder / "access.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def errors(self) -> list[str]:
        """nginx's error log at level error or worse (a response it could not pass on whole)."""
        log = self.folder / "error.log"
        lines = log.read_text().splitlines() if log.exists() else []
        return [line for line in lines if any(f"[{level}]" in line for level in ("error", "crit", "alert", "emerg"))]

    def stop(self) -> None:
        """SIGTERM to the script, whose trap stops nginx and the replicas; the group if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


def start_balancer(folder: Path, *flags: str, timeout: float = 120.0) -> Balancer:
    """`bash deploy/local.sh [flags] 2`, returned once it printed BNN_URL= (it has then seen
    /_stcore/health answer from each replica and through nginx)."""
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / "local-sh.out"
    env = {**os.environ, "BNN_DEPLOY_DIR": str(folder), "PYTHON": sys.executable}
    with out.open("wb") as handle:
        proc = subprocess.Popen(["bash", str(LOCAL_SH), *flags, "2"], cwd=stdriver.REPO, env=env,
                                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        urls = [line[len("BNN_URL="):] for line in out.read_text().splitlines() if line.startswith("BNN_URL=")]
        if urls:
            return Balancer(proc, urls[0], folder)
        time.sleep(0.2)
    Balancer(proc, "", folder).stop()
    raise RuntimeError(f"deploy/local.sh did not come up:\n{out.read_text()[-5000:]}")


@pytest.fixture(scope="session")
def nginx_executable() -> str:
    """Debian's nginx; skips without it on a developer's machine, fails under CI (scripts/test installs it)."""
    path = shutil.which("nginx") or "/usr/sbin/nginx"
    if os.path.exists(path):
        return path
    missing = pytest.fail if os.environ.get("CI", "").lower() == "true" else pytest.skip
    missing("nginx not found (apt-get install nginx); the deploy tests need it")


@pytest.fixture(scope="module")
def balancer(nginx_executable: str, chromium_executable: str,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[Balancer]:
    running = start_balancer(tmp_path_factory.mktemp("deploy-sticky"))
    yield running
    running.stop()


def _route(context: BrowserContext) -> str:
    [value] = [c["value"] for c in context.cookies() if c["name"] == "bnn_route"]
    return value


def _failures(page: Page) -> list[str]:
    """Every HTTP response of `page` with a status >= 400, as "status method url", filled as it goes."""
    seen: list[str] = []

    def note(response: Response) -> None:
        if response.status >= 400:
            seen.append(f"{response.status} {response.request.method} {response.url}")

    page.on("response", note)
    return seen


def _points_csv() -> bytes:
    x = np.linspace(-3.0, 3.0, 8)
    return pd.DataFrame({"x": x, "y": np.round(np.sin(x), 3)}).to_csv(index=False).encode()


def _your_data_csv(n: int = 150) -> bytes:
    rng = np.random.default_rng(0)
    a = rng.uniform(-2, 2, n)
    return pd.DataFrame({"a": a, "y": np.sin(2 * a) + 0.2 * rng.normal(size=n)}).to_csv(index=False).encode()


def _no_error_on_the_page(page: Page) -> None:
    """No exception, and no element that failed to draw (an error box in its place: a chunk of the
    frontend that did not load shows "Failed to fetch dynamically imported module" there)."""
    assert not stdriver.exception_texts(page)
    assert page.get_by_test_id("stAlertContentError").all_inner_texts() == []
    assert page.get_by_test_id("stErrorElementStack").count() == 0


def _upload_points(page: Page) -> None:
    field = page.locator(".st-key-upload input[type=file]")
    file = {"name": "points.csv", "mimeType": "text/csv", "buffer": _points_csv()}
    stdriver.rerun_after(page, lambda: field.set_input_files(files=[file]))


def _logged(balancer: Balancer, route: str, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The access-log lines of one browser. nginx logs the websocket when it closes, so this waits
    for the /_stcore/stream line (the browser context is closed first)."""
    deadline = time.monotonic() + timeout_s
    while True:
        mine = [r for r in balancer.requests() if r["route"] == route]
        if any("/_stcore/stream" in r["request"] for r in mine) or time.monotonic() > deadline:
            return mine
        time.sleep(0.2)


def test_a_visit_through_the_balancer_works_and_keeps_its_replica(
        balancer: Balancer, new_context: Callable[[], BrowserContext], screenshot) -> None:
    context = new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    failures = _failures(page)
    stdriver.open_app(page, balancer.url, timeout_ms=120_000)
    route = _route(context)  # set by nginx on the first response, before any asset or websocket
    _upload_points(page)
    band = stdriver.read_band(page)
    x = np.linspace(-3.0, 3.0, 8)
    assert sorted(band.points_x.tolist()) == pytest.approx(x, abs=1e-6)  # the uploaded points are fitted
    stdriver.rerun_after(page, lambda: stdriver.click(page, "train"))
    expect(page.get_by_text("Trained 2,000 epochs")).to_be_visible()
    predictions = stdriver.download_predictions(page)
    assert len(predictions) > 50 and {"x", "mean"} <= set(predictions.columns)
    assert np.isfinite(predictions["mean"]).all()
    page.locator(".js-plotly-plot").nth(1).wait_for(state="visible")  # the band and the loss chart
    _no_error_on_the_page(page)
    page.locator(stdriver.EDITOR).scroll_into_view_if_needed()
    screenshot(page, "balancer")

    link = page.get_by_test_id("stSidebarNavLink").filter(has_text="Your data")
    stdriver.rerun_after(page, link.click)  # the same session and websocket, another page
    field = page.locator(".st-key-yd_upload input[type=file]")
    file = {"name": "line.csv", "mimeType": "text/csv", "buffer": _your_data_csv()}
    stdriver.rerun_after(page, lambda: field.set_input_files(files=[file]))
    stdriver.set_number(page, "yd_steps", 300)
    stdriver.rerun_after(page, lambda: stdriver.click(page, "yd_train"))
    table = stdriver.download_csv(page, page.locator(".st-key-yd_download button"))
    assert len(table) == 30 and {"mean", "lower_95", "upper_95"} <= set(table.columns)
    _no_error_on_the_page(page)
    assert failures == []
    assert balancer.errors() == []
    context.close()

    mine = _logged(balancer, route)
    requests = [r["request"] for r in mine]
    assert requests[0].startswith("GET / "), requests[:3]  # the first page load, before it had a cookie
    assert mine[0]["cookie"] == "" and all(r["cookie"] == route for r in mine[1:])
    assert any("/_stcore/stream" in r for r in requests), requests
    assert any("/static/" in r for r in requests), requests
    assert sum(r.startswith(f"PUT {UPLOAD}") for r in requests) == 2, requests  # both uploads
    assert sum("/media/" in r for r in requests) >= 2, requests  # both downloads
    served = [r for r in mine if r["cache"] != "HIT"]  # a file nginx's cache sent reached no replica
    assert {r["upstream"] for r in served} == {mine[0]["upstream"]}, mine  # one replica throughout
    assert [r for r in mine if r["status"] >= 400] == []


def test_a_later_browser_gets_the_static_files_from_nginx(balancer: Balancer,
                                                         new_context: Callable[[], BrowserContext]) -> None:
    """Streamlit's ~60 hashed script files come from the replica once, then from nginx's cache
    (deploy/nginx.conf.template, proxy_cache): a lecture hall's first visits cost the replicas'
    Python processes one copy each, not one per visitor."""
    routes = []
    for _ in range(2):
        context = new_context()
        page = context.new_page()
        stdriver.open_app(page, balancer.url, timeout_ms=120_000)
        routes.append(_route(context))
        context.close()
    first, second = ([r for r in _logged(balancer, route) if r["request"].startswith("GET /static/")]
                     for route in routes)
    assert len(second) >= 20 and all(r["status"] == 200 for r in second), second
    assert all(r["cache"] == "HIT" and r["upstream"] == "" for r in second), second  # no replica asked
    assert all(r["cache"] in ("MISS", "HIT") for r in first), first


def test_browsers_are_spread_over_both_replicas(balancer: Balancer, browser: Browser) -> None:
    """Each new browser gets a random route (nginx's $request_id), hashed onto the 2 replicas. With
    16 browsers all land on one replica with probability p**16 + (1-p)**16, for p the share of the
    hash ring one replica holds; ketama's 160 points per server keep p near 1/2 (a p as far off as
    0.6 still gives 3e-4), so this is not flaky. Each browser also keeps its replica on a second
    request. Plain HTTP requests of the context (its cookie jar), not pages: no app run per browser."""
    routes: list[str] = []
    for _ in range(16):
        context = stdriver.new_context(browser)
        try:
            for _ in range(2):
                assert context.request.get(f"{balancer.url}/_stcore/health").text() == "ok"
            routes.append(_route(context))
        finally:
            context.close()
    by_route: dict[str, set[str]] = {}
    for r in balancer.requests():
        if r["route"] in routes:
            by_route.setdefault(r["route"], set()).add(r["upstream"])
    assert len(by_route) == 16 and all(len(ups) == 1 for ups in by_route.values()), by_route
    assert len(set().union(*by_route.values())) == 2, by_route


def test_without_affinity_an_upload_gets_400(nginx_executable: str, new_context: Callable[[], BrowserContext],
                                              tmp_path: Path) -> None:
    """The same configuration in round robin: the upload's PUT reaches the replica that does not
    hold the session about every second time. Round robin alternates, so of two uploads in a row
    with no other request between them one lands elsewhere; six tries leave room for requests of
    the page that come between."""
    running = start_balancer(tmp_path / "deploy-round-robin", "--no-affinity")
    try:
        page = new_context().new_page()
        page.set_default_timeout(30_000)
        stdriver.open_app(page, running.url, timeout_ms=120_000)
        field = page.locator(".st-key-upload input[type=file]")
        statuses = []
        for attempt in range(6):
            file = {"name": f"points-{attempt}.csv", "mimeType": "text/csv", "buffer": _points_csv()}
            with page.expect_response(lambda r: UPLOAD in r.url and r.request.method == "PUT") as info:
                field.set_input_files(files=[file])
            statuses.append(info.value.status)
            if info.value.status == 400:
                assert "sticky sessions" in info.value.text()  # Streamlit names the cause
                break
            stdriver.wait_for_run(page, 120_000)
        assert 400 in statuses, statuses
        logged = [r["status"] for r in running.requests() if r["request"].startswith(f"PUT {UPLOAD}")]
        assert logged == statuses, logged  # nginx passed Streamlit's answer on
    finally:
        running.stop()

"""The training queue in a browser: more visitors train at once than the server has slots (2). The one
whose training waits is told their place and an estimate, while the band of the server's nearest
cached fit stays on screen; then it gets its own fit, with no error on the page.

The test runs its own server with the queue's log on (``BNN_QUEUE_LOG``), so it knows from the server
itself when both slots are taken, rather than guessing from a page's timing."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
import stdriver

import bnn
from dashboard.model import runner
from dashboard.model.link import AppState, encode

pytestmark = pytest.mark.browser

# Two heavy fits fill both slots (two layers of 256 units, 20,000 epochs: the caps allow it, and it is
# far longer than the rest of the test takes; the server is stopped at the end, runs and all).
HEAVY = [bnn.Config(hidden=(256, 256), epochs=20_000, seed=seed) for seed in (201, 202)]
# The waiting visitor's settings: refused by the caps with 64 training samples (so the page loads, draws
# the prior and trains nothing before the line forms), allowed once the samples are lowered to 1.
WAITING = bnn.Config(hidden=(256, 256), epochs=20_000, train_samples=64, seed=7)
QUEUED = re.compile(r"Queued: (\d+)(st|nd|rd|th) in line, about \d+ s")
# The waiting page notes, in the browser, the queue message it shows and the band's title under it.
WATCH = """
window.__queued = null;
const find = root => root.querySelector('.js-plotly-plot') ?? [...root.querySelectorAll('*')]
  .map(e => e.shadowRoot && find(e.shadowRoot)).find(Boolean);
const watch = setInterval(() => {
  const alerts = [...document.querySelectorAll('[data-testid="stAlert"]')].map(e => e.innerText);
  const message = alerts.find(t => /Queued: \\d+(st|nd|rd|th) in line/.test(t));
  if (message) {  // while it shows: the band under it, once the editor has drawn its chart
    const title = find(document)?.layout?.title?.text;
    window.__queued = {message: window.__queued?.message ?? message, title: title ?? window.__queued?.title ?? null};
  } else if (window.__queued) {
    clearInterval(watch);
  }
}, 50);
"""


@pytest.fixture
def logged_server(tmp_path: Path, chromium_executable: str) -> Iterator[tuple[stdriver.Server, Path]]:
    log = tmp_path / "queue.jsonl"
    server = stdriver.start_server("app.py", timeout=60, env={"BNN_QUEUE_LOG": str(log)})
    yield server, log
    server.stop()


def _events(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _url(base: str, config: bnn.Config) -> str:
    return f"{base}/?{urlencode(encode(AppState(config=config)).params)}"


def test_a_waiting_visitor_sees_their_place_and_the_nearest_cached_band(logged_server, new_context,
                                                                       screenshot) -> None:
    server, log = logged_server
    assert runner.MAX_CONCURRENT == len(HEAVY)  # the scenario fills every slot
    stdriver.open_app(new_context().new_page(), server.url)  # the article's fit, now in the server's cache
    # The waiting visitor's page is loaded before the line forms: while both slots train, the server
    # sends a first visit's ~60 script files 10-20 times slower (about 0.1 s idle, 1-3 s measured).
    context = new_context()
    context.add_init_script(WATCH)
    waiting = context.new_page()
    waiting.set_default_timeout(120_000)
    stdriver.open_app(waiting, _url(server.url, WAITING))
    assert waiting.get_by_text(re.compile("Not trained: this run is about")).count() == 1
    for config in HEAVY:  # a newcomer's first load trains at once
        new_context().new_page().goto(_url(server.url, config), wait_until="commit")
    deadline = time.monotonic() + 120
    while sum(e["event"] == "admitted" for e in _events(log)) < 3:  # the article's fit and both heavy ones
        assert time.monotonic() < deadline, _events(log)
        time.sleep(0.2)
    assert [e["running"] for e in _events(log) if e["event"] == "admitted"][-1] == 2
    field = waiting.locator(".st-key-train_samples input").first
    field.fill("1")
    field.press("Enter")  # now allowed: live mode trains at once, but both slots are taken
    waiting.wait_for_function("window.__queued?.title != null")  # the message, and the band under it
    screenshot(waiting, "queued")
    queued = waiting.evaluate("window.__queued")
    assert QUEUED.search(queued["message"]).group(1) == "1"  # next in line: nobody else waits
    # meanwhile the band of the server's cached fit of the same points nearest these settings: the
    # article's (no fit of this session exists to show instead)
    assert queued["title"] == "a cached fit (other epochs, hidden, seed) while yours waits"
    assert stdriver.exception_texts(waiting) == []
    waiting_events = [e for e in _events(log) if e["event"] == "admitted"]
    assert len(waiting_events) == 3  # the server has not let it in: it waits in line

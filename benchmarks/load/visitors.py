"""What one visitor does, in one browser context (one Streamlit session), and how the band's
arrival is recognised. Async Playwright, so that one Chromium per worker process drives several
visitors at the same time.

Each visit has a ``prepare`` (not timed: done before the workers' barrier) and an ``act`` (timed:
from the barrier's release, or from the visitor's own action, to the band it waits for):

- view: open the default link (its fit cached by the warm-up) until its band is drawn;
- train: open a link with a seed of its own, which the server has never fitted; live mode (on by
  default) starts the fit as the page opens; until the band of *that* seed is drawn;
- edit: (prepare: open the default link, its band drawn) click the chart at a place of its own,
  which adds a point and, in live mode, trains; until the band of the seven points is drawn;
- compare: (prepare: open the Compare page with a seed of its own, keep two methods) press Run,
  until both methods' bands are drawn.

"Drawn" is checked in the page every 100 ms by ``BAND_DONE_JS``: the script has finished, no
placeholder is left, the status line says "Trained …" (it does only when the fit on screen is that
of the page's current settings: dashboard/live.py ``describe``), and the point editor's chart
holds an untitled band (a ``tonexty`` fill) and a mean (a title marks a preview, the prior or the
server's nearest cached fit shown while a newcomer's fit waits in line). A train visit further
needs the link to carry its seed and the mean to differ from the default link's; an edit visit
needs the server to have acknowledged the edit, one point more in the chart and a mean different
from before.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import ConsoleMessage, Page, Response
from playwright.async_api import TimeoutError as PlaywrightTimeout
from stdriver import TO_PIXELS_JS  # tests/e2e, on the path by benchmarks/load/__init__.py

KINDS = ("view", "train", "edit", "compare")
COMPARE_KEEP = ("Bayes-by-Backprop", "MC dropout")  # the two methods a compare visitor runs
POLL_MS = 100

# The point editor's root lives in a component's shadow root: found once, then kept on window.
EDITOR_JS = """() => {
  if (!(window.__lt_editor && window.__lt_editor.isConnected)) {
    window.__lt_editor = [...document.querySelectorAll('*')].filter(e => e.shadowRoot)
      .map(e => e.shadowRoot.querySelector('[data-testid="point-editor"]')).find(Boolean) || null;
  }
  return window.__lt_editor;
}"""
BAND_DONE_JS = f"""(want) => {{
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-testid="stSkeleton"]')) return false;
  const caps = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')];
  if (!caps.some(c => c.textContent.startsWith('Trained '))) return false;
  if (want.seed !== null && new URLSearchParams(location.search).get('seed') !== String(want.seed)) return false;
  const root = ({EDITOR_JS})();
  const gd = root && root.querySelector('.js-plotly-plot');
  if (!gd || !gd._fullData) return false;
  if (want.ack && !(Number(root.dataset.ack) >= Number(root.dataset.seq))) return false;
  const mean = gd._fullData.find(t => t.uid === 'mean');
  const pts = gd._fullData.find(t => t.name === 'training points');
  if (!mean || !gd._fullData.some(t => t.fill === 'tonexty')) return false;
  if (want.points !== null && !(pts && pts.x.length === want.points)) return false;
  if (((gd.layout.title && gd.layout.title.text) || '') !== '') return false;  // a preview, the prior, another fit
  const sig = Array.from(mean.y).slice(0, 200).map(v => v.toFixed(5)).join(',');
  if (want.not_sig !== null && sig === want.not_sig) return false;
  return {{sig: sig, points: pts ? Array.from(pts.x).map((x, i) => [x, pts.y[i]]) : []}};
}}"""
COMPARE_DONE_JS = """(labels) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const gd = document.querySelector('.st-key-cmp_chart .js-plotly-plot');
  if (!gd || !gd._fullData) return false;
  const names = new Set(gd._fullData.filter(t => t.fill === 'tonexty').map(t => t.name));
  return labels.every(l => names.has(l + ' band'));
}"""
SCRIPT_IDLE_JS = """() => { const a = document.querySelector('[data-testid="stApp"]');
  return !!a && a.getAttribute('data-test-connection-state') === 'CONNECTED'
    && a.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSkeleton"]'); }"""
# Whether the page ever showed the queue's message ("2nd in line, …") or the older "Busy: …" line:
# textContent (no layout) every 250 ms, so a message that shows for a moment is still seen.
WATCH_JS = """setInterval(() => { const t = document.body ? document.body.textContent : '';
  if (t.includes('in line')) window.__lt_line = true;
  if (t.includes('Busy:')) window.__lt_busy = true; }, 250);"""


@dataclass(frozen=True)
class Visit:
    """One visitor: what they do and with which seed (a train or compare visit's own)."""

    index: int
    kind: str
    seed: int | None = None


def plan(scenario: str, sessions: int, seed_base: int) -> list[Visit]:
    """The visits of a run. mixed: 70 % view, 20 % train, 10 % edit (rounded half up; the rest view)."""
    if scenario in KINDS:
        kinds = [scenario] * sessions
    elif scenario == "mixed":
        edit, train = math.floor(0.1 * sessions + 0.5), math.floor(0.2 * sessions + 0.5)
        kinds = ["train"] * train + ["edit"] * edit + ["view"] * (sessions - train - edit)
    else:
        raise ValueError(f"unknown scenario {scenario!r}")
    return [Visit(i, kind, seed_base + i if kind in ("train", "compare") else None) for i, kind in enumerate(kinds)]


@dataclass
class Outcome:
    """What one visit saw. ``time_s`` None: it never reached its band (see ``timeout`` and the errors)."""

    index: int
    kind: str
    seed: int | None
    time_s: float | None = None
    prepare_s: float | None = None
    timeout: bool = False
    failure: str = ""  # an exception other than a timeout, in prepare or act
    exceptions: int = 0  # Streamlit exception boxes on the page at the end
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    http_errors: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # failed requests that are not the app's (see `benign`)
    saw_in_line: bool = False
    saw_busy: bool = False

    @property
    def errors(self) -> int:
        return (int(self.timeout) + int(bool(self.failure)) + self.exceptions + len(self.page_errors)
                + len(self.console_errors) + len(self.http_errors))

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "errors": self.errors}


PROBES = ("/_stcore/health", "/_stcore/host-config")


def benign(url: str, status_or_text: str, origin: str) -> str | None:
    """Why a failed request is not the app's error, or None if it is one.

    - another host's resource that did not load ("net::ERR_..."): this machine has no route to the
      internet, a visitor's browser has (Streamlit fetches a Material icon from fonts.gstatic.com);
    - a 404 of ``<page path>/_stcore/health`` or ``/_stcore/host-config``: Streamlit's frontend, opened
      on a page's URL (``/Compare``), first tries that path as the server's base path."""
    if url and not url.startswith(origin) and "net::ERR_" in status_or_text:
        return "offline"
    path = url[len(origin):] if url.startswith(origin) else ""
    if "404" in status_or_text and path.endswith(PROBES) and not path.startswith("/_stcore/"):
        return "base-path probe"
    return None


def watch(page: Page, out: Outcome, origin: str) -> None:
    """Record the page's errors: uncaught exceptions, console errors, HTTP responses >= 400 (those
    :func:`benign` explains are kept apart, in ``ignored``)."""

    def console(msg: ConsoleMessage) -> None:
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        line = f"{msg.text[:300]} ({where[:200]})"
        reason = benign(where, msg.text, origin)
        (out.ignored if reason else out.console_errors).append(f"{reason}: {line}" if reason else line)

    def response(r: Response) -> None:
        if r.status >= 400:
            line = f"{r.status} {r.url[:200]}"
            reason = benign(r.url, str(r.status), origin)
            (out.ignored if reason else out.http_errors).append(f"{reason}: {line}" if reason else line)

    page.on("pageerror", lambda exc: out.page_errors.append(str(exc)[:300]))
    page.on("console", console)
    page.on("response", response)


class Visitor:
    """One visit's page and its prepare/act steps. ``default_sig``: the default link's band mean, as
    ``BAND_DONE_JS`` signs it (a train visit's band must differ from it)."""

    def __init__(self, page: Page, visit: Visit, url: str, default_sig: str, timeout_s: float) -> None:
        self.page, self.visit, self.url = page, visit, url.rstrip("/")
        self.default_sig, self.timeout_ms = default_sig, timeout_s * 1000
        self.out = Outcome(visit.index, visit.kind, visit.seed)
        self._before: dict[str, Any] = {}

    async def _band(self, seed: int | None = None, not_sig: str | None = None, points: int | None = None,
                    ack: bool = False) -> dict[str, Any]:
        want = {"seed": seed, "not_sig": not_sig, "points": points, "ack": ack}
        handle = await self.page.wait_for_function(BAND_DONE_JS, arg=want, polling=POLL_MS, timeout=self.timeout_ms)
        return await handle.json_value()

    async def prepare(self) -> None:
        start = time.perf_counter()
        kind, page = self.visit.kind, self.page
        if kind == "edit":
            await page.goto(self.url, wait_until="domcontentloaded")
            self._before = await self._band()
        elif kind == "compare":
            await page.goto(f"{self.url}/Compare?seed={self.visit.seed}", wait_until="domcontentloaded")
            await page.wait_for_function(SCRIPT_IDLE_JS, polling=POLL_MS, timeout=self.timeout_ms)
            await self._keep_two_methods()
        self.out.prepare_s = time.perf_counter() - start

    async def _keep_two_methods(self) -> None:
        box = self.page.locator(".st-key-cmp_methods")
        while True:
            labels = await box.get_by_role("button", name="Remove ").evaluate_all(
                "els => els.map(e => e.getAttribute('aria-label') || '')")
            extra = [lab for lab in labels if lab.startswith("Remove ") and lab[len("Remove "):] not in COMPARE_KEEP]
            if not extra:
                return
            await box.get_by_role("button", name=extra[0], exact=True).click()
            await self.page.wait_for_timeout(300)  # let the rerun start before waiting for its end
            await self.page.wait_for_function(SCRIPT_IDLE_JS, polling=POLL_MS, timeout=self.timeout_ms)

    async def act(self) -> None:
        """The timed part; a failure is recorded in the outcome, never raised."""
        try:
            start = time.perf_counter()
            await self._act()
            self.out.time_s = time.perf_counter() - start
        except PlaywrightTimeout:
            self.out.timeout = True
        except Exception as exc:  # noqa: BLE001  (a visit's failure is a figure of the run, not its end)
            self.out.failure = f"{type(exc).__name__}: {str(exc)[:300]}"

    async def _act(self) -> None:
        kind, page, v = self.visit.kind, self.page, self.visit
        if kind == "view":
            await page.goto(self.url, wait_until="commit")
            await self._band()
        elif kind == "train":
            await page.goto(f"{self.url}/?seed={v.seed}", wait_until="commit")
            await self._band(seed=v.seed, not_sig=self.default_sig)
        elif kind == "edit":
            x, y = self._edit_target()
            gd = page.locator('[data-testid="point-editor"] .js-plotly-plot').first
            [(px, py)] = await gd.evaluate(TO_PIXELS_JS, [[x, y]])
            await page.mouse.click(px, py)
            await self._band(not_sig=self._before["sig"], points=len(self._before["points"]) + 1, ack=True)
        elif kind == "compare":
            await page.locator(".st-key-cmp_run button").first.click()
            await page.wait_for_timeout(POLL_MS)  # the click's rerun must start before "done" can be read
            await page.wait_for_function(COMPARE_DONE_JS, arg=list(COMPARE_KEEP), polling=POLL_MS,
                                         timeout=self.timeout_ms)

    def _edit_target(self) -> tuple[float, float]:
        """A place of this visitor's own on the article's band (so the server's fit cache misses), clear
        of the points there (a click on a point drags or deletes it rather than adding one)."""
        x = -3.7 + (self.visit.index * 0.61) % 7.4
        y = -x**4 / 40 + 1.5 + 0.4 * (-1) ** self.visit.index
        if any(abs(px - x) < 0.3 and abs(py - y) < 1.5 for px, py in self._before["points"]):
            y += 2.0
        return x, y

    async def finish(self) -> Outcome:
        """Count the exception boxes and read whether the queue's messages were seen."""
        try:
            self.out.exceptions = await self.page.get_by_test_id("stException").count()
            seen = await self.page.evaluate("() => [!!window.__lt_line, !!window.__lt_busy]")
            self.out.saw_in_line, self.out.saw_busy = seen
        except Exception as exc:  # noqa: BLE001
            self.out.failure = self.out.failure or f"finish: {type(exc).__name__}: {str(exc)[:200]}"
        return self.out

"""A worker process of the load test: its own Playwright and one Chromium, one browser context per
visitor (so one Streamlit session each), all visitors driven at once with asyncio.

As Streamlit's own load test (e2e_playwright/load_testing/worker.py) does, each worker is a
separate process; unlike it, one Chromium serves several visitors, since on this 2-core machine a
browser per visitor would leave the server little. Every worker prepares its visitors, then waits
at a barrier shared with the other workers and the parent, so the timed part starts together.
The CPU the worker's process tree (Python, Playwright's driver, Chromium) used from the barrier to
the end is reported: the clients share the machine with the server.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from multiprocessing.synchronize import Barrier
from typing import Any

from playwright.async_api import async_playwright
from stdriver import CHROMIUM_ARGS, VIEWPORT  # tests/e2e, on the path by benchmarks/load/__init__.py

from benchmarks.load import meter
from benchmarks.load.visitors import WATCH_JS, Visit, Visitor, watch

BARRIER_TIMEOUT_S = 600.0  # preparing 30 visitors on a loaded machine takes minutes


async def _run(url: str, visits: list[Visit], chromium: str, default_sig: str, barrier: Barrier,
               timeout_s: float) -> dict[str, Any]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        visitors = []
        for visit in visits:
            context = await browser.new_context(viewport=VIEWPORT)
            await context.add_init_script(WATCH_JS)
            page = await context.new_page()
            visitor = Visitor(page, visit, url, default_sig, timeout_s)
            watch(page, visitor.out, url.rstrip("/"))
            visitors.append(visitor)
        prepared = await asyncio.gather(*(v.prepare() for v in visitors), return_exceptions=True)
        for visitor, failed in zip(visitors, prepared):
            if isinstance(failed, BaseException):
                visitor.out.failure = f"prepare: {type(failed).__name__}: {str(failed)[:300]}"
        await asyncio.to_thread(barrier.wait, BARRIER_TIMEOUT_S)
        cpu0, started = meter.own_tree_cpu_seconds(), time.time()
        await asyncio.gather(*(v.act() for v in visitors if not v.out.failure))
        outcomes = [await v.finish() for v in visitors]
        client_cpu = meter.own_tree_cpu_seconds() - cpu0  # before the browser closes
        await browser.close()
    return {"outcomes": [o.as_dict() for o in outcomes], "client_cpu_s": client_cpu, "started": started}


def main(url: str, visits: list[Visit], chromium: str, default_sig: str, barrier: Barrier, results: Any,
         timeout_s: float) -> None:
    """Process entry: put this worker's result (or its traceback) on the ``results`` queue."""
    try:
        results.put(asyncio.run(_run(url, visits, chromium, default_sig, barrier, timeout_s)))
    except BaseException:  # noqa: BLE001  (the parent must hear of it, not wait for ever)
        barrier.abort()
        results.put({"crash": traceback.format_exc()[-3000:]})

"""Browser tests: one real `streamlit run app.py` per session, a fresh Chromium context per test.

Chromium is Debian's (Playwright cannot download its own build here). Without it the suite
skips on a developer's machine and fails under CI (CI=true), where scripts/test installs it.
Screenshots go to artifacts/screenshots/ (git-ignored); the README's picture to docs/.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import stdriver
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

# Playwright's expect() waits 5 s by default; on the 2-core CI machine, with the rest of the
# suite running beside the server, one rerun can take longer. The assertions are unchanged:
# each must still come true, it only gets longer to do so.
expect.set_options(timeout=20_000)

SCREENSHOTS = stdriver.REPO / "artifacts" / "screenshots"
_SERVER_KEY = pytest.StashKey[stdriver.Server]()


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    path = stdriver.chromium_path()
    if path is None:
        message = "Chromium not found (apt-get install chromium); the browser tests need it"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def app_server(request: pytest.FixtureRequest, chromium_executable: str) -> Iterator[stdriver.Server]:
    """`streamlit run app.py` from the repo root on a free port, stopped (whole group) at the end."""
    server = stdriver.start_server("app.py", timeout=60)
    request.config.stash[_SERVER_KEY] = server
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_url(app_server: stdriver.Server) -> str:
    return app_server.url


@pytest.fixture(scope="session")
def browser(chromium_executable: str) -> Iterator[Browser]:
    with sync_playwright() as pw:
        browser = stdriver.launch_chromium(pw, chromium_executable)
        yield browser
        browser.close()


@pytest.fixture
def new_context(browser: Browser) -> Iterator[Callable[[], BrowserContext]]:
    """Make browser contexts (each its own cookies and Streamlit session); all closed after the test."""
    made: list[BrowserContext] = []

    def make() -> BrowserContext:
        made.append(stdriver.new_context(browser))
        return made[-1]

    yield make
    for context in made:
        context.close()


@pytest.fixture
def page(new_context: Callable[[], BrowserContext]) -> Page:
    page = new_context().new_page()
    page.set_default_timeout(30_000)
    return page


@pytest.fixture
def app(page: Page, app_url: str) -> Page:
    """The app's first page, loaded and finished running (the session's first fit included:
    on a loaded 2-core machine that took up to 20 s, so the wait allows 120 s)."""
    stdriver.open_app(page, app_url, timeout_ms=120_000)
    return page


@pytest.fixture
def screenshot(request: pytest.FixtureRequest) -> Callable[[Page, str], Path]:
    """Save a full-page screenshot as artifacts/screenshots/<test>-<name>.png and return its path."""

    def take(page: Page, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """On a failed e2e test, attach the server's stderr to the report: app errors land there."""
    report = yield
    server = item.config.stash.get(_SERVER_KEY, None)
    if report.failed and server is not None:
        report.sections.append(("streamlit server stderr (last 20 kB)", server.output("stderr")))
    return report

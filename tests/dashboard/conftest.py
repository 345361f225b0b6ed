"""Fixtures of the dashboard's tests: headless Chromium (Debian's
`chromium`, which `make install` installs) driven by Playwright's sync API,
dashboards on the test's Redis and queue (always killed at teardown), an
app on the test's queue for blocking enqueues, and a screenshot of each page
saved as an artifact."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ardiq import Ardiq
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from .harness import SCREENSHOTS, TOKEN, DashboardProcess, Shoot, StartDashboard, chromium_executable


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=chromium_executable(), headless=True)
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) with a desktop window."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def shoot(screenshots: Path) -> Shoot:
    """Saves a full-page screenshot as `<name>.png` in the artifacts folder."""

    def save(tab: Page, name: str) -> Path:
        path = screenshots / f"{name}.png"
        tab.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path

    return save


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.glob("*.png")):
        terminalreporter.write_line(f"dashboard screenshots: {SCREENSHOTS}")


@pytest.fixture
def start_dashboard(redis_url: str, queue: str) -> Iterator[StartDashboard]:
    """Starts a dashboard on the test's Redis and queue (`url=` and
    `queues=` change them; `actions=True` allows actions with `TOKEN`)."""
    started: list[DashboardProcess] = []

    def start(
        *args: str, url: str | None = None, queues: list[str] | None = None, actions: bool = False
    ) -> DashboardProcess:
        shown = [queue] if queues is None else queues
        options = ["--url", url or redis_url, *[arg for name in shown for arg in ("--queue", name)]]
        if actions:
            options.append("--allow-actions")
        dashboard = DashboardProcess(*options, *args, token=TOKEN if actions else None)
        started.append(dashboard)
        return dashboard

    yield start
    for dashboard in started:
        dashboard.kill()


@pytest.fixture
def producer(redis_url: str, queue: str) -> Ardiq:
    """An app on the test's queue, for blocking enqueues (these tests are
    synchronous: Playwright's sync API drives the browser)."""
    return Ardiq(redis_url, queue=queue)

"""The dashboard mounted under a path of a user's FastAPI application and
served by uvicorn: links, static files, live updates and the application's
own routes all keep working."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from ardiq import Ardiq
from ardiq_testing import free_port
from playwright.sync_api import Page, expect

from .harness import START_WAIT_S

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def mounted(redis_url: str, queue: str) -> Iterator[str]:
    """`uvicorn dashboard.mounted_app:api` on a free port; its base URL."""
    port = free_port()
    env = dict(os.environ, ARDIQ_REDIS_URL=redis_url, ARDIQ_QUEUE=queue)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "dashboard.mounted_app:api",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=TESTS,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_WAIT_S
        while True:
            try:
                with urllib.request.urlopen(base + "/", timeout=1) as reply:
                    assert reply.status == 200
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("uvicorn did not start the mounted application") from None
                time.sleep(0.05)
        yield base
    finally:
        server.kill()
        server.wait()


def test_the_dashboard_works_mounted_under_a_path(
    page: Page, mounted: str, redis_url: str, queue: str
) -> None:
    producer = Ardiq(redis_url, queue=queue)
    producer.send_blocking("greet", "mounted")

    page.goto(mounted + "/ops/ardiq/")

    row = page.locator(f'tr[data-queue="{queue}"]')
    expect(row.locator('[data-field="waiting"] .n')).to_have_text("1")
    links = page.locator("a[href^='/']").evaluate_all("links => links.map(link => link.getAttribute('href'))")
    assert links
    assert all(link.startswith("/ops/ardiq/") for link in links), links
    # The stylesheet came through the mount: the header has its colour.
    assert (
        page.locator("header.top").evaluate("h => getComputedStyle(h).backgroundColor") == "rgb(29, 35, 43)"
    )
    page.evaluate("window.ardiqTestMark = 'set'")
    producer.send_blocking("greet", "again")
    expect(row.locator('[data-field="waiting"] .n')).to_have_text("2")
    assert page.evaluate("window.ardiqTestMark") == "set"

    page.click(f"a:text-is('{queue}')")

    assert page.url.startswith(f"{mounted}/ops/ardiq/queue?")
    expect(page.locator('dd[data-field="waiting"]')).to_have_text("2")
    with urllib.request.urlopen(mounted + "/", timeout=5) as reply:
        assert reply.read() == b'{"app":"mine"}'

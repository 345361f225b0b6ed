"""The dashboard tests' harness: where Chromium is, dashboards started as
`python -m ardiq dashboard` subprocesses, the screenshots' folder
(`ARDIQ_SCREENSHOTS`, else `target/dashboard-screenshots`), and signing in."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import pytest
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("ARDIQ_SCREENSHOTS") or ROOT / "target" / "dashboard-screenshots")
TOKEN = "a-token-for-the-tests"
START_WAIT_S = 20.0  # a guard against a hung start on a loaded machine, not a speed requirement


def chromium_executable() -> str:
    """Chromium's path: `ARDIQ_CHROMIUM`, else `chromium` on PATH. Missing,
    it fails the test: `make install` installs it, so its absence is a
    broken machine, not a reason to skip."""
    path = os.environ.get("ARDIQ_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("chromium is not installed: run `make install` (Debian package chromium)")
    return path


Shoot = Callable[[Page, str], Path]


class DashboardProcess:
    """`python -m ardiq dashboard --port 0 ARGS...`; `url` is where it listens."""

    def __init__(self, *args: str, token: str | None = None) -> None:
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115  (closed by `kill`)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env.pop("ARDIQ_DASHBOARD_TOKEN", None)
        if token is not None:
            env["ARDIQ_DASHBOARD_TOKEN"] = token
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ardiq", "dashboard", "--port", "0", "--refresh", "0.5", *args],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = self._address()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def _address(self) -> str:
        deadline = time.monotonic() + START_WAIT_S
        while time.monotonic() < deadline:
            found = re.search(r"ardiq dashboard on (http://\S+?)/ ", self.output())
            if found:
                return found.group(1)
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError(f"the dashboard did not start:\n{self.output()}")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log.close()


StartDashboard = Callable[..., DashboardProcess]


def sign_in(page: Page, base: str) -> None:
    """Signs in through the dashboard's form with the tests' token."""
    page.goto(f"{base}/login")
    page.fill("#token", TOKEN)
    page.click("form.login button[type=submit]")
    page.wait_for_selector(".notice >> text=Signed in")

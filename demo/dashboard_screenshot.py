"""Makes the README's picture of the dashboard (`demo/dashboard-overview.png`):
a throwaway Redis, a worker of `demo_tasks` running jobs at a changing pace
for about a minute, a queue no worker consumes, failed jobs and a dead
letter, and headless Chromium taking the overview's screenshot.

    .venv/bin/python demo/dashboard_screenshot.py [OUTPUT.png]
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ardiq import Ardiq
from ardiq_testing import choose_redis
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "demo" / "dashboard-overview.png"
RUN_S = 70


def started(command: list[str], env: dict[str, str], cwd: Path, read: bool = False) -> subprocess.Popen[str]:
    """`command` running; its output is read here only with `read` (the dashboard's address)."""
    return subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE if read else None, text=True)


async def picture(url: str, output: Path) -> None:
    env = dict(os.environ, ARDIQ_REDIS_URL=url, ARDIQ_QUEUE="demo", PYTHONUNBUFFERED="1")
    os.environ.update(ARDIQ_REDIS_URL=url, ARDIQ_QUEUE="demo")
    sys.path.insert(0, str(ROOT / "demo"))
    import demo_tasks as tasks

    ardiq = [sys.executable, "-m", "ardiq", "--log-level", "WARNING"]
    worker = started([*ardiq, "run", "demo_tasks:app", "--heartbeat-ms", "1000"], env, ROOT / "demo")
    dashboard = started([*ardiq, "dashboard", "--url", url, "--port", "0", "--refresh", "1"], env, ROOT, True)
    try:
        assert dashboard.stdout is not None
        found = re.search(r"(http://\S+?)/ ", dashboard.stdout.readline())
        assert found, "the dashboard did not print its address"
        emails = Ardiq(url, queue="emails")
        reports = Ardiq(url, queue="reports")
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(executable_path=shutil.which("chromium"))
            page = await browser.new_page(viewport={"width": 1200, "height": 560})
            await page.goto(found.group(1) + "/")
            began = time.monotonic()
            second = 0
            while (elapsed := time.monotonic() - began) < RUN_S:
                pace = int(60 + 50 * abs(((elapsed / 20) % 2) - 1))  # jobs per second, up and down
                await tasks.app.enqueue_many([tasks.nap.prepare(20) for _ in range(pace)])
                if second % 9 == 0:
                    await tasks.divide.enqueue(1, 0)
                if second % 4 == 0:
                    await emails.options(priority=second % 10).send("send_mail", f"user{second}@example.com")
                if second % 15 == 0:
                    await reports.options(delay_ms=3_600_000 + second).send("monthly_report", second)
                second += 1
                await asyncio.sleep(1)
            await tasks.app.send("resize_image", "cat.png")  # no such task: a dead letter
            await asyncio.sleep(3)
            await page.reload()
            await page.wait_for_timeout(1500)
            await page.screenshot(path=str(output), full_page=True)
            await browser.close()
        await emails.close()
        await reports.close()
        await tasks.app.close()
    finally:
        for process in (worker, dashboard):
            process.kill()
            process.wait()
    print(f"wrote {output}")


def main() -> None:
    output = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT
    with choose_redis() as redis:
        asyncio.run(picture(redis.url, output))


if __name__ == "__main__":
    main()

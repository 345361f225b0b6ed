"""The link between the native core and the caller's event loop: every
reply and every job the core hands over reaches the loop, however many
arrive at once."""

from __future__ import annotations

import asyncio

from ardiq import Ardiq, JobStatus
from worker_harness import WAIT_S, run_burst, within

REPLY_WAIT_S = 5.0  # replies take milliseconds; the bound turns a lost one into a failure


async def test_every_reply_to_concurrent_requests_arrives(app: Ardiq) -> None:
    for _ in range(300):
        statuses = await within(
            asyncio.gather(*[app.job(f"job-{n}").status() for n in range(10)]),
            REPLY_WAIT_S,
            "ten concurrent status requests to be answered",
        )
        assert statuses == [JobStatus.NOT_FOUND] * 10


async def test_every_reply_to_a_burst_of_requests_arrives(app: Ardiq) -> None:
    for _ in range(10):
        statuses = await within(
            asyncio.gather(*[app.job(f"job-{n}").status() for n in range(2_000)]),
            REPLY_WAIT_S,
            "2,000 concurrent status requests to be answered",
        )
        assert statuses == [JobStatus.NOT_FOUND] * 2_000


async def test_many_burst_runs_of_one_app_each_end(app: Ardiq) -> None:
    @app.task
    async def echo(n: int) -> int:
        return n

    for n in range(30):
        job = await echo.enqueue(n)
        await run_burst(app)
        assert await within(job.result(), WAIT_S, "the result") == n

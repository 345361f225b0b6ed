"""Delayed and scheduled jobs: `scheduled` until due, never run before, run
after; a delay longer than the visibility timeout runs once."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis
from ardiq import Ardiq, JobStatus
from wire_records import Keys, stream_length
from worker_harness import WAIT_S, run_burst, running_worker


def entries_added(inspector: redis.Redis, stream: str) -> int:
    """How many entries the stream ever got (they are deleted once acked)."""
    if not inspector.exists(stream):
        return 0
    info: Any = inspector.xinfo_stream(stream)
    return int(info["entries-added"])


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def test_delayed_job_is_scheduled_until_due(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    job = await app.options(delay_ms=60_000).send("later")

    assert await job.status() is JobStatus.SCHEDULED
    assert inspector.zscore(keys.delayed, job.id) is not None
    assert inspector.hexists(keys.delayed_jobs, job.id)
    assert stream_length(inspector, keys.stream(5)) == 0


async def test_delayed_job_runs_after_its_delay(app: Ardiq) -> None:
    started: list[int] = []

    @app.task
    async def mark() -> None:
        started.append(now_ms())

    before = now_ms()
    job = await mark.options(delay_ms=400).enqueue()
    async with running_worker(app):
        await job.result(timeout_s=WAIT_S)

    assert len(started) == 1
    assert started[0] >= before + 400
    info = await job.info()
    assert info.started_ms >= info.enqueued_ms + 400


async def test_scheduled_job_runs_at_its_time(app: Ardiq) -> None:
    started: list[int] = []

    @app.task
    async def mark() -> None:
        started.append(now_ms())

    at = now_ms() + 500
    job = await mark.options(schedule_ms=at).enqueue()
    assert await job.status() is JobStatus.SCHEDULED
    async with running_worker(app):
        await job.result(timeout_s=WAIT_S)

    assert started[0] >= at


async def test_schedule_in_the_past_queues_at_once(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    job = await app.options(schedule_ms=now_ms() - 10_000).send("late")

    assert await job.status() is JobStatus.QUEUED
    assert stream_length(inspector, keys.stream(5)) == 1
    assert inspector.zcard(keys.delayed) == 0


async def test_zero_delay_queues_at_once(app: Ardiq) -> None:
    job = await app.options(delay_ms=0).send("now")

    assert await job.status() is JobStatus.QUEUED


async def test_delayed_jobs_are_promoted_into_the_stream_of_their_priority(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def noop() -> None:
        return None

    due = now_ms() + 200
    jobs = await app.enqueue_many([noop.options(schedule_ms=due, priority=p).prepare() for p in (0, 9, 9, 4)])
    async with running_worker(app):
        for job in jobs:
            await job.result(timeout_s=WAIT_S)

    added = {p: entries_added(inspector, keys.stream(p)) for p in range(10)}
    assert added == {0: 1, 1: 0, 2: 0, 3: 0, 4: 1, 5: 0, 6: 0, 7: 0, 8: 0, 9: 2}


async def test_delay_longer_than_the_visibility_timeout_runs_once(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task
    async def count() -> None:
        runs.append(1)

    job = await count.options(delay_ms=1_500).enqueue()
    async with running_worker(app, visibility_ms=500):
        await job.result(timeout_s=WAIT_S)
        await asyncio.sleep(1.2)  # two more reclaim passes

    assert runs == [1]


async def test_burst_worker_leaves_a_job_that_is_not_due(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task
    async def count() -> None:
        runs.append(1)

    job = await count.options(delay_ms=60_000).enqueue()
    await run_burst(app)

    assert runs == []
    assert await job.status() is JobStatus.SCHEDULED


async def test_burst_worker_runs_a_delayed_job_that_became_due(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    # Promotion and the burst run's last read can race: try it a few times.
    for n in range(6):
        job = await add.options(delay_ms=100).enqueue(n, 1)
        await asyncio.sleep(0.2)
        await run_burst(app)
        status = await job.status()
        assert status is JobStatus.COMPLETE, f"round {n}: the job is {status.value}"

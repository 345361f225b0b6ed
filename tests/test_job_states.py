"""A job's status over its life: queued, scheduled, running, and the
terminal states, told apart (SPEC.md section 6)."""

from __future__ import annotations

import asyncio
import threading

import redis
from ardiq import Ardiq, JobStatus
from wire_records import Keys
from worker_harness import WAIT_S, running_worker, wait_for_status


async def test_async_job_is_queued_then_running_then_complete(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    release = asyncio.Event()

    @app.task
    async def gated() -> str:
        await release.wait()
        return "done"

    job = await gated.enqueue()
    assert await job.status() is JobStatus.QUEUED
    async with running_worker(app) as worker:
        await wait_for_status(job, JobStatus.RUNNING)
        assert inspector.hget(keys.running, job.id) == worker.worker_id.encode()
        release.set()
        assert await job.result(timeout_s=WAIT_S) == "done"

    assert await job.status() is JobStatus.COMPLETE
    assert not inspector.hexists(keys.running, job.id)


async def test_sync_job_is_running_while_its_thread_runs(app: Ardiq) -> None:
    release = threading.Event()

    @app.task
    def gated() -> str:
        release.wait(WAIT_S)
        return "done"

    job = await gated.enqueue()
    async with running_worker(app):
        await wait_for_status(job, JobStatus.RUNNING)
        release.set()
        assert await job.result(timeout_s=WAIT_S) == "done"


async def test_failed_run_with_a_retry_left_is_scheduled_again(app: Ardiq) -> None:
    @app.task(retries=1, backoff_ms=60_000)
    async def broken() -> None:
        raise ValueError("no")

    job = await broken.enqueue()
    async with running_worker(app):
        await wait_for_status(job, JobStatus.SCHEDULED)


async def test_never_enqueued_job_is_not_found(app: Ardiq) -> None:
    assert await app.job("nobody").status() is JobStatus.NOT_FOUND


def test_terminal_statuses_are_terminal_and_the_others_are_not() -> None:
    terminal = {status for status in JobStatus if status.is_terminal}

    assert terminal == {
        JobStatus.COMPLETE,
        JobStatus.FAILED,
        JobStatus.ABORTED,
        JobStatus.DEAD,
        JobStatus.EXPIRED,
    }


async def test_job_that_ran_long_stays_running_until_it_ends(app: Ardiq) -> None:
    release = asyncio.Event()

    @app.task
    async def long() -> None:
        await release.wait()

    job = await long.enqueue()
    async with running_worker(app, visibility_ms=300):
        await wait_for_status(job, JobStatus.RUNNING)
        await asyncio.sleep(1.0)  # over three visibility timeouts
        assert await job.status() is JobStatus.RUNNING
        release.set()
        await wait_for_status(job, JobStatus.COMPLETE)

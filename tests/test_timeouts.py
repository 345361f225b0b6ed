"""Timeouts: an async run is cancelled and fails with `TimeoutError`; a sync
run's thread cannot be stopped, so the run is reported failed at once and
its late result is discarded. A timeout is retried like any failure."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from ardiq import Ardiq, JobFailed, JobStatus
from worker_harness import WAIT_S, run_burst, running_worker


async def test_async_task_over_its_timeout_is_cancelled_and_fails_with_timeout_error(app: Ardiq) -> None:
    cancelled: list[bool] = []

    @app.task(timeout_s=0.2)
    async def slow() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "finished"

    job = await slow.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert failed.value.remote_type == "TimeoutError"
    assert cancelled == [True]
    assert await job.status() is JobStatus.FAILED


async def test_job_timeout_overrides_the_tasks(app: Ardiq) -> None:
    @app.task(timeout_s=60)
    async def slow() -> str:
        await asyncio.sleep(30)
        return "finished"

    job = await slow.options(timeout_ms=200).enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert failed.value.remote_type == "TimeoutError"


async def test_job_timeout_of_zero_means_no_timeout(app: Ardiq) -> None:
    @app.task(timeout_s=0.05)
    async def slow() -> str:
        await asyncio.sleep(0.3)
        return "finished"

    job = await slow.options(timeout_ms=0).enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == "finished"


async def test_async_task_within_its_timeout_completes(app: Ardiq) -> None:
    @app.task(timeout_s=5)
    async def quick(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    job = await quick.enqueue(3)
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 3


async def test_async_task_with_a_timeout_that_never_suspends_completes(app: Ardiq) -> None:
    @app.task(timeout_s=5)
    async def instant(x: int) -> int:
        return x

    job = await instant.enqueue(4)
    await run_burst(app)

    assert await job.result(timeout_s=1) == 4


async def test_sync_task_over_its_timeout_is_reported_failed_while_its_thread_runs_on(app: Ardiq) -> None:
    finished = threading.Event()

    @app.task(timeout_s=0.2)
    def slow() -> str:
        time.sleep(1.5)
        finished.set()
        return "finished"

    job = await slow.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)
        # Reported while the thread still runs: the report is honest about it.
        assert not finished.is_set()
        assert failed.value.remote_type == "TimeoutError"
        assert "thread" in failed.value.remote_message
        await asyncio.to_thread(finished.wait, WAIT_S)
        await asyncio.sleep(0.2)

    assert await job.status() is JobStatus.FAILED


async def test_timed_out_run_is_retried_like_any_failure(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(timeout_s=0.1, retries=1, backoff_ms=10)
    async def slow_then_quick() -> int:
        runs.append(1)
        if len(runs) == 1:
            await asyncio.sleep(30)
        return len(runs)

    job = await slow_then_quick.enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 2

"""Middleware: awaited around every run (async, sync and process tasks),
the first registered outermost, with the job's context; one that raises
fails the run like the task raising; an app without middleware runs its
tasks directly."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from ardiq import Ardiq, JobContext, JobFailed, JobStatus
from worker_harness import WAIT_S, run_burst


async def test_middleware_wraps_every_run_first_registered_outermost(app: Ardiq) -> None:
    calls: list[str] = []

    @app.middleware
    async def outer(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        calls.append(f"outer in {job.task}")
        result = await call_next()
        calls.append(f"outer out {result}")
        return result

    @app.middleware
    async def inner(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        calls.append(f"inner in {job.id == current_id(job)}")
        return await call_next()

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    @app.task
    def shout(text: str) -> str:
        return text.upper()

    first, second = await add.enqueue(1, 2), await shout.enqueue("hi")
    await run_burst(app, concurrency=1)

    assert await first.result(timeout_s=WAIT_S) == 3
    assert await second.result(timeout_s=WAIT_S) == "HI"
    assert calls == [
        "outer in add",
        "inner in True",
        "outer out 3",
        "outer in shout",
        "inner in True",
        "outer out HI",
    ]


def current_id(job: JobContext) -> str:
    from ardiq import current_job

    return current_job().id


async def test_a_middleware_may_change_the_result(app: Ardiq) -> None:
    @app.middleware
    async def double(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        return 2 * await call_next()

    @app.task
    async def seven() -> int:
        return 7

    job = await seven.enqueue()
    await run_burst(app)
    assert await job.result(timeout_s=WAIT_S) == 14


async def test_a_middleware_that_raises_fails_the_run_like_the_task_would(app: Ardiq) -> None:
    ran: list[str] = []

    @app.middleware
    async def refuse(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        raise PermissionError(f"tenant of {job.task} is suspended")

    @app.task(retries=0)
    async def work() -> None:
        ran.append("ran")

    job = await work.enqueue()
    await run_burst(app)

    assert await job.status() is JobStatus.FAILED
    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=1)
    assert failed.value.remote_type == "PermissionError"
    assert "tenant of work is suspended" in failed.value.remote_message
    assert ran == []


async def test_a_timeout_applies_through_middleware(app: Ardiq) -> None:
    import asyncio

    @app.middleware
    async def passthrough(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        return await call_next()

    @app.task(timeout_s=0.1)
    async def forever() -> None:
        await asyncio.sleep(60)

    job = await forever.enqueue()
    await run_burst(app)
    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=1)
    assert failed.value.remote_type == "TimeoutError"


async def test_a_sync_tasks_timeout_through_middleware_is_raised_by_call_next(app: Ardiq) -> None:
    import time

    seen: list[str] = []

    @app.middleware
    async def watching(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await call_next()
        except TimeoutError:
            seen.append("TimeoutError")
            raise

    @app.task(timeout_s=0.1)
    def slow() -> None:
        time.sleep(0.5)

    job = await slow.enqueue()
    await run_burst(app)
    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=1)
    assert failed.value.remote_type == "TimeoutError"
    assert "thread" in failed.value.remote_message
    assert seen == ["TimeoutError"]


def test_a_middleware_must_be_async() -> None:
    app = Ardiq("redis://127.0.0.1:1/0")

    def not_async(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
        return None

    with pytest.raises(ValueError, match="must be an async function"):
        app.middleware(not_async)

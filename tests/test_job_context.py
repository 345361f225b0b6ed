"""`current_job()`: the running job's id, task, queue, attempt, retries,
priority, times and worker, in async, sync and process tasks alike, counted
across retries; outside a run it is a clear error."""

from __future__ import annotations

import asyncio
import contextvars
import time

import pytest
from ardiq import Ardiq, ContextUnavailable, JobContext, current_job
from worker_harness import WAIT_S, SpawnWorker, run_burst, running_worker


def as_list(job: JobContext) -> list[object]:
    return [
        job.id,
        job.task,
        job.queue,
        job.attempt,
        job.max_retries,
        job.priority,
        job.enqueued_ms,
        job.deadline_ms,
        job.worker_id,
    ]


async def test_an_async_task_sees_its_job(app: Ardiq, queue: str) -> None:
    @app.task(retries=2, timeout_s=30)
    async def me() -> list[object]:
        return as_list(current_job())

    before_ms = int(time.time() * 1000)
    job = await me.options(priority=8).enqueue()
    await run_burst(app)

    (
        job_id,
        task,
        job_queue,
        attempt,
        max_retries,
        priority,
        enqueued_ms,
        deadline_ms,
        worker_id,
    ) = await job.result(timeout_s=WAIT_S)
    assert (job_id, task, job_queue, attempt, max_retries, priority) == (job.id, "me", queue, 0, 2, 8)
    assert isinstance(enqueued_ms, int)
    assert isinstance(deadline_ms, int)
    assert before_ms <= enqueued_ms <= int(time.time() * 1000)
    assert 29_000 <= deadline_ms - enqueued_ms <= 31_000 + WAIT_S * 1000
    assert worker_id == (await job.info()).worker_id


async def test_a_sync_task_sees_its_job_in_its_thread(app: Ardiq) -> None:
    @app.task
    def me_in_a_thread() -> list[object]:
        return as_list(current_job())

    job = await me_in_a_thread.options(max_retries=5).enqueue()
    await run_burst(app)

    got = await job.result(timeout_s=WAIT_S)
    assert got[:5] == [job.id, "me_in_a_thread", app.queue, 0, 5]
    assert got[7] is None


async def test_a_process_task_sees_its_job_in_the_child(
    app: Ardiq, queue: str, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker("process_tasks:app", "--burst")
    job = await app.send("job_in_a_child")
    got = await job.result(timeout_s=WAIT_S)
    await worker.exited()

    job_id, task, job_queue, attempt, worker_id, pid = got
    assert (job_id, task, job_queue, attempt) == (job.id, "job_in_a_child", queue, 0)
    assert f"-{worker.pid}-" in worker_id
    assert pid != worker.pid


async def test_attempt_counts_the_retries(app: Ardiq) -> None:
    attempts: list[int] = []

    @app.task(retries=3, backoff_ms=1)
    async def flaky() -> int:
        attempts.append(current_job().attempt)
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return current_job().attempt

    job = await flaky.enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 2
    assert attempts == [0, 1, 2]


async def test_a_job_that_suspends_keeps_its_context_and_others_keep_theirs(app: Ardiq) -> None:
    import asyncio

    @app.task
    async def nap(tag: str) -> list[str]:
        before = current_job().id
        await asyncio.sleep(0.05)
        return [tag, before, current_job().id]

    jobs = [await nap.enqueue(f"t{n}") for n in range(20)]
    await run_burst(app, concurrency=20)

    for n, job in enumerate(jobs):
        assert await job.result(timeout_s=WAIT_S) == [f"t{n}", job.id, job.id]


async def test_a_context_variable_one_job_sets_is_unset_for_the_next(app: Ardiq) -> None:
    variable: contextvars.ContextVar[str] = contextvars.ContextVar("variable", default="unset")

    @app.task
    async def set_without_suspending(value: str) -> str:
        variable.set(value)
        return variable.get()

    @app.task
    async def read() -> str:
        return variable.get()

    setter, reader = await set_without_suspending.enqueue("one"), await read.enqueue()
    await run_burst(app, concurrency=1)

    assert await setter.result(timeout_s=WAIT_S) == "one"
    assert await reader.result(timeout_s=WAIT_S) == "unset"
    assert variable.get() == "unset"


async def test_many_concurrent_jobs_each_set_and_reset_a_context_variable_across_an_await(
    app: Ardiq,
) -> None:
    variable: contextvars.ContextVar[int] = contextvars.ContextVar("variable", default=-1)

    @app.task
    async def own_value(n: int) -> list[int]:
        token = variable.set(n)
        try:
            await asyncio.sleep(0.01)
            return [variable.get()]
        finally:
            variable.reset(token)

    jobs = [await own_value.enqueue(n) for n in range(200)]
    await run_burst(app, concurrency=50)

    assert [await job.result(timeout_s=WAIT_S) for job in jobs] == [[n] for n in range(200)]


def test_current_job_outside_a_run_is_a_clear_error() -> None:
    with pytest.raises(ContextUnavailable, match="only available inside a job's run"):
        current_job()

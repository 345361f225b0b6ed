"""The blocking API for sync code (Flask views, scripts): enqueue, status,
result and abort wait in the calling thread, with no event loop, and agree
with the async API."""

from __future__ import annotations

import asyncio
import threading

import pytest
from ardiq import AbortReply, Ardiq, EnqueueOutcome, JobStatus
from worker_harness import WAIT_S, SpawnWorker


def test_a_blocking_enqueue_needs_no_event_loop_and_gets_its_result(
    redis_url: str, queue: str, spawn_worker: SpawnWorker
) -> None:
    app = Ardiq(redis_url, queue=queue)

    @app.task
    async def greet(name: str) -> str:
        return f"hello {name}"

    spawn_worker("process_tasks:app")
    job = greet.enqueue_blocking("flask")
    assert job.outcome is EnqueueOutcome.QUEUED
    assert job.result(timeout_s=WAIT_S) == "hello flask"
    assert job.status() is JobStatus.COMPLETE
    assert app.job_blocking(job.id).info().value == "hello flask"


def test_blocking_calls_work_from_many_threads_at_once(redis_url: str, queue: str) -> None:
    app = Ardiq(redis_url, queue=queue)
    ids: list[str] = []
    lock = threading.Lock()

    def enqueue_some(n: int) -> None:
        for k in range(20):
            job = app.options(job_id=f"t{n}-{k}").send_blocking("noop")
            with lock:
                ids.append(job.id)

    threads = [threading.Thread(target=enqueue_some, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_S)
    assert sorted(ids) == sorted(f"t{n}-{k}" for n in range(8) for k in range(20))
    assert {app.job_blocking(job_id).status() for job_id in ids} == {JobStatus.QUEUED}


def test_a_blocking_batch_and_abort(redis_url: str, queue: str) -> None:
    app = Ardiq(redis_url, queue=queue)
    jobs = app.enqueue_many_blocking([app.options(delay_ms=60_000).prepare("later", n) for n in range(5)])
    assert [job.outcome for job in jobs] == [EnqueueOutcome.SCHEDULED] * 5
    assert jobs[0].abort() is AbortReply.ABORTED
    assert jobs[0].status() is JobStatus.ABORTED
    assert jobs[1].status() is JobStatus.SCHEDULED
    again = app.options(job_id=jobs[1].id).send_blocking("later", 1)
    assert again.duplicate


def test_a_blocking_result_times_out_with_timeout_error(redis_url: str, queue: str) -> None:
    app = Ardiq(redis_url, queue=queue)
    job = app.send_blocking("nobody_runs_this")
    with pytest.raises(TimeoutError, match="still queued"):
        job.result(timeout_s=0.2)


async def test_blocking_and_async_handles_read_the_same_job(redis_url: str, queue: str) -> None:
    app = Ardiq(redis_url, queue=queue)
    try:
        blocking = await asyncio.to_thread(app.send_blocking, "noop")
        assert await app.job(blocking.id).status() is JobStatus.QUEUED
    finally:
        await app.close()

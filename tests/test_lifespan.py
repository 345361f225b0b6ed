"""The lifespan and the context it yields: entered once per worker process
before the first job and left after the last (on SIGTERM after the grace
period too); its resource shared by every task; a lifespan that raises ends
the worker with one clear line before any job runs; `app.context` outside a
run is a clear error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis
from ardiq import Ardiq, ContextUnavailable, JobStatus, LifespanFailed
from worker_harness import APPS, WAIT_S, SpawnWorker, eventually, run_burst

APP = "app_tasks:app"


def lifespan_events(inspector: redis.Redis, queue: str) -> list[list[str]]:
    raw: list[bytes] = inspector.lrange(f"ardiq-test:app:{queue}:lifespan", 0, -1)  # type: ignore[assignment]
    return [item.decode().split() for item in raw]


async def test_the_lifespan_enters_once_per_process_and_every_task_shares_its_context(
    app: Ardiq, inspector: redis.Redis, queue: str, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(APP, "--concurrency", "4")
    jobs = [await app.send("which_context", f"t{n}") for n in range(8)]
    seen = [await job.result(timeout_s=WAIT_S) for job in jobs]

    assert {(pid, opened) for pid, opened, *_ in seen} == {(seen[0][0], seen[0][1])}
    assert seen[0][0] == worker.pid
    assert [job_id for _, _, job_id, _, _ in seen] == [job.id for job in jobs]
    assert {job_queue for _, _, _, job_queue, _ in seen} == {queue}
    assert [event[:2] for event in lifespan_events(inspector, queue)] == [["enter", str(worker.pid)]]


async def test_the_lifespan_exits_on_sigterm_after_the_running_job_finished(
    app: Ardiq, inspector: redis.Redis, queue: str, spawn_worker: SpawnWorker
) -> None:
    worker = spawn_worker(APP, "--grace", "10")
    job = await app.send("slow", 1.0)
    await eventually(lambda: inspector.llen(f"ardiq-test:app:{queue}:ran") == 1, "the slow job started")
    worker.signal(signal.SIGTERM)
    assert await worker.exited() == 0

    assert await job.status() is JobStatus.COMPLETE
    events = lifespan_events(inspector, queue)
    assert [event[0] for event in events] == ["enter", "exit"]
    ran: list[bytes] = inspector.lrange(f"ardiq-test:app:{queue}:ran", 0, -1)  # type: ignore[assignment]
    finished_ns = int(ran[-1].decode().split()[-1])
    assert int(events[1][2]) >= finished_ns, "the lifespan exited before the last job finished"


async def test_a_lifespan_that_raises_ends_the_worker_with_one_line_and_runs_no_job(
    app: Ardiq, redis_url: str, queue: str
) -> None:
    job = await app.send("which_context", "never")
    env = dict(os.environ, ARDIQ_REDIS_URL=redis_url, ARDIQ_QUEUE=queue, ARDIQ_TEST_LIFESPAN_FAILS="1")
    done = subprocess.run(  # noqa: ASYNC221 - the test waits for the worker to exit
        [sys.executable, "-m", "ardiq", "--log-level", "WARNING", "run", APP, "--burst"],
        cwd=APPS,
        env=env,
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )

    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"ardiq: error: the lifespan of Ardiq(queue={queue!r}, tasks=['mail', 'slow', 'which_context']) "
        "failed: RuntimeError: the pool would not open"
    ]
    assert await job.status() is JobStatus.QUEUED


async def test_an_in_process_lifespan_failure_raises_lifespan_failed(redis_url: str, queue: str) -> None:
    @asynccontextmanager
    async def broken(app: Ardiq[int]) -> AsyncIterator[int]:
        if app.queue:
            raise OSError("no database")
        yield 0

    app = Ardiq(redis_url, queue=queue, lifespan=broken)

    @app.task
    async def noop() -> None:
        return None

    try:
        with pytest.raises(LifespanFailed, match="OSError: no database"):
            await run_burst(app)
    finally:
        await app.close()


async def test_the_context_is_set_during_a_run_and_unset_after(redis_url: str, queue: str) -> None:
    @asynccontextmanager
    async def lifespan(app: Ardiq[dict[str, int]]) -> AsyncIterator[dict[str, int]]:
        yield {"answer": 42}

    app = Ardiq(redis_url, queue=queue, lifespan=lifespan)

    @app.task
    async def read() -> int:
        return app.context["answer"]

    @app.task
    def read_in_a_thread() -> int:
        return app.context["answer"] + 1

    try:
        with pytest.raises(ContextUnavailable, match="inside a worker run"):
            _ = app.context
        first, second = await read.enqueue(), await read_in_a_thread.enqueue()
        await run_burst(app)
        assert await first.result(timeout_s=WAIT_S) == 42
        assert await second.result(timeout_s=WAIT_S) == 43
        with pytest.raises(ContextUnavailable):
            _ = app.context
    finally:
        await app.close()


def test_an_app_without_lifespan_says_it_needs_one() -> None:
    app = Ardiq("redis://127.0.0.1:1/0")
    with pytest.raises(ContextUnavailable, match="needs a lifespan"):
        _ = app.context

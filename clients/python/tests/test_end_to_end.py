"""End to end: the Python worker runs jobs this client enqueued.

The worker is the `ardiq` package (`python -m ardiq run e2e_tasks:app`, see
tests/e2e_tasks.py); each test uses its own queue. These tests need the
worker built into the virtualenv (`make build-dev`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from ardiq_client import (
    AbortOutcome,
    AsyncClient,
    AsyncJob,
    Client,
    JobAborted,
    JobExpired,
    JobFailed,
    JobRequest,
    JobStatus,
)

TESTS = Path(__file__).resolve().parents[3] / "tests"
WAIT_S = 60.0  # a guard against a hung worker, not a speed requirement


def worker_command(burst: bool) -> list[str]:
    return [sys.executable, "-m", "ardiq", "run", "e2e_tasks:app", *(["--burst"] if burst else [])]


def worker_env(redis_url: str, queue: str) -> dict[str, str]:
    return dict(os.environ, ARDIQ_REDIS_URL=redis_url, ARDIQ_QUEUE=queue)


def run_burst_worker(redis_url: str, queue: str) -> None:
    """Runs a worker that drains the queue and exits."""
    done = subprocess.run(
        worker_command(burst=True),
        cwd=TESTS,
        env=worker_env(redis_url, queue),
        capture_output=True,
        text=True,
        timeout=WAIT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.fixture
def worker(redis_url: str, queue: str) -> Iterator[subprocess.Popen[str]]:
    """A long-running worker on the test's queue, stopped with SIGTERM afterwards."""
    process = subprocess.Popen(
        worker_command(burst=False),
        cwd=TESTS,
        env=worker_env(redis_url, queue),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=WAIT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    assert process.returncode == 0, stderr


async def test_worker_runs_jobs_and_the_client_reads_results(
    client: AsyncClient, redis_url: str, queue: str
) -> None:
    add = await client.send("add", (2, 3))
    echoed = {
        "nil": None,
        "flag": True,
        "n": -(2**63),
        "x": 1.5,
        "s": "żółw",
        "b": b"\x00\xff",
        "l": [1, [2]],
    }
    echo = await client.send("echo", (echoed,))
    kwargs = await client.send("kwargs_echo", kwargs={"a": 1, "b": "two"})
    sync_add = await client.send("sync_add", (20, 22), priority=9)
    many = await client.send_many([JobRequest("add", (i, i)) for i in range(50)])
    run_burst_worker(redis_url, queue)
    assert await add.result(timeout_s=WAIT_S) == 5
    assert await echo.result(timeout_s=WAIT_S) == echoed
    assert await kwargs.result(timeout_s=WAIT_S) == {"a": 1, "b": "two"}
    assert await sync_add.result(timeout_s=WAIT_S) == 42
    assert [await job.result(timeout_s=WAIT_S) for job in many] == [2 * i for i in range(50)]
    assert await add.status() is JobStatus.COMPLETE


async def test_a_failing_job_reports_the_remote_error(
    client: AsyncClient, redis_url: str, queue: str
) -> None:
    job = await client.send("fail", ("no such order",))
    run_burst_worker(redis_url, queue)
    with pytest.raises(JobFailed) as raised:
        await job.result(timeout_s=WAIT_S)
    assert raised.value.remote_type == "ValueError"
    assert raised.value.remote_message == "no such order"
    assert "ValueError" in raised.value.remote_traceback
    assert await job.status() is JobStatus.FAILED


async def test_an_aborted_scheduled_job_never_runs(client: AsyncClient, redis_url: str, queue: str) -> None:
    job = await client.send("add", (1, 1), delay_ms=3_600_000)
    assert await job.abort() is AbortOutcome.ABORTED
    run_burst_worker(redis_url, queue)
    with pytest.raises(JobAborted):
        await job.result(timeout_s=WAIT_S)


async def wait_for_status(job: AsyncJob, wanted: JobStatus, worker: subprocess.Popen[str]) -> None:
    """Waits, bounded by WAIT_S, until the job has the state, failing at once if the worker dies."""
    deadline = time.monotonic() + WAIT_S
    while (status := await job.status()) is not wanted:
        assert worker.poll() is None, f"the worker exited with code {worker.returncode}"
        assert time.monotonic() < deadline, f"job is still {status} after {WAIT_S} s"
        await asyncio.sleep(0.05)


async def test_a_running_job_is_aborted_by_its_worker(
    client: AsyncClient, worker: subprocess.Popen[str]
) -> None:
    job = await client.send("sleep", (600,))
    await wait_for_status(job, JobStatus.RUNNING, worker)
    assert await job.abort() is AbortOutcome.ABORT_REQUESTED
    with pytest.raises(JobAborted):
        await job.result(timeout_s=WAIT_S)
    assert await job.status() is JobStatus.ABORTED


async def test_jobs_not_started_before_their_expiry_end_expired_and_the_others_run(
    client: AsyncClient, redis_url: str, queue: str
) -> None:
    soon, later = time.time_ns() // 1_000_000 + 50, time.time_ns() // 1_000_000 + 3_600_000
    jobs = await client.send_many(
        JobRequest("add", (i, 1), expires_ms=soon if i % 2 == 0 else later) for i in range(20)
    )
    await asyncio.sleep(0.2)  # the worker starts after the early expiry has passed
    run_burst_worker(redis_url, queue)
    for i, job in enumerate(jobs):
        if i % 2 == 0:
            assert await job.status() is JobStatus.EXPIRED
            with pytest.raises(JobExpired):
                await job.result(timeout_s=WAIT_S)
        else:
            assert await job.result(timeout_s=WAIT_S) == i + 1


async def test_progress_reads_what_the_task_reported_while_it_runs_and_with_its_result(
    client: AsyncClient, worker: subprocess.Popen[str]
) -> None:
    job = await client.send("report", (4, 0.5))
    assert await job.progress() is None
    deadline = time.monotonic() + WAIT_S
    while (running := await job.progress()) is None:
        assert worker.poll() is None, f"the worker exited with code {worker.returncode}"
        assert time.monotonic() < deadline, "the job never reported its progress"
        await asyncio.sleep(0.01)
    assert 0 < running.fraction < 1
    assert running.message in {f"step {step} of 4" for step in (1, 2, 3)}
    assert await job.result(timeout_s=WAIT_S) == 4
    last = await job.progress()
    assert last is not None
    assert (last.fraction, last.message) == (1.0, "step 4 of 4")
    assert last.updated_ms >= running.updated_ms


def events_of(inspector: redis.Redis, queue: str) -> Any:
    """A subscription to the queue's events channel, confirmed (redis-py's PubSub is untyped)."""
    subscriber: Callable[[], Any] = inspector.pubsub
    pubsub = subscriber()
    pubsub.subscribe(f"ardiq:{{{queue}}}:events")
    assert pubsub.get_message(timeout=5) is not None
    return pubsub


def messages_of(pubsub: Any) -> list[bytes]:
    messages = []
    while (message := pubsub.get_message(timeout=0.1)) is not None:
        messages.append(message["data"])
    return messages


async def test_the_worker_that_ends_a_job_tells_every_waiting_result(
    client: AsyncClient, redis_url: str, queue: str, inspector: redis.Redis, worker: subprocess.Popen[str]
) -> None:
    pubsub = events_of(inspector, queue)
    jobs = await client.send_many(JobRequest("sleep", (0.2 + i / 20,)) for i in range(10))
    results = await asyncio.gather(*(job.result(timeout_s=WAIT_S) for job in jobs))
    assert results == [0.2 + i / 20 for i in range(10)]
    with Client.from_url(redis_url, queue=queue) as blocking:
        blocking_job = blocking.send("sleep", (0.3,))
        assert blocking_job.result(timeout_s=WAIT_S) == 0.3
    told = messages_of(pubsub)
    pubsub.close()
    for job_id in [*(job.id for job in jobs), blocking_job.id]:
        assert f"done:{job_id}".encode() in told


async def test_a_wait_the_worker_does_not_know_of_still_ends_by_the_fallback_read(
    client: AsyncClient, redis_url: str, queue: str, inspector: redis.Redis, worker: subprocess.Popen[str]
) -> None:
    pubsub = events_of(inspector, queue)
    job = await client.send("sleep", (1.5,))
    pending = asyncio.ensure_future(job.result(timeout_s=WAIT_S))
    deadline = time.monotonic() + WAIT_S
    while inspector.zscore(f"ardiq:{{{queue}}}:waiters", job.id) is None:
        assert time.monotonic() < deadline, "the wait was never registered"
        await asyncio.sleep(0.005)
    # The wait is dropped before the job ends: the worker publishes nothing.
    inspector.zrem(f"ardiq:{{{queue}}}:waiters", job.id)
    assert await pending == 1.5
    told = messages_of(pubsub)
    pubsub.close()
    assert f"done:{job.id}".encode() not in told

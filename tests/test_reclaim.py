"""Crash recovery with real worker processes: the job of a killed worker is
reclaimed and completes elsewhere; a live worker's long job is never
reclaimed; a job that ends its worker every time is dead-lettered at its
delivery limit instead of looping forever."""

from __future__ import annotations

import asyncio
import signal
import uuid

import redis
from ardiq import Ardiq, JobStatus
from wire_records import Keys, counter, pending_ids, stream_length
from worker_harness import WAIT_S, SpawnWorker, WorkerProcess, eventually, wait_for_status

APP = "process_tasks:app"


def run_key() -> str:
    return f"ardiq-test:runs:{uuid.uuid4().hex}"


async def test_job_of_a_killed_worker_completes_on_another_after_reclaim(
    app: Ardiq, inspector: redis.Redis, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    first = spawn_worker(APP, "--visibility-ms", "1000")
    job = await app.send("sleep_and_count", key, 1.0)
    await eventually(lambda: counter(inspector, key) == 1, "the job starts on the first worker")

    first.signal(signal.SIGKILL)
    assert await first.exited() == -signal.SIGKILL
    second = spawn_worker(APP, "--visibility-ms", "1000")

    assert await job.result(timeout_s=WAIT_S) == "slept 1.0 s"
    assert counter(inspector, key) == 2
    assert counter(inspector, f"{key}:finished") == 1
    assert f"-{second.pid}-" in (await job.info()).worker_id


async def test_long_job_is_not_reclaimed_while_its_worker_lives(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    owner = spawn_worker(APP, "--visibility-ms", "1000")
    job = await app.send("sleep_and_count", key, 3.0)
    await eventually(lambda: counter(inspector, key) == 1, "the job starts on the first worker")
    other = spawn_worker(APP, "--visibility-ms", "1000")
    await eventually(lambda: inspector.zcard(keys.workers) == 2, "the second worker is up")

    assert await job.result(timeout_s=WAIT_S) == "slept 3.0 s"
    assert counter(inspector, key) == 1
    assert f"-{owner.pid}-" in (await job.info()).worker_id
    assert await app.dead_letters() == []
    assert owner.alive
    assert other.alive


async def test_job_that_ends_its_worker_every_time_is_dead_after_its_delivery_limit(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    job = await app.send("end_worker", key)

    # Each run kills its worker; start another until the job is dead. Twice
    # the delivery limit of workers is more than enough.
    survivor: WorkerProcess | None = None
    for _ in range(6):
        worker = spawn_worker(APP, "--visibility-ms", "500", "--max-deliveries", "3")

        async def settled(worker: WorkerProcess = worker) -> bool:
            return not worker.alive or await job.status() is JobStatus.DEAD

        await eventually(settled, "the worker dies or the job is dead")
        if await job.status() is JobStatus.DEAD:
            survivor = worker
            break

    assert await job.status() is JobStatus.DEAD
    assert survivor is not None
    assert survivor.alive
    assert counter(inspector, key) == 3
    [letter] = await app.dead_letters()
    assert (letter.job_id, letter.task, letter.reason) == (job.id, "end_worker", "delivery_limit")
    assert stream_length(inspector, keys.stream(5)) == 0
    assert pending_ids(inspector, keys.stream(5)) == []
    await asyncio.sleep(1.0)  # two more reclaim passes: nothing runs it again
    assert counter(inspector, key) == 3


async def test_reclaimed_job_that_then_succeeds_is_complete_not_dead(
    app: Ardiq, inspector: redis.Redis, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    first = spawn_worker(APP, "--visibility-ms", "500", "--max-deliveries", "3")
    job = await app.send("sleep_and_count", key, 0.8)
    await eventually(lambda: counter(inspector, key) == 1, "the job starts on the first worker")
    first.signal(signal.SIGKILL)
    spawn_worker(APP, "--visibility-ms", "500", "--max-deliveries", "3")

    await wait_for_status(job, JobStatus.COMPLETE)
    assert await app.dead_letters() == []

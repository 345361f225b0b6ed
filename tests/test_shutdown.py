"""Graceful shutdown of a worker process: on SIGTERM or SIGINT it fetches
nothing more, lets running jobs finish within the grace period, hands the
rest back unacknowledged, and exits 0. Nothing is acked unfinished and
nothing is lost."""

from __future__ import annotations

import asyncio
import signal
import uuid
from typing import Any

import pytest
import redis
from ardiq import Ardiq, Job, JobStatus
from wire_records import Keys, counter, entry_job_ids, pending_ids
from worker_harness import WAIT_S, SpawnWorker, eventually, running_worker, wait_for_status

APP = "process_tasks:app"


def run_key() -> str:
    return f"ardiq-test:runs:{uuid.uuid4().hex}"


def tag_counts(inspector: redis.Redis, key: str) -> dict[str, int]:
    counts: Any = inspector.hgetall(key)
    return {tag.decode(): int(n) for tag, n in counts.items()}


async def stop_past_the_grace(
    app: Ardiq,
    inspector: redis.Redis,
    spawn_worker: SpawnWorker,
    key: str,
    seconds: float,
    visibility_ms: int,
) -> Job[Any]:
    """Starts a `seconds`-long job on a worker with a 0.3 s grace, SIGTERMs the
    worker while it runs and waits for a clean exit; returns the job."""
    worker = spawn_worker(APP, "--grace", "0.3", "--visibility-ms", str(visibility_ms))
    job = await app.send("tagged_sleep", key, "slow", seconds)
    await eventually(lambda: tag_counts(inspector, f"{key}:started") == {"slow": 1}, "the job starts")
    worker.signal(signal.SIGTERM)
    assert await worker.exited() == 0, worker.output()
    return job


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_lets_the_running_job_finish_then_exits_zero(
    app: Ardiq, inspector: redis.Redis, spawn_worker: SpawnWorker, signum: signal.Signals
) -> None:
    key = run_key()
    worker = spawn_worker(APP, "--grace", "10", "--visibility-ms", "1000")
    job = await app.send("sleep_and_count", key, 1.0)
    await eventually(lambda: counter(inspector, key) == 1, "the job starts")

    worker.signal(signum)

    assert await worker.exited() == 0, worker.output()
    assert await job.status() is JobStatus.COMPLETE
    assert counter(inspector, f"{key}:finished") == 1


async def test_stopping_worker_starts_no_job_that_was_not_running(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    worker = spawn_worker(APP, "--concurrency", "1", "--grace", "10", "--visibility-ms", "1000")
    first = await app.send("tagged_sleep", key, "first", 0.8)
    rest = [await app.send("tagged_sleep", key, f"later-{n}", 0.1) for n in range(2)]
    await eventually(lambda: tag_counts(inspector, f"{key}:started") == {"first": 1}, "the first job starts")

    worker.signal(signal.SIGTERM)

    assert await worker.exited() == 0, worker.output()
    assert await first.status() is JobStatus.COMPLETE
    assert [await job.status() for job in rest] == [JobStatus.QUEUED, JobStatus.QUEUED]
    assert tag_counts(inspector, f"{key}:started") == {"first": 1}
    assert entry_job_ids(inspector, keys.stream(5)) == [job.id for job in rest]


async def test_job_still_running_after_the_grace_period_is_handed_back_unacked(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    job = await stop_past_the_grace(app, inspector, spawn_worker, key, seconds=3.0, visibility_ms=1000)

    assert tag_counts(inspector, f"{key}:finished") == {}
    assert await job.status() is JobStatus.QUEUED
    assert entry_job_ids(inspector, keys.stream(5)) == [job.id]
    assert len(pending_ids(inspector, keys.stream(5))) == 1
    assert not inspector.hexists(keys.running, job.id)


@pytest.mark.parametrize("stops", [1, 2], ids=["after-the-grace", "on-a-second-stop"])
async def test_a_job_that_swallows_its_cancellation_is_handed_back_and_the_worker_stops(
    app: Ardiq, stops: int
) -> None:
    released = asyncio.Event()
    swallowed: list[bool] = []

    @app.task
    async def stubborn() -> str:
        while not released.is_set():
            try:
                await released.wait()
            except asyncio.CancelledError:
                swallowed.append(True)
        return "released"

    job = await stubborn.enqueue()
    # A grace of a minute: only the second stop ends the wait in time.
    async with running_worker(app, grace_s=0.2 if stops == 1 else 60) as worker:
        await wait_for_status(job, JobStatus.RUNNING)
        if stops == 2:
            worker.stop()
            await asyncio.sleep(0.05)
    # The harness stopped it (once more) and saw the run end.

    assert await job.status() is JobStatus.QUEUED
    assert swallowed
    released.set()
    await asyncio.sleep(0.05)
    assert await job.status() is JobStatus.QUEUED  # its late result is discarded


async def test_a_second_signal_hands_back_a_job_that_swallows_its_cancellation_and_exits_zero(
    app: Ardiq, inspector: redis.Redis, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    worker = spawn_worker(APP, "--grace", "60", "--visibility-ms", "1000")
    job = await app.send("swallow_cancellation", key)
    await eventually(lambda: counter(inspector, key) == 1, "the job starts")

    worker.signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    worker.signal(signal.SIGINT)

    assert await worker.exited() == 0, worker.output()
    assert await job.status() is JobStatus.QUEUED
    assert counter(inspector, f"{key}:cancelled") >= 1


async def test_sync_job_still_running_after_the_grace_period_does_not_keep_the_worker_alive(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    worker = spawn_worker(APP, "--grace", "0.3", "--visibility-ms", "1000")
    job = await app.send("blocking_sleep", key, 60.0)
    await eventually(lambda: counter(inspector, key) == 1, "the job starts")

    worker.signal(signal.SIGTERM)

    # Its thread cannot be stopped, but the worker hands the job back and ends.
    assert await worker.exited(timeout_s=10) == 0, worker.output()
    assert await job.status() is JobStatus.QUEUED
    assert len(pending_ids(inspector, keys.stream(5))) == 1


async def test_sigterm_mid_batch_acks_nothing_unfinished_and_loses_nothing(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    worker = spawn_worker(APP, "--concurrency", "4", "--grace", "0.5", "--visibility-ms", "1000")
    durations = [0.1, 2.0] * 5
    jobs = await app.enqueue_many(
        [app.prepare("tagged_sleep", key, f"job-{n}", seconds) for n, seconds in enumerate(durations)]
    )
    await eventually(lambda: sum(tag_counts(inspector, f"{key}:started").values()) >= 4, "a batch runs")

    worker.signal(signal.SIGTERM)
    assert await worker.exited() == 0, worker.output()

    finished = tag_counts(inspector, f"{key}:finished")
    in_stream = set(entry_job_ids(inspector, keys.stream(5)))
    for n, job in enumerate(jobs):
        status = await job.status()
        if status is JobStatus.COMPLETE:
            assert finished.get(f"job-{n}") == 1
            assert job.id not in in_stream
        else:
            # Not finished: its entry is still there, for another worker.
            assert status is JobStatus.QUEUED
            assert job.id in in_stream
            assert f"job-{n}" not in finished

    second = spawn_worker(APP, "--concurrency", "10", "--visibility-ms", "1000")
    for job in jobs:
        try:
            await job.result(timeout_s=WAIT_S)
        except TimeoutError as unfinished:
            pytest.fail(f"{unfinished}; the second worker's log:\n{second.output()}")
    assert tag_counts(inspector, f"{key}:finished") == {f"job-{n}": 1 for n in range(len(jobs))}


async def test_a_handed_back_job_is_taken_at_once_by_the_next_worker(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    # A visibility timeout far longer than the test: only the hand-back's
    # idle time lets the next worker reclaim the entry now (as in a rolling
    # restart, where the new worker reclaims at its start).
    key = run_key()
    job = await stop_past_the_grace(app, inspector, spawn_worker, key, seconds=1.0, visibility_ms=120_000)
    assert await job.status() is JobStatus.QUEUED

    second = spawn_worker(APP, "--visibility-ms", "120000")
    try:
        assert await job.result(timeout_s=WAIT_S) == "slow"
    except TimeoutError as unfinished:
        pytest.fail(f"{unfinished}; the second worker's log:\n{second.output()}")
    assert tag_counts(inspector, f"{key}:started") == {"slow": 2}
    assert pending_ids(inspector, keys.stream(5)) == []


async def test_hundreds_of_held_jobs_of_two_levels_are_all_handed_back_and_taken_at_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    # More held jobs than one hand-back call takes (100), on two levels, and
    # a visibility timeout far longer than the test: only the hand-back lets
    # the next worker take them now.
    key = run_key()
    worker = spawn_worker(
        APP, "--concurrency", "1", "--prefetch", "400", "--grace", "0.3", "--visibility-ms", "120000"
    )
    slow = await app.options(priority=9).send("tagged_sleep", key, "slow", 1.5)
    await eventually(lambda: tag_counts(inspector, f"{key}:started") == {"slow": 1}, "the slow job starts")
    held = await app.enqueue_many(
        [app.options(priority=(9, 2)[n % 2]).prepare("tagged_sleep", key, f"h{n}", 0.0) for n in range(300)]
    )
    await eventually(lambda: inspector.hlen(keys.running) == 301, "the worker holds every job")

    worker.signal(signal.SIGTERM)
    assert await worker.exited() == 0, worker.output()
    assert tag_counts(inspector, f"{key}:started") == {"slow": 1}
    assert inspector.hlen(keys.running) == 0
    assert [len(pending_ids(inspector, keys.stream(p))) for p in (9, 2)] == [151, 150]
    assert {await job.status() for job in [slow, *held]} == {JobStatus.QUEUED}

    second = spawn_worker(APP, "--concurrency", "50", "--visibility-ms", "120000")
    for job in [slow, *held]:
        try:
            await job.result(timeout_s=WAIT_S)
        except TimeoutError as unfinished:
            pytest.fail(f"{unfinished}; the second worker's log:\n{second.output()}")
    assert tag_counts(inspector, f"{key}:started") == {"slow": 2} | {f"h{n}": 1 for n in range(300)}
    assert pending_ids(inspector, keys.stream(9)) == pending_ids(inspector, keys.stream(2)) == []

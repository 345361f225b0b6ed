"""Results: values and errors come back through `Job.result` and
`Job.info`, and the status key that holds them lives for the result TTL
(the job's, else the task's, else the app's, else one day)."""

from __future__ import annotations

import asyncio
import collections
import enum
from typing import Any

import pytest
import redis
from ardiq import Ardiq, JobFailed, JobStatus
from wire_records import Keys
from worker_harness import WAIT_S, run_burst, within

DAY_MS = 86_400_000
MIB = 1_048_576


def pttl(inspector: redis.Redis, key: str) -> int:
    value: Any = inspector.pttl(key)
    return int(value)


async def test_result_is_the_return_value(app: Ardiq) -> None:
    @app.task
    async def pair(x: int) -> list[int]:
        return [x, x]

    job = await pair.enqueue(4)
    await run_burst(app)

    assert await job.result(timeout_s=WAIT_S) == [4, 4]


async def test_none_result_is_none(app: Ardiq) -> None:
    @app.task
    async def nothing() -> None:
        return None

    job = await nothing.enqueue()
    await run_burst(app)

    assert await job.status() is JobStatus.COMPLETE
    assert (await job.info()).value is None


async def test_failed_job_raises_job_failed_with_the_remote_error(app: Ardiq) -> None:
    @app.task
    async def explode(reason: str) -> None:
        raise KeyError(reason)

    job = await explode.enqueue("gone")
    await run_burst(app)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=WAIT_S)
    assert failed.value.job_id == job.id
    assert failed.value.remote_type == "KeyError"
    assert failed.value.remote_message == "'gone'"
    assert "Traceback (most recent call last)" in failed.value.remote_traceback
    assert "in explode" in failed.value.remote_traceback
    assert "raise KeyError(reason)" in failed.value.remote_traceback


async def test_sync_task_failure_carries_its_traceback(app: Ardiq) -> None:
    @app.task
    def explode_sync() -> None:
        raise ZeroDivisionError("sync boom")

    job = await explode_sync.enqueue()
    await run_burst(app)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=WAIT_S)
    assert failed.value.remote_type == "ZeroDivisionError"
    assert "in explode_sync" in failed.value.remote_traceback


async def test_task_called_with_wrong_arguments_fails_the_job(app: Ardiq) -> None:
    @app.task
    async def one(x: int) -> int:
        return x

    job = await app.send("one", 1, 2)
    await run_burst(app)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=WAIT_S)
    assert failed.value.remote_type == "TypeError"


async def test_complete_and_failed_are_different_statuses(app: Ardiq) -> None:
    @app.task
    async def maybe(fail: bool) -> str:
        if fail:
            raise ValueError("asked to")
        return "fine"

    good = await maybe.enqueue(False)
    bad = await maybe.enqueue(True)
    await run_burst(app)

    assert await good.status() is JobStatus.COMPLETE
    assert await bad.status() is JobStatus.FAILED
    assert (await good.info()).error is None
    assert (await bad.info()).error is not None


async def test_info_carries_attempts_times_and_worker(app: Ardiq) -> None:
    @app.task
    async def nap() -> None:
        await asyncio.sleep(0.02)

    job = await nap.enqueue()
    await run_burst(app)

    info = await job.info()
    assert info.attempts == 1
    assert 0 < info.enqueued_ms <= info.started_ms <= info.finished_ms
    assert info.finished_ms - info.started_ms >= 20
    assert info.worker_id


async def test_result_waits_for_a_job_that_finishes_later(app: Ardiq) -> None:
    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    job = await add.enqueue(1, 2)
    waiting = asyncio.create_task(job.result(timeout_s=WAIT_S))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await run_burst(app)

    assert await waiting == 3


async def test_result_of_an_unfinished_job_times_out(app: Ardiq) -> None:
    job = await app.send("nobody_runs_this")

    with pytest.raises(TimeoutError):
        await job.result(timeout_s=0.2)


async def test_result_of_an_unknown_job_is_a_lookup_error(app: Ardiq) -> None:
    with pytest.raises(LookupError):
        await app.job("never-enqueued").result(timeout_s=1)
    assert await app.job("never-enqueued").status() is JobStatus.NOT_FOUND


async def test_a_wait_on_an_unknown_job_ends_at_once_whatever_its_timeout(app: Ardiq) -> None:
    # Without a timeout the wait would otherwise never end: `within` fails it.
    info = await within(app.job("never-enqueued").wait(), WAIT_S, "the wait to end")
    assert info.status is JobStatus.NOT_FOUND
    with pytest.raises(LookupError):
        await within(app.job("never-enqueued").result(), WAIT_S, "the result to raise")


async def test_waits_on_jobs_with_a_result_ttl_of_zero_end_with_lookup_error(app: Ardiq) -> None:
    @app.task
    async def fire_and_forget(n: int) -> int:
        return n

    jobs = await app.enqueue_many([fire_and_forget.options(result_ttl_ms=0).prepare(n) for n in range(10)])
    waiting = [asyncio.create_task(job.result()) for job in jobs]
    await asyncio.sleep(0.1)
    assert not any(task.done() for task in waiting)
    await run_burst(app)

    outcomes = await within(asyncio.gather(*waiting, return_exceptions=True), WAIT_S, "the waits to end")
    assert all(isinstance(outcome, LookupError) for outcome in outcomes), outcomes


async def test_a_blocking_wait_on_an_unknown_job_ends_at_once(app: Ardiq) -> None:
    job = app.job_blocking("never-enqueued")
    with pytest.raises(LookupError):
        await within(asyncio.to_thread(job.result, 3 * WAIT_S), WAIT_S, "the result to raise")


async def test_result_lives_one_day_by_default(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task
    async def noop() -> None:
        return None

    job = await noop.enqueue()
    await run_burst(app)

    assert DAY_MS - 60_000 < pttl(inspector, keys.job(job.id)) <= DAY_MS


async def test_queued_status_has_no_ttl(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    job = await app.send("later")

    assert pttl(inspector, keys.job(job.id)) == -1


async def test_task_result_ttl_sets_the_status_ttl(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task(result_ttl_s=30)
    async def short_lived() -> int:
        return 1

    job = await short_lived.enqueue()
    await run_burst(app)

    assert 25_000 < pttl(inspector, keys.job(job.id)) <= 30_000


async def test_failed_result_keeps_the_task_result_ttl(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task(result_ttl_s=30)
    async def short_lived() -> int:
        raise ValueError("no")

    job = await short_lived.enqueue()
    await run_burst(app)

    assert await job.status() is JobStatus.FAILED
    assert 25_000 < pttl(inspector, keys.job(job.id)) <= 30_000


async def test_job_result_ttl_overrides_the_tasks(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task(result_ttl_s=30)
    async def short_lived() -> int:
        return 1

    job = await short_lived.options(result_ttl_ms=5_000).enqueue()
    await run_burst(app)

    assert 0 < pttl(inspector, keys.job(job.id)) <= 5_000


async def test_app_result_ttl_is_the_default_of_its_tasks(
    redis_url: str, queue: str, inspector: redis.Redis, keys: Keys
) -> None:
    app = Ardiq(redis_url, queue=queue, result_ttl_s=40)

    @app.task
    async def noop() -> None:
        return None

    try:
        job = await noop.enqueue()
        await run_burst(app)
        assert 35_000 < pttl(inspector, keys.job(job.id)) <= 40_000
    finally:
        await app.close()


async def test_result_ttl_of_zero_keeps_no_result(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    runs: list[int] = []

    @app.task
    async def fire_and_forget() -> int:
        runs.append(1)
        return 1

    job = await fire_and_forget.options(result_ttl_ms=0).enqueue()
    await run_burst(app)

    assert runs == [1]
    assert await job.status() is JobStatus.NOT_FOUND
    assert not inspector.exists(keys.job(job.id))


async def test_result_expires_after_its_ttl(app: Ardiq) -> None:
    @app.task
    async def brief() -> int:
        return 1

    job = await brief.options(result_ttl_ms=300).enqueue()
    await run_burst(app)
    assert await job.status() is JobStatus.COMPLETE
    await asyncio.sleep(0.5)

    assert await job.status() is JobStatus.NOT_FOUND


async def test_result_over_one_mib_fails_with_result_too_large_and_is_not_retried(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=2, backoff_ms=10)
    async def huge() -> bytes:
        runs.append(1)
        return b"x" * (MIB + 1)

    job = await huge.enqueue()
    await run_burst(app)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=WAIT_S)
    assert failed.value.remote_type == "ResultTooLarge"
    assert runs == [1]


class Level(enum.IntEnum):
    HIGH = 9


@pytest.mark.parametrize(
    "value",
    [{1, 2}, Level.HIGH, {"level": collections.OrderedDict(a=1)}],
    ids=["set", "IntEnum", "OrderedDict"],
)
async def test_result_outside_the_type_table_fails_the_job_and_is_not_retried(
    app: Ardiq, value: object
) -> None:
    runs: list[int] = []

    @app.task(retries=2, backoff_ms=10)
    async def odd() -> object:
        runs.append(1)
        return value

    job = await odd.enqueue()
    await run_burst(app)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=WAIT_S)
    assert failed.value.remote_type == "UnsupportedValue"
    assert runs == [1]

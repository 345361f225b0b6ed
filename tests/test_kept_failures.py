"""Kept failures (SPEC.md section 9.1): a job that fails after its last
retry is kept with its error and arguments, listed oldest first, replayed
(it runs again, attempts reset) and deleted; the store is capped and
expires on its own."""

from __future__ import annotations

import pytest
import redis
from ardiq import Ardiq, JobFailed, JobStatus
from wire_records import Keys
from worker_harness import WAIT_S, run_burst, running_worker

FAILED_KEY = "failed"


async def test_a_job_that_fails_for_good_is_kept_with_its_error_and_arguments(app: Ardiq) -> None:
    @app.task(retries=1, backoff_ms=10)
    async def charge(order: str, *, cents: int) -> None:
        raise ValueError(f"card declined for {order}")

    job = await charge.options(headers={"tenant": "acme"}).enqueue("o-17", cents=250)
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await job.result(timeout_s=WAIT_S)

    [kept] = await app.failures()
    assert (kept.job_id, kept.task, kept.attempts) == (job.id, "charge", 2)
    assert kept.error is not None
    assert (kept.error.type, kept.error.message) == ("ValueError", "card declined for o-17")
    assert "raise ValueError" in kept.error.traceback
    assert kept.job is not None
    assert (kept.job.args, kept.job.kwargs, kept.job.attempt) == (["o-17"], {"cents": 250}, 1)
    assert kept.job.headers == {"tenant": "acme"}
    assert kept.failed_ms >= kept.started_ms > 0
    assert kept.worker_id
    assert (await app.queue_info()).failed == 1


async def test_completed_retried_aborted_and_dead_jobs_are_not_kept(app: Ardiq) -> None:
    runs: dict[str, int] = {}

    @app.task(retries=2, backoff_ms=10)
    async def flaky(key: str) -> str:
        runs[key] = runs.get(key, 0) + 1
        if runs[key] < 2:
            raise ValueError("first run fails")
        return key

    jobs = [await flaky.enqueue(f"k{n}") for n in range(5)]
    await app.send("unknown_task_name")
    async with running_worker(app):
        assert [await job.result(timeout_s=WAIT_S) for job in jobs] == [f"k{n}" for n in range(5)]

    assert await app.failures() == []
    assert (await app.queue_info()).dead == 1


async def test_failures_list_oldest_first_in_pages(app: Ardiq) -> None:
    @app.task
    async def boom(n: int) -> None:
        raise RuntimeError(str(n))

    ids = [(await boom.enqueue(n)).id for n in range(7)]
    await run_burst(app)

    first = await app.failures(count=4)
    rest = await app.failures(count=4, after=first[-1].entry_id)
    page = await app.jobs("failed", count=4)

    assert [f.job_id for f in first + rest] == ids
    assert [job.job_id for job in page.jobs] == ids[:4]
    assert page.next == first[-1].entry_id
    assert page.jobs[0].error is not None
    assert page.jobs[0].error.message == "0"


async def test_a_replayed_failure_runs_again_with_attempts_reset(app: Ardiq) -> None:
    broken = {"yes": True}

    @app.task(retries=1, backoff_ms=10)
    async def fragile(x: int) -> int:
        if broken["yes"]:
            raise ConnectionError("down")
        return x + 1

    job = await fragile.enqueue(41)
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await job.result(timeout_s=WAIT_S)
        [kept] = await app.failures()
        broken["yes"] = False

        replayed = await app.replay_failure(kept.entry_id)

        assert replayed is not None
        assert replayed.id == job.id
        assert await replayed.result(timeout_s=WAIT_S) == 42
    info = await app.job(job.id).info()
    assert info.status is JobStatus.COMPLETE
    assert info.attempts == 1
    assert await app.failures() == []
    assert await app.replay_failure(kept.entry_id) is None


async def test_deleted_failures_are_gone(app: Ardiq) -> None:
    @app.task
    async def boom(n: int) -> None:
        raise RuntimeError(str(n))

    for n in range(3):
        await boom.enqueue(n)
    await run_burst(app)
    kept = await app.failures()

    removed = await app.delete_failures([kept[0].entry_id, kept[2].entry_id, "1-1"])

    assert removed == 2
    assert [f.entry_id for f in await app.failures()] == [kept[1].entry_id]


async def test_the_store_is_capped_and_expires(app: Ardiq, inspector: redis.Redis, keys: Keys) -> None:
    @app.task
    async def boom(n: int) -> None:
        raise RuntimeError(str(n))

    await app.enqueue_many([boom.prepare(n) for n in range(600)])
    await run_burst(app, failed_maxlen=50, failed_retention_s=120, concurrency=100)

    length = inspector.xlen(keys.prefix + FAILED_KEY)
    # MAXLEN ~ trims whole stream nodes (100 entries each by default).
    assert 50 <= length <= 50 + 100
    ttl_ms = inspector.pttl(keys.prefix + FAILED_KEY)
    assert 0 < ttl_ms <= 120_000
    assert len(await app.failures(count=1000)) == length


async def test_a_run_with_failed_maxlen_zero_keeps_nothing(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    @app.task
    async def boom() -> None:
        raise RuntimeError("x")

    job = await boom.enqueue()
    await run_burst(app, failed_maxlen=0)

    assert await app.job(job.id).status() is JobStatus.FAILED
    assert not inspector.exists(keys.prefix + FAILED_KEY)

"""Retries: a failing run is retried while attempts are left, after an
exponential backoff with jitter or the delay `Retry` asks for; the job's
override of the task's retries wins."""

from __future__ import annotations

import time
from typing import Any

import process_jobs
import pytest
import redis
from ardiq import Ardiq, JobFailed, JobStatus, Retry
from wire_records import Keys
from worker_harness import WAIT_S, eventually, run_burst, running_worker


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def test_task_failing_twice_succeeds_on_its_third_run_with_two_retries(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=2, backoff_ms=10)
    async def flaky() -> str:
        runs.append(1)
        if len(runs) < 3:
            raise RuntimeError(f"run {len(runs)} fails")
        return "ok"

    job = await flaky.enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == "ok"

    assert len(runs) == 3
    assert (await job.info()).attempts == 3


async def test_task_failing_every_run_fails_after_its_retries(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=2, backoff_ms=10)
    async def broken() -> None:
        runs.append(1)
        raise ValueError(f"run {len(runs)} fails")

    job = await broken.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert len(runs) == 3
    assert failed.value.remote_type == "ValueError"
    assert failed.value.remote_message == "run 3 fails"
    assert (await job.info()).attempts == 3


async def test_task_without_retries_fails_on_its_first_failure(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task
    async def broken() -> None:
        runs.append(1)
        raise ValueError("no")

    job = await broken.enqueue()
    await run_burst(app)

    assert runs == [1]
    assert await job.status() is JobStatus.FAILED


async def test_sync_task_is_retried_too(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=1, backoff_ms=10)
    def flaky() -> int:
        runs.append(1)
        if len(runs) == 1:
            raise OSError("first run fails")
        return len(runs)

    job = await flaky.enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 2


async def test_job_override_gives_retries_to_a_task_without_them(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task
    async def broken() -> None:
        runs.append(1)
        raise ValueError("no")

    job = await broken.options(max_retries=2, backoff_ms=10).enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await job.result(timeout_s=WAIT_S)

    assert len(runs) == 3


async def test_job_override_of_zero_retries_wins_over_the_tasks(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=3, backoff_ms=10)
    async def broken() -> None:
        runs.append(1)
        raise ValueError("no")

    job = await broken.options(max_retries=0).enqueue()
    await run_burst(app)

    assert runs == [1]
    assert await job.status() is JobStatus.FAILED


async def test_failed_run_waiting_for_its_retry_is_scheduled_after_the_backoff(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    ended: list[int] = []

    @app.task(retries=1, backoff_ms=400)
    async def broken() -> None:
        ended.append(now_ms())
        raise ValueError("no")

    job = await broken.enqueue()
    async with running_worker(app):
        await eventually(lambda: inspector.zscore(keys.delayed, job.id) is not None, "the retry is scheduled")
        seen = now_ms()
        due: Any = inspector.zscore(keys.delayed, job.id)
        assert await job.status() is JobStatus.SCHEDULED

    assert due is not None
    # Attempt 0 waits backoff_ms × 2^0 with ±25 % jitter, counted from the failure.
    assert ended[0] + 300 <= due < seen + 500


async def test_second_retry_waits_twice_as_long(app: Ardiq) -> None:
    started: list[int] = []

    @app.task(retries=2, backoff_ms=200)
    async def broken() -> None:
        started.append(now_ms())
        raise ValueError("no")

    job = await broken.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await job.result(timeout_s=WAIT_S)

    assert len(started) == 3
    assert started[1] - started[0] >= 150
    assert started[2] - started[1] >= 300


async def test_retry_raised_by_the_task_runs_it_again_after_the_asked_delay(app: Ardiq) -> None:
    started: list[int] = []

    @app.task(retries=1, backoff_ms=60_000)
    async def again() -> int:
        started.append(now_ms())
        if len(started) == 1:
            raise Retry(delay_ms=300)
        return len(started)

    job = await again.enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 2

    assert started[1] - started[0] >= 300


async def test_retry_raised_by_a_process_task_runs_it_again_after_the_asked_delay(app: Ardiq) -> None:
    # Without the asked delay the retry would wait for the task's minute of backoff.
    again = app.task(process=True, retries=1, backoff_ms=60_000)(process_jobs.retry_once_after)

    job = await again.enqueue(300)
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 1


async def test_retry_counts_as_an_attempt(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=1)
    async def again() -> None:
        runs.append(1)
        raise Retry(delay_ms=10)

    job = await again.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert len(runs) == 2
    assert failed.value.remote_type == "Retry"


async def test_retried_job_keeps_its_id_and_arguments(app: Ardiq) -> None:
    seen: list[tuple[int, str]] = []

    @app.task(retries=1, backoff_ms=10)
    async def flaky(x: int, *, tag: str) -> str:
        seen.append((x, tag))
        if len(seen) == 1:
            raise RuntimeError("first")
        return tag

    job = await flaky.options(job_id="keep-me").enqueue(7, tag="t")
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == "t"

    assert seen == [(7, "t"), (7, "t")]


async def test_failures_whose_text_is_not_utf8_end_their_jobs_and_every_other_of_their_report(
    app: Ardiq,
) -> None:
    # A message with a lone surrogate (a file name of undecodable bytes, as
    # `os.fsdecode` gives it) and an exception whose `str()` raises, reported
    # with jobs that completed at the same moment: each ends.
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no text")

    undecodable = b"/tmp/caf\xe9".decode("utf-8", "surrogateescape")

    @app.task
    async def work(n: int) -> int:
        if n % 3 == 0:
            raise FileNotFoundError(f"no such file: {undecodable}")
        if n % 3 == 1:
            raise Unprintable()
        return n

    jobs = await app.enqueue_many([work.options(max_retries=0).prepare(n) for n in range(30)])
    async with running_worker(app, concurrency=30):
        for n, job in enumerate(jobs):
            if n % 3 == 2:
                assert await job.result(timeout_s=WAIT_S) == n
                continue
            with pytest.raises(JobFailed) as failed:
                await job.result(timeout_s=WAIT_S)
            error = (failed.value.remote_type, failed.value.remote_message)
            if n % 3 == 0:
                # The undecodable byte stays readable, escaped.
                assert error == ("FileNotFoundError", "no such file: /tmp/caf\\udce9")
            else:
                assert error == ("Unprintable", "<str() of the Unprintable raised RuntimeError>")
    assert (await app.queue_info()).running == 0


@pytest.mark.parametrize("delay_ms", [-1, 2.5, True, 2**63])
async def test_a_retry_delay_that_is_not_a_whole_number_of_ms_fails_the_run_with_invalid_delay(
    app: Ardiq, delay_ms: Any
) -> None:
    @app.task
    async def retrying() -> None:
        raise Retry(delay_ms=delay_ms)

    job = await retrying.options(max_retries=0).enqueue()
    await run_burst(app)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout_s=WAIT_S)
    assert failed.value.remote_type == "InvalidDelay"
    assert "delay_ms" in failed.value.remote_message

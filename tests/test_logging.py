"""What a worker tells Python's `logging`: a line per job (started,
completed with its duration), retries as warnings, final failures as errors
with their traceback, dead letters, timeouts, a summary at the end, and the
JSON format."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

import pytest
import redis
from ardiq import Ardiq, JobFailed
from ardiq.logs import JsonFormatter
from wire_records import Keys, add_entry
from worker_harness import WAIT_S, run_burst, running_worker


def job_records(caplog: pytest.LogCaptureFixture, job_id: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "ardiq.job" and getattr(r, "job_id", None) == job_id]


async def test_final_failure_is_logged_as_an_error_with_its_traceback(
    app: Ardiq, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def explode(reason: str) -> None:
        raise ValueError(reason)

    job = await explode.enqueue("on purpose")
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name == "ardiq.job"
    assert job.id in record.getMessage()
    assert "explode" in record.getMessage()
    assert "ValueError: on purpose" in record.getMessage()
    assert (record.job_id, record.task, record.event, record.error_type) == (  # type: ignore[attr-defined]
        job.id,
        "explode",
        "failed",
        "ValueError",
    )
    assert record.exc_text is not None
    assert "Traceback (most recent call last)" in record.exc_text
    assert "raise ValueError(reason)" in caplog.text


async def test_failed_sync_job_is_logged_with_its_traceback(
    app: Ardiq, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    def explode_sync() -> None:
        raise LookupError("sync on purpose")

    await explode_sync.enqueue()
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "LookupError: sync on purpose" in record.getMessage()
    assert "in explode_sync" in caplog.text


async def test_each_job_logs_started_and_completed_with_its_duration(
    app: Ardiq, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def nap(seconds: float) -> int:
        await asyncio.sleep(seconds)
        return 1

    jobs = [await nap.enqueue(0.05) for _ in range(5)]
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    for job in jobs:
        started, completed = job_records(caplog, job.id)
        assert (started.event, completed.event) == ("started", "completed")  # type: ignore[attr-defined]
        assert started.getMessage() == f"job {job.id} (nap) started"
        assert completed.levelno == started.levelno == logging.INFO
        duration_ms: float = completed.duration_ms  # type: ignore[attr-defined]
        assert 50 <= duration_ms < 5_000
        assert completed.getMessage() == f"job {job.id} (nap) completed in {duration_ms:.1f} ms"
        assert (completed.queue, completed.attempt) == (app.queue, 1)  # type: ignore[attr-defined]


async def test_a_failure_that_is_retried_is_a_warning_without_traceback(
    app: Ardiq, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task(retries=2, backoff_ms=10)
    async def broken() -> None:
        raise ValueError("again")

    job = await broken.enqueue()
    with caplog.at_level(logging.INFO, logger="ardiq"):
        async with running_worker(app):
            with pytest.raises(JobFailed):
                await job.result(timeout_s=WAIT_S)

    lines = [r for r in job_records(caplog, job.id) if r.levelno >= logging.WARNING]
    assert [r.levelno for r in lines] == [logging.WARNING, logging.WARNING, logging.ERROR]
    assert "retry 1 of 2 in " in lines[0].getMessage()
    assert "retry 2 of 2 in " in lines[1].getMessage()
    assert all(r.exc_text is None and r.exc_info is None for r in lines[:2])
    assert "failed after 3 attempts: ValueError: again" in lines[2].getMessage()
    assert lines[2].exc_text is not None
    assert [r.attempt for r in lines] == [1, 2, 3]  # type: ignore[attr-defined]


async def test_job_lines_are_not_made_when_the_job_logger_is_at_warning(
    app: Ardiq, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def fine() -> int:
        return 1

    jobs = [await fine.enqueue() for _ in range(3)]
    caplog.set_level(logging.INFO, logger="ardiq")
    caplog.set_level(logging.WARNING, logger="ardiq.job")
    await run_burst(app)

    assert [r for r in caplog.records if r.name == "ardiq.job"] == []
    assert [await job.result(timeout_s=WAIT_S) for job in jobs] == [1, 1, 1]


def test_json_lines_carry_the_record_fields() -> None:
    logger = logging.getLogger("ardiq.job")
    record = logger.makeRecord(
        "ardiq.job",
        logging.ERROR,
        "x",
        0,
        "job j1 (add) failed",
        (),
        None,
        extra={"job_id": "j1", "task": "add", "duration_ms": 1.5},
    )
    record.exc_text = "Traceback (most recent call last):\n  boom"

    line = json.loads(JsonFormatter().format(record))

    assert line["level"] == "ERROR"
    assert line["logger"] == "ardiq.job"
    assert line["message"] == "job j1 (add) failed"
    assert (line["job_id"], line["task"], line["duration_ms"]) == ("j1", "add", 1.5)
    assert line["traceback"].startswith("Traceback")
    assert line["time"].endswith("+00:00")


async def test_dead_lettered_entry_is_logged_as_a_warning_with_its_reason(
    app: Ardiq, inspector: redis.Redis, keys: Keys, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def known() -> None:
        return None

    add_entry(inspector, keys.stream(5), {"id": b"no-job", "task": b"known"})
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "no-job" in record.getMessage()
    assert "malformed_entry" in record.getMessage()


async def test_sync_timeout_is_logged_as_a_warning(app: Ardiq, caplog: pytest.LogCaptureFixture) -> None:
    @app.task(timeout_s=0.05)
    def sluggish() -> None:
        time.sleep(0.3)

    job = await sluggish.enqueue()
    with caplog.at_level(logging.INFO, logger="ardiq"):
        async with running_worker(app):
            with pytest.raises(JobFailed):
                await job.result(timeout_s=WAIT_S)
            await asyncio.sleep(0.4)  # let the thread finish

    assert any(r.levelno == logging.WARNING and "timed out" in r.getMessage() for r in caplog.records)


async def test_worker_start_and_stop_are_logged(app: Ardiq, caplog: pytest.LogCaptureFixture) -> None:
    @app.task
    async def noop() -> None:
        return None

    with caplog.at_level(logging.INFO, logger="ardiq"):
        async with running_worker(app) as worker:
            pass

    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert any(worker.worker_id in m and "started" in m for m in messages)
    assert any(worker.worker_id in m and "stopped" in m for m in messages)


async def test_a_stopping_worker_logs_a_summary(app: Ardiq, caplog: pytest.LogCaptureFixture) -> None:
    @app.task(retries=1, backoff_ms=10)
    async def flaky(fail: bool) -> None:
        if fail:
            raise ValueError("no")

    jobs = [await flaky.enqueue(n % 3 == 0) for n in range(9)]
    with caplog.at_level(logging.INFO, logger="ardiq"):
        async with running_worker(app) as worker:
            for job in jobs:
                with contextlib.suppress(JobFailed):
                    await job.result(timeout_s=WAIT_S)

    [summary] = [r for r in caplog.records if getattr(r, "event", None) == "stopped"]
    assert worker.worker_id in summary.getMessage()
    assert "12 jobs run, 6 completed, 3 failed, 3 retried" in summary.getMessage()
    assert summary.jobs_run == 12  # type: ignore[attr-defined]
    assert summary.uptime_s > 0  # type: ignore[attr-defined]

"""What a worker tells Python's `logging`: failures with their traceback,
retries, dead letters and timeouts."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
import redis
from ardiq import Ardiq, JobFailed
from wire_records import Keys, add_entry
from worker_harness import WAIT_S, run_burst, running_worker


async def test_failed_job_is_logged_with_its_traceback(app: Ardiq, caplog: pytest.LogCaptureFixture) -> None:
    @app.task
    async def explode(reason: str) -> None:
        raise ValueError(reason)

    job = await explode.enqueue("on purpose")
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.name.startswith("ardiq")
    assert job.id in record.getMessage()
    assert "explode" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], ValueError)
    assert "Traceback (most recent call last)" in caplog.text
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
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], LookupError)
    assert "in explode_sync" in caplog.text


async def test_completed_job_logs_no_error(app: Ardiq, caplog: pytest.LogCaptureFixture) -> None:
    @app.task
    async def fine() -> int:
        return 1

    await fine.enqueue()
    with caplog.at_level(logging.INFO, logger="ardiq"):
        await run_burst(app)

    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


async def test_each_failed_attempt_is_logged(app: Ardiq, caplog: pytest.LogCaptureFixture) -> None:
    @app.task(retries=1, backoff_ms=10)
    async def broken() -> None:
        raise ValueError("again")

    job = await broken.enqueue()
    with caplog.at_level(logging.INFO, logger="ardiq"):
        async with running_worker(app):
            with pytest.raises(JobFailed):
                await job.result(timeout_s=WAIT_S)

    errors = [r for r in caplog.records if r.levelno == logging.ERROR and job.id in r.getMessage()]
    assert len(errors) == 2
    assert any("retry 1 of 1" in r.getMessage() for r in caplog.records)


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

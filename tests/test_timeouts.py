"""Timeouts: an async run is cancelled and fails with `TimeoutError`; a sync
run's thread cannot be stopped, so the run is reported failed at once and
its late result is discarded; a `process=True` sync run's process is killed.
A timeout is retried like any failure."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path

import process_jobs
import pytest
from ardiq import Ardiq, JobAborted, JobFailed, JobStatus
from worker_harness import WAIT_S, eventually, run_burst, running_worker


async def test_async_task_over_its_timeout_is_cancelled_and_fails_with_timeout_error(app: Ardiq) -> None:
    cancelled: list[bool] = []

    @app.task(timeout_s=0.2)
    async def slow() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "finished"

    job = await slow.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert failed.value.remote_type == "TimeoutError"
    assert cancelled == [True]
    assert await job.status() is JobStatus.FAILED


@pytest.mark.parametrize("ending", ["returns", "raises"])
async def test_async_task_that_catches_its_timeouts_cancellation_still_fails_with_timeout_error(
    app: Ardiq, ending: str
) -> None:
    @app.task(timeout_s=0.2)
    async def stubborn() -> str:
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            await asyncio.sleep(0.01)
            if ending == "raises":
                raise ValueError("cleaning up went wrong") from None
            return "partial"
        return "full"

    job = await stubborn.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert failed.value.remote_type == "TimeoutError"
    assert await job.status() is JobStatus.FAILED


async def test_job_timeout_overrides_the_tasks(app: Ardiq) -> None:
    @app.task(timeout_s=60)
    async def slow() -> str:
        await asyncio.sleep(30)
        return "finished"

    job = await slow.options(timeout_ms=200).enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert failed.value.remote_type == "TimeoutError"


async def test_job_timeout_of_zero_means_no_timeout(app: Ardiq) -> None:
    @app.task(timeout_s=0.05)
    async def slow() -> str:
        await asyncio.sleep(0.3)
        return "finished"

    job = await slow.options(timeout_ms=0).enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == "finished"


async def test_async_task_within_its_timeout_completes(app: Ardiq) -> None:
    @app.task(timeout_s=5)
    async def quick(x: int) -> int:
        await asyncio.sleep(0.01)
        return x

    job = await quick.enqueue(3)
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 3


async def test_async_task_with_a_timeout_that_never_suspends_completes(app: Ardiq) -> None:
    @app.task(timeout_s=5)
    async def instant(x: int) -> int:
        return x

    job = await instant.enqueue(4)
    await run_burst(app)

    assert await job.result(timeout_s=1) == 4


async def test_sync_task_over_its_timeout_is_reported_failed_while_its_thread_runs_on(app: Ardiq) -> None:
    finished = threading.Event()

    @app.task(timeout_s=0.2)
    def slow() -> str:
        time.sleep(1.5)
        finished.set()
        return "finished"

    job = await slow.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)
        # Reported while the thread still runs: the report is honest about it.
        assert not finished.is_set()
        assert failed.value.remote_type == "TimeoutError"
        assert "thread" in failed.value.remote_message
        await asyncio.to_thread(finished.wait, WAIT_S)
        await asyncio.sleep(0.2)

    assert await job.status() is JobStatus.FAILED


@pytest.mark.usefixtures("run_path")
async def test_sync_time_limit_starts_when_a_thread_starts_the_run(app: Ardiq) -> None:
    runs: list[int] = []

    # One thread, three runs of 0.4 s: the third waits 0.8 s for the thread.
    @app.task(timeout_s=1.0)
    def nap(n: int) -> int:
        time.sleep(0.4)
        runs.append(n)
        return n

    jobs = [await nap.enqueue(n) for n in range(3)]
    async with running_worker(app, sync_concurrency=1):
        assert [await job.result(timeout_s=WAIT_S) for job in jobs] == [0, 1, 2]

    assert runs == [0, 1, 2]


async def test_sync_runs_leave_no_timer_behind(app: Ardiq) -> None:
    @app.task(timeout_s=3600)
    def quick(n: int) -> int:
        return n

    loop = asyncio.get_running_loop()

    def hour_timers() -> int:
        later = loop.time() + 600
        scheduled: list[asyncio.TimerHandle] = loop._scheduled  # type: ignore[attr-defined]
        return sum(1 for timer in scheduled if not timer.cancelled() and timer.when() > later)

    jobs = [await quick.enqueue(n) for n in range(50)]
    async with running_worker(app):
        assert [await job.result(timeout_s=WAIT_S) for job in jobs] == list(range(50))
        assert hour_timers() == 0


async def test_timed_out_run_is_retried_like_any_failure(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(timeout_s=0.1, retries=1, backoff_ms=10)
    async def slow_then_quick() -> int:
        runs.append(1)
        if len(runs) == 1:
            await asyncio.sleep(30)
        return len(runs)

    job = await slow_then_quick.enqueue()
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 2


def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def pid_in(pid_file: Path) -> int:
    return int(pid_file.read_text(encoding="utf-8"))


async def read_pid(pid_file: Path) -> int:
    # Written, not just created: the child may be between opening and writing.
    await eventually(lambda: pid_file.exists() and pid_file.read_text().strip() != "", "the pid")
    return pid_in(pid_file)


async def test_process_task_runs_in_a_child_and_returns_its_value(app: Ardiq) -> None:
    add = app.task(process=True)(process_jobs.add)

    job = await add.enqueue(2, 3)
    async with running_worker(app):
        value = await job.result(timeout_s=WAIT_S)

    assert value["sum"] == 5
    assert value["pid"] != os.getpid()


async def test_process_task_error_crosses_with_its_type_and_traceback(app: Ardiq) -> None:
    fail = app.task(process=True)(process_jobs.fail)

    job = await fail.enqueue("bad input")
    async with running_worker(app):
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)

    assert failed.value.remote_type == "ValueError"
    assert failed.value.remote_message == "bad input"
    assert "raise ValueError(message)" in failed.value.remote_traceback


async def test_process_task_over_its_timeout_is_killed_and_fails(app: Ardiq, tmp_path: Path) -> None:
    sleeper = app.task(timeout_s=0.5, process=True)(process_jobs.sleep_with_pid)
    pid_file = tmp_path / "pid"

    job = await sleeper.enqueue(str(pid_file), 30)
    async with running_worker(app):
        pid = await read_pid(pid_file)
        with pytest.raises(JobFailed) as failed:
            await job.result(timeout_s=WAIT_S)
        await eventually(lambda: process_gone(pid), "the timed-out process to be killed")

    assert failed.value.remote_type == "TimeoutError"
    assert "killed" in failed.value.remote_message


async def test_abort_of_a_running_process_task_kills_its_process(app: Ardiq, tmp_path: Path) -> None:
    sleeper = app.task(process=True)(process_jobs.sleep_with_pid)
    pid_file = tmp_path / "pid"

    job = await sleeper.enqueue(str(pid_file), 30)
    async with running_worker(app):
        pid = await read_pid(pid_file)
        assert (await job.abort()).accepted
        with pytest.raises(JobAborted):
            await job.result(timeout_s=WAIT_S)
        await eventually(lambda: process_gone(pid), "the aborted process to be killed")


async def test_a_process_tasks_child_ignores_sigint_and_finishes_its_run(app: Ardiq, tmp_path: Path) -> None:
    sleeper = app.task(process=True)(process_jobs.sleep_with_pid)
    pid_file = tmp_path / "pid"

    job = await sleeper.enqueue(str(pid_file), 0.5)
    async with running_worker(app):
        # A Ctrl-C reaches the whole process group, the worker's children too.
        os.kill(await read_pid(pid_file), signal.SIGINT)
        assert await job.result(timeout_s=WAIT_S) == "woke up"


async def test_a_killed_child_is_replaced_for_the_next_job(app: Ardiq, tmp_path: Path) -> None:
    sleeper = app.task(timeout_s=0.5, process=True)(process_jobs.sleep_with_pid)
    add = app.task(process=True)(process_jobs.add)

    timed_out = await sleeper.enqueue(str(tmp_path / "pid"), 30)
    async with running_worker(app, process_concurrency=1):
        with pytest.raises(JobFailed):
            await timed_out.result(timeout_s=WAIT_S)
        after = await add.enqueue(1, 1)
        assert (await after.result(timeout_s=WAIT_S))["sum"] == 2


def test_process_is_refused_for_async_and_nested_functions(app: Ardiq) -> None:
    async def coroutine_task() -> None:
        return None

    def nested() -> None:
        return None

    with pytest.raises(ValueError, match="sync tasks"):
        app.task(process=True)(coroutine_task)
    with pytest.raises(ValueError, match="importable module"):
        app.task(process=True)(nested)

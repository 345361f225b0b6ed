"""Aborting jobs: a scheduled job at once; a queued job when a worker
fetches it (it never runs); a running async job is cancelled; a running
sync job is reported aborted and its late result discarded; aborts of
several running and waiting jobs of several levels at once reach each."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
import redis
from ardiq import AbortReply, Ardiq, JobAborted, JobStatus
from wire_records import Keys, stream_length
from worker_harness import WAIT_S, eventually, run_burst, running_worker, wait_for_status


async def test_scheduled_job_is_aborted_at_once_and_never_runs(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    runs: list[int] = []

    @app.task
    async def later() -> None:
        runs.append(1)

    job = await later.options(delay_ms=200).enqueue()

    assert await job.abort() is AbortReply.ABORTED
    assert await job.status() is JobStatus.ABORTED
    assert inspector.zscore(keys.delayed, job.id) is None
    assert not inspector.hexists(keys.delayed_jobs, job.id)
    await asyncio.sleep(0.3)
    await run_burst(app)
    assert runs == []
    with pytest.raises(JobAborted):
        await job.result(timeout_s=1)


async def test_queued_job_aborted_before_a_worker_fetches_it_never_runs(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    runs: list[int] = []

    @app.task
    async def work() -> None:
        runs.append(1)

    job = await work.enqueue()

    assert await job.abort() is AbortReply.ABORT_REQUESTED
    await run_burst(app)
    assert runs == []
    assert await job.status() is JobStatus.ABORTED
    with pytest.raises(JobAborted):
        await job.result(timeout_s=1)
    assert stream_length(inspector, keys.stream(5)) == 0
    assert not inspector.sismember(keys.abort, job.id)


async def test_running_async_job_is_cancelled_by_abort(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    started = asyncio.Event()
    cancelled: list[bool] = []

    @app.task
    async def long() -> str:
        started.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise
        return "finished"

    job = await long.enqueue()
    async with running_worker(app):
        await asyncio.wait_for(started.wait(), WAIT_S)
        assert (await job.abort()).accepted
        with pytest.raises(JobAborted):
            await job.result(timeout_s=WAIT_S)

    assert cancelled == [True]
    assert await job.status() is JobStatus.ABORTED
    assert not inspector.sismember(keys.abort, job.id)


async def test_running_sync_job_is_reported_aborted_and_its_late_result_discarded(app: Ardiq) -> None:
    started = threading.Event()
    finished = threading.Event()

    @app.task
    def long() -> str:
        started.set()
        time.sleep(1.0)
        finished.set()
        return "finished"

    job = await long.enqueue()
    async with running_worker(app):
        await asyncio.to_thread(started.wait, WAIT_S)
        assert (await job.abort()).accepted
        with pytest.raises(JobAborted):
            await job.result(timeout_s=WAIT_S)
        assert not finished.is_set()
        await asyncio.to_thread(finished.wait, WAIT_S)
        await asyncio.sleep(0.2)

    assert await job.status() is JobStatus.ABORTED


@pytest.mark.usefixtures("run_path")
async def test_sync_jobs_aborted_while_waiting_for_a_thread_never_run(app: Ardiq) -> None:
    release = threading.Event()
    runs: list[str] = []

    @app.task
    def hold() -> str:
        release.wait(WAIT_S)
        return "held"

    @app.task
    def record(tag: str) -> str:
        runs.append(tag)
        return tag

    holding = await hold.enqueue()
    waiting = [await record.enqueue(tag) for tag in ("a", "b", "c")]
    async with running_worker(app, sync_concurrency=1) as worker:
        await eventually(lambda: len(worker.running) == 4, "all four jobs start, three wait for the thread")
        for job in waiting[:2]:
            assert (await job.abort()).accepted
        for job in waiting[:2]:
            await wait_for_status(job, JobStatus.ABORTED)
        release.set()
        assert await holding.result(timeout_s=WAIT_S) == "held"
        assert await waiting[2].result(timeout_s=WAIT_S) == "c"

    assert runs == ["c"]


async def test_aborted_job_records_job_aborted_as_its_error(app: Ardiq) -> None:
    job = await app.options(delay_ms=60_000).send("later")
    await job.abort()

    info = await job.info()
    assert info.status is JobStatus.ABORTED
    assert info.error is not None
    assert info.error[0] == "JobAborted"


async def test_abort_of_a_finished_job_changes_nothing_and_says_how_it_ended(app: Ardiq) -> None:
    @app.task
    async def maybe(fail: bool) -> int:
        if fail:
            raise ValueError("asked to")
        return 1

    good = await maybe.enqueue(False)
    bad = await maybe.enqueue(True)
    await run_burst(app)

    assert await good.abort() is AbortReply.COMPLETE
    assert await bad.abort() is AbortReply.FAILED
    assert not (await good.abort()).accepted
    assert await good.result(timeout_s=1) == 1
    assert await bad.status() is JobStatus.FAILED


async def test_abort_of_an_already_aborted_job_says_aborted(app: Ardiq) -> None:
    job = await app.options(delay_ms=60_000).send("later")
    await job.abort()

    assert await job.abort() is AbortReply.ABORTED
    assert await job.status() is JobStatus.ABORTED


async def test_abort_of_an_unknown_job_is_not_found(app: Ardiq) -> None:
    reply = await app.job("no-such-job").abort()

    assert reply is AbortReply.NOT_FOUND
    assert not reply.accepted


async def test_abort_requested_while_a_failing_run_ends_wins_over_its_retry(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=3, backoff_ms=10)
    async def abort_then_fail(job_id: str) -> None:
        runs.append(1)
        await app.job(job_id).abort()
        raise ValueError("fails after its abort was requested")

    job = await abort_then_fail.options(job_id="abort-me").enqueue("abort-me")
    async with running_worker(app):
        with pytest.raises(JobAborted):
            await job.result(timeout_s=WAIT_S)
        await asyncio.sleep(0.3)

    assert runs == [1]
    assert await job.status() is JobStatus.ABORTED


async def test_aborted_scheduled_job_keeps_its_own_result_ttl(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    job = await app.options(delay_ms=60_000, result_ttl_ms=5_000).send("later")
    await job.abort()

    ttl: Any = inspector.pttl(keys.job(job.id))
    assert 0 < ttl <= 5_000


async def test_other_jobs_of_a_batch_run_when_one_is_aborted(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task
    async def work(n: int) -> int:
        runs.append(n)
        return n

    jobs = await app.enqueue_many([work.prepare(n) for n in range(5)])
    await jobs[2].abort()
    await run_burst(app)

    assert sorted(runs) == [0, 1, 3, 4]
    assert [await job.status() for job in jobs] == [JobStatus.COMPLETE] * 2 + [JobStatus.ABORTED] + [
        JobStatus.COMPLETE
    ] * 2


async def test_aborts_reach_jobs_in_every_batch_of_a_long_backlog(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    # Thousands of jobs, read in many batches: every batch is checked
    # against the abort set before any of its jobs starts, not just the first.
    runs: list[int] = []

    @app.task
    async def work(n: int) -> None:
        runs.append(n)

    jobs = await app.enqueue_many([work.prepare(n) for n in range(3_000)])
    aborted = set(range(3, 3_000, 7))
    for n in sorted(aborted):
        assert await jobs[n].abort() is AbortReply.ABORT_REQUESTED
    await run_burst(app, concurrency=10)

    assert sorted(runs) == [n for n in range(3_000) if n not in aborted]
    statuses = [await job.status() for job in jobs]
    assert [n for n, status in enumerate(statuses) if status is JobStatus.ABORTED] == sorted(aborted)
    assert statuses.count(JobStatus.COMPLETE) == 3_000 - len(aborted)
    assert inspector.hlen(keys.running) == 0
    assert inspector.scard(keys.abort) == 0
    assert stream_length(inspector, keys.stream(5)) == 0


async def test_job_waiting_in_a_workers_local_queue_is_aborted_without_running(app: Ardiq) -> None:
    release = asyncio.Event()
    runs: list[str] = []

    @app.task
    async def hold() -> None:
        await release.wait()

    @app.task
    async def work(tag: str) -> None:
        runs.append(tag)

    first = await hold.options(priority=9).enqueue()
    waiting = await work.options(priority=0).enqueue("waiting")
    async with running_worker(app, concurrency=1):
        await wait_for_status(first, JobStatus.RUNNING)
        await asyncio.sleep(0.2)
        assert await waiting.abort() is AbortReply.ABORT_REQUESTED
        await wait_for_status(waiting, JobStatus.ABORTED)
        release.set()
        await wait_for_status(first, JobStatus.COMPLETE)

    assert runs == []


async def test_aborts_reach_several_running_and_waiting_jobs_of_several_levels_at_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys
) -> None:
    release = asyncio.Event()
    ended: list[str] = []
    cancelled: list[str] = []

    @app.task
    async def hold(tag: str) -> str:
        try:
            await release.wait()
        except asyncio.CancelledError:
            cancelled.append(tag)
            raise
        ended.append(tag)
        return tag

    running = [await hold.options(priority=9).enqueue(f"run-{n}") for n in range(4)]
    waiting = [await hold.options(priority=(0, 5)[n % 2]).enqueue(f"wait-{n}") for n in range(8)]
    async with running_worker(app, concurrency=4):
        for job in running:
            await wait_for_status(job, JobStatus.RUNNING)
        await asyncio.sleep(0.2)  # the worker holds some of the waiting ones
        aborted = [*running[:3], *waiting[:5]]
        replies = await asyncio.gather(*(job.abort() for job in aborted))
        assert {reply.accepted for reply in replies} == {True}
        for job in aborted:
            await wait_for_status(job, JobStatus.ABORTED)
        release.set()
        for job in [running[3], *waiting[5:]]:
            await wait_for_status(job, JobStatus.COMPLETE)

    # A waiting job may have started in a slot a cancelled one freed before
    # its own abort was seen; then it was cancelled too, and never ended.
    assert (
        {"run-0", "run-1", "run-2"}
        <= set(cancelled)
        <= {"run-0", "run-1", "run-2"} | {f"wait-{n}" for n in range(5)}
    )
    assert sorted(ended) == ["run-3", "wait-5", "wait-6", "wait-7"]
    assert inspector.hlen(keys.running) == 0
    assert inspector.scard(keys.abort) == 0
    assert [stream_length(inspector, keys.stream(p)) for p in (0, 5, 9)] == [0, 0, 0]


async def test_runs_cancelled_in_the_loop_pass_that_starts_them_are_all_recorded(
    app: Ardiq, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An abort can reach the worker in the same loop pass as the start of
    its run, before the run's Task has taken a step (on Python 3.11 a Task
    first runs in the next pass): such a run records no end of its own, and
    must still be reported, or its job would be held and the burst never end."""
    from ardiq import worker as worker_module
    from ardiq._core import CANCEL_ABORTED

    started: list[int] = []

    @app.task
    async def sleepy(n: int) -> int:
        started.append(n)
        await asyncio.sleep(0.01)
        return n

    original = worker_module.Worker.start

    def start_then_abort(self: worker_module.Worker, jobs: list[Any]) -> None:
        original(self, jobs)
        self.cancel([(job[0], CANCEL_ABORTED) for job in jobs])

    monkeypatch.setattr(worker_module.Worker, "start", start_then_abort)
    jobs = [await sleepy.enqueue(n) for n in range(300)]
    await run_burst(app, concurrency=50)

    assert {await job.status() for job in jobs} == {JobStatus.ABORTED}

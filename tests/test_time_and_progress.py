"""SPEC 1.1 in the `ardiq` package against real Redis: expiry before start
(from enqueue, and for a retry), progress from async, sync and process
tasks (coalesced, refused out of bounds without failing the run, kept with
the result), results without polling (the notification path counted in
Redis commands, a lost notification, many waiters at once, blocking
handles), and the journal of job events."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, cast

import process_jobs
import pytest
import redis
from ardiq import Ardiq, Job, JobExpired, JobStatus, Progress, current_job
from ardiq.errors import InvalidOption
from worker_harness import WAIT_S, eventually, running_worker, within


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def calls(client: redis.Redis, command: str) -> int:
    stats: Any = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


async def has_status(job: Job[Any], status: JobStatus) -> bool:
    return await job.status() is status


async def has_progress(job: Job[Any]) -> bool:
    return await job.progress() is not None


# -- expiry -----------------------------------------------------------------


async def test_jobs_queued_behind_a_busy_worker_expire_unrun(
    app: Ardiq, inspector: redis.Redis, queue: str
) -> None:
    ran: list[int] = []
    gate = asyncio.Event()

    @app.task
    async def hold() -> None:
        await gate.wait()

    @app.task
    async def record(n: int) -> int:
        ran.append(n)
        return n

    async with running_worker(app, concurrency=1, prefetch=50):
        blocker = await hold.enqueue()
        await eventually(lambda: has_status(blocker, JobStatus.RUNNING), "the blocking job to run")
        expiring = [await record.options(expires_ms=now_ms() + 200).enqueue(n) for n in range(30)]
        lasting = [await record.options(expires_ms=now_ms() + 600_000).enqueue(100 + n) for n in range(5)]
        await asyncio.sleep(0.4)
        gate.set()
        for job in expiring:
            with pytest.raises(JobExpired):
                await job.result(timeout_s=WAIT_S)
        assert [await job.result(timeout_s=WAIT_S) for job in lasting] == [100 + n for n in range(5)]
    assert ran == [100 + n for n in range(5)]
    info = await expiring[0].info()
    assert info.status is JobStatus.EXPIRED
    assert info.error is not None
    assert info.error.type == "JobExpired"
    assert info.started_ms == 0
    assert info.attempts == 0


async def test_a_retry_due_after_the_expiry_ends_expired(app: Ardiq) -> None:
    runs: list[int] = []

    @app.task(retries=3, backoff_ms=400)
    async def flaky() -> None:
        runs.append(current_job().attempt)
        raise RuntimeError("again")

    async with running_worker(app):
        job = await flaky.options(expires_ms=now_ms() + 250).enqueue()
        with pytest.raises(JobExpired):
            await job.result(timeout_s=WAIT_S)
    assert runs == [0]
    assert (await job.info()).attempts == 1


async def test_expiry_bounds_are_typed_errors_and_write_nothing(app: Ardiq, inspector: redis.Redis) -> None:
    @app.task
    async def noop() -> None:
        return None

    for expires_ms, rule in [
        (now_ms() - 1, "later than now"),
        (253_402_300_800_000, "from 1 to 253402300799999"),
    ]:
        with pytest.raises(InvalidOption, match=rule):
            await noop.options(expires_ms=expires_ms).enqueue()
    with pytest.raises(InvalidOption, match="due time"):
        await noop.options(delay_ms=10_000, expires_ms=now_ms() + 5_000).enqueue()
    with pytest.raises(InvalidOption):
        await noop.options(expires_ms=float(now_ms() + 5_000)).enqueue()  # type: ignore[arg-type]
    assert inspector.dbsize() == 0 or not inspector.keys("ardiq:{" + app.queue + "}:job:*")


# -- progress ---------------------------------------------------------------


async def test_many_jobs_of_two_levels_reporting_at_once_each_keep_their_own_progress(app: Ardiq) -> None:
    # Twelve running jobs on two levels report within one interval (one
    # progress.lua call per level); four of them end meanwhile, and their
    # results must not be overwritten by a late progress write.
    go_on = {n: asyncio.Event() for n in range(12)}
    reported = asyncio.Event()
    count = 0

    @app.task
    async def report(n: int) -> int:
        nonlocal count
        current_job().progress(n / 12, f"job {n}")
        count += 1
        if count == 12:
            reported.set()
        await go_on[n].wait()
        return n

    async with running_worker(app, concurrency=12):
        jobs = await app.enqueue_many([report.options(priority=(1, 8)[n % 2]).prepare(n) for n in range(12)])
        await within(reported.wait(), WAIT_S, "every job to report")
        for n in range(4):
            go_on[n].set()
        for job in jobs[:4]:
            assert await job.result(timeout_s=WAIT_S) == jobs.index(job)
        for job in jobs[4:]:
            await eventually(lambda job=job: has_progress(job), f"the progress of {job.id}")
        for n, job in enumerate(jobs):
            seen = await job.progress()
            assert seen is not None
            assert seen.fraction == pytest.approx(n / 12)
            assert seen.message == f"job {n}"
        assert [await job.status() for job in jobs] == [JobStatus.COMPLETE] * 4 + [JobStatus.RUNNING] * 8
        for event in go_on.values():
            event.set()
        assert [await job.result(timeout_s=WAIT_S) for job in jobs] == list(range(12))


async def test_progress_is_read_while_running_and_stays_with_the_result(
    app: Ardiq, inspector: redis.Redis
) -> None:
    step = asyncio.Event()
    go_on = asyncio.Event()

    @app.task
    async def steps(n: int) -> str:
        job = current_job()
        for i in range(n):
            job.progress(i / n, f"step {i}")
        step.set()
        await go_on.wait()
        job.progress(1.0, "all done")
        return "ok"

    @app.task
    def in_a_thread(n: int) -> str:
        job = current_job()
        for i in range(n):
            job.progress((i + 1) / n, f"thread {i}")
        return "thread ok"

    async with running_worker(app):
        job = await steps.enqueue(500)
        await within(step.wait(), WAIT_S, "the task to report")
        before = calls(inspector, "set")
        await eventually(lambda: has_progress(job), "its progress to be stored")
        seen = await job.progress()
        assert isinstance(seen, Progress)
        # 500 reports within one report interval are one write: the last.
        assert seen.fraction == pytest.approx(499 / 500)
        assert seen.message == "step 499"
        assert calls(inspector, "set") - before <= 2
        assert await job.status() is JobStatus.RUNNING
        go_on.set()
        assert await job.result(timeout_s=WAIT_S) == "ok"
        final = await job.info()
        assert final.progress is not None
        assert final.progress.fraction == 1.0
        assert final.progress.message == "all done"

        threaded = await in_a_thread.enqueue(40)
        assert await threaded.result(timeout_s=WAIT_S) == "thread ok"
        kept = await threaded.progress()
        assert kept is not None
        assert kept.fraction == 1.0
        assert kept.message == "thread 39"


async def test_progress_out_of_bounds_is_logged_and_the_run_goes_on(
    app: Ardiq, caplog: pytest.LogCaptureFixture
) -> None:
    @app.task
    async def careless() -> str:
        job = current_job()
        job.progress(1.5, "too far")
        job.progress(float("nan"))
        job.progress(0.5, "x" * 1025)
        job.progress(0.25, "fine")
        return "finished"

    with caplog.at_level(logging.WARNING, logger="ardiq.worker"):
        async with running_worker(app):
            job = await careless.enqueue()
            assert await job.result(timeout_s=WAIT_S) == "finished"
    dropped = [r.getMessage() for r in caplog.records if "progress report dropped" in r.getMessage()]
    assert len(dropped) == 3
    assert any("1.5" in message for message in dropped)
    assert any("1025 bytes" in message for message in dropped)
    progress = await job.progress()
    assert progress is not None
    assert progress.fraction == 0.25
    assert progress.message == "fine"


async def test_a_process_task_reports_progress_from_its_child(app: Ardiq) -> None:
    report = app.task(process=True)(process_jobs.report_steps)
    async with running_worker(app):
        job = await report.enqueue(4, 0.1)
        await eventually(lambda: has_progress(job), "the child's progress to be stored")
        assert await job.result(timeout_s=WAIT_S) == "child done"
    progress = await job.progress()
    assert progress is not None
    assert progress.message == "child step 3"


# -- results without polling ---------------------------------------------------


async def test_a_waiting_result_is_told_instead_of_polling(app: Ardiq, inspector: redis.Redis) -> None:
    @app.task
    async def nap(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "rested"

    async with running_worker(app):
        await (await nap.enqueue(0)).result(timeout_s=WAIT_S)  # subscribed, worker told
        job = await nap.enqueue(2.5)
        status_reads = calls(inspector, "hexists")
        published = calls(inspector, "publish")
        assert await job.result(timeout_s=WAIT_S) == "rested"
        # One read when the wait starts, one when told, and the one-second
        # fallback reads meanwhile (2): polling would have read ~50 times.
        assert calls(inspector, "hexists") - status_reads <= 5
        assert calls(inspector, "publish") - published >= 2  # waiting:…, done:<id>
        assert inspector.zscore(f"ardiq:{{{app.queue}}}:waiters", job.id) is None


async def test_concurrent_first_waits_share_one_subscription(app: Ardiq, inspector: redis.Redis) -> None:
    # SPEC.md section 15: one subscription per client and queue, however many
    # waits start at once, and no more once they have ended.
    channel = f"ardiq:{{{app.queue}}}:events"
    for _ in range(2):
        jobs = await app.enqueue_many([app.prepare("nobody_runs_this") for _ in range(50)])
        infos = await asyncio.gather(*(job.wait(timeout_s=0.3) for job in jobs))
        assert {info.status for info in infos} == {JobStatus.QUEUED}
        subscribers = cast(list[tuple[bytes, int]], inspector.pubsub_numsub(channel))
        assert subscribers[0][1] == 1


async def test_a_lost_notification_costs_latency_not_a_hang(app: Ardiq, inspector: redis.Redis) -> None:
    @app.task
    async def nap(seconds: float) -> str:
        await asyncio.sleep(seconds)
        return "rested"

    waiters = f"ardiq:{{{app.queue}}}:waiters"
    async with running_worker(app):
        job = await nap.enqueue(1.0)
        dropper = threading.Timer(0.4, lambda: inspector.zrem(waiters, job.id))
        dropper.start()
        published = calls(inspector, "publish")
        assert await job.result(timeout_s=WAIT_S) == "rested"
        dropper.join()
    # Nobody was told (no done:<id>), yet the result came through the fallback.
    assert calls(inspector, "publish") - published <= 1


async def test_many_waiters_on_many_jobs_all_wake(app: Ardiq) -> None:
    @app.task
    async def nap(n: int) -> int:
        await asyncio.sleep(0.3 + (n % 7) / 20)
        return n

    async with running_worker(app, concurrency=50):
        jobs = [await nap.enqueue(n) for n in range(200)]
        twice = [job.result(timeout_s=WAIT_S) for job in jobs] + [
            job.result(timeout_s=WAIT_S) for job in jobs
        ]
        results = await within(asyncio.gather(*twice), WAIT_S, "every waiter to wake")
    assert results == list(range(200)) * 2


async def test_a_wait_that_times_out_says_where_the_job_is(app: Ardiq) -> None:
    @app.task
    async def later() -> None:
        return None

    job = await later.options(delay_ms=600_000).enqueue()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="still scheduled"):
        await job.result(timeout_s=0.3)
    assert time.monotonic() - started < 5
    info = await job.wait(timeout_s=0)
    assert info.status is JobStatus.SCHEDULED


async def test_blocking_handles_wait_without_polling(app: Ardiq, inspector: redis.Redis) -> None:
    @app.task
    def slow_sync(seconds: float) -> str:
        time.sleep(seconds)
        return "synced"

    async with running_worker(app):
        job = slow_sync.enqueue_blocking(2.0)
        status_reads = calls(inspector, "hexists")
        value = await asyncio.to_thread(job.result, WAIT_S)
        assert value == "synced"
        assert calls(inspector, "hexists") - status_reads <= 5


# -- the journal --------------------------------------------------------------


async def test_the_journal_follows_every_job_event(app: Ardiq) -> None:
    attempts: dict[int, int] = {}

    @app.task(retries=1, backoff_ms=10)
    async def sometimes(n: int) -> int:
        attempts[n] = attempts.get(n, 0) + 1
        if n % 3 == 0 and attempts[n] == 1:
            raise ValueError(f"first run of {n}")
        if n % 5 == 0:
            raise KeyError(n)
        return n

    seen: list[Any] = []

    async def follow() -> None:
        async for event in app.events(since="0"):
            seen.append(event)

    follower = asyncio.create_task(follow())
    try:
        async with running_worker(app, journal=True):
            jobs = [await sometimes.enqueue(n) for n in range(1, 31)]
            for job in jobs:
                await job.wait(timeout_s=WAIT_S)

            def complete() -> bool:
                return sum(e.event in ("completed", "failed") for e in seen) == 30

            await eventually(complete, "the journal to show every end")
    finally:
        follower.cancel()
    by_job: dict[str, list[str]] = {}
    for event in seen:
        by_job.setdefault(event.job_id, []).append(event.event)
        assert event.task == "sometimes"
        assert event.queue == app.queue
        assert event.ms > 0
    assert by_job[jobs[0].id] == ["enqueued", "started", "completed"]
    assert by_job[jobs[2].id] == ["enqueued", "started", "retried", "started", "completed"]
    assert by_job[jobs[4].id][-1] == "failed"
    failed = [e for e in seen if e.event == "failed"]
    assert len(failed) == 6
    assert all(e.error and e.error.startswith("KeyError") for e in failed)
    # Every multiple of 3 fails its first run with ValueError; the multiples of 5 that
    # are not also fail it with KeyError (15 and 30 fail their retry with it).
    retried = sorted((e.error or "").split(":")[0] for e in seen if e.event == "retried")
    assert retried == ["KeyError"] * 4 + ["ValueError"] * 10


async def test_a_journal_read_from_now_on_says_where_now_was(
    app: Ardiq, inspector: redis.Redis, queue: str
) -> None:
    # Redis takes `$` anew at each XREAD: a follower that read with `$` again
    # after an empty read would miss what was added between the two. The
    # core resolves `$` once and replies the id to go on from.
    journal = f"ardiq:{{{queue}}}:journal"

    async def read(after: str) -> tuple[str, list[tuple[str, list[tuple[str, str]]]]]:
        request, future = app._link.request()
        app._core.read_journal(request, after, 100, 1, None)
        return cast("tuple[str, list[tuple[str, list[tuple[str, str]]]]]", await future)

    def add(job_id: str) -> str:
        entry_id: Any = inspector.xadd(journal, {"event": "enqueued", "id": job_id})
        return str(entry_id, "utf-8")

    assert await read("$") == ("0-0", [])  # no journal yet: all that comes is new
    last = add("old")
    assert await read("$") == (last, [])
    added = add("new")
    after, entries = await read(last)
    assert (after, [(entry_id, dict(fields)) for entry_id, fields in entries]) == (
        added,
        [(added, {"event": "enqueued", "id": "new"})],
    )
    assert await read(added) == (added, [])


async def test_no_journal_unless_asked(app: Ardiq, inspector: redis.Redis) -> None:
    @app.task
    async def noop() -> None:
        return None

    async with running_worker(app):
        await (await noop.enqueue()).result(timeout_s=WAIT_S)
    assert not inspector.exists(f"ardiq:{{{app.queue}}}:journal")

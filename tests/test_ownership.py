"""Ownership of in-flight jobs across live and dead workers, in the plural:
several long jobs on several live workers each run once however many
visibility timeouts they last; a thousand jobs stranded by killed workers
are all reclaimed and finished within three visibility timeouts; a gone
worker's consumer is removed once it holds nothing; a worker frozen, or cut
off from Redis, past its visibility timeout writes nothing for the jobs
taken over meanwhile, starts none of the ones it held, and works on; the
entries of a read or claim whose reply was lost run at once, a burst
worker whose connections keep breaking runs every job once, and jobs whose
results Redis refuses for a while (it is full) do not run again."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
import redis
from ardiq import Ardiq, Job, JobStatus
from ardiq_testing import RedisServer
from wire_records import Keys
from worker_harness import WAIT_S, SpawnWorker, StallingProxy, WorkerProcess, eventually

APP = "process_tasks:app"


def run_key() -> str:
    return f"ardiq-test:runs:{uuid.uuid4().hex}"


async def test_long_jobs_on_several_live_workers_each_run_exactly_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    # 3 workers, each holding several entries of several priority levels per
    # renewal call, and jobs that last four visibility timeouts: renewal must
    # keep every held entry of every level.
    key = run_key()
    workers = [spawn_worker(APP, "--visibility-ms", "1000", "--concurrency", "4") for _ in range(3)]
    await eventually(lambda: inspector.zcard(keys.workers) == 3, "the three workers are up")
    jobs = await app.enqueue_many(
        [app.options(priority=(0, 5, 9)[n % 3]).prepare("tagged_sleep", key, f"t{n}", 4.0) for n in range(9)]
    )

    for job in jobs:
        assert await job.result(timeout_s=WAIT_S) == f"t{jobs.index(job)}"
    started = {
        str(tag, "utf-8"): int(n)
        for tag, n in cast("dict[bytes, bytes]", inspector.hgetall(f"{key}:started")).items()
    }
    assert started == {f"t{n}": 1 for n in range(9)}
    owners = {(await job.info()).worker_id for job in jobs}
    assert len(owners) >= 2, "the jobs were spread over several workers"
    assert await app.dead_letters() == []
    assert all(worker.alive for worker in workers)


async def test_a_thousand_jobs_stranded_by_killed_workers_finish_within_three_visibility_timeouts(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    key = run_key()
    visibility_s = 2.0
    options = ("--visibility-ms", str(int(visibility_s * 1000)), "--prefetch", "0")
    doomed = [spawn_worker(APP, *options, "--concurrency", "500") for _ in range(2)]
    await eventually(lambda: inspector.zcard(keys.workers) == 2, "the two doomed workers are up")
    # On three levels: each reclaim pass follows every level's cursor.
    jobs = await app.enqueue_many(
        [app.options(priority=(0, 5, 9)[n % 3]).prepare("stall_once", key, f"t{n}") for n in range(1000)]
    )
    await eventually(lambda: inspector.hlen(key) == 1000, "all 1,000 first runs have started", WAIT_S)

    for worker in doomed:
        worker.signal(signal.SIGKILL)
    for worker in doomed:
        await worker.exited()
    killed_at = time.monotonic()
    spawn_worker(APP, *options, "--concurrency", "100")

    async def all_complete() -> bool:
        statuses = await asyncio.gather(*(job.status() for job in jobs))
        return all(status is JobStatus.COMPLETE for status in statuses)

    await eventually(all_complete, "every stranded job completes", WAIT_S)
    took = time.monotonic() - killed_at
    assert took < 3 * visibility_s, f"the stranded jobs took {took:.1f} s, over 3 visibility timeouts"
    runs = [int(n) for n in inspector.hvals(key)]
    assert len(runs) == 1000
    assert set(runs) == {2}
    assert await app.dead_letters() == []


async def test_a_gone_workers_consumer_is_removed_once_it_holds_nothing(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    options = ("--visibility-ms", "500", "--heartbeat-ms", "200", "--concurrency", "2", "--prefetch", "0")
    gone = [spawn_worker(APP, *options) for _ in range(3)]
    await eventually(lambda: inspector.zcard(keys.workers) == 3, "three workers are up")
    # A consumer exists once it was delivered something: give each worker work.
    key = run_key()
    jobs = await app.enqueue_many([app.prepare("tagged_sleep", key, f"t{n}", 0.3) for n in range(12)])
    for job in jobs:
        await job.result(timeout_s=WAIT_S)

    def consumers() -> set[str]:
        names = set()
        for stream in keys.streams:
            for info in inspector.xinfo_consumers(stream, "ardiq"):
                names.add(info["name"].decode())
        return names

    await eventually(lambda: len(consumers()) == 3, "each worker has its consumer")
    before = consumers()
    for worker in gone:
        worker.signal(signal.SIGKILL)
        await worker.exited()
    spawn_worker(APP, *options)

    await eventually(
        lambda: not consumers() & before, "the gone workers' consumers are deleted on every level"
    )


def held_by_consumers(inspector: redis.Redis, keys: Keys) -> int:
    return sum(int(inspector.xpending(stream, "ardiq")["pending"]) for stream in keys.streams)


def tags_in(inspector: redis.Redis, key: str) -> dict[str, int]:
    raw = cast("dict[bytes, bytes]", inspector.hgetall(key))
    return {str(tag, "utf-8"): int(n) for tag, n in raw.items()}


async def took_over(app: Ardiq, inspector: redis.Redis, keys: Keys, jobs: list[Job[Any]]) -> list[object]:
    """Waits for every job's result from the worker that took them over;
    their status records."""
    for n, job in enumerate(jobs):
        assert await job.result(timeout_s=WAIT_S) == f"t{n}"
    assert len({(await job.info()).worker_id for job in jobs}) == 1, "one worker finished every job"
    return [inspector.get(keys.job(job.id)) for job in jobs]


async def check_the_loss(
    app: Ardiq,
    inspector: redis.Redis,
    keys: Keys,
    key: str,
    jobs: list[Job[Any]],
    statuses: list[object],
    running_at_loss: set[str],
    loser: WorkerProcess,
    other: WorkerProcess,
) -> None:
    """Once the worker that lost its jobs `loser` goes on: it wrote nothing
    for them and started none it had not started before, and it still works."""
    await eventually(lambda: "lost entry" in loser.output(), "the worker notices its loss")
    await asyncio.sleep(3.0)  # three renewal periods, and the ends of its earlier runs
    started = tags_in(inspector, f"{key}:started")
    assert {tag for tag, n in started.items() if n == 2} == running_at_loss
    others = {f"t{n}" for n in range(len(jobs))} - running_at_loss
    assert {tag for tag, n in started.items() if n == 1} == others
    assert all(n <= 2 for n in tags_in(inspector, f"{key}:finished").values())
    assert [inspector.get(keys.job(job.id)) for job in jobs] == statuses, "a lost job's status changed"
    assert await app.dead_letters() == []
    assert held_by_consumers(inspector, keys) == 0
    assert inspector.hlen(keys.running) == 0
    assert loser.alive

    # With the other worker gone, it fetches and runs new jobs (its fetcher
    # waited for room while the lost entries filled its prefetch).
    other.signal(signal.SIGTERM)
    assert await other.exited() == 0
    more = await app.enqueue_many([app.prepare("tagged_sleep", key, f"u{n}", 0.1) for n in range(10)])
    for n, job in enumerate(more):
        assert await job.result(timeout_s=WAIT_S) == f"u{n}"


async def test_a_worker_frozen_past_its_visibility_timeout_neither_writes_nor_starts_what_it_lost(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    # A worker stopped (SIGSTOP: a long pause of its host, a debugger) with
    # ten jobs running and ten more fetched for later, while another worker
    # takes them all over.
    key = run_key()
    frozen = spawn_worker(APP, "--visibility-ms", "1000", "--concurrency", "10", "--prefetch", "10")
    await eventually(lambda: inspector.zcard(keys.workers) == 1, "the first worker is up")
    jobs = await app.enqueue_many([app.prepare("tagged_sleep", key, f"t{n}", 2.0) for n in range(40)])
    await eventually(
        lambda: inspector.hlen(f"{key}:started") == 10 and held_by_consumers(inspector, keys) == 20,
        "ten jobs running and ten more held",
    )
    frozen.signal(signal.SIGSTOP)
    try:
        running_at_loss = set(tags_in(inspector, f"{key}:started"))
        other = spawn_worker(APP, "--visibility-ms", "1000", "--concurrency", "20", "--prefetch", "0")
        statuses = await took_over(app, inspector, keys, jobs)
    finally:
        frozen.signal(signal.SIGCONT)
    await check_the_loss(app, inspector, keys, key, jobs, statuses, running_at_loss, frozen, other)


async def test_a_worker_cut_off_from_redis_past_its_visibility_timeout_starts_none_of_its_held_jobs(
    app: Ardiq, inspector: redis.Redis, keys: Keys, redis_url: str, queue: str, spawn_worker: SpawnWorker
) -> None:
    # A worker whose path to Redis stalls (a partition) with two jobs
    # running and ten held for later: its runs end meanwhile, and the slots
    # they free must not start held jobs whose ownership it cannot renew,
    # which another worker takes over and runs.
    key = run_key()
    async with StallingProxy(redis_url) as proxy:
        options = ("--visibility-ms", "1000", "--concurrency", "2", "--prefetch", "10")
        # The task counts its runs on a path of its own, which never stalls.
        cut_off = WorkerProcess(APP, proxy.url, queue, *options, env={"ARDIQ_TEST_COUNTERS_URL": redis_url})
        try:
            await eventually(lambda: inspector.zcard(keys.workers) == 1, "the first worker is up")
            jobs = await app.enqueue_many([app.prepare("tagged_sleep", key, f"t{n}", 1.0) for n in range(12)])
            await eventually(
                lambda: inspector.hlen(f"{key}:started") == 2 and held_by_consumers(inspector, keys) == 12,
                "two jobs running and ten more held",
            )
            proxy.stall()
            try:
                running_at_loss = set(tags_in(inspector, f"{key}:started"))
                other = spawn_worker(APP, "--visibility-ms", "1000", "--concurrency", "20", "--prefetch", "0")
                statuses = await took_over(app, inspector, keys, jobs)

                # Its two runs ended a while ago, and it went on holding ten.
                def both_runs_ended() -> bool:
                    finished = tags_in(inspector, f"{key}:finished")
                    return all(finished.get(tag) == 2 for tag in running_at_loss)

                await eventually(both_runs_ended, "the cut-off worker's runs have ended")
                await asyncio.sleep(1.5)
            finally:
                proxy.flow()
            await check_the_loss(app, inspector, keys, key, jobs, statuses, running_at_loss, cut_off, other)
        finally:
            cut_off.kill()


def delivered(inspector: redis.Redis, keys: Keys) -> int:
    """Entries the group has delivered so far, over every level."""
    return sum(int(inspector.xinfo_groups(stream)[0]["entries-read"] or 0) for stream in keys.streams)


async def check_taken_up(
    app: Ardiq,
    inspector: redis.Redis,
    keys: Keys,
    key: str,
    jobs: list[Job[Any]],
    counters: redis.Redis | None = None,
) -> None:
    """Each of `jobs` (tagged t0, t1, ...) ran once and completed (its runs
    counted in `counters`, default the queue's Redis); nothing is left
    pending or dead-lettered."""
    for n, job in enumerate(jobs):
        assert await job.result(timeout_s=WAIT_S) == f"t{n}"
    counted = inspector if counters is None else counters
    assert tags_in(counted, f"{key}:started") == {f"t{n}": 1 for n in range(len(jobs))}
    assert held_by_consumers(inspector, keys) == 0
    assert await app.dead_letters() == []


@pytest.mark.parametrize("mode", ["idle", "burst"])
async def test_entries_of_a_read_whose_reply_was_lost_run_at_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys, redis_url: str, queue: str, mode: str
) -> None:
    # Redis runs a read of the worker, but the reply never arrives: the
    # connection breaks first, and the read sent again on the new one gets
    # the next entries. Those of the first are the worker's in Redis and
    # unknown to it. They must run now, not after the visibility timeout
    # (two minutes here), and a burst run must not end without them.
    key = run_key()
    options = ["--visibility-ms", "120000", "--concurrency", "4", "--prefetch", "4"]
    calls = [app.prepare("tagged_sleep", key, f"t{n}", 0.3 if mode == "burst" else 0.0) for n in range(40)]
    jobs: list[Job[Any]] = []
    if mode == "burst":
        options.append("--burst")
        jobs = await app.enqueue_many(calls)
    async with StallingProxy(redis_url) as proxy:
        worker = WorkerProcess(APP, proxy.url, queue, *options, env={"ARDIQ_TEST_COUNTERS_URL": redis_url})
        try:
            if mode == "idle":
                await eventually(lambda: inspector.zcard(keys.workers) == 1, "the worker is up")
                await asyncio.sleep(0.5)  # into its blocking read
            else:
                await eventually(lambda: inspector.hlen(f"{key}:started") >= 4, "the first runs started")
            before = delivered(inspector, keys)
            proxy.discard_replies()
            if mode == "idle":
                jobs = await app.enqueue_many(calls)
            await eventually(lambda: delivered(inspector, keys) > before, "Redis ran a read of the worker")
            await asyncio.sleep(0.2)
            proxy.sever()
            await check_taken_up(app, inspector, keys, key, jobs)
            if mode == "burst":
                assert await worker.exited() == 0
            assert "took up" in worker.output()
        finally:
            worker.kill()


async def test_entries_of_a_claim_whose_reply_was_lost_run_at_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys, redis_url: str, queue: str
) -> None:
    # A starting worker reclaims a dead worker's entries, but the reply of its
    # claim never arrives: the connection breaks first, and the claim sent
    # again takes the next ones. Those of the first are this worker's in
    # Redis, idle again from zero: the reclaim would not take them before
    # the visibility timeout (a minute here). They must run now.
    key = run_key()
    jobs = await app.enqueue_many([app.prepare("tagged_sleep", key, f"t{n}", 0.0) for n in range(40)])
    (stream,) = [stream for stream in keys.streams if inspector.xlen(stream)]
    inspector.xgroup_create(stream, "ardiq", id="0", mkstream=True)
    reply: Any = inspector.xreadgroup("ardiq", "gone", {stream: ">"}, count=100)
    ids = [entry_id for entry_id, _ in reply[0][1]]
    inspector.xclaim(stream, "ardiq", "gone", 0, ids, idle=120_000)

    def left_with_the_gone() -> int:
        consumers = inspector.xpending(stream, "ardiq")["consumers"]
        return sum(int(c["pending"]) for c in consumers if c["name"] == b"gone")

    async with StallingProxy(redis_url) as proxy:
        proxy.discard_replies_after("XAUTOCLAIM", stream)
        options = ["--visibility-ms", "60000", "--concurrency", "4", "--prefetch", "4"]
        worker = WorkerProcess(APP, proxy.url, queue, *options, env={"ARDIQ_TEST_COUNTERS_URL": redis_url})
        try:
            await eventually(lambda: left_with_the_gone() < len(ids), "Redis ran a claim of the worker")
            await asyncio.sleep(0.2)
            proxy.sever()
            await check_taken_up(app, inspector, keys, key, jobs)
            assert "took up" in worker.output()
        finally:
            worker.kill()


async def test_a_burst_worker_whose_connections_keep_breaking_runs_every_job_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys, redis_url: str, queue: str
) -> None:
    # Every 10 ms all of the worker's connections break, replies in flight
    # lost: reads, claims, renewals and writes that ran in Redis unheard of,
    # each sent again once. Nothing may be stranded, run twice or left.
    key = run_key()
    jobs = await app.enqueue_many([app.prepare("tagged_sleep", key, f"t{n}", 0.0) for n in range(3000)])
    async with StallingProxy(redis_url) as proxy:
        options = ["--burst", "--concurrency", "50"]
        worker = WorkerProcess(APP, proxy.url, queue, *options, env={"ARDIQ_TEST_COUNTERS_URL": redis_url})
        try:
            await eventually(lambda: inspector.hlen(f"{key}:started") > 0, "the first run started")
            breaks = 0
            while worker.alive and breaks < 3000:
                proxy.sever()
                breaks += 1
                await asyncio.sleep(0.01)
            assert await worker.exited() == 0
            assert breaks > 10, "the worker ended before its connections broke"
            await check_taken_up(app, inspector, keys, key, jobs)
            assert inspector.hlen(keys.running) == 0
        finally:
            worker.kill()


@contextmanager
def counters_redis() -> Iterator[tuple[redis.Redis, dict[str, str]]]:
    """A Redis of its own for the tasks' run counters (it stays writable
    while the queue's Redis is made full), and the worker environment that
    points `tests/apps/process_tasks.py` at it."""
    with RedisServer() as server:
        counters = redis.Redis.from_url(server.url)
        try:
            yield counters, {"ARDIQ_TEST_COUNTERS_URL": server.url}
        finally:
            counters.close()


async def test_jobs_whose_results_redis_refuses_for_a_while_do_not_run_again(
    app: Ardiq, inspector: redis.Redis, keys: Keys, redis_url: str, queue: str
) -> None:
    # Two live workers run 40 jobs; as the runs end, Redis is full
    # (`maxmemory` below its use): it refuses the results with OOM for three
    # visibility timeouts, but not the renewals (`XCLAIM` may run when Redis
    # is full). Each worker must keep renewing the entries it is still
    # writing, so that the other worker's reclaim takes none of them and no
    # job runs again; once Redis has room, every result is stored.
    key = run_key()
    with counters_redis() as (counters, env):
        options = ("--visibility-ms", "1000", "--concurrency", "40", "--prefetch", "0")
        workers = [WorkerProcess(APP, redis_url, queue, *options, env=env) for _ in range(2)]
        try:
            await eventually(lambda: inspector.zcard(keys.workers) == 2, "both workers are up")
            jobs = await app.enqueue_many([app.prepare("tagged_sleep", key, f"t{n}", 0.5) for n in range(40)])
            await eventually(lambda: counters.hlen(f"{key}:started") == 40, "every job started")
            inspector.config_set("maxmemory", 1)
            try:
                await eventually(lambda: counters.hlen(f"{key}:finished") == 40, "every run ended")
                await asyncio.sleep(3.0)
                assert tags_in(counters, f"{key}:started") == {f"t{n}": 1 for n in range(40)}
                refused = [worker for worker in workers if "OOM" in worker.output()]
                assert refused, "Redis refused no result"
            finally:
                inspector.config_set("maxmemory", 0)
            await check_taken_up(app, inspector, keys, key, jobs, counters)
            assert inspector.hlen(keys.running) == 0
            assert all(worker.alive for worker in workers)
        finally:
            for worker in workers:
                worker.kill()


async def test_a_worker_whose_results_wait_takes_up_no_more_jobs_than_it_can_hold(
    app: Ardiq, inspector: redis.Redis, keys: Keys, redis_url: str, queue: str
) -> None:
    # While Redis refuses results (it is full), a worker runs what it holds
    # but takes up at most a write batch's worth more (1,000 outcomes, more
    # than its capacity of 100 here) instead of running the whole queue with
    # every result waiting in its memory: 3,000 jobs of 20 ms at concurrency
    # 50 would all start within 3 s. Once Redis has room, the worker writes
    # what waited and goes on, each job run once.
    key = run_key()
    with counters_redis() as (counters, env):
        options = ("--concurrency", "50", "--prefetch", "50")
        worker = WorkerProcess(APP, redis_url, queue, *options, env=env)
        try:
            await eventually(lambda: inspector.zcard(keys.workers) == 1, "the worker is up")
            jobs = await app.enqueue_many(
                [app.prepare("tagged_sleep", key, f"t{n}", 0.02) for n in range(3000)]
            )
            await eventually(lambda: counters.hlen(f"{key}:started") >= 50, "the first runs started")
            inspector.config_set("maxmemory", 1)
            try:
                at_full = counters.hlen(f"{key}:started")
                await asyncio.sleep(3.0)
                started_meanwhile = counters.hlen(f"{key}:started") - at_full
                # Held (100), waiting to be written (1,000), a read's slack.
                assert started_meanwhile <= 1200, (
                    f"{started_meanwhile} jobs started while no result could be written"
                )
                assert "OOM" in worker.output()
            finally:
                inspector.config_set("maxmemory", 0)
            await check_taken_up(app, inspector, keys, key, jobs, counters)
        finally:
            worker.kill()

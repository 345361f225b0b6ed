"""Ownership of in-flight jobs across live and dead workers, in the plural:
several long jobs on several live workers each run once however many
visibility timeouts they last; a thousand jobs stranded by killed workers
are all reclaimed and finished within three visibility timeouts; a gone
worker's consumer is removed once it holds nothing."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from typing import cast

import redis
from ardiq import Ardiq, JobStatus
from wire_records import Keys
from worker_harness import WAIT_S, SpawnWorker, eventually

APP = "process_tasks:app"


def run_key() -> str:
    return f"ardiq-test:runs:{uuid.uuid4().hex}"


async def test_long_jobs_on_several_live_workers_each_run_exactly_once(
    app: Ardiq, inspector: redis.Redis, keys: Keys, spawn_worker: SpawnWorker
) -> None:
    # 3 workers, each holding several entries per renewal call, and jobs that
    # last four visibility timeouts: renewal must keep every held entry.
    key = run_key()
    workers = [spawn_worker(APP, "--visibility-ms", "1000", "--concurrency", "4") for _ in range(3)]
    await eventually(lambda: inspector.zcard(keys.workers) == 3, "the three workers are up")
    jobs = await app.enqueue_many([app.prepare("tagged_sleep", key, f"t{n}", 4.0) for n in range(9)])

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
    jobs = await app.enqueue_many([app.prepare("stall_once", key, f"t{n}") for n in range(1000)])
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

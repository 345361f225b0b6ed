"""Redis going away: with persistence on, delayed jobs survive a restart, a
running worker reconnects and goes on working, and a producer's first call
after the restart succeeds; when Redis comes back empty (FLUSHALL, or a
restart without persistence), a running worker creates its consumer groups
again and new jobs run; a worker started while Redis is still loading its
data waits for it, and a producer call meanwhile fails with `RedisUnavailable`
in both Python producers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import ardiq_client
import pytest
import redis
from ardiq import Ardiq, JobStatus, RedisUnavailable
from ardiq.worker import Worker
from ardiq_testing import RedisServer
from worker_harness import WAIT_S, running_worker, within


@pytest.fixture
def persistent_redis() -> Iterator[RedisServer]:
    """A redis-server with an append-only file (fsynced on every write), restartable on the same port."""
    with RedisServer("--appendonly", "yes", "--appendfsync", "always") as server:
        yield server


async def test_delayed_job_survives_a_redis_restart(persistent_redis: RedisServer) -> None:
    before = Ardiq(persistent_redis.url, queue="restart")
    job = await before.options(delay_ms=300).send("add", 2, 3)
    await before.close()
    persistent_redis.restart()

    after = Ardiq(persistent_redis.url, queue="restart")

    @after.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        revived = after.job(job.id)
        assert await revived.status() is JobStatus.SCHEDULED
        async with running_worker(after):
            assert await revived.result(timeout_s=WAIT_S) == 5
    finally:
        await after.close()


async def test_running_worker_goes_on_working_after_a_redis_restart(
    persistent_redis: RedisServer,
) -> None:
    app = Ardiq(persistent_redis.url, queue="restart")

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        async with running_worker(app):
            first = await add.enqueue(1, 1)
            assert await first.result(timeout_s=WAIT_S) == 2

            persistent_redis.restart()

            second = await within(add.enqueue(2, 2), WAIT_S, "the first enqueue after the restart")
            assert await within(second.result(timeout_s=WAIT_S), WAIT_S, "the job after the restart") == 4
    finally:
        await app.close()


async def test_a_producers_first_call_after_a_redis_restart_succeeds(
    persistent_redis: RedisServer,
) -> None:
    app = Ardiq(persistent_redis.url, queue="restart")
    try:
        first = await app.send("add", 1, 2)
        persistent_redis.restart()
        # The connection the first call used is broken now: the call after
        # the restart reconnects and is sent again, with no error.
        second = await app.send("add", 3, 4)
        assert await second.status() is JobStatus.QUEUED
        assert await first.status() is JobStatus.QUEUED
    finally:
        await app.close()


async def test_a_call_while_redis_is_down_fails_soon_with_redis_unavailable(
    persistent_redis: RedisServer,
) -> None:
    app = Ardiq(persistent_redis.url, queue="restart", connect_timeout_s=0.5, timeout_s=0.5)
    try:
        await app.send("add", 1, 2)
        persistent_redis.stop()
        with pytest.raises(RedisUnavailable, match="unreachable"):
            await within(app.send("add", 3, 4), WAIT_S, "a call to a stopped Redis")
    finally:
        await app.close()


async def test_a_worker_whose_redis_was_flushed_creates_its_groups_again_and_runs_new_jobs(
    persistent_redis: RedisServer,
) -> None:
    app = Ardiq(persistent_redis.url, queue="flushed")
    inspector = redis.Redis.from_url(persistent_redis.url)

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        async with running_worker(app):
            assert await (await add.enqueue(1, 1)).result(timeout_s=WAIT_S) == 2
            inspector.flushall()
            jobs = [await add.enqueue(n, n) for n in range(5)]
            for n, job in enumerate(jobs):
                assert await within(job.result(timeout_s=WAIT_S), WAIT_S, "a job after FLUSHALL") == 2 * n
            groups = inspector.xinfo_groups("ardiq:{flushed}:stream:5")
            assert [group["name"] for group in groups] == [b"ardiq"]
    finally:
        inspector.close()
        await app.close()


async def test_a_worker_started_while_redis_is_down_starts_when_it_comes_up(
    persistent_redis: RedisServer,
) -> None:
    app = Ardiq(persistent_redis.url, queue="late-redis")

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        job = await add.enqueue(20, 22)
        persistent_redis.stop()
        run = asyncio.create_task(app.run_worker(burst=True, visibility_ms=1000))
        await asyncio.sleep(0.5)
        assert not run.done(), "the worker gave up while Redis was briefly down"
        persistent_redis.start()
        await within(run, WAIT_S, "the burst worker to start and drain once Redis is back")
        assert await job.result(timeout_s=WAIT_S) == 42
    finally:
        await app.close()


async def test_a_worker_stopped_before_redis_answers_ends_quietly(persistent_redis: RedisServer) -> None:
    app = Ardiq(persistent_redis.url, queue="never-up")
    persistent_redis.stop()
    try:
        run = asyncio.create_task(app.run_worker())
        await asyncio.sleep(0.3)
        worker = app._link.worker
        assert isinstance(worker, Worker)
        worker.stop()
        await within(run, WAIT_S, "the worker to end once stopped")
    finally:
        await app.close()


async def test_a_producer_call_while_redis_loads_its_data_is_redis_unavailable() -> None:
    with RedisServer() as server:
        app = Ardiq(server.url, queue="loading")
        client = await ardiq_client.AsyncClient.from_url(server.url, "loading").connect()
        try:
            await app.send("add", 1, 2)
            await client.send("add", (3, 4))
            server.restart_loading()
            with pytest.raises(RedisUnavailable, match="loading"):
                await app.send("add", 5, 6)
            with pytest.raises(ardiq_client.RedisUnavailable, match="loading"):
                await client.send("add", (7, 8))
        finally:
            await client.close()
            await app.close()


async def test_a_worker_started_while_redis_loads_its_data_starts_once_loaded() -> None:
    with RedisServer() as server:
        app = Ardiq(server.url, queue="loading")

        @app.task
        async def add(x: int, y: int) -> int:
            return x + y

        try:
            job = await add.enqueue(20, 22)
            server.restart_loading()
            run = asyncio.create_task(app.run_worker(burst=True, visibility_ms=1000))
            await asyncio.sleep(0.3)
            assert not run.done(), "the worker gave up while Redis was loading its data"
            await within(run, WAIT_S, "the burst worker to start and drain once Redis has loaded")
            assert await job.result(timeout_s=WAIT_S) == 42
        finally:
            await app.close()

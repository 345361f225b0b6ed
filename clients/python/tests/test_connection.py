"""Connections (SPEC.md section 14): a producer rides out a Redis restart, sends a call whose
connection broke once more, never sends a timed-out call again, and bounds how long it waits."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from ardiq_client import (
    AsyncClient,
    Client,
    EnqueueOutcome,
    InvalidOption,
    JobRequest,
    JobStatus,
    RedisUnavailable,
)
from ardiq_testing import RedisServer, silent_port

# What redis-py says when nothing listens on the port (its sync and asyncio clients word it apart).
REFUSED = (
    r"Redis is unavailable: Error 111 connecting to 127\.0\.0\.1:\d+\. "
    r"(Connection refused|Connect call failed)"
)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own that it can stop and start again on the same port."""
    with RedisServer() as server:
        yield server


@pytest.fixture
def own_inspector(own_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(own_redis.url)
    yield client
    client.close()


@contextmanager
def writes_paused(inspector: redis.Redis) -> Iterator[None]:
    """Redis holds every write (and every script that writes) until the block ends."""
    inspector.client_pause(60_000, all=False)
    try:
        yield
    finally:
        inspector.client_unpause()


def paused_client_id(inspector: redis.Redis) -> str:
    """The id of the client whose EVALSHA Redis holds; waits until there is one."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entries: list[dict[str, Any]] = inspector.client_list()
        for entry in entries:
            if entry.get("cmd") == "evalsha" and "b" in entry.get("flags", ""):
                return str(entry["id"])
        time.sleep(0.01)
    raise AssertionError("no EVALSHA was held by the pause")


def connections_received(inspector: redis.Redis) -> int:
    stats: dict[str, Any] = inspector.info("stats")
    return int(stats["total_connections_received"])


async def test_the_async_client_rides_out_a_redis_restart(own_redis: RedisServer) -> None:
    async with AsyncClient.from_url(own_redis.url, queue="restart") as client:
        assert (await client.send("t")).outcome is EnqueueOutcome.QUEUED
        own_redis.stop()
        with pytest.raises(RedisUnavailable, match=REFUSED):
            await client.send("t")
        with pytest.raises(RedisUnavailable, match=REFUSED):
            await client.status("any")
        own_redis.start()
        job = await client.send("t")
        assert job.outcome is EnqueueOutcome.QUEUED
        assert await job.status() is JobStatus.QUEUED


def test_the_blocking_client_rides_out_a_redis_restart(
    own_redis: RedisServer, own_inspector: redis.Redis
) -> None:
    with Client.from_url(own_redis.url, queue="restart") as client:
        assert client.send("t").outcome is EnqueueOutcome.QUEUED
        own_inspector.shutdown(nosave=True)
        own_redis.stop()
        with pytest.raises(RedisUnavailable, match=REFUSED):
            client.send_many([JobRequest("t"), JobRequest("t")])
        own_redis.start()
        jobs = client.send_many([JobRequest("t"), JobRequest("t")])
        assert [job.outcome for job in jobs] == [EnqueueOutcome.QUEUED] * 2
        assert client.abort(jobs[0].id).value == "abort_requested"


async def test_a_call_whose_connection_breaks_is_sent_once_more(
    own_redis: RedisServer, own_inspector: redis.Redis
) -> None:
    async with AsyncClient.from_url(own_redis.url, queue="broken") as client:
        with writes_paused(own_inspector):
            sending = asyncio.create_task(client.send("t", job_id="once"))
            own_inspector.client_kill_filter(_id=await asyncio.to_thread(paused_client_id, own_inspector))
        job = await sending
    assert job.outcome is EnqueueOutcome.QUEUED
    assert own_inspector.xlen("ardiq:{broken}:stream:5") == 1


def test_a_batch_whose_connection_breaks_is_sent_once_more(
    own_redis: RedisServer, own_inspector: redis.Redis
) -> None:
    with Client.from_url(own_redis.url, queue="broken") as client, ThreadPoolExecutor(1) as thread:
        with writes_paused(own_inspector):
            sending = thread.submit(client.send_many, [JobRequest("t"), JobRequest("t"), JobRequest("t")])
            own_inspector.client_kill_filter(_id=paused_client_id(own_inspector))
        jobs = sending.result()
    assert [job.outcome for job in jobs] == [EnqueueOutcome.QUEUED] * 3
    assert own_inspector.xlen("ardiq:{broken}:stream:5") == 3


async def test_a_timed_out_call_is_reported_and_not_sent_again(
    own_redis: RedisServer, own_inspector: redis.Redis
) -> None:
    async with AsyncClient.from_url(own_redis.url, queue="slow", command_timeout_s=0.2) as client:
        before = connections_received(own_inspector)
        with (
            writes_paused(own_inspector),
            pytest.raises(RedisUnavailable, match="Redis timed out: Timeout reading"),
        ):
            await client.send("t")
        # Sending it again would have taken a new connection: redis-py drops a timed-out one.
        assert connections_received(own_inspector) == before
        assert (await client.send("t")).outcome is EnqueueOutcome.QUEUED


def test_the_blocking_client_waits_five_seconds_for_a_reply_by_default(
    own_redis: RedisServer, own_inspector: redis.Redis
) -> None:
    with Client.from_url(own_redis.url, queue="slow") as client:
        with (
            writes_paused(own_inspector),
            pytest.raises(RedisUnavailable, match="Redis timed out: Timeout reading"),
        ):
            client.send("t")
        assert client.send("t").outcome is EnqueueOutcome.QUEUED


async def test_a_connect_that_gets_no_answer_times_out() -> None:
    with silent_port() as port:
        client = AsyncClient.from_url(f"redis://127.0.0.1:{port}/0", connect_timeout_s=0.2)
        with pytest.raises(RedisUnavailable, match="Redis timed out: Timeout connecting to server"):
            await client.connect()
        await client.close()


def test_the_blocking_client_waits_two_seconds_to_connect_by_default() -> None:
    with silent_port() as port:
        client = Client.from_url(f"redis://127.0.0.1:{port}/0")
        with pytest.raises(RedisUnavailable, match="Redis timed out: Timeout connecting to server"):
            client.connect()
        client.close()


@pytest.mark.parametrize("timeout", [0, -1.0, math.inf, math.nan, True, "5"])
@pytest.mark.parametrize("option", ["connect_timeout_s", "command_timeout_s"])
def test_a_timeout_that_is_not_a_positive_number_is_invalid(
    redis_url: str, option: str, timeout: Any
) -> None:
    with pytest.raises(InvalidOption, match=option):
        Client.from_url(redis_url, **{option: timeout})
    with pytest.raises(InvalidOption, match=option):
        AsyncClient.from_url(redis_url, **{option: timeout})


@pytest.mark.parametrize("option", ["socket_timeout", "socket_connect_timeout"])
def test_redis_py_timeouts_are_refused_in_favour_of_the_clients_own(redis_url: str, option: str) -> None:
    options: dict[str, Any] = {option: 1.0}
    with pytest.raises(TypeError, match="connect_timeout_s and command_timeout_s"):
        Client.from_url(redis_url, **options)

"""Waiting for results without polling (SPEC.md section 15), in both clients.

`result()` registers with wait.lua, reads the status once, again on each
``done:<id>`` message and every second anyway; every wait of a client shares
one subscription. The worker's side (finish.lua storing the result, then
telling the waiters) is played by the test. Each test runs against a
redis-server of its own, so ``INFO commandstats`` counts only the client's
commands; one body runs for the async and for the blocking client.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from ardiq_client import AbortOutcome, AsyncClient, Client, JobAborted, ResultTimeout, scripts
from ardiq_client._proto import records_pb2
from ardiq_client.keys import QueueKeys
from ardiq_client.values import encode_value
from ardiq_client.waiting import FALLBACK_POLL_S
from ardiq_testing import RedisServer

QUEUE = "waiting"
KEYS = QueueKeys(QUEUE)


@dataclass
class Producer:
    """One of the two clients behind the same awaitable calls (the blocking one in a thread)."""

    send: Callable[..., Awaitable[str]]
    result: Callable[[str, float | None], Awaitable[Any]]
    abort: Callable[[str], Awaitable[AbortOutcome]]


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def inspector(own_redis: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(own_redis.url)
    # The scripts are cached, so every call of the client is one EVALSHA.
    for script in scripts.PRODUCER:
        client.script_load(script.source)
    yield client
    client.close()


@pytest.fixture(params=["async", "blocking"])
async def producer(request: pytest.FixtureRequest, own_redis: RedisServer) -> AsyncIterator[Producer]:
    if request.param == "async":
        async with AsyncClient.from_url(own_redis.url, queue=QUEUE) as client:

            async def send_async(*args: Any, **options: Any) -> str:
                return (await client.send(*args, **options)).id

            yield Producer(send_async, client.result, client.abort)
    else:
        # A thread per waiting call: the blocking client is shared by many threads.
        threads = ThreadPoolExecutor(max_workers=64)
        loop = asyncio.get_running_loop()

        def in_thread(call: Callable[..., Any], *args: Any, **options: Any) -> Awaitable[Any]:
            return loop.run_in_executor(threads, functools.partial(call, *args, **options))

        with Client.from_url(own_redis.url, queue=QUEUE) as blocking:

            async def send(*args: Any, **options: Any) -> str:
                job = await in_thread(blocking.send, *args, **options)
                return str(job.id)

            async def result(job_id: str, timeout_s: float | None) -> Any:
                return await in_thread(blocking.result, job_id, timeout_s)

            async def abort(job_id: str) -> AbortOutcome:
                outcome: AbortOutcome = await in_thread(blocking.abort, job_id)
                return outcome

            yield Producer(send, result, abort)
        threads.shutdown()


def wait_calls(inspector: redis.Redis) -> tuple[int, int]:
    """(registrations, status reads) since the last ``CONFIG RESETSTAT``: wait.lua is the only
    script that runs ZCARD, and every other EVALSHA of a waiting client is a status read."""
    stats: dict[str, Any] = inspector.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): int(entry["calls"]) for name, entry in stats.items()}
    assert "eval" not in calls
    registrations = calls.get("zcard", 0)
    return registrations, calls.get("evalsha", 0) - registrations


async def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 10
    while not check():
        assert time.monotonic() < deadline, f"never: {what}"
        await asyncio.sleep(0.005)


def registered(inspector: redis.Redis, job_id: str) -> Callable[[], bool]:
    return lambda: inspector.zscore(KEYS.waiters, job_id) is not None


def subscribers(inspector: redis.Redis) -> int:
    counts: list[tuple[bytes | str, int]] = inspector.pubsub_numsub(KEYS.events)
    return dict(counts)[KEYS.events.encode()]


def finish(inspector: redis.Redis, job_id: str, value: object, *, tell: bool = True) -> None:
    """What finish.lua does for a job someone waits on: stores the result, and for a wait that
    has not passed publishes ``done:<id>`` and removes it. `tell=False` is a worker that did
    not know of the wait."""
    record = records_pb2.Status(
        spec_version="1.0", state=records_pb2.STATE_COMPLETE, value=encode_value(value), attempts=1
    )
    inspector.set(KEYS.job(job_id), record.SerializeToString(), px=60_000)
    if tell and inspector.zscore(KEYS.waiters, job_id) is not None:
        inspector.publish(KEYS.events, f"done:{job_id}")
        inspector.zrem(KEYS.waiters, job_id)


async def test_a_done_message_ends_the_wait_after_exactly_two_status_reads(
    producer: Producer, inspector: redis.Redis
) -> None:
    job_id = await producer.send("add", (1, 2))
    inspector.config_resetstat()
    started = time.monotonic()
    pending = asyncio.ensure_future(producer.result(job_id, 30))
    await until(registered(inspector, job_id), "the wait is registered")
    await until(lambda: wait_calls(inspector)[1] >= 1, "the wait read the status once")
    finish(inspector, job_id, 3)
    assert await pending == 3
    # Told within the first fallback period, so no fallback read happened.
    assert time.monotonic() - started < FALLBACK_POLL_S, "the test itself took a second"
    assert wait_calls(inspector) == (1, 2)


async def test_many_waits_share_one_subscription_and_each_is_told(
    producer: Producer, inspector: redis.Redis
) -> None:
    job_ids = [await producer.send("add", (i,)) for i in range(30)]
    inspector.config_resetstat()
    pendings = [asyncio.ensure_future(producer.result(job_id, 30)) for job_id in job_ids]
    for job_id in job_ids:
        await until(registered(inspector, job_id), job_id)
    # Registered, then read once: finished before that read, a job would need no second one.
    await until(lambda: wait_calls(inspector)[1] >= len(job_ids), "every wait read the status once")
    assert subscribers(inspector) == 1
    for i, job_id in enumerate(job_ids):
        finish(inspector, job_id, i * 10)
    assert await asyncio.gather(*pendings) == [i * 10 for i in range(30)]
    assert wait_calls(inspector) == (30, 60)
    # A later wait uses the same subscription.
    late = await producer.send("add", ())
    pending = asyncio.ensure_future(producer.result(late, 30))
    await until(registered(inspector, late), "the late wait is registered")
    finish(inspector, late, "late")
    assert await pending == "late"
    pubsub_clients: list[Any] = inspector.client_list(_type="pubsub")
    assert len(pubsub_clients) == 1


async def test_a_registration_lasts_the_wait_plus_a_second_and_at_most_61_s(
    producer: Producer, inspector: redis.Redis
) -> None:
    bounded, unbounded = await producer.send("add", (1,)), await producer.send("add", (2,))
    before = time.time() * 1000
    pendings = [
        asyncio.ensure_future(producer.result(bounded, 10)),
        asyncio.ensure_future(producer.result(unbounded, None)),
    ]
    await until(registered(inspector, bounded), "the bounded wait is registered")
    await until(registered(inspector, unbounded), "the unbounded wait is registered")
    after = time.time() * 1000
    bounded_until = inspector.zscore(KEYS.waiters, bounded) or 0
    unbounded_until = inspector.zscore(KEYS.waiters, unbounded) or 0
    # The client's wall clock and its monotonic deadline round apart by a few ms at most.
    assert before + 11_000 - 50 <= bounded_until <= after + 11_000 + 50
    assert before + 61_000 - 50 <= unbounded_until <= after + 61_000 + 50
    finish(inspector, bounded, "a")
    finish(inspector, unbounded, "b")
    assert await asyncio.gather(*pendings) == ["a", "b"]
    assert inspector.zcard(KEYS.waiters) == 0


async def test_a_job_that_ended_before_the_wait_is_read_once(
    producer: Producer, inspector: redis.Redis
) -> None:
    job_id = await producer.send("add", (1,))
    finish(inspector, job_id, "early")
    inspector.config_resetstat()
    assert await producer.result(job_id, 30) == "early"
    assert wait_calls(inspector) == (1, 1)


async def test_aborting_a_scheduled_job_tells_its_waiters(producer: Producer, inspector: redis.Redis) -> None:
    job_id = await producer.send("add", (), delay_ms=3_600_000)
    inspector.config_resetstat()
    started = time.monotonic()
    pending = asyncio.ensure_future(producer.result(job_id, 30))
    await until(registered(inspector, job_id), "the wait is registered")
    assert await producer.abort(job_id) is AbortOutcome.ABORTED
    with pytest.raises(JobAborted):
        await pending
    assert time.monotonic() - started < FALLBACK_POLL_S, "the test itself took a second"
    stats: dict[str, Any] = inspector.info("commandstats")
    # wait.lua, two status reads and abort.lua; PUBLISH waiting:<deadline> and done:<id>.
    assert stats["cmdstat_evalsha"]["calls"] == 4
    assert stats["cmdstat_publish"]["calls"] == 2
    assert inspector.zcard(KEYS.waiters) == 0


async def test_a_dropped_message_costs_one_fallback_read(producer: Producer, inspector: redis.Redis) -> None:
    job_id = await producer.send("add", (1, 2))
    inspector.config_resetstat()
    pending = asyncio.ensure_future(producer.result(job_id, 30))
    await until(registered(inspector, job_id), "the wait is registered")
    # Finished before the read that follows the registration, the job would need no fallback read.
    await until(lambda: wait_calls(inspector)[1] >= 1, "the wait read the status once")
    # The wait is lost (say, to a worker that started after it): nobody is told.
    inspector.zrem(KEYS.waiters, job_id)
    finish(inspector, job_id, "late", tell=False)
    assert await pending == "late"
    assert wait_calls(inspector) == (1, 2)


async def test_a_wait_times_out_after_reading_once_a_second(
    producer: Producer, inspector: redis.Redis
) -> None:
    job_id = await producer.send("add", (1, 2))
    inspector.config_resetstat()
    with pytest.raises(ResultTimeout):
        await producer.result(job_id, 2.5)
    # At the start, after 1 s and 2 s, and at the deadline.
    assert wait_calls(inspector) == (1, 4)


async def test_a_zero_timeout_reads_once_and_registers_nothing(
    producer: Producer, inspector: redis.Redis
) -> None:
    job_id = await producer.send("add", (1, 2))
    inspector.config_resetstat()
    with pytest.raises(ResultTimeout):
        await producer.result(job_id, 0)
    assert wait_calls(inspector) == (0, 1)
    assert inspector.zcard(KEYS.waiters) == 0


async def test_a_wait_whose_subscription_broke_subscribes_and_registers_again(
    producer: Producer, inspector: redis.Redis
) -> None:
    job_id = await producer.send("add", (1, 2))
    inspector.config_resetstat()
    pending = asyncio.ensure_future(producer.result(job_id, 30))
    await until(registered(inspector, job_id), "the wait is registered")
    inspector.zrem(KEYS.waiters, job_id)
    inspector.client_kill_filter(_type="pubsub")
    # Messages may have been missed: the next fallback read subscribes and registers first.
    await until(registered(inspector, job_id), "the wait is registered again")
    finish(inspector, job_id, "after")
    assert await pending == "after"
    registrations, _ = wait_calls(inspector)
    assert registrations == 2
    assert subscribers(inspector) == 1


async def test_a_message_for_a_job_that_has_not_ended_does_not_cut_the_wait_short(
    producer: Producer, inspector: redis.Redis
) -> None:
    job_id = await producer.send("add", (1, 2))
    inspector.config_resetstat()
    pending = asyncio.ensure_future(producer.result(job_id, 0.8))
    await until(registered(inspector, job_id), "the wait is registered")
    # A message is a hint: the job is still queued, so the wait goes on to its deadline.
    inspector.publish(KEYS.events, f"done:{job_id}")
    await asyncio.sleep(0.2)
    finish(inspector, job_id, "in time", tell=False)
    assert await pending == "in time"
    # At the start, when told, and at the deadline.
    assert wait_calls(inspector) == (1, 3)

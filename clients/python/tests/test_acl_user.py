"""A producer needs no more than SPEC.md section 13 grants it: a Redis ACL user with exactly the
producer's list, read from SPEC.md itself, enqueues, reads status and aborts, and Redis denies
it nothing (its ACL LOG stays empty). With the 1.1 commands for waiting its waits are told when
jobs end; without them they poll."""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from ardiq_client import AbortOutcome, AsyncClient, Client, EnqueueOutcome, JobRequest, JobStatus
from ardiq_client._proto import records_pb2
from ardiq_client.values import encode_value

SPEC = Path(__file__).resolve().parents[3] / "spec" / "SPEC.md"


def producer_rules() -> list[str]:
    """The ``-@all +ping ...`` rules of the producer's ``ACL SETUSER`` in SPEC.md section 13."""
    block = re.search(r"A producer:\s*```\s*ACL SETUSER producer (.*?)```", SPEC.read_text(), re.S)
    assert block is not None, "SPEC.md section 13 has no producer ACL block"
    return [rule for rule in block.group(1).split() if rule[0] in "+-"]


def waiting_rules() -> list[str]:
    """The commands SPEC.md section 13 adds for a producer that waits for results (1.1)."""
    sentence = re.search(
        r"a producer that waits for results is told when\s+they end only with ([^(]*)", SPEC.read_text()
    )
    assert sentence is not None, "SPEC.md section 13 names no commands for waiting producers"
    return [rule for quoted in re.findall(r"`([^`]+)`", sentence.group(1)) for rule in quoted.split()]


def create_producer(
    inspector: redis.Redis, name: str, password: str, queue: str, extra: list[str] | None = None
) -> None:
    """An ACL user with the producer's rules on `queue`, as SPEC.md writes them."""
    command: Callable[..., Any] = inspector.execute_command
    head = ["on", f">{password}", "resetkeys", f"~ardiq:{{{queue}}}:*", "resetchannels"]
    rules = [*head, f"&ardiq:{{{queue}}}:events", *producer_rules(), *(extra or [])]
    try:
        command("ACL", "SETUSER", name, *rules)
    except redis.exceptions.ResponseError as error:
        # CLIENT SETINFO came with Redis 7.2; an older Redis refuses to name it in a rule.
        # Leaving it out grants less, never more.
        if "'+client|setinfo'" not in str(error):
            raise
        command("ACL", "SETUSER", name, *(rule for rule in rules if rule != "+client|setinfo"))


@pytest.fixture
def producer_url(redis_url: str, inspector: redis.Redis, queue: str) -> Iterator[str]:
    """A URL with an ACL user that has exactly the producer's rights on `queue`."""
    name, password = f"producer-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    create_producer(inspector, name, password, queue)
    inspector.acl_log_reset()
    yield redis_url.replace("redis://", f"redis://{name}:{password}@", 1)
    inspector.acl_deluser(name)


@pytest.fixture
def waiting_producer_url(redis_url: str, inspector: redis.Redis, queue: str) -> Iterator[str]:
    """A URL with an ACL user that has the producer's rights and those for waiting on `queue`."""
    name, password = f"waiter-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    create_producer(inspector, name, password, queue, waiting_rules())
    inspector.acl_log_reset()
    yield redis_url.replace("redis://", f"redis://{name}:{password}@", 1)
    inspector.acl_deluser(name)


def denials(inspector: redis.Redis) -> list[Any]:
    """What Redis refused since the user was made: each entry names the command or key."""
    entries: list[Any] = inspector.acl_log()
    return entries


def test_the_rule_list_is_read_from_the_spec() -> None:
    rules = producer_rules()
    assert rules[0] == "-@all"
    assert {"+evalsha", "+eval", "+script|load", "+publish"} <= set(rules)


async def test_a_producer_user_enqueues_reads_status_and_aborts(
    producer_url: str, inspector: redis.Redis, queue: str
) -> None:
    async with AsyncClient.from_url(producer_url, queue=queue) as client:
        queued = await client.send("t", (1,))
        scheduled = await client.send("t", delay_ms=60_000)
        # An empty script cache makes the client fall back to EVAL.
        inspector.script_flush()
        batch = await client.send_many([JobRequest("t"), JobRequest("t", job_id=queued.id)])
        assert [queued.outcome, scheduled.outcome] == [EnqueueOutcome.QUEUED, EnqueueOutcome.SCHEDULED]
        assert [job.outcome for job in batch] == [EnqueueOutcome.QUEUED, EnqueueOutcome.DUPLICATE]
        assert await queued.status() is JobStatus.QUEUED
        assert await scheduled.status() is JobStatus.SCHEDULED
        assert await client.status("never-enqueued") is JobStatus.NOT_FOUND
        assert await scheduled.abort() is AbortOutcome.ABORTED
        assert await queued.abort() is AbortOutcome.ABORT_REQUESTED
        assert await scheduled.status() is JobStatus.ABORTED
    assert denials(inspector) == []


def test_a_producer_user_works_the_blocking_client(
    producer_url: str, inspector: redis.Redis, queue: str
) -> None:
    with Client.from_url(producer_url, queue=queue) as client:
        inspector.script_flush()
        job = client.send("t", delay_ms=60_000)
        assert job.status() is JobStatus.SCHEDULED
        assert job.abort(result_ttl_ms=0) is AbortOutcome.ABORTED
        assert job.status() is JobStatus.NOT_FOUND
    assert denials(inspector) == []


def finish_later(inspector: redis.Redis, queue: str, job_id: str, value: object, delay_s: float) -> None:
    """After `delay_s`, stores a COMPLETE status for the job as a worker does, telling a waiter."""
    time.sleep(delay_s)
    record = records_pb2.Status(
        spec_version="1.0", state=records_pb2.STATE_COMPLETE, value=encode_value(value)
    )
    inspector.set(f"ardiq:{{{queue}}}:job:{job_id}", record.SerializeToString(), px=60_000)
    if inspector.zscore(f"ardiq:{{{queue}}}:waiters", job_id) is not None:
        inspector.publish(f"ardiq:{{{queue}}}:events", f"done:{job_id}")


def test_the_waiting_list_is_read_from_the_spec() -> None:
    assert sorted(waiting_rules()) == ["+subscribe", "+unsubscribe", "+zcard", "+zremrangebyscore"]


async def test_a_producer_with_the_waiting_list_is_told_when_its_jobs_end(
    waiting_producer_url: str, inspector: redis.Redis, queue: str
) -> None:
    async with AsyncClient.from_url(waiting_producer_url, queue=queue) as client:
        jobs = [await client.send("t", (i,)) for i in range(3)]
        pending = asyncio.gather(*(job.result(timeout_s=30) for job in jobs))
        deadline = time.monotonic() + 10
        while inspector.zcard(f"ardiq:{{{queue}}}:waiters") < len(jobs):
            assert time.monotonic() < deadline, "the waits were never registered"
            await asyncio.sleep(0.005)
        for i, job in enumerate(jobs):
            finish_later(inspector, queue, job.id, i, 0)
        assert await pending == [0, 1, 2]
    with Client.from_url(waiting_producer_url, queue=queue) as blocking:
        blocking_job = blocking.send("t")
        threading.Thread(target=finish_later, args=(inspector, queue, blocking_job.id, "told", 0.3)).start()
        assert blocking_job.result(timeout_s=30) == "told"
    assert denials(inspector) == []


async def test_a_producer_without_the_waiting_list_polls_and_is_refused_subscribe_once(
    producer_url: str, inspector: redis.Redis, queue: str
) -> None:
    async with AsyncClient.from_url(producer_url, queue=queue) as client:
        jobs = [await client.send("t", (i,)) for i in range(3)]
        finishing = [
            asyncio.to_thread(finish_later, inspector, queue, job.id, i, 0.3) for i, job in enumerate(jobs)
        ]
        results, *_ = await asyncio.gather(
            asyncio.gather(*(job.result(timeout_s=30) for job in jobs)), *finishing
        )
        assert results == [0, 1, 2]
        assert inspector.exists(f"ardiq:{{{queue}}}:waiters") == 0
    with Client.from_url(producer_url, queue=queue) as blocking:
        blocking_job = blocking.send("t")
        threading.Thread(target=finish_later, args=(inspector, queue, blocking_job.id, "polled", 0.3)).start()
        assert blocking_job.result(timeout_s=30) == "polled"
    refused = [(entry["reason"], entry["object"]) for entry in denials(inspector)]
    # One refusal per client: each then polls without asking again.
    assert [entry for entry in refused if entry != ("command", "subscribe")] == []
    assert sum(entry["count"] for entry in denials(inspector)) == 2

"""Status, result and abort (SPEC.md sections 6 and 8).

A worker's side is played by writing what the spec says a worker writes:
a `running` hash field, or a terminal `Status` record at the status key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from ardiq_client import (
    AbortOutcome,
    AsyncClient,
    JobAborted,
    JobDead,
    JobExpired,
    JobFailed,
    JobNotFound,
    JobStatus,
    Progress,
    ResultTimeout,
)
from ardiq_client._proto import records_pb2
from ardiq_client.values import encode_value
from redis_view import value_of


def finish(inspector: redis.Redis, queue: str, job_id: str, record: records_pb2.Status) -> None:
    # A record with a field added in 1.1 says so (SPEC.md section 12).
    new = record.state == records_pb2.STATE_EXPIRED or record.HasField("progress")
    record.spec_version = "1.1" if new else "1.0"
    inspector.set(f"ardiq:{{{queue}}}:job:{job_id}", record.SerializeToString(), px=60_000)


async def test_status_of_an_unknown_job_is_not_found(client: AsyncClient) -> None:
    assert await client.status("never-enqueued") is JobStatus.NOT_FOUND


async def test_status_follows_the_job_through_its_states(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("add", (1, 2))
    assert await job.status() is JobStatus.QUEUED
    inspector.hset(f"ardiq:{{{queue}}}:running", job.id, "worker-1")
    assert await job.status() is JobStatus.RUNNING
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_COMPLETE, value=b"\x03"))
    assert await job.status() is JobStatus.COMPLETE


async def test_result_returns_the_decoded_value(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("echo", ({"a": [1, b"x"]},))
    value = encode_value({"a": [1, b"x"]})
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_COMPLETE, value=value))
    assert await job.result(timeout_s=5) == {"a": [1, b"x"]}


async def test_result_raises_job_failed_with_the_remote_error(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("fail")
    error = records_pb2.Error(type="ValueError", message="bad input", traceback="Traceback ...")
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_FAILED, error=error))
    with pytest.raises(JobFailed) as raised:
        await job.result(timeout_s=5)
    assert (raised.value.remote_type, raised.value.remote_message) == ("ValueError", "bad input")
    assert raised.value.remote_traceback == "Traceback ..."
    assert str(raised.value) == "ValueError: bad input"


async def test_result_of_a_dead_job_raises_job_dead(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("nope")
    error = records_pb2.Error(type="DeadLetter", message="unknown_task: no task named 'nope'")
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_DEAD, error=error))
    assert await job.status() is JobStatus.DEAD
    with pytest.raises(JobDead, match="unknown_task"):
        await job.result(timeout_s=5)


async def test_result_of_an_unfinished_job_times_out(client: AsyncClient) -> None:
    job = await client.send("slow")
    with pytest.raises(ResultTimeout) as raised:
        await job.result(timeout_s=0.05)
    assert isinstance(raised.value, TimeoutError)


async def test_result_of_an_unknown_job_raises_not_found(client: AsyncClient) -> None:
    with pytest.raises(JobNotFound):
        await client.result("never-enqueued", timeout_s=1)


async def test_abort_of_a_scheduled_job_aborts_it_at_once(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("later", delay_ms=60_000)
    assert await job.abort() is AbortOutcome.ABORTED
    assert await job.status() is JobStatus.ABORTED
    assert inspector.zscore(f"ardiq:{{{queue}}}:delayed", job.id) is None
    assert inspector.hget(f"ardiq:{{{queue}}}:delayed:jobs", job.id) is None
    record = records_pb2.Status()
    record.ParseFromString(value_of(inspector, f"ardiq:{{{queue}}}:job:{job.id}"))
    assert record.error.type == "JobAborted"
    assert record.error.message == "aborted before it ran"
    assert record.finished_ms > 0
    assert 0 < inspector.pttl(f"ardiq:{{{queue}}}:job:{job.id}") <= 86_400_000
    with pytest.raises(JobAborted):
        await job.result(timeout_s=1)


async def test_abort_with_result_ttl_zero_deletes_the_status(client: AsyncClient) -> None:
    job = await client.send("later", delay_ms=60_000)
    assert await job.abort(result_ttl_ms=0) is AbortOutcome.ABORTED
    assert await job.status() is JobStatus.NOT_FOUND


async def test_abort_of_a_queued_job_requests_it_from_the_worker(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("add")
    subscriber: Callable[[], Any] = inspector.pubsub  # untyped in redis-py
    pubsub = subscriber()
    pubsub.subscribe(f"ardiq:{{{queue}}}:events")
    assert pubsub.get_message(timeout=5) is not None  # the subscribe confirmation
    assert await job.abort() is AbortOutcome.ABORT_REQUESTED
    assert inspector.sismember(f"ardiq:{{{queue}}}:abort", job.id)
    message = pubsub.get_message(timeout=5)
    pubsub.close()
    assert message is not None
    assert message["data"] == f"abort:{job.id}".encode()
    assert await job.status() is JobStatus.QUEUED


async def test_abort_leaves_finished_and_unknown_jobs_alone(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("add")
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_COMPLETE, value=b"\xc0"))
    assert await job.abort() is AbortOutcome.COMPLETE
    assert await client.abort("never-enqueued") is AbortOutcome.NOT_FOUND
    assert await job.result(timeout_s=1) is None


async def test_job_handles_are_made_without_io(client: AsyncClient) -> None:
    sent = await client.send("t", job_id="known")
    handle = client.job("known")
    assert handle.id == sent.id
    assert handle.outcome is None
    assert await handle.status() is JobStatus.QUEUED


async def test_an_expired_job_raises_job_expired_and_abort_leaves_it_alone(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("add", expires_ms=2**41)
    error = records_pb2.Error(type="JobExpired", message="not started before its expiry at 2199023255552")
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_EXPIRED, error=error))
    assert await job.status() is JobStatus.EXPIRED
    assert JobStatus.EXPIRED.is_terminal
    with pytest.raises(JobExpired, match="not started before its expiry at 2199023255552") as raised:
        await job.result(timeout_s=5)
    assert raised.value.job_id == job.id
    assert await job.abort() is AbortOutcome.EXPIRED


PROGRESS = records_pb2.Progress(fraction=0.25, message="a quarter", updated_ms=1_700_000_000_500)


async def test_progress_is_none_until_the_job_reports_then_what_a_worker_stored(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("add", (1, 2))
    assert await job.progress() is None
    # What progress.lua stores for a running job (SPEC.md section 16).
    inspector.hset(f"ardiq:{{{queue}}}:running", job.id, "worker-1")
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_RUNNING, progress=PROGRESS))
    assert await job.status() is JobStatus.RUNNING
    assert await job.progress() == Progress(0.25, "a quarter", 1_700_000_000_500)


async def test_the_last_progress_stays_with_the_result(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("add", (1, 2))
    last = records_pb2.Progress(fraction=1.0, updated_ms=1_700_000_000_900)
    finish(
        inspector,
        queue,
        job.id,
        records_pb2.Status(state=records_pb2.STATE_COMPLETE, value=b"\x03", progress=last),
    )
    assert await job.progress() == Progress(1.0, "", 1_700_000_000_900)
    assert await job.result(timeout_s=5) == 3
    assert await client.progress("never-enqueued") is None


async def test_a_running_record_of_a_job_handed_back_reads_as_queued_with_its_progress(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("add", (1, 2))
    finish(inspector, queue, job.id, records_pb2.Status(state=records_pb2.STATE_RUNNING, progress=PROGRESS))
    assert await job.status() is JobStatus.QUEUED
    assert await job.progress() == Progress(0.25, "a quarter", 1_700_000_000_500)


async def test_abort_gets_the_waiters_key_and_the_clock(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    job = await client.send("later", delay_ms=60_000)
    # Someone waits on the job until far in the future: the abort tells them.
    inspector.zadd(f"ardiq:{{{queue}}}:waiters", {job.id: 2**45})
    subscriber: Callable[[], Any] = inspector.pubsub  # untyped in redis-py
    pubsub = subscriber()
    pubsub.subscribe(f"ardiq:{{{queue}}}:events")
    assert pubsub.get_message(timeout=5) is not None  # the subscribe confirmation
    assert await job.abort() is AbortOutcome.ABORTED
    message = pubsub.get_message(timeout=5)
    pubsub.close()
    assert message is not None
    assert message["data"] == f"done:{job.id}".encode()
    assert inspector.zcard(f"ardiq:{{{queue}}}:waiters") == 0

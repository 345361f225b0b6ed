"""Enqueueing through `AsyncClient`: the keys and records each enqueue writes (SPEC.md sections 2, 3, 7)."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from ardiq_client import (
    AsyncClient,
    EnqueueOutcome,
    InvalidDelay,
    InvalidJobId,
    InvalidPriority,
    InvalidTaskName,
    JobRequest,
    JobStatus,
    PayloadTooLarge,
    UnsupportedValue,
)
from ardiq_client._proto import records_pb2
from ardiq_client.records import STATUS_QUEUED, STATUS_SCHEDULED
from redis_view import stream_entries


def job_record(data: bytes) -> records_pb2.Job:
    record = records_pb2.Job()
    record.ParseFromString(data)
    return record


async def test_send_writes_the_status_and_one_stream_entry(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    before_ms = time.time_ns() // 1_000_000
    job = await client.send("add", (1, 2), {"scale": 1.5})
    assert job.outcome is EnqueueOutcome.QUEUED
    assert not job.duplicate
    assert inspector.get(f"ardiq:{{{queue}}}:job:{job.id}") == STATUS_QUEUED
    (fields,) = stream_entries(inspector, f"ardiq:{{{queue}}}:stream:5")
    assert list(fields) == [b"id", b"task", b"job"]
    assert fields[b"id"] == job.id.encode()
    assert fields[b"task"] == b"add"
    record = job_record(fields[b"job"])
    assert (record.spec_version, record.id, record.task) == ("1.0", job.id, "add")
    assert record.args == bytes.fromhex("920102")
    assert record.kwargs == bytes.fromhex("81a5scalecb3ff8000000000000".replace("scale", "7363616c65"))
    assert record.priority == 5
    assert record.enqueued_ms >= before_ms
    assert record.due_ms == 0
    assert not record.HasField("max_retries")
    assert sorted(inspector.keys(f"ardiq:{{{queue}}}:*")) == sorted(
        [f"ardiq:{{{queue}}}:job:{job.id}".encode(), f"ardiq:{{{queue}}}:stream:5".encode()]
    )


async def test_generated_ids_are_uuid_v7(client: AsyncClient) -> None:
    first = await client.send("noop")
    second = await client.send("noop")
    assert first.id[14] == "7"
    assert first.id < second.id


async def test_priority_selects_the_stream(client: AsyncClient, inspector: redis.Redis, queue: str) -> None:
    await client.send("urgent", priority=9)
    await client.send("lazy", priority=0)
    assert inspector.xlen(f"ardiq:{{{queue}}}:stream:9") == 1
    assert inspector.xlen(f"ardiq:{{{queue}}}:stream:0") == 1
    assert not inspector.exists(f"ardiq:{{{queue}}}:stream:5")


async def test_options_are_written_to_the_record(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    await client.send("t", max_retries=0, timeout_ms=30_000, backoff_ms=250, result_ttl_ms=0, job_id="opts")
    (fields,) = stream_entries(inspector, f"ardiq:{{{queue}}}:stream:5")
    record = job_record(fields[b"job"])
    assert record.HasField("max_retries")
    assert record.max_retries == 0
    assert (record.timeout_ms, record.backoff_ms) == (30_000, 250)
    assert record.HasField("result_ttl_ms")
    assert record.result_ttl_ms == 0


async def test_a_given_id_is_the_idempotency_key(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    first = await client.send("add", (1, 2), job_id="order-17")
    again = await client.send("add", (3, 4), job_id="order-17")
    assert first.outcome is EnqueueOutcome.QUEUED
    assert again.duplicate
    assert again.id == "order-17"
    assert inspector.xlen(f"ardiq:{{{queue}}}:stream:5") == 1


async def test_delay_schedules_the_job(client: AsyncClient, inspector: redis.Redis, queue: str) -> None:
    before_ms = time.time_ns() // 1_000_000
    job = await client.send("later", delay_ms=60_000)
    assert job.outcome is EnqueueOutcome.SCHEDULED
    assert inspector.get(f"ardiq:{{{queue}}}:job:{job.id}") == STATUS_SCHEDULED
    due = inspector.zscore(f"ardiq:{{{queue}}}:delayed", job.id)
    assert due is not None
    assert due >= before_ms + 60_000
    stored: Any = inspector.hget(f"ardiq:{{{queue}}}:delayed:jobs", job.id)
    record = job_record(stored)
    assert record.due_ms == int(due)
    assert not inspector.exists(f"ardiq:{{{queue}}}:stream:5")
    assert await job.status() is JobStatus.SCHEDULED


async def test_schedule_in_the_future_is_kept_as_given(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    due_ms = time.time_ns() // 1_000_000 + 3_600_000
    job = await client.send("later", schedule_ms=due_ms)
    assert inspector.zscore(f"ardiq:{{{queue}}}:delayed", job.id) == due_ms


async def test_schedule_in_the_past_and_zero_delay_run_now(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    past = await client.send("now", schedule_ms=1_000)
    zero = await client.send("now", delay_ms=0)
    assert past.outcome is zero.outcome is EnqueueOutcome.QUEUED
    assert inspector.xlen(f"ardiq:{{{queue}}}:stream:5") == 2
    for fields in stream_entries(inspector, f"ardiq:{{{queue}}}:stream:5"):
        assert job_record(fields[b"job"]).due_ms == 0


async def test_send_many_splits_batches_and_keeps_order(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    inspector.config_resetstat()
    jobs = await client.send_many(JobRequest("add", (i, i)) for i in range(2_345))
    assert [job.outcome for job in jobs] == [EnqueueOutcome.QUEUED] * 2_345
    entries = stream_entries(inspector, f"ardiq:{{{queue}}}:stream:5")
    assert [fields[b"id"].decode() for fields in entries] == [job.id for job in jobs]
    stats = inspector.info("commandstats")
    # One enqueue.lua call per 1,000 jobs: ceil(2345 / 1000) = 3.
    assert stats["cmdstat_evalsha"]["calls"] == 3


async def test_send_many_reports_duplicates_within_and_across_batches(client: AsyncClient) -> None:
    await client.send("t", job_id="seen")
    jobs = await client.send_many(
        [JobRequest("t", job_id="seen"), JobRequest("t", job_id="new"), JobRequest("t", job_id="new")]
    )
    assert [job.outcome for job in jobs] == [
        EnqueueOutcome.DUPLICATE,
        EnqueueOutcome.QUEUED,
        EnqueueOutcome.DUPLICATE,
    ]


async def test_an_invalid_job_in_a_batch_writes_nothing(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    with pytest.raises(UnsupportedValue, match=r"args\[0\]"):
        await client.send_many([JobRequest("ok", (1,)), JobRequest("bad", ({1, 2},))])
    assert inspector.keys(f"ardiq:{{{queue}}}:*") == []


async def test_send_many_of_nothing_sends_nothing(client: AsyncClient) -> None:
    assert await client.send_many([]) == []


async def test_scripts_are_loaded_again_after_a_flush(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    inspector.script_flush()
    assert (await client.send("one")).outcome is EnqueueOutcome.QUEUED
    inspector.script_flush()
    jobs = await client.send_many([JobRequest("two"), JobRequest("three")])
    assert [job.outcome for job in jobs] == [EnqueueOutcome.QUEUED] * 2
    assert inspector.xlen(f"ardiq:{{{queue}}}:stream:5") == 3


@pytest.mark.parametrize(
    ("request_", "error"),
    [
        (JobRequest(""), InvalidTaskName),
        (JobRequest("t" * 257), InvalidTaskName),
        (JobRequest("t", job_id=""), InvalidJobId),
        (JobRequest("t", job_id="a b"), InvalidJobId),
        (JobRequest("t", job_id="x" * 257), InvalidJobId),
        (JobRequest("t", priority=10), InvalidPriority),
        (JobRequest("t", priority=-1), InvalidPriority),
        (JobRequest("t", priority=True), InvalidPriority),
        (JobRequest("t", delay_ms=-1), InvalidDelay),
        (JobRequest("t", delay_ms=1, schedule_ms=1), InvalidDelay),
        (JobRequest("t", (b"a" * 1_048_576,)), PayloadTooLarge),
        (JobRequest("t", (2**63,)), UnsupportedValue),
    ],
)
async def test_invalid_requests_raise_typed_errors_and_write_nothing(
    client: AsyncClient, inspector: redis.Redis, queue: str, request_: JobRequest, error: type[Exception]
) -> None:
    with pytest.raises(error):
        await client.send_many([request_])
    assert inspector.keys(f"ardiq:{{{queue}}}:*") == []


async def test_an_expiring_job_carries_expires_ms_in_a_1_1_record_under_the_1_0_status(
    client: AsyncClient, inspector: redis.Redis, queue: str
) -> None:
    expires_ms = time.time_ns() // 1_000_000 + 60_000
    job = await client.send("add", (1, 2), expires_ms=expires_ms)
    (fields,) = stream_entries(inspector, f"ardiq:{{{queue}}}:stream:5")
    record = job_record(fields[b"job"])
    assert (record.spec_version, record.expires_ms) == ("1.1", expires_ms)
    assert inspector.get(f"ardiq:{{{queue}}}:job:{job.id}") == STATUS_QUEUED
    later = await client.send("add", delay_ms=1_000, expires_ms=expires_ms)
    delayed: Any = inspector.hget(f"ardiq:{{{queue}}}:delayed:jobs", later.id)
    assert job_record(delayed).expires_ms == expires_ms

"""The blocking `Client` offers the same behaviour as `AsyncClient`."""

from __future__ import annotations

import pytest
import redis
from ardiq_client import (
    AbortOutcome,
    Client,
    EnqueueOutcome,
    InvalidPriority,
    JobAborted,
    JobExpired,
    JobFailed,
    JobRequest,
    JobStatus,
    Progress,
    ResultTimeout,
)
from ardiq_client._proto import records_pb2
from ardiq_client.records import STATUS_QUEUED
from redis_view import stream_entries


def test_send_writes_the_status_and_one_stream_entry(
    sync_client: Client, inspector: redis.Redis, queue: str
) -> None:
    job = sync_client.send("add", [1, 2], priority=7)
    assert job.outcome is EnqueueOutcome.QUEUED
    assert inspector.get(f"ardiq:{{{queue}}}:job:{job.id}") == STATUS_QUEUED
    (fields,) = stream_entries(inspector, f"ardiq:{{{queue}}}:stream:7")
    assert (fields[b"id"], fields[b"task"]) == (job.id.encode(), b"add")
    assert job.status() is JobStatus.QUEUED


def test_duplicates_and_batches(sync_client: Client, inspector: redis.Redis, queue: str) -> None:
    jobs = sync_client.send_many([JobRequest("t", job_id="a"), JobRequest("t", job_id="a"), JobRequest("u")])
    assert [job.outcome for job in jobs] == [
        EnqueueOutcome.QUEUED,
        EnqueueOutcome.DUPLICATE,
        EnqueueOutcome.QUEUED,
    ]
    assert jobs[1].duplicate
    assert inspector.xlen(f"ardiq:{{{queue}}}:stream:5") == 2


def test_scripts_are_loaded_again_after_a_flush(sync_client: Client, inspector: redis.Redis) -> None:
    inspector.script_flush()
    assert sync_client.send("one").outcome is EnqueueOutcome.QUEUED
    inspector.script_flush()
    assert [job.outcome for job in sync_client.send_many([JobRequest("two")])] == [EnqueueOutcome.QUEUED]


def test_result_failure_and_timeout(sync_client: Client, inspector: redis.Redis, queue: str) -> None:
    done = sync_client.send("add", (1, 2))
    failed = sync_client.send("fail")
    with pytest.raises(ResultTimeout):
        done.result(timeout_s=0.02)
    inspector.set(
        f"ardiq:{{{queue}}}:job:{done.id}",
        records_pb2.Status(
            spec_version="1.0", state=records_pb2.STATE_COMPLETE, value=b"\x03"
        ).SerializeToString(),
    )
    error = records_pb2.Error(type="KeyError", message="'x'", traceback="tb")
    inspector.set(
        f"ardiq:{{{queue}}}:job:{failed.id}",
        records_pb2.Status(
            spec_version="1.0", state=records_pb2.STATE_FAILED, error=error
        ).SerializeToString(),
    )
    assert done.result(timeout_s=5) == 3
    with pytest.raises(JobFailed) as raised:
        failed.result(timeout_s=5)
    assert raised.value.remote_type == "KeyError"


def test_abort_of_a_scheduled_job(sync_client: Client) -> None:
    job = sync_client.send("later", schedule_ms=2**45)
    assert job.status() is JobStatus.SCHEDULED
    assert job.abort() is AbortOutcome.ABORTED
    with pytest.raises(JobAborted):
        job.result(timeout_s=1)


def test_invalid_input_raises_before_any_io(sync_client: Client, inspector: redis.Redis, queue: str) -> None:
    with pytest.raises(InvalidPriority):
        sync_client.send("t", priority=11)
    assert inspector.keys(f"ardiq:{{{queue}}}:*") == []


def test_expiry_progress_and_an_expired_result(
    sync_client: Client, inspector: redis.Redis, queue: str
) -> None:
    job = sync_client.send("add", expires_ms=2**41)
    (fields,) = stream_entries(inspector, f"ardiq:{{{queue}}}:stream:5")
    record = records_pb2.Job()
    record.ParseFromString(fields[b"job"])
    assert (record.spec_version, record.expires_ms) == ("1.1", 2**41)
    assert job.progress() is None
    progress = records_pb2.Progress(fraction=0.5, message="half", updated_ms=7)
    running = records_pb2.Status(spec_version="1.1", state=records_pb2.STATE_RUNNING, progress=progress)
    inspector.set(f"ardiq:{{{queue}}}:job:{job.id}", running.SerializeToString())
    assert job.progress() == Progress(0.5, "half", 7)
    expired = records_pb2.Status(spec_version="1.1", state=records_pb2.STATE_EXPIRED, progress=progress)
    inspector.set(f"ardiq:{{{queue}}}:job:{job.id}", expired.SerializeToString())
    assert job.status() is JobStatus.EXPIRED
    with pytest.raises(JobExpired):
        job.result(timeout_s=5)
    assert job.abort() is AbortOutcome.EXPIRED

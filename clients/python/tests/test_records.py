"""Record encodings, the protobuf records module and its generated files, the embedded scripts and job ids."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ardiq_client import scripts
from ardiq_client._proto import records_pb2
from ardiq_client.job_id import new_job_id
from ardiq_client.records import (
    STATUS_QUEUED,
    STATUS_SCHEDULED,
    Progress,
    decode_status,
    encode_aborted_status,
    encode_job,
)

REPOSITORY = Path(__file__).resolve().parents[3]
GENERATOR = REPOSITORY / "clients" / "python" / "generate_proto.py"


def test_producer_status_constants_match_the_spec() -> None:
    assert STATUS_QUEUED.hex() == "0a03312e301001"
    assert STATUS_SCHEDULED.hex() == "0a03312e301002"
    assert (
        records_pb2.Status(spec_version="1.0", state=records_pb2.STATE_QUEUED).SerializeToString()
        == STATUS_QUEUED
    )


def test_aborted_status_is_the_spec_record() -> None:
    expected = records_pb2.Status(
        spec_version="1.0",
        state=records_pb2.STATE_ABORTED,
        error=records_pb2.Error(type="JobAborted", message="aborted before it ran"),
        finished_ms=1_700_000_000_000,
    )
    assert encode_aborted_status(1_700_000_000_000) == expected.SerializeToString()
    assert decode_status(encode_aborted_status(1)).error is not None


def test_typical_job_record_bytes() -> None:
    record = encode_job(
        job_id="job-1", task="add", args=b"\x92\x01\x02", kwargs=b"", priority=5,
        enqueued_ms=1_700_000_000_000, due_ms=0,
    )  # fmt: skip
    assert record.hex() == "0a03312e3012056a6f622d311a03616464220392010230053880d095ffbc31"


JOB_CASES = list(
    itertools.product(
        [b"", b"\x91\x01", b"\xc4" + bytes(200)],
        [0, 5, 9],
        [0, 1, 2**62],
        [(None, None, None, None), (0, 0, 0, 0), (2**32 - 1, 2**64 - 1, 300, 2**63)],
        [None, 1, 2**62],
    )
)


@pytest.mark.parametrize(("args", "priority", "due_ms", "overrides", "expires_ms"), JOB_CASES)
def test_job_encoder_matches_the_protobuf_runtime(
    args: bytes,
    priority: int,
    due_ms: int,
    overrides: tuple[int | None, int | None, int | None, int | None],
    expires_ms: int | None,
) -> None:
    max_retries, timeout_ms, backoff_ms, result_ttl_ms = overrides
    job_id, task, enqueued_ms = "zamówienie-" + "x" * 150, "żółw.run", 1_700_000_000_000
    # A record with a field added in 1.1 says so (SPEC.md section 12).
    version = "1.0" if expires_ms is None else "1.1"
    reference = records_pb2.Job(
        spec_version=version, id=job_id, task=task, args=args, kwargs=args, priority=priority,
        enqueued_ms=enqueued_ms, due_ms=due_ms, max_retries=max_retries, timeout_ms=timeout_ms,
        backoff_ms=backoff_ms, result_ttl_ms=result_ttl_ms, expires_ms=expires_ms,
    )  # fmt: skip
    encoded = encode_job(
        job_id=job_id, task=task, args=args, kwargs=args, priority=priority, enqueued_ms=enqueued_ms,
        due_ms=due_ms, max_retries=max_retries, timeout_ms=timeout_ms, backoff_ms=backoff_ms,
        result_ttl_ms=result_ttl_ms, expires_ms=expires_ms,
    )  # fmt: skip
    assert encoded == reference.SerializeToString()


def test_decode_status_reads_the_progress_of_a_running_record() -> None:
    record = records_pb2.Status(
        spec_version="1.1",
        state=records_pb2.STATE_RUNNING,
        attempts=1,
        worker_id="w-1",
        progress=records_pb2.Progress(fraction=0.5, message="half", updated_ms=1_700_000_000_002),
    )
    decoded = decode_status(record.SerializeToString())
    assert decoded.state == records_pb2.STATE_RUNNING
    assert decoded.progress == Progress(0.5, "half", 1_700_000_000_002)
    assert decode_status(
        records_pb2.Status(progress=records_pb2.Progress()).SerializeToString()
    ).progress == (Progress(0.0, "", 0))
    assert decode_status(STATUS_QUEUED).progress is None


def test_decode_status_reads_an_expired_record() -> None:
    record = records_pb2.Status(
        spec_version="1.1",
        state=records_pb2.STATE_EXPIRED,
        error=records_pb2.Error(type="JobExpired", message="not started before its expiry at 5"),
    )
    decoded = decode_status(record.SerializeToString())
    assert (decoded.state, records_pb2.STATE_EXPIRED) == (8, 8)
    assert decoded.error is not None
    assert decoded.error.type == "JobExpired"


def test_decode_status_ignores_unknown_fields() -> None:
    record = decode_status(bytes.fromhex("0a03312e301001980601"))
    assert (record.spec_version, record.state) == ("1.0", 1)


def test_generated_protobuf_files_match_protoc_output() -> None:
    # grpcio-tools is a pinned development dependency; its protoc writes the files we commit.
    done = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_records_module_builds_every_message_and_state_of_the_proto() -> None:
    names = sorted(records_pb2.DESCRIPTOR.message_types_by_name)
    assert names == [
        "DeadLetter", "Error", "Failure", "Heartbeat", "Job", "Progress", "Status",
    ]  # fmt: skip
    for name in names:
        assert getattr(records_pb2, name).DESCRIPTOR.full_name == f"ardiq.v1.{name}"
    states = records_pb2.DESCRIPTOR.enum_types_by_name["State"].values
    assert [(state.name, getattr(records_pb2, state.name)) for state in states] == [
        (state.name, state.number) for state in states
    ]
    assert records_pb2.Job.DESCRIPTOR.full_name == "ardiq.v1.Job"


@pytest.mark.parametrize("script", scripts.PRODUCER, ids=lambda script: script.name)
def test_scripts_are_the_spec_files_byte_for_byte(script: scripts.Script) -> None:
    assert script.source == (REPOSITORY / "spec" / "scripts" / script.name).read_bytes()
    assert re.match(rb"-- ardiq spec 1\.[01]: " + re.escape(script.name.encode()), script.source)


def test_job_ids_are_lowercase_uuid_v7_in_creation_order() -> None:
    ids = [new_job_id() for _ in range(5_000)]
    pattern = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(pattern.match(job_id) for job_id in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_headers_are_written_sorted_by_name_as_the_protobuf_runtime_writes_a_map() -> None:
    headers = {"tracestate": "v=1", "traceparent": "00-ab-cd-01", "żółw": "1", "b": "x"}
    reference = records_pb2.Job(spec_version="1.0", id="j", task="t", headers=headers)

    encoded = encode_job(
        job_id="j", task="t", args=b"", kwargs=b"", priority=0, enqueued_ms=0, due_ms=0, headers=headers
    )

    assert encoded == reference.SerializeToString(deterministic=True)
    decoded = records_pb2.Job()
    decoded.ParseFromString(encoded)
    assert dict(decoded.headers) == headers

"""The `records` area: `Job` and `Status` records, their fields and their exact protobuf bytes
(from the suite's own `conformance.records`), and bytes that are no record."""

from __future__ import annotations

from typing import Any

from conformance import records, typed
from conformance.vectors.builders import NOW, QUEUED, SCHEDULED, Case, i, job_fields, s

DESCRIPTION = "Job and Status records: fields and their exact protobuf bytes."


def build() -> list[Case]:
    cases: list[Case] = []

    def record(name: str, description: str, message: str, fields: dict[str, Any]) -> None:
        cases.append(
            {
                "name": f"records.{name}",
                "description": description,
                "op": "encode_record",
                "message": message,
                "fields": fields,
                "hex": records.encode(message, fields).hex(),
            }
        )

    args = typed.pack({"array": [i(1), i(2)]}).hex()
    record(
        "job.minimal",
        "defaults omitted: priority 0 and empty args are not written",
        "Job",
        job_fields(id="j1", task="add"),
    )
    record(
        "job.typical",
        "a queued job with args and the default priority 5",
        "Job",
        job_fields(
            id="0190b6a4-5f7e-7c3a-8b1d-2e4f6a8c0d1e", task="add", args=args, priority=5, enqueued_ms=str(NOW)
        ),
    )
    record(
        "job.all_options",
        "every field set, optional overrides included",
        "Job",
        job_fields(
            id="order-17",
            task="mail.send",
            args=args,
            kwargs=typed.pack({"map": [["to", s("a@example.com")]]}).hex(),
            priority=9,
            enqueued_ms=str(NOW),
            due_ms=str(NOW + 1500),
            attempt=2,
            max_retries=5,
            timeout_ms="30000",
            backoff_ms="250",
            result_ttl_ms="3600000",
        ),
    )
    record(
        "job.optional_zero",
        "optional overrides set to 0 are written (presence matters)",
        "Job",
        job_fields(
            id="j0",
            task="t",
            priority=5,
            enqueued_ms=str(NOW),
            max_retries=0,
            timeout_ms="0",
            backoff_ms="0",
            result_ttl_ms="0",
        ),
    )
    record(
        "job.large_ints",
        "64-bit fields at large values (varints of 9 and 10 bytes)",
        "Job",
        job_fields(
            id="j",
            task="t",
            enqueued_ms=str(2**63 - 1),
            due_ms=str(2**62),
            timeout_ms=str(2**64 - 1),
            max_retries=2**32 - 1,
        ),
    )
    record(
        "job.unicode",
        "UTF-8 id and task name",
        "Job",
        job_fields(id="zamówienie-17", task="żółw.run", priority=1),
    )
    record(
        "job.headers",
        "1.1: headers are written as map entries sorted by name, each with its key and value",
        "Job",
        {
            **job_fields(id="j-traced", task="add", priority=5, enqueued_ms=str(NOW)),
            "headers": {
                "tracestate": "vendor=opaque",
                "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                "b": "x",
            },
        },
    )
    record(
        "status.queued",
        "the QUEUED constant of SPEC.md section 6 and enqueue.lua",
        "Status",
        {"spec_version": "1.0", "state": 1},
    )
    record(
        "status.scheduled",
        "the SCHEDULED constant of SPEC.md section 6 and enqueue.lua",
        "Status",
        {"spec_version": "1.0", "state": 2},
    )
    record(
        "status.aborted_before_run",
        "what a producer passes to abort.lua (SPEC.md section 6)",
        "Status",
        {
            "spec_version": "1.0",
            "state": 6,
            "error": {"type": "JobAborted", "message": "aborted before it ran"},
            "finished_ms": str(NOW),
        },
    )
    record(
        "status.complete",
        "a terminal COMPLETE record with a value",
        "Status",
        {
            "spec_version": "1.0",
            "state": 4,
            "value": typed.pack(i(3)).hex(),
            "attempts": 1,
            "enqueued_ms": str(NOW),
            "started_ms": str(NOW + 5),
            "finished_ms": str(NOW + 7),
            "worker_id": "w-1",
            "task": "add",
        },
    )
    record(
        "status.complete_nil",
        "a COMPLETE record whose value is nil (c0 is not empty)",
        "Status",
        {"spec_version": "1.0", "state": 4, "value": "c0", "attempts": 1, "task": "noop"},
    )
    record(
        "status.failed",
        "a FAILED record: remote type, message and traceback",
        "Status",
        {
            "spec_version": "1.0",
            "state": 5,
            "error": {
                "type": "ValueError",
                "message": "bad input",
                "traceback": 'Traceback (most recent call last):\n  File "tasks.py", line 3\n',
            },
            "attempts": 3,
            "enqueued_ms": str(NOW),
            "started_ms": str(NOW + 1),
            "finished_ms": str(NOW + 2),
            "worker_id": "w-1",
            "task": "fail",
        },
    )
    record(
        "status.dead",
        "a DEAD record names the reason",
        "Status",
        {
            "spec_version": "1.0",
            "state": 7,
            "error": {"type": "DeadLetter", "message": "unknown_task: no task named 'nope'"},
            "finished_ms": str(NOW),
            "worker_id": "w-2",
            "task": "nope",
        },
    )
    # 1.1 (SPEC.md sections 12, 16 and 17): records that set a 1.1 field say "1.1".
    record(
        "job.expires",
        'a job with expires_ms (field 14) says spec_version "1.1"',
        "Job",
        {**job_fields(id="j-exp", task="add", priority=5, enqueued_ms=str(NOW)), "spec_version": "1.1"}
        | {"expires_ms": str(NOW + 200)},
    )
    record(
        "status.expired",
        "an EXPIRED record: type JobExpired, no start, attempts before it",
        "Status",
        {
            "spec_version": "1.1",
            "state": 8,
            "error": {"type": "JobExpired", "message": f"not started before its expiry at {NOW + 200}"},
            "enqueued_ms": str(NOW),
            "finished_ms": str(NOW + 250),
            "worker_id": "w-1",
            "task": "add",
        },
    )
    record(
        "status.running_progress",
        "the RUNNING record progress.lua stores: the run and its last progress (field 11)",
        "Status",
        {
            "spec_version": "1.1",
            "state": 3,
            "attempts": 1,
            "enqueued_ms": str(NOW),
            "started_ms": str(NOW + 5),
            "worker_id": "w-1",
            "task": "resize",
            "progress": {"fraction": 0.4, "message": "4 of 10", "updated_ms": str(NOW + 900)},
        },
    )
    record(
        "status.complete_progress",
        "a COMPLETE record keeps the run's last progress; a fraction of 1.0 and an empty message",
        "Status",
        {
            "spec_version": "1.1",
            "state": 4,
            "value": "c0",
            "attempts": 1,
            "finished_ms": str(NOW + 1000),
            "task": "resize",
            "progress": {"fraction": 1.0, "updated_ms": str(NOW + 990)},
        },
    )
    by_name = {case["name"]: case for case in cases}
    assert by_name["records.status.queued"]["hex"] == QUEUED.hex()
    assert by_name["records.status.scheduled"]["hex"] == SCHEDULED.hex()

    def malformed(name: str, description: str, message: str, hex_: str) -> None:
        cases.append(
            {
                "name": f"records.undecodable.{name}",
                "description": description,
                "op": "decode_record",
                "message": message,
                "hex": hex_,
                "error": "MalformedRecord",
            }
        )

    malformed("truncated_string", "field 1 says 3 bytes, 1 follows", "Job", "0a0331")
    malformed("truncated_varint", "a varint whose last byte has the continuation bit", "Job", "38ff")
    malformed("bad_wire_type", "wire type 7 does not exist", "Status", "0f")
    cases.append(
        {
            "name": "records.unknown_field_ignored",
            "description": "readers ignore unknown fields (field 99 varint)",
            "op": "decode_record",
            "message": "Status",
            "hex": QUEUED.hex() + "980601",
            "fields": {"spec_version": "1.0", "state": 1},
        }
    )
    return cases

"""Entries written raw into the stream, the way a broken producer would (SPEC.md section 9):
the worker dead-letters each with its reason and keeps serving."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from conformance import records, typed
from conformance.runner.steps import WAIT_S, expect, i, new_id, reference_enqueue, status_record
from conformance.runner.targets import Target, Worker

EntryBuilder = Callable[[str], list[tuple[bytes, bytes]]]  # job id -> the entry's fields
ARGS = typed.pack({"array": [i(1)]})


def _job(
    job_id: str, task: str = "echo", version: str = "1.0", job_args: bytes = ARGS, **extra: Any
) -> bytes:
    fields = {
        "spec_version": version,
        "id": job_id,
        "task": task,
        "args": job_args.hex(),
        "priority": 5,
    }
    return records.encode("Job", {**fields, **extra})


def _entry(job_id: str, task: str, record: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"id", job_id.encode()), (b"task", task.encode()), (b"job", record)]


# kind -> (the dead-letter reason SPEC.md section 9 names, the entry)
MALFORMED: dict[str, tuple[str, EntryBuilder]] = {
    "missing_job_field": ("malformed_entry", lambda jid: [(b"id", jid.encode()), (b"task", b"echo")]),
    "non_utf8_task": (
        "malformed_entry",
        lambda jid: [(b"id", jid.encode()), (b"task", b"\xff"), (b"job", _job(jid))],
    ),
    "undecodable_job": ("undecodable_job", lambda jid: _entry(jid, "echo", b"\xff\xff\xff")),
    "id_disagrees": ("undecodable_job", lambda jid: _entry(jid, "echo", _job(jid + "-other"))),
    "unsupported_version": (
        "unsupported_version",
        lambda jid: _entry(jid, "echo", _job(jid, version="2.0")),
    ),
    "unknown_task": (
        "unknown_task",
        lambda jid: _entry(jid, "no_such_task", _job(jid, task="no_such_task")),
    ),
    "undecodable_args": (
        "undecodable_args",
        lambda jid: _entry(jid, "echo", _job(jid, job_args=b"\xc1")),
    ),
    "args_ext_type": (
        "undecodable_args",
        lambda jid: _entry(jid, "echo", _job(jid, job_args=b"\x91\xd4\x01\x00")),
    ),
    "args_depth_65": (
        "undecodable_args",
        lambda jid: _entry(jid, "echo", _job(jid, job_args=b"\x91" + b"\x91" * 65 + b"\x01")),
    ),
    "result_ttl_unbounded": (
        "invalid_option",
        lambda jid: _entry(jid, "echo", _job(jid, result_ttl_ms=str(2**63))),
    ),
    "oversize": (
        "oversize",
        lambda jid: _entry(
            jid, "echo", _job(jid, job_args=typed.pack({"array": [{"bytes": "61" * 1_048_576}]}))
        ),
    ),
}


def check_dead_lettered(target: Target, worker: Worker | None, reason: str, build: EntryBuilder) -> None:
    """Writes the entry `build` makes, waits for its dead letter and checks it and the DEAD
    status, then checks that a good job behind it still completes."""
    queue = target.work_queue
    client = target.client
    job_id = new_id("bad")
    fields = build(job_id)
    flat = [item for pair in fields for item in pair]
    client.execute_command("XADD", f"ardiq:{{{queue}}}:stream:5", "*", *flat)
    deadline = time.monotonic() + WAIT_S
    letter: dict[bytes, bytes] | None = None
    while letter is None:
        for _, entry_fields in client.xrange(f"ardiq:{{{queue}}}:dead"):
            if entry_fields.get(b"id") == job_id.encode():
                letter = entry_fields
        if letter is None:
            assert worker is not None
            worker.check_alive()
            expect(time.monotonic() < deadline, f"no dead letter for {job_id} within {WAIT_S:.0f} s")
            time.sleep(0.05)
    expect(
        letter.get(b"reason") == reason.encode(),
        f"dead-letter reason {letter.get(b'reason')!r}, expected {reason}",
    )
    record = records.decode("DeadLetter", letter.get(b"record", b""))
    expect(record.get("reason") == reason and record.get("job_id") == job_id, f"DeadLetter record {record}")
    expect(bool(record.get("detail")), "the dead letter has no readable detail")
    status = status_record(target, queue, job_id)
    expect(status.get("state") == records.STATES["STATE_DEAD"], f"status {status}, expected DEAD")
    error = status.get("error", {})
    expect(
        error.get("type") == "DeadLetter" and error.get("message", "").startswith(f"{reason}: "),
        f"DEAD status error {error}, expected type DeadLetter and message '{reason}: <detail>'",
    )
    # The worker is still serving: a good job enqueued by the suite's own producer completes.
    good_id = new_id("good")
    reference_enqueue(client, queue, good_id, "echo", [i(42)])
    deadline = time.monotonic() + WAIT_S
    while True:
        data = client.get(f"ardiq:{{{queue}}}:job:{good_id}")
        state = records.decode("Status", data).get("state") if data else None
        if state == records.STATES["STATE_COMPLETE"]:
            break
        assert worker is not None
        worker.check_alive()
        expect(time.monotonic() < deadline, f"the good job after the bad entry stayed in state {state}")
        time.sleep(0.05)

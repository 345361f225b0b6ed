"""Entries written raw into the stream, the way a broken producer would (SPEC.md section 9):
the worker dead-letters each with its reason and keeps serving."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
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


def _with_id(entry_id: bytes) -> EntryBuilder:
    """An entry whose `id` field (and record id, where UTF-8) is `entry_id`, whatever the job id."""
    return lambda jid: [
        (b"id", entry_id),
        (b"task", b"echo"),
        (b"job", _job(entry_id.decode(errors="replace"))),
    ]


@dataclass(frozen=True)
class Malformed:
    """A malformed entry: the dead-letter `reason` of SPEC.md section 9 and the entry `build`
    makes for a job id. `names`: the job id its dead letter names ("" for none), given the job
    id; `dead_status`: whether that id's status key becomes DEAD (not for an id no producer
    may write, SPEC.md section 1)."""

    reason: str
    build: EntryBuilder
    names: Callable[[str], str] = lambda jid: jid
    dead_status: bool = True


MALFORMED: dict[str, Malformed] = {
    "missing_job_field": Malformed(
        "malformed_entry", lambda jid: [(b"id", jid.encode()), (b"task", b"echo")]
    ),
    "non_utf8_task": Malformed(
        "malformed_entry",
        lambda jid: [(b"id", jid.encode()), (b"task", b"\xff"), (b"job", _job(jid))],
    ),
    "undecodable_job": Malformed("undecodable_job", lambda jid: _entry(jid, "echo", b"\xff\xff\xff")),
    "id_disagrees": Malformed("undecodable_job", lambda jid: _entry(jid, "echo", _job(jid + "-other"))),
    "unsupported_version": Malformed(
        "unsupported_version",
        lambda jid: _entry(jid, "echo", _job(jid, version="2.0")),
    ),
    "unknown_task": Malformed(
        "unknown_task",
        lambda jid: _entry(jid, "no_such_task", _job(jid, task="no_such_task")),
    ),
    "undecodable_args": Malformed(
        "undecodable_args",
        lambda jid: _entry(jid, "echo", _job(jid, job_args=b"\xc1")),
    ),
    "args_ext_type": Malformed(
        "undecodable_args",
        lambda jid: _entry(jid, "echo", _job(jid, job_args=b"\x91\xd4\x01\x00")),
    ),
    "args_depth_65": Malformed(
        "undecodable_args",
        lambda jid: _entry(jid, "echo", _job(jid, job_args=b"\x91" + b"\x91" * 65 + b"\x01")),
    ),
    "result_ttl_unbounded": Malformed(
        "invalid_option",
        lambda jid: _entry(jid, "echo", _job(jid, result_ttl_ms=str(2**63))),
    ),
    "oversize": Malformed(
        "oversize",
        lambda jid: _entry(
            jid, "echo", _job(jid, job_args=typed.pack({"array": [{"bytes": "61" * 1_048_576}]}))
        ),
    ),
    "id_with_white_space": Malformed(
        "malformed_entry", _with_id(b"a b"), names=lambda jid: "a b", dead_status=False
    ),
    "empty_id": Malformed("malformed_entry", _with_id(b""), names=lambda jid: "", dead_status=False),
    "id_over_256_bytes": Malformed(
        "malformed_entry", _with_id(b"x" * 257), names=lambda jid: "", dead_status=False
    ),
    "non_utf8_id": Malformed(
        "malformed_entry", _with_id(b"\xff\xfe"), names=lambda jid: "", dead_status=False
    ),
    "id_given_twice": Malformed(
        "undecodable_job",
        lambda jid: [*_entry(jid + "-first", "echo", b"\xff"), (b"id", jid.encode())],
    ),
}


def check_dead_lettered(target: Target, worker: Worker | None, malformed: Malformed) -> None:
    """Writes the entry `malformed.build` makes, waits for its dead letter and checks it, the
    DEAD status (or none, for an id no producer may write) and that `running` holds nothing of
    it, then checks that a good job behind it still completes."""
    queue = target.work_queue
    client = target.client
    job_id = new_id("bad")
    fields = malformed.build(job_id)
    named = malformed.names(job_id)
    flat = [item for pair in fields for item in pair]
    entry_id = client.execute_command("XADD", f"ardiq:{{{queue}}}:stream:5", "*", *flat)
    entry_id = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
    deadline = time.monotonic() + WAIT_S
    letter: dict[bytes, bytes] | None = None
    record: dict[str, Any] = {}
    while letter is None:
        for _, entry_fields in client.xrange(f"ardiq:{{{queue}}}:dead"):
            found = records.decode("DeadLetter", entry_fields.get(b"record", b""))
            if found.get("stream_id") == entry_id:
                letter, record = entry_fields, found
        if letter is None:
            assert worker is not None
            worker.check_alive()
            expect(time.monotonic() < deadline, f"no dead letter for entry {entry_id} within {WAIT_S:.0f} s")
            time.sleep(0.05)
    reason = malformed.reason
    expect(
        letter.get(b"reason") == reason.encode(),
        f"dead-letter reason {letter.get(b'reason')!r}, expected {reason}",
    )
    expect(
        letter.get(b"id") == named.encode()
        and record.get("reason") == reason
        and record.get("job_id", "") == named,
        f"dead letter {letter.get(b'id')!r}, record {record}: expected job id {named!r}",
    )
    expect(bool(record.get("detail")), "the dead letter has no readable detail")
    # Every `id` field the entry gives, and the id the letter names: none stays in `running`.
    ids = {value for name, value in fields if name == b"id"} | {named.encode()}
    left = [i for i in ids if client.hexists(f"ardiq:{{{queue}}}:running", i)]
    expect(not left, f"running still holds {left} after the dead letter")
    if malformed.dead_status:
        status = status_record(target, queue, job_id)
        expect(status.get("state") == records.STATES["STATE_DEAD"], f"status {status}, expected DEAD")
        error = status.get("error", {})
        expect(
            error.get("type") == "DeadLetter" and error.get("message", "").startswith(f"{reason}: "),
            f"DEAD status error {error}, expected type DeadLetter and message '{reason}: <detail>'",
        )
    else:
        written = [name for name in ids if name and client.exists(f"ardiq:{{{queue}}}:job:".encode() + name)]
        expect(not written, f"a status key was written for an id no producer may write: {written}")
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

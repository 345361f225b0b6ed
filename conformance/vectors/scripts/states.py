"""What the script cases share: key names of queue `q`, records, the builders of a case's
database states, and the states more than one script's cases start from."""

from __future__ import annotations

from typing import Any

from conformance import records, typed
from conformance.vectors.builders import NOW, QUEUED, Case, i, job_fields

P = "ardiq:{q}:"
STATUS = {
    "complete": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 4,
            "value": "03",
            "attempts": 1,
            "enqueued_ms": str(NOW),
            "started_ms": str(NOW + 5),
            "finished_ms": str(NOW + 7),
            "worker_id": "w1",
            "task": "add",
        },
    ),
    "failed": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 5,
            "error": {"type": "ValueError", "message": "no"},
            "attempts": 1,
            "worker_id": "w1",
            "task": "add",
        },
    ),
    "aborted": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 6,
            "error": {"type": "JobAborted", "message": "aborted before it ran"},
            "finished_ms": str(NOW),
        },
    ),
    "dead": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 7,
            "error": {"type": "DeadLetter", "message": "unknown_task"},
            "worker_id": "w1",
            "task": "nope",
        },
    ),
    "expired": records.encode(
        "Status",
        {
            "spec_version": "1.1",
            "state": 8,
            "error": {"type": "JobExpired", "message": f"not started before its expiry at {NOW}"},
            "finished_ms": str(NOW + 1),
            "worker_id": "w1",
            "task": "add",
        },
    ),
    "running_progress": records.encode(
        "Status",
        {
            "spec_version": "1.1",
            "state": 3,
            "attempts": 1,
            "started_ms": str(NOW),
            "worker_id": "w1",
            "task": "add",
            "progress": {"fraction": 0.5, "message": "half", "updated_ms": str(NOW + 10)},
        },
    ),
}


def hx(data: bytes) -> dict[str, str]:
    return {"hex": data.hex()}


def tx(text: str) -> dict[str, str]:
    return {"text": text}


def job(job_id: str, task: str = "add", priority: int = 5, **extra: Any) -> bytes:
    fields = job_fields(id=job_id, task=task, args=typed.pack({"array": [i(1), i(2)]}).hex())
    if priority:
        fields["priority"] = priority
    fields["enqueued_ms"] = str(NOW)
    fields.update(extra)
    return records.encode("Job", fields)


def string(key: str, value: bytes, ttl_ms: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "type": "string", "value": hx(value)}
    if ttl_ms is not None:
        out["ttl_ms"] = ttl_ms
    return out


def entry(job_id: str, record: bytes, task: str = "add", entry_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "fields": [[tx("id"), tx(job_id)], [tx("task"), tx(task)], [tx("job"), hx(record)]]
    }
    if entry_id is not None:
        out["id"] = entry_id
    return out


def three_entries() -> list[dict[str, Any]]:
    """Jobs j1, j4 and j5 of level 5 as entries 1-0, 2-0 and 3-0."""
    return [
        entry("j1", j1, entry_id="1-0"),
        entry("j4", job("j4"), entry_id="2-0"),
        entry("j5", job("j5"), entry_id="3-0"),
    ]


class ScriptCases(list[Case]):
    """The cases of some scripts, in order; `case` adds one."""

    def case(
        self,
        name: str,
        description: str,
        script: str,
        before: list[Any],
        keys: list[str],
        argv: list[Any],
        reply: Any,
        after: list[Any],
        published: list[Any] | None = None,
    ) -> None:
        """`script` run on a database holding `before` with `keys` and `argv` replies `reply`
        and leaves exactly `after` (and publishes `published`, when given)."""
        item: Case = {
            "name": f"scripts.{name}",
            "description": description,
            "script": script,
            "before": before,
            "keys": keys,
            "argv": argv,
            "reply": reply,
            "after": after,
        }
        if published is not None:
            item["published"] = published
        self.append(item)


# ---------------------------------------------------------------- shared states

j1, j2, j3 = job("j1"), job("j2", priority=9), job("j3", priority=0)
new_id = {"entry_id": {"key": P + "stream:5", "index": 0}}

aborted = STATUS["aborted"]

group_w1 = [{"name": "ardiq", "reads": [{"consumer": "w1", "count": 10}]}]
fin_before = [
    {
        "key": P + "stream:5",
        "type": "stream",
        "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
        "groups": group_w1,
    },
    {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")], [tx("j4"), tx("w1")]]},
    {"key": P + "abort", "type": "set", "members": [tx("j1")]},
]

# A stream whose entry 1-0 (j1) another consumer reclaimed: w1 owns only 2-0 (j4).
reclaimed_before = [
    string(P + "job:j1", QUEUED),
    {
        "key": P + "stream:5",
        "type": "stream",
        "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
        "groups": [
            {"name": "ardiq", "reads": [{"consumer": "w2", "count": 1}, {"consumer": "w1", "count": 1}]}
        ],
    },
    {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w2")], [tx("j4"), tx("w1")]]},
    {"key": P + "abort", "type": "set", "members": [tx("j1")]},
]
reclaimed_after = [
    string(P + "job:j1", QUEUED),
    {
        "key": P + "stream:5",
        "type": "stream",
        "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
        "groups": [
            {
                "name": "ardiq",
                "pending": [
                    {"id": "1-0", "consumer": "w2", "deliveries": 1},
                    {"id": "2-0", "consumer": "w1", "deliveries": 1},
                ],
            }
        ],
    },
    {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w2")], [tx("j4"), tx("w1")]]},
    {"key": P + "abort", "type": "set", "members": [tx("j1")]},
]

dead_status = STATUS["dead"]
letter = records.encode(
    "DeadLetter",
    {
        "spec_version": "1.0",
        "job_id": "j1",
        "task": "nope",
        "reason": "unknown_task",
        "detail": "no task named 'nope'",
        "job": j1.hex(),
        "stream_id": "1-0",
        "dead_ms": str(NOW),
        "worker_id": "w1",
    },
)

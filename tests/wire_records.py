"""The queue's Redis keys (SPEC.md section 2) and just enough protobuf to
write raw `Job` records, bad ones included, and to read the worker's
records back. Written here from the spec, so that the tests do not take
their expected bytes from the implementation under test."""

from __future__ import annotations

from typing import Any

import redis


class Keys:
    """Key names of one queue."""

    def __init__(self, queue: str) -> None:
        self.prefix = f"ardiq:{{{queue}}}:"

    def stream(self, priority: int) -> str:
        return f"{self.prefix}stream:{priority}"

    def job(self, job_id: str) -> str:
        return f"{self.prefix}job:{job_id}"

    def worker(self, worker_id: str) -> str:
        return f"{self.prefix}worker:{worker_id}"

    @property
    def streams(self) -> list[str]:
        return [self.stream(p) for p in range(10)]

    @property
    def delayed(self) -> str:
        return f"{self.prefix}delayed"

    @property
    def delayed_jobs(self) -> str:
        return f"{self.prefix}delayed:jobs"

    @property
    def running(self) -> str:
        return f"{self.prefix}running"

    @property
    def abort(self) -> str:
        return f"{self.prefix}abort"

    @property
    def dead(self) -> str:
        return f"{self.prefix}dead"

    @property
    def workers(self) -> str:
        return f"{self.prefix}workers"


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data if data else b""


def _int_field(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value) if value else b""


def encode_job(
    job_id: str,
    task: str,
    *,
    args: bytes = b"",
    kwargs: bytes = b"",
    priority: int = 5,
    spec_version: str = "1.0",
    enqueued_ms: int = 0,
    max_retries: int | None = None,
    timeout_ms: int | None = None,
    backoff_ms: int | None = None,
    result_ttl_ms: int | None = None,
) -> bytes:
    """A `Job` record, fields in number order, defaults omitted; the
    optional overrides are written when given, whatever their value."""
    record = (
        _len_field(1, spec_version.encode())
        + _len_field(2, job_id.encode())
        + _len_field(3, task.encode())
        + _len_field(4, args)
        + _len_field(5, kwargs)
        + _int_field(6, priority)
        + _int_field(7, enqueued_ms)
    )
    for number, value in ((10, max_retries), (11, timeout_ms), (12, backoff_ms), (13, result_ttl_ms)):
        if value is not None:
            record += _varint(number << 3) + _varint(value)
    return record


def decode_fields(record: bytes) -> dict[int, list[int | bytes]]:
    """Every field of a protobuf message by number (varints and bytes only)."""
    fields: dict[int, list[int | bytes]] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            byte = record[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value

    while i < len(record):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            fields.setdefault(number, []).append(varint())
        elif wire == 2:
            length = varint()
            fields.setdefault(number, []).append(record[i : i + length])
            i += length
        else:
            raise ValueError(f"unexpected wire type {wire} in field {number}")
    return fields


def add_entry(inspector: redis.Redis, stream: str, fields: dict[str, bytes]) -> str:
    """XADDs an entry exactly as given: the way a broken producer would."""
    entry_id: Any = inspector.xadd(stream, fields)  # type: ignore[arg-type]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def add_raw_entry(inspector: redis.Redis, stream: str, fields: list[bytes]) -> str:
    """XADDs field names and values as given, in order, a name twice if so: the way a broken
    producer would."""
    entry_id: Any = inspector.execute_command("XADD", stream, "*", *fields)  # type: ignore[no-untyped-call]
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def stream_length(inspector: redis.Redis, stream: str) -> int:
    length: Any = inspector.xlen(stream)
    return int(length)


def pending_ids(inspector: redis.Redis, stream: str) -> list[str]:
    """Ids in the consumer group's pending entries list of `stream`."""
    if not inspector.exists(stream):
        return []
    rows: Any = inspector.xpending_range(stream, "ardiq", "-", "+", 10_000)
    return [row["message_id"].decode() for row in rows]


def entry_job_ids(inspector: redis.Redis, stream: str) -> list[str]:
    """The `id` field of every entry still in `stream`, oldest first."""
    entries: Any = inspector.xrange(stream)
    return [fields[b"id"].decode() for _, fields in entries]


def counter(inspector: redis.Redis, key: str) -> int:
    value: Any = inspector.get(key)
    return int(value or 0)

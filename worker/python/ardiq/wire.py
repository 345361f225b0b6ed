"""Wire-level helpers over the native core, for conformance tests and tools."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ardiq import _core
from ardiq.task import JobOptions, PreparedJob


def build_enqueue(
    queue: str,
    task: str,
    args: tuple[Any, ...] | list[Any],
    kwargs: dict[str, Any],
    options: JobOptions | Mapping[str, Any],
    now_ms: int,
) -> tuple[list[str], list[bytes]]:
    """The exact `enqueue.lua` KEYS and ARGV for one job at clock `now_ms`."""
    if not isinstance(options, JobOptions):
        options = JobOptions(**options)
    return _core.build_enqueue(queue, PreparedJob(task, tuple(args), kwargs, *options), now_ms)


def encode_record(message: str, fields: Mapping[str, Any]) -> bytes:
    """A `Job` or `Status` record from its fields (64-bit ints as decimal
    strings, bytes as hex, optional fields only when set)."""
    return _core.encode_record(message, dict(fields))


def decode_record(message: str, data: bytes) -> dict[str, Any]:
    """The fields of a `Job` or `Status` record, defaults omitted."""
    return _core.decode_record(message, data)


def encode_value(value: Any) -> bytes:
    """The canonical MessagePack of a value in the type table."""
    return _core.encode_value(value)


def decode_value(data: bytes) -> Any:
    """A value from MessagePack, checked against the type table."""
    return _core.decode_value(data)

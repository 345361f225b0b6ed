"""Wire-level helpers over the native core, for conformance tests and tools."""

from __future__ import annotations

from typing import Any

from ardiq import _core
from ardiq.app import JobOptions, PreparedJob


def build_enqueue(
    queue: str,
    task: str,
    args: tuple[Any, ...] | list[Any],
    kwargs: dict[str, Any],
    options: JobOptions,
    now_ms: int,
) -> tuple[list[str], list[bytes]]:
    """The exact `enqueue.lua` KEYS and ARGV for one job at clock `now_ms`."""
    return _core.build_enqueue(queue, PreparedJob(task, tuple(args), kwargs, options).item(), now_ms)


def encode_value(value: Any) -> bytes:
    """The canonical MessagePack of a value in the type table."""
    return _core.encode_value(value)


def decode_value(data: bytes) -> Any:
    """A value from MessagePack, checked against the type table."""
    return _core.decode_value(data)

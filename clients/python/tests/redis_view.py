"""Typed reads of what the client stored in Redis, for assertions (redis-py's own types are loose)."""

from __future__ import annotations

from typing import Any

import redis
import redis.cluster


def stream_entries(inspector: redis.Redis | redis.cluster.RedisCluster, key: str) -> list[dict[bytes, bytes]]:
    """The field maps of a stream's entries, oldest first."""
    entries: Any = inspector.xrange(key)
    return [fields for _, fields in entries]


def value_of(inspector: redis.Redis | redis.cluster.RedisCluster, key: str) -> bytes:
    """A string key's bytes (empty when missing)."""
    value: Any = inspector.get(key)
    return value or b""

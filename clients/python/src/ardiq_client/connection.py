"""Connection options and the mapping of redis-py errors to ArdiQ's typed errors."""

from __future__ import annotations

from typing import Any

import redis.exceptions
from redis.backoff import ExponentialWithJitterBackoff

from ardiq_client.errors import ArdiqError, AuthenticationFailed, RedisUnavailable

#: redis-py's reconnect policy for ArdiQ clients unless the caller passes `retry`: a few
#: quick attempts, so an unreachable Redis is reported in well under a second.
RETRIES = 3
BACKOFF = ExponentialWithJitterBackoff(base=0.01, cap=0.2)


def translate(error: redis.exceptions.RedisError) -> ArdiqError:
    """The ArdiQ error for a redis-py error."""
    if isinstance(error, redis.exceptions.AuthenticationError) or (
        isinstance(error, redis.exceptions.ResponseError)
        and str(error).startswith(("WRONGPASS", "NOAUTH", "invalid username-password"))
    ):
        return AuthenticationFailed(f"Redis rejected the credentials: {error}")
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return RedisUnavailable(f"Redis is unavailable: {error}")
    return ArdiqError(f"Redis error: {error}")


def check_connection_kwargs(kwargs: dict[str, Any]) -> None:
    """Replies are read as bytes: a client that decodes them to str cannot be used."""
    if kwargs.get("decode_responses"):
        raise ValueError("an ArdiQ client needs a redis-py client with decode_responses=False")

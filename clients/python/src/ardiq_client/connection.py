"""Connection options and the mapping of redis-py errors to ArdiQ's typed errors.

A client talks to one Redis or to a Redis Cluster. All keys of a queue share
the hash tag ``{<queue>}`` (SPEC.md section 2), so on a cluster every script
call of a queue goes to the one node that serves the queue's slot.
"""

from __future__ import annotations

from typing import Any

import redis.exceptions
from redis.backoff import ExponentialWithJitterBackoff

from ardiq_client.errors import ArdiqError, AuthenticationFailed, RedisUnavailable

#: redis-py's reconnect policy for ArdiQ clients unless the caller passes `retry`: a few
#: quick attempts, so an unreachable Redis is reported in well under a second.
RETRIES = 3
BACKOFF = ExponentialWithJitterBackoff(base=0.01, cap=0.2)


#: What redis-py raises: its cluster client also raises `RedisClusterException`, which is no `RedisError`.
ERRORS = (redis.exceptions.RedisError, redis.exceptions.RedisClusterException)


def translate(error: Exception) -> ArdiqError:
    """The ArdiQ error for a redis-py error (one of `ERRORS`)."""
    if isinstance(error, redis.exceptions.RedisClusterException) and isinstance(
        error.__cause__, redis.exceptions.RedisError
    ):
        # "Redis Cluster cannot be connected" carries the last node's error, which says why.
        return translate(error.__cause__)
    if isinstance(error, redis.exceptions.MovedError):
        return ArdiqError(
            f"Redis error: {error} (the server is a Redis Cluster node: connect with cluster=True)"
        )
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


def ran_nothing_here(reply: object) -> bool:
    """Whether a cluster node refused a command because its slot is served elsewhere or in flux.

    Such a command ran nothing, so sending it again through the cluster
    client (which follows the redirect and updates its slot table) is safe.
    """
    return isinstance(
        reply,
        redis.exceptions.AskError | redis.exceptions.TryAgainError | redis.exceptions.ClusterDownError,
    )

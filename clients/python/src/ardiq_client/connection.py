"""Connection options, when a call is sent once more, and the mapping of redis-py errors to typed errors.

A client talks to one Redis or to a Redis Cluster. All keys of a queue share
the hash tag ``{<queue>}`` (SPEC.md section 2), so on a cluster every script
call of a queue goes to the one node that serves the queue's slot.

Connections (SPEC.md section 14): connecting waits at most the connect
timeout (default 2 s) and each reply at most the command timeout (default
5 s); past either, the caller gets `RedisUnavailable` saying what timed out.
A call whose connection broke (Redis restarted, a proxy dropped it) is sent
once more on a new connection, which is safe for every producer script; a
timed-out call is not. The clients do that themselves rather than through
redis-py's `Retry`, because redis-py's cluster client retries timeouts too.
"""

from __future__ import annotations

import itertools
import math
import ssl
from typing import Any

import redis.exceptions
from redis.backoff import NoBackoff

from ardiq_client.errors import ArdiqError, AuthenticationFailed, InvalidOption, RedisUnavailable

DEFAULT_CONNECT_TIMEOUT_S = 2.0
DEFAULT_COMMAND_TIMEOUT_S = 5.0

#: What redis-py raises: its cluster client also raises `RedisClusterException`, which is no `RedisError`.
ERRORS = (redis.exceptions.RedisError, redis.exceptions.RedisClusterException)

#: redis-py's own retries are off: the clients send a call once more themselves (see the module doc).
NO_RETRIES = (NoBackoff(), 0)

#: `ConnectionError`s that are no broken connection: sending again would fail the same way
#: (and so would a TLS handshake that failed).
_REFUSALS = (
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthorizationError,
    redis.exceptions.MaxConnectionsError,
)


def redis_options(
    options: dict[str, Any], connect_timeout_s: float, command_timeout_s: float
) -> dict[str, Any]:
    """The keyword arguments of redis-py's `from_url` for an ArdiQ client.

    `options` are the caller's own redis-py options; the timeouts become
    redis-py's ``socket_connect_timeout`` and ``socket_timeout``.
    """
    for name, value in (("connect_timeout_s", connect_timeout_s), ("command_timeout_s", command_timeout_s)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
            raise InvalidOption(f"invalid {name} {value!r}: it must be a positive number of seconds")
    for name in ("socket_connect_timeout", "socket_timeout"):
        if name in options:
            raise TypeError(f"pass connect_timeout_s and command_timeout_s instead of redis-py's {name}")
    check_connection_kwargs(options)
    return {**options, "socket_connect_timeout": connect_timeout_s, "socket_timeout": command_timeout_s}


def send_again(error: Exception) -> bool:
    """Whether a call that failed with `error` is sent once more: its connection broke, or a
    cluster refused it while failing over (it ran nothing); never after a timeout."""
    if isinstance(error, redis.exceptions.ConnectionError):
        return not isinstance(error, _REFUSALS) and not _is_tls_failure(error)
    return isinstance(error, redis.exceptions.ClusterDownError | redis.exceptions.SlotNotCoveredError)


def final_replies(replies: list[Any]) -> list[Any]:
    """The leading replies of a batch whose exchange failed that are final: those before the
    first NOSCRIPT (that call ran nothing and must be sent again, with the ones after it)."""
    return list(
        itertools.takewhile(lambda reply: not isinstance(reply, redis.exceptions.NoScriptError), replies)
    )


def _is_tls_failure(error: BaseException) -> bool:
    cause = error.__cause__ or error.__context__
    return isinstance(cause, ssl.SSLError) or "SSL" in str(error)


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
    if isinstance(error, redis.exceptions.TimeoutError):
        return RedisUnavailable(f"Redis timed out: {error}")
    if isinstance(error, redis.exceptions.ConnectionError):
        if _is_tls_failure(error):
            return RedisUnavailable(f"Redis is unavailable: TLS failed: {error}")
        return RedisUnavailable(f"Redis is unavailable: {error}")
    return ArdiqError(f"Redis error: {error}")


def command_timeout_s(kwargs: dict[str, Any]) -> float:
    """The reply timeout of a redis-py client's connections (its ``socket_timeout``), or the
    default when it has none."""
    timeout = kwargs.get("socket_timeout")
    return float(timeout) if isinstance(timeout, int | float) and timeout > 0 else DEFAULT_COMMAND_TIMEOUT_S


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

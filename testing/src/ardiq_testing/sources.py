"""Where a test session's Redis comes from.

`choose_redis()` picks one of `SOURCES` by name:

- ``url``: the Redis at ``REDIS_URL``, run by someone else (a CI service, a
  developer's server, the ``python -m ardiq_testing.redis`` wrapper);
- ``process``: a throwaway redis-server of our own (`RedisServer`).

``ARDIQ_TEST_REDIS`` names the source; unset, it is ``url`` when
``REDIS_URL`` is set and ``process`` otherwise. Another way to get a Redis
(a container, say) is one more entry in `SOURCES`: a callable that returns an
object with a ``url`` that starts on ``__enter__`` and goes away on
``__exit__``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import TracebackType
from typing import Protocol

from ardiq_testing.server import RedisServer


class ProvidedRedis(Protocol):
    """A Redis for a test session: reachable at `url` between enter and exit."""

    url: str

    def __enter__(self) -> ProvidedRedis: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


class ExternalRedis:
    """A Redis that someone else runs: nothing is started or stopped here."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> ExternalRedis:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


def _redis_url() -> ProvidedRedis:
    url = os.environ.get("REDIS_URL", "")
    if not url:
        raise RuntimeError("ARDIQ_TEST_REDIS=url, but REDIS_URL is not set")
    return ExternalRedis(url)


SOURCES: dict[str, Callable[[], ProvidedRedis]] = {
    "url": _redis_url,
    "process": RedisServer,
}


def choose_redis(source: str | None = None) -> ProvidedRedis:
    """The Redis of `source` (a key of `SOURCES`), by default as the module docs say."""
    name = (
        source or os.environ.get("ARDIQ_TEST_REDIS") or ("url" if os.environ.get("REDIS_URL") else "process")
    )
    try:
        make = SOURCES[name]
    except KeyError:
        raise RuntimeError(f"unknown Redis source {name!r}; choose from {sorted(SOURCES)}") from None
    return make()

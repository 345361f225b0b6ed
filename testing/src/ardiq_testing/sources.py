"""Where a test session's Redis comes from: one choice for every suite.

`choose_redis()` takes the first of these that this machine has:

1. a URL: ``ARDIQ_REDIS_URL``, else ``REDIS_URL`` (a CI service, a
   developer's server, the ``python -m ardiq_testing.redis`` wrapper);
   nothing is started or stopped;
2. ``server``: a throwaway ``redis-server`` of our own (`RedisServer`), when
   the binary is on PATH;
3. ``container``: a throwaway Redis container through testcontainers
   (`ContainerRedis`), when testcontainers is installed and a Docker engine
   answers.

When none is there it raises `RedisSourceError` naming the three and why
each is missing. ``ARDIQ_TEST_REDIS`` forces one: ``server``, ``container``,
or a ``redis://``, ``rediss://`` or ``unix://`` URL; a forced source that
this machine lacks is an error, never a quiet fall-back to another.

``choose_redis(private=True)`` is for a test that needs a Redis nobody else
uses (it counts commands, or empties the database): it skips the URLs and
takes ``server`` or ``container`` (``ARDIQ_TEST_REDIS`` may force one of
those; a URL there names the shared Redis and is ignored).

The order of `SOURCES` after the URL is the order they are tried in; another
way to get a Redis is one more entry there.
"""

from __future__ import annotations

import os
import shutil
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from ardiq_testing.container import ContainerRedis, docker_unreachable
from ardiq_testing.server import RedisServer

URL_VARIABLES = ("ARDIQ_REDIS_URL", "REDIS_URL")
URL_SCHEMES = ("redis", "rediss", "unix")


class RedisSourceError(RuntimeError):
    """No Redis can be had the way the environment asks (or any way at all)."""


class ProvidedRedis(Protocol):
    """A Redis for a test session: reachable at `url` between enter and exit."""

    @property
    def url(self) -> str: ...

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


@dataclass(frozen=True)
class Source:
    """A way to get a Redis of our own."""

    make: Callable[[], ProvidedRedis]
    #: Why this machine cannot use it, or None when it can.
    missing: Callable[[], str | None]
    #: What it is, for the error that lists every way.
    label: str


def redis_server_missing() -> str | None:
    if shutil.which("redis-server") is None:
        return "not on PATH (Debian's package redis-server; `make redis` installs it)"
    return None


SOURCES: dict[str, Source] = {
    "server": Source(RedisServer, redis_server_missing, "redis-server on PATH"),
    "container": Source(ContainerRedis, docker_unreachable, "a Docker engine for testcontainers"),
}


def redis_url_problem(url: str) -> str | None:
    """What is wrong with `url` as a Redis URL, or None when nothing is."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed [ of an IPv6 address
        return f"it does not parse ({exc})"
    if parts.scheme not in URL_SCHEMES:
        return f"the scheme must be one of {', '.join(s + '://' for s in URL_SCHEMES)}"
    if parts.scheme == "unix":
        return None if parts.path else "a unix:// URL needs the socket's path"
    try:
        _ = parts.port  # parsing the port is the check
    except ValueError:
        return "the port is not a number from 0 to 65535"
    if not parts.hostname:
        return "it names no host"
    database = parts.path.strip("/")
    if database and not database.isdigit():
        return f"the database {database!r} is not a number"
    return None


def external(url: str, variable: str) -> ExternalRedis:
    problem = redis_url_problem(url)
    if problem is not None:
        raise RedisSourceError(f"{variable}={url!r} is not a Redis URL: {problem}")
    return ExternalRedis(url)


def named_source(name: str) -> ProvidedRedis:
    source = SOURCES[name]
    why = source.missing()
    if why is not None:
        raise RedisSourceError(f"ARDIQ_TEST_REDIS={name}, but {source.label} is missing: {why}")
    return source.make()


def choose_redis(source: str | None = None, *, private: bool = False) -> ProvidedRedis:
    """The session's Redis, not started yet (use it in a ``with`` block).

    `source` overrides ``ARDIQ_TEST_REDIS``; the module docs give the order."""
    forced = source or os.environ.get("ARDIQ_TEST_REDIS", "")
    if forced in SOURCES:
        return named_source(forced)
    if forced:
        if "://" not in forced:
            raise RedisSourceError(
                f"ARDIQ_TEST_REDIS={forced!r}: choose {' or '.join(SOURCES)} or a Redis URL "
                "(redis://host:port/db, rediss://..., unix:///path)"
            )
        shared = external(forced, "ARDIQ_TEST_REDIS")
        if not private:
            return shared
    elif not private:
        for variable in URL_VARIABLES:
            if url := os.environ.get(variable):
                return external(url, variable)
    missing = [] if private else [f"a URL in {' or '.join(URL_VARIABLES)}: not set"]
    for way in SOURCES.values():
        why = way.missing()
        if why is None:
            return way.make()
        missing.append(f"{way.label}: {why}")
    raise RedisSourceError(
        "no Redis for the tests; the ways to get one, and why each is missing here:\n"
        + "".join(f"  - {line}\n" for line in missing)
        + f"ARDIQ_TEST_REDIS={'|'.join(SOURCES)}|URL forces one."
    )

"""A web dashboard for operators (`pip install "ardiq[dashboard]"`): every
queue at a glance with its throughput, a queue's jobs by state, one job,
the workers, the failed jobs and the dead letters; read-only unless
started with actions allowed and a token. `ardiq dashboard --url ...`
serves it (uvicorn, on 127.0.0.1:8080); `dashboard(...)` is the ASGI
application, to mount in an application of your own:

    from ardiq.dashboard import dashboard
    api.mount("/ardiq", dashboard("redis://...", queues=["emails"]))

It reads Redis only through the `ardiq` package's inspection API.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ardiq.app import DEFAULT_URL

if TYPE_CHECKING:
    from starlette.applications import Starlette

__all__ = ["dashboard"]


def dashboard(
    url: str | None = None,
    *,
    queues: Sequence[str] | None = None,
    allow_actions: bool = False,
    token: str | None = None,
    refresh_s: float = 2.0,
    value_limit: int = 8_192,
    page_size: int = 50,
    allowed_hosts: Sequence[str] = (),
) -> Starlette:
    """The dashboard's ASGI application for the Redis at `url` (default
    `ARDIQ_REDIS_URL`, else the local Redis), showing `queues` (default:
    every queue that Redis holds). Pages update every `refresh_s`; job
    arguments and results longer than `value_limit` characters are cut,
    with their size; listings show `page_size` jobs a page. With
    `allow_actions` (which needs a `token`), people signed in with the
    token can replay, delete, abort and purge. It answers only requests
    whose Host is loopback (`localhost`, `127.0.0.1`, `[::1]`) or one of
    `allowed_hosts` (the names it is reached by, like a reverse proxy's;
    `*.example.com` for a domain's names, `*` for any), so a web page
    cannot reach it by pointing a name of its own at this machine; any
    other Host gets 400."""
    # Starlette is an optional dependency: loaded only when a dashboard is made.
    from ardiq.dashboard.site import Settings, build

    if not 0.5 <= refresh_s <= 3600:
        raise ValueError(f"refresh_s must be 0.5 to 3600 seconds, not {refresh_s!r}")
    if not 1 <= page_size <= 1000:
        raise ValueError(f"page_size must be 1 to 1000, not {page_size!r}")
    if isinstance(allowed_hosts, str):
        raise ValueError(f"allowed_hosts must be a list of host names, not the string {allowed_hosts!r}")
    for host in allowed_hosts:
        wildcard = host.startswith("*") and host != "*" and not host.startswith("*.")
        if not host or "*" in host[1:] or wildcard:
            raise ValueError(f"allowed host {host!r} must be a name, an address, '*.domain' or '*'")
    if value_limit < 64:
        raise ValueError(f"value_limit must be at least 64 characters, not {value_limit!r}")
    return build(
        Settings(
            url=url or os.environ.get("ARDIQ_REDIS_URL") or DEFAULT_URL,
            queues=list(queues) if queues else None,
            allow_actions=allow_actions,
            token=token,
            refresh_s=refresh_s,
            value_limit=value_limit,
            page_size=page_size,
            allowed_hosts=list(allowed_hosts),
        )
    )

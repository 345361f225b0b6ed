"""Test helpers for applications built on ArdiQ.

``pip install "ardiq[testing]"`` adds a pytest plugin (`ardiq.testing.plugin`,
registered as the entry point ``ardiq``) whose fixtures give a test a real,
throwaway Redis and the app bound to it; these helpers work with or without
pytest:

- `use_redis(app, url)`: inside the block the app and its tasks talk to the
  Redis at `url`, whatever URL the app was made with;
- ``await drain(app)``: runs a worker of the app in this process, inside its
  lifespan, until every job of its queues has ended (delayed jobs and retries
  included), then returns.

```python
from ardiq.testing import drain
from myapp import add

async def test_add(ardiq_app):
    job = await add.enqueue(1, 2)
    await drain(ardiq_app)
    assert await job.result() == 3
```
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar

from ardiq.app import Ardiq

App = TypeVar("App", bound=Ardiq[Any])

__all__ = ["drain", "flush", "use_redis"]


@contextlib.contextmanager
def use_redis(app: App, url: str) -> Iterator[App]:
    """Points `app` (and so every task of it) at the Redis `url` until the
    block ends, then back at its own. Jobs and handles made inside keep
    talking to `url`."""
    before = app._rebind(url)
    try:
        yield app
    finally:
        app._restore(before)


def flush(app: Ardiq[Any]) -> None:
    """Empties the database of the Redis the app talks to (``FLUSHDB``; on a
    cluster, every master's). Everything in it goes, ArdiQ's or not."""
    app._core.flush_database()


async def drain(
    app: Ardiq[Any],
    *,
    queues: Sequence[str] | Mapping[str, int] | None = None,
    delayed: bool = True,
    timeout_s: float = 30.0,
    concurrency: int = 10,
) -> None:
    """Runs a worker of `app` in this process, inside its lifespan, until
    nothing is queued, running or (with `delayed`, the default) delayed in
    its `queues` (default: all of them); without `delayed` a job delayed
    into the future stays where it is.

    Retries run when their backoff ends, so a task that retries three times
    with a backoff of one second makes `drain` take some seconds; a task's
    failure does not make `drain` fail (its job's `result()` raises).
    Raises `TimeoutError` when the queues are not drained within
    `timeout_s`; jobs still running then are handed back to the queue."""
    worker = app._worker(
        queues,
        burst=True,
        burst_waits_delayed=delayed,
        concurrency=concurrency,
        prefetch=None,
        sync_concurrency=None,
        process_concurrency=None,
        grace_s=0.0,
        visibility_ms=30_000,
        max_deliveries=3,
        block_ms=100,
        promote_interval_ms=20,
        heartbeat_ms=5_000,
    )
    timed_out = False

    def stop() -> None:
        nonlocal timed_out
        timed_out = True
        worker.stop()

    timer = asyncio.get_running_loop().call_later(timeout_s, stop)
    try:
        await worker.run()
    finally:
        timer.cancel()
    if timed_out:
        raise TimeoutError(f"the queues of {app!r} were not drained within {timeout_s} s")

"""Tasks the conformance runner's worker runs (`python -m ardiq run tasks:app`).

The queue and Redis come from the environment the runner sets:
ARDIQ_REDIS_URL, ARDIQ_QUEUE (and ARDIQ_CLUSTER=1 for a cluster).
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

from ardiq import Ardiq, current_job  # type: ignore[import-not-found,unused-ignore]

app = Ardiq(
    os.environ.get("ARDIQ_REDIS_URL", "redis://127.0.0.1:6379/0"),
    queue=os.environ.get("ARDIQ_QUEUE", "default"),
)
F = TypeVar("F", bound=Callable[..., Any])


def task(**options: Any) -> Callable[[F], F]:
    """`app.task`, with or without options, seen by mypy as keeping the function's type."""
    register = app.task(**options) if options else app.task
    return cast(Callable[[F], F], register)


# Taken when a run starts, before its first suspension: the start order of runs in this process.
_started = itertools.count()
_attempts: dict[str, int] = {}


@task()
async def echo(value: Any) -> Any:
    """Returns its argument: the type table's round trip."""
    return value


@task()
async def start_order(tag: str) -> int:
    """The position at which this run started in this worker process."""
    return next(_started)


@task(retries=0)
async def fail(message: str) -> None:
    """Raises a ValueError carrying `message`."""
    raise ValueError(message)


@task()
async def flaky(key: str, failures: int) -> str:
    """Fails the first `failures` runs for `key`, then succeeds."""
    _attempts[key] = _attempts.get(key, 0) + 1
    if _attempts[key] <= failures:
        raise RuntimeError(f"run {_attempts[key]} of {key} fails on purpose")
    return f"ok after {_attempts[key]} runs"


@task()
async def sleep_ms(ms: int) -> str:
    """Sleeps; used for timeouts and for aborting a running job."""
    await asyncio.sleep(ms / 1000)
    return "slept"


@task()
async def progress_steps(steps: int, ms: int) -> str:
    """Reports `step i of <steps>` at i/steps before each of `steps` pauses of `ms`, then 1.0."""
    job = current_job()
    for step in range(steps):
        job.progress(step / steps, f"step {step} of {steps}")
        await asyncio.sleep(ms / 1000)
    job.progress(1.0, "done")
    return "done"

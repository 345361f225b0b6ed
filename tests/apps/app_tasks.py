"""An application for subprocess workers of the test suite (`python -m
ardiq run app_tasks:app` in `tests/apps`, with ARDIQ_REDIS_URL and
ARDIQ_QUEUE set): a lifespan that opens a shared resource once per worker
process and records its entry and exit in Redis, tasks on two queues that
read it, and a middleware that records every run. Keys under
`ardiq-test:app:<queue>:`."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
from ardiq import Ardiq, JobContext, current_job

QUEUE = os.environ.get("ARDIQ_QUEUE", "default")
PREFIX = f"ardiq-test:app:{QUEUE}:"
counters = redis.Redis.from_url(os.environ.get("ARDIQ_REDIS_URL", "redis://localhost:6379/0"))


@dataclass
class Deps:
    """What the lifespan opens once per worker process."""

    opened_ms: int
    pid: int = field(default_factory=os.getpid)


@asynccontextmanager
async def lifespan(app: Ardiq[Deps]) -> AsyncIterator[Deps]:
    counters.rpush(f"{PREFIX}lifespan", f"enter {os.getpid()} {time.time_ns()}")
    if os.environ.get("ARDIQ_TEST_LIFESPAN_FAILS"):
        raise RuntimeError("the pool would not open")
    yield Deps(opened_ms=time.time_ns() // 1_000_000)
    counters.rpush(f"{PREFIX}lifespan", f"exit {os.getpid()} {time.time_ns()}")


app = Ardiq(os.environ.get("ARDIQ_REDIS_URL"), queue=QUEUE, lifespan=lifespan)


@app.middleware
async def record(job: JobContext, call_next: Callable[[], Awaitable[Any]]) -> Any:
    counters.rpush(f"{PREFIX}middleware", f"{job.task} {job.id}")
    return await call_next()


@app.task
async def which_context(tag: str) -> list[Any]:
    """The lifespan's resource and the job's context, as the task sees them."""
    job = current_job()
    return [app.context.pid, app.context.opened_ms, job.id, job.queue, tag]


@app.task(queue=f"{QUEUE}-mail")
async def mail(tag: str, seconds: float = 0.0) -> str:
    counters.rpush(f"{PREFIX}ran", f"mail {tag} {time.time_ns()}")
    await asyncio.sleep(seconds)
    return tag


@app.task
async def slow(seconds: float) -> str:
    counters.rpush(f"{PREFIX}ran", f"slow start {time.time_ns()}")
    await asyncio.sleep(seconds)
    counters.rpush(f"{PREFIX}ran", f"slow end {time.time_ns()}")
    return "done"

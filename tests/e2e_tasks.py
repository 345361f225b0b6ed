"""Tasks that every producer's end-to-end tests enqueue. Run a worker for
them with ``cd tests && python -m ardiq run e2e_tasks:app [--burst]`` and
``ARDIQ_REDIS_URL`` / ``ARDIQ_QUEUE`` set."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ardiq import Ardiq, current_job

app = Ardiq(os.environ.get("ARDIQ_REDIS_URL"), queue=os.environ.get("ARDIQ_QUEUE", "default"))


@app.task
async def add(x: int, y: int) -> int:
    return x + y


@app.task
async def echo(value: Any) -> Any:
    return value


@app.task
async def kwargs_echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@app.task
async def fail(message: str) -> None:
    raise ValueError(message)


@app.task
async def sleep(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@app.task
def sync_add(x: int, y: int) -> int:
    return x + y


@app.task
async def steps(count: int, seconds: float) -> str:
    """Reports `step i` at i/count before each of `count` pauses, then 1.0 `done`."""
    job = current_job()
    for step in range(count):
        job.progress(step / count, f"step {step}")
        await asyncio.sleep(seconds)
    job.progress(1.0, "done")
    return "done"

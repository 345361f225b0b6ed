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
async def report(steps: int, pause_s: float) -> int:
    """Reports its progress after each of `steps` pauses (SPEC.md section 16)."""
    job = current_job()
    for step in range(1, steps + 1):
        await asyncio.sleep(pause_s)
        job.progress(step / steps, f"step {step} of {steps}")
    return steps

"""The demo's tasks. A worker runs them with `python -m ardiq run demo_tasks:app`."""

from __future__ import annotations

import asyncio
import os

from ardiq import Ardiq

app = Ardiq(os.environ.get("ARDIQ_REDIS_URL"), queue=os.environ.get("ARDIQ_QUEUE", "demo"))


@app.task
async def add(x: int, y: int) -> int:
    return x + y


@app.task
async def noop() -> None:
    return None


@app.task
async def nap(ms: int) -> int:
    await asyncio.sleep(ms / 1000)
    return ms


@app.task
def shout(text: str) -> str:
    return text.upper()


@app.task
async def divide(x: float, y: float) -> float:
    return x / y  # divide(1, 0) fails: the dashboard's picture has a failed job

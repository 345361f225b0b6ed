"""SAQ adapter: jobs in Redis lists, a worker with N dequeue loops.

Settings left at SAQ's defaults except `concurrency`. SAQ has no batch
enqueue (`Queue.map` gathers single enqueues and waits for the results).
Task functions take the worker context and keyword arguments only. Run inside
bench/.venvs/saq.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from saq import Queue, Worker

from peers.workload import RECORDER, Peer, cpu_body, io_body, main, noop_body, stamp_body


async def noop(ctx: Any) -> None:
    await noop_body()


async def cpu(ctx: Any) -> None:
    await cpu_body()


async def io(ctx: Any) -> None:
    await io_body()


async def stamp(ctx: Any, *, enqueued_ns: int) -> None:
    await stamp_body(enqueued_ns)


TASKS = {"dispatch": "noop", "cpu": "cpu", "io": "io", "latency": "stamp"}


class Saq(Peer):
    name = "saq"
    distribution = "saq"

    async def open(self) -> None:
        self.queue = Queue.from_url(self.url, name="bench")
        await self.queue.connect()

    async def close(self) -> None:
        await self.queue.disconnect()

    async def enqueue(self, workload: str, enqueued_ns: int = 0) -> None:
        kwargs = {"enqueued_ns": enqueued_ns} if workload == "latency" else {}
        await self.queue.enqueue(TASKS[workload], **kwargs)

    async def work(self, concurrency: int, drain: bool) -> None:
        queue = Queue.from_url(self.url, name="bench")
        worker = Worker(queue, functions=[noop, cpu, io, stamp], concurrency=concurrency)
        runner = asyncio.ensure_future(worker.start())
        await RECORDER.settle(runner)
        await worker.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        await queue.disconnect()


if __name__ == "__main__":
    main(Saq)

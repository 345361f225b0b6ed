"""SAQ adapter: jobs in Redis lists, a worker with N dequeue loops.

Settings left at SAQ's defaults except `concurrency`. SAQ has no batch
enqueue (`Queue.map` gathers single enqueues and waits for the results).
Task functions take the worker context and keyword arguments only. A round
trip is `Queue.apply` (enqueue, then wait for the result) with its default
`poll_interval=0.5`: it reads the job's status, then sleeps 0.5 s after every
read, the one that finds the job complete included, so a round trip lasts at
least 0.5 s (1 s when the first read comes before the job ends). Not
`Job.refresh(until_complete=...)`: it subscribes only after reading the job's
status, and missed the completion of 8 jobs in 500 in a trial here, each then
waiting out its whole time-out. Run inside bench/.venvs/saq.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from saq import Queue, Worker

from peers.workload import (
    RECORDER,
    RESULT_TIMEOUT_S,
    Peer,
    cpu_body,
    io_body,
    main,
    noop_body,
    stamp_body,
)


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
    results = True

    async def open(self) -> None:
        self.queue = Queue.from_url(self.url, name="bench")
        await self.queue.connect()

    async def close(self) -> None:
        await self.queue.disconnect()

    async def enqueue(self, workload: str, enqueued_ns: int = 0) -> None:
        kwargs = {"enqueued_ns": enqueued_ns} if workload == "latency" else {}
        await self.queue.enqueue(TASKS[workload], **kwargs)

    async def roundtrip(self) -> None:
        # `apply`'s own `timeout` would also become the job's run-time limit: bound the wait outside.
        await asyncio.wait_for(self.queue.apply("noop"), RESULT_TIMEOUT_S)  # JobError unless complete

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

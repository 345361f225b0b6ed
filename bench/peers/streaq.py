"""Streaq adapter: Redis streams with consumer groups, tasks registered on the worker.

Settings left at Streaq's defaults except `concurrency`. Batch enqueue is
`Worker.enqueue_many` (one pipeline). A round trip awaits `Task.result()`,
which opens a pub/sub on the task's own channel, on which the worker publishes
the result. Closing that pub/sub (coredis 6.9) reads push messages for its
`unsubscription_timeout` of 0.1 s, so each round trip lasts at least 100 ms.
Run inside bench/.venvs/streaq.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from streaq import Worker

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


class Streaq(Peer):
    name = "streaq"
    distribution = "streaq"
    batch = True
    results = True

    def __init__(self, url: str, concurrency: int = 16) -> None:
        super().__init__(url)
        self._build(concurrency)

    def _build(self, concurrency: int) -> None:
        worker: Worker[Any] = Worker(redis_url=self.url, queue_name="bench", concurrency=concurrency)

        @worker.task
        async def noop() -> None:
            await noop_body()

        @worker.task
        async def cpu() -> None:
            await cpu_body()

        @worker.task
        async def io() -> None:
            await io_body()

        @worker.task
        async def stamp(enqueued_ns: int) -> None:
            await stamp_body(enqueued_ns)

        self.worker = worker
        self.tasks: dict[str, Any] = {"dispatch": noop, "cpu": cpu, "io": io, "latency": stamp}
        self._context = contextlib.AsyncExitStack()

    async def open(self) -> None:
        await self._context.enter_async_context(self.worker)

    async def close(self) -> None:
        await self._context.aclose()

    async def enqueue(self, workload: str, enqueued_ns: int = 0) -> None:
        args = (enqueued_ns,) if workload == "latency" else ()
        await self.tasks[workload].enqueue(*args)

    async def enqueue_batch(self, workload: str, count: int) -> None:
        await self.worker.enqueue_many([self.tasks[workload].enqueue() for _ in range(count)])

    async def roundtrip(self) -> None:
        task = await self.tasks["dispatch"].enqueue()
        outcome = await task.result(timeout=int(RESULT_TIMEOUT_S))
        if not outcome.success:
            raise RuntimeError(f"task {task.id} failed: {outcome.exception!r}")

    async def work(self, concurrency: int, drain: bool) -> None:
        self._build(concurrency)
        runner = asyncio.ensure_future(self.worker.run_async())
        await RECORDER.settle(runner)
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


if __name__ == "__main__":
    main(Streaq)

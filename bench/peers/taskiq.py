"""Taskiq adapter: `RedisStreamBroker` from taskiq-redis, results in `RedisAsyncResultBackend`.

The worker is taskiq's own `Receiver`, run in this one process the way
`taskiq worker --workers 1 --max-async-tasks N` runs it in each child. A
result backend is configured because every other queue measured here stores
results too. Taskiq has no batch enqueue. A round trip awaits
`AsyncTaskiqTask.wait_result()` with its default `check_interval=0.2`: it asks
the result backend whether the result is there at once, then every 0.2 s.
Run inside bench/.venvs/taskiq.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from taskiq.receiver import Receiver
from taskiq_redis import RedisAsyncResultBackend, RedisStreamBroker

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


class Taskiq(Peer):
    name = "taskiq"
    distribution = "taskiq"
    results = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        broker = RedisStreamBroker(url, queue_name="bench").with_result_backend(
            RedisAsyncResultBackend(url, result_ex_time=3600)
        )

        @broker.task
        async def noop() -> None:
            await noop_body()

        @broker.task
        async def cpu() -> None:
            await cpu_body()

        @broker.task
        async def io() -> None:
            await io_body()

        @broker.task
        async def stamp(enqueued_ns: int) -> None:
            await stamp_body(enqueued_ns)

        self.broker = broker
        self.tasks: dict[str, Any] = {"dispatch": noop, "cpu": cpu, "io": io, "latency": stamp}

    def version(self) -> str:
        from importlib.metadata import version

        return f"{version('taskiq')} + taskiq-redis {version('taskiq-redis')}"

    async def open(self) -> None:
        await self.broker.startup()

    async def close(self) -> None:
        await self.broker.shutdown()

    async def enqueue(self, workload: str, enqueued_ns: int = 0) -> None:
        args = (enqueued_ns,) if workload == "latency" else ()
        await self.tasks[workload].kiq(*args)

    async def roundtrip(self) -> None:
        task = await self.tasks["dispatch"].kiq()
        outcome = await task.wait_result(timeout=RESULT_TIMEOUT_S)
        outcome.raise_for_error()

    async def work(self, concurrency: int, drain: bool) -> None:
        self.broker.is_worker_process = True
        stop = asyncio.Event()
        with ThreadPoolExecutor() as pool:
            receiver = Receiver(broker=self.broker, executor=pool, max_async_tasks=concurrency)
            runner = asyncio.ensure_future(receiver.listen(stop))
            await RECORDER.settle(runner)
            stop.set()
            await runner
        await self.broker.shutdown()


if __name__ == "__main__":
    main(Taskiq)

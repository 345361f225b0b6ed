"""arq adapter: jobs in a sorted set, polled by the worker.

Settings left at arq's defaults except `max_jobs` (the concurrency) and
`handle_signals=False` (the adapter stops the worker itself). arq has no batch
enqueue. A round trip awaits `Job.result()` with its default `poll_delay=0.5`:
it reads the result key at once, then every 0.5 s. Run inside bench/.venvs/arq.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from arq import Worker
from arq.connections import ArqRedis, RedisSettings, create_pool

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

QUEUE = "bench"


async def noop(ctx: dict[str, Any]) -> None:
    await noop_body()


async def cpu(ctx: dict[str, Any]) -> None:
    await cpu_body()


async def io(ctx: dict[str, Any]) -> None:
    await io_body()


async def stamp(ctx: dict[str, Any], enqueued_ns: int) -> None:
    await stamp_body(enqueued_ns)


TASKS = {"dispatch": "noop", "cpu": "cpu", "io": "io", "latency": "stamp"}


class Arq(Peer):
    name = "arq"
    distribution = "arq"
    results = True

    async def open(self) -> None:
        self.pool: ArqRedis = await create_pool(RedisSettings.from_dsn(self.url), default_queue_name=QUEUE)

    async def close(self) -> None:
        await self.pool.aclose()

    async def enqueue(self, workload: str, enqueued_ns: int = 0) -> None:
        args = (enqueued_ns,) if workload == "latency" else ()
        await self.pool.enqueue_job(TASKS[workload], *args)

    async def roundtrip(self) -> None:
        job = await self.pool.enqueue_job("noop")
        if job is None:
            raise RuntimeError("arq enqueued nothing (a job with this id exists)")
        await job.result(timeout=RESULT_TIMEOUT_S)  # re-raises the job's exception

    async def work(self, concurrency: int, drain: bool) -> None:
        worker = Worker(
            functions=[noop, cpu, io, stamp],
            queue_name=QUEUE,
            redis_settings=RedisSettings.from_dsn(self.url),
            max_jobs=concurrency,
            handle_signals=False,
        )
        runner = asyncio.ensure_future(worker.async_run())
        await RECORDER.settle(runner)
        await worker.close()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


if __name__ == "__main__":
    main(Arq)

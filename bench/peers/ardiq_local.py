"""ArdiQ itself, built from this checkout into the main virtualenv (`make build-dev`).

Batch enqueue is `Ardiq.enqueue_many` (through the Rust core); the worker is
`Ardiq.run_worker` with its defaults except `concurrency`, in burst mode when
every task is queued beforehand. A round trip awaits `Job.result`: the worker
that ends the job publishes `done:<id>`, with a status read every second as
the fallback (SPEC.md section 15).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
from typing import Any

from ardiq import Ardiq

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


class ArdiqLocal(Peer):
    name = "ardiq"
    distribution = "ardiq"
    batch = True
    #: More `run_worker` options of a variant.
    worker_options: dict[str, Any] = {}  # noqa: RUF012 - read only
    results = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        app = Ardiq(url, queue="bench")

        @app.task
        async def noop() -> None:
            await noop_body()

        @app.task
        async def cpu() -> None:
            await cpu_body()

        @app.task
        async def io() -> None:
            await io_body()

        @app.task
        async def stamp(enqueued_ns: int) -> None:
            await stamp_body(enqueued_ns)

        self.app = app
        self.tasks: dict[str, Any] = {"dispatch": noop, "cpu": cpu, "io": io, "latency": stamp}

    async def enqueue(self, workload: str, enqueued_ns: int = 0) -> None:
        args = (enqueued_ns,) if workload == "latency" else ()
        await self.tasks[workload].enqueue(*args)

    async def enqueue_batch(self, workload: str, count: int) -> None:
        await self.app.enqueue_many([self.tasks[workload].prepare() for _ in range(count)])

    async def roundtrip(self) -> None:
        job = await self.tasks["dispatch"].enqueue()
        await job.result(timeout_s=RESULT_TIMEOUT_S)  # raises unless the job completed

    async def close(self) -> None:
        close = getattr(self.app, "close", None)
        if callable(close):
            await close()

    async def work(self, concurrency: int, drain: bool) -> None:
        # A graceful stop is SIGTERM to a worker that handles signals (the idle latency run needs it).
        signals = "handle_signals" in inspect.signature(self.app.run_worker).parameters
        options: dict[str, Any] = {"handle_signals": True} if signals else {}
        options.update(self.worker_options)
        runner = asyncio.ensure_future(self.app.run_worker(burst=drain, concurrency=concurrency, **options))
        await RECORDER.settle(runner)
        if not runner.done():
            if signals:
                os.kill(os.getpid(), signal.SIGTERM)
            elif callable(getattr(self.app, "stop", None)):
                self.app.stop()
            else:
                runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(runner, timeout=60)
        await self.close()


if __name__ == "__main__":
    main(ArdiqLocal)

"""The public `ardiq` 1.2.0 package from PyPI (a different project under the same name).

Needs Python >= 3.12, so it runs in bench/.venvs/ardiq_pypi, which must never
see the local package: both import as `ardiq`. Settings are its defaults
except `concurrency`; batch enqueue is `Ardiq.enqueue_many`; the worker drains
in burst mode when every task is queued beforehand. A round trip awaits
`Job.result(timeout=...)`, which waits in its Rust core for the result to be
stored (by its commands, one `SUBSCRIBE` per call, to a channel its worker
publishes on).
"""

from __future__ import annotations

import asyncio
import contextlib
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


class ArdiqPypi(Peer):
    name = "ardiq-pypi"
    distribution = "ardiq"
    batch = True
    results = True

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._build()

    def _build(self, **settings: Any) -> None:
        app = Ardiq(redis_url=self.url, queue_name="bench", **settings)

        @app.task()
        async def noop() -> None:
            await noop_body()

        @app.task()
        async def cpu() -> None:
            await cpu_body()

        @app.task()
        async def io() -> None:
            await io_body()

        @app.task()
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
        outcome = await job.result(timeout=RESULT_TIMEOUT_S)
        if outcome is None or not outcome.success:
            raise RuntimeError(f"job {job.id} did not succeed: {outcome}")

    async def work(self, concurrency: int, drain: bool) -> None:
        self._build(concurrency=concurrency)
        self.app.burst = drain
        runner = asyncio.ensure_future(self.app.run())
        await RECORDER.settle(runner)
        if not runner.done():
            self.app.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await runner


if __name__ == "__main__":
    main(ArdiqPypi)

"""Joins the native core to the running asyncio loop.

The core writes one byte to a socket whenever something is ready; the loop
watches that socket with `add_reader` and takes everything at once with
`Core.drain`. Requests get an id and an asyncio future; the reply resolves it.
No thread ever hops into the loop per request or per job.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, Protocol

from ardiq.logs import JOB_LOGGER, log_job_events

if TYPE_CHECKING:
    from ardiq._core import Core, StartJob

logger = logging.getLogger("ardiq")


class WorkerSink(Protocol):
    """What a worker run receives from the core."""

    def start(self, jobs: list[StartJob]) -> None: ...
    def cancel(self, cancels: list[tuple[int, int]]) -> None: ...
    def exited(self, error: str | None, totals: tuple[int, int, int, int]) -> None: ...


class Link:
    """One core, bound to whichever loop uses it."""

    def __init__(self, core: Core) -> None:
        self.core = core
        self.loop: asyncio.AbstractEventLoop | None = None
        self.futures: dict[int, asyncio.Future[Any]] = {}
        self.next_request = 0
        self.worker: WorkerSink | None = None
        self.job_logs = False

    def bind(self) -> asyncio.AbstractEventLoop:
        """Watches the core's socket from the running loop."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            if self.loop is not None and not self.loop.is_closed():
                self.loop.remove_reader(self.core.fileno())
            loop.add_reader(self.core.fileno(), self.on_ready)
            self.loop = loop
            # Replies to requests of a previous loop can no longer be awaited.
            self.futures.clear()
        return loop

    def request(self) -> tuple[int, asyncio.Future[Any]]:
        """A new request id and the future its reply resolves."""
        loop = self.bind()
        self.next_request += 1
        future: asyncio.Future[Any] = loop.create_future()
        self.futures[self.next_request] = future
        return self.next_request, future

    def watch_job_logs(self) -> None:
        """Tells the core whether lines about every job are wanted (the
        INFO level of `ardiq.job`), when that changed."""
        on = JOB_LOGGER.isEnabledFor(logging.INFO)
        if on is not self.job_logs:
            self.job_logs = on
            self.core.set_job_logs(on)

    def on_ready(self) -> None:
        ready = self.core.drain()
        for level, message in ready.logs:
            logger.log(level, message)
        if ready.job_events:
            log_job_events(ready.job_events)
        if self.worker is not None:
            self.watch_job_logs()
        for request, ok, payload in ready.replies:
            future = self.futures.pop(request, None)
            if future is None or future.done():
                continue
            if ok:
                future.set_result(payload)
            else:
                assert isinstance(payload, BaseException)
                future.set_exception(payload)
        worker = self.worker
        if worker is not None:
            if ready.cancels:
                worker.cancel(ready.cancels)
            if ready.jobs:
                worker.start(ready.jobs)
            if ready.exited:
                self.worker = None
                worker.exited(ready.exit_error, ready.exit_totals)

    def close(self) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.remove_reader(self.core.fileno())
        self.loop = None

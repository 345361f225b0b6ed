"""Running ArdiQ workers under test: in this process (an async context that
always stops the worker) or as `python -m ardiq run` subprocesses (always
killed at teardown), and bounded waits for what they should do."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO, Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

import pytest
from ardiq import Ardiq, Job, JobStatus
from ardiq.worker import Worker

T = TypeVar("T")
APPS = Path(__file__).resolve().parent / "apps"
WAIT_S = 20.0  # a guard against a hung worker, not a speed requirement
STOP_WAIT_S = 10.0  # for a graceful stop with nothing left running


@asynccontextmanager
async def running_worker(app: Ardiq[Any], **options: Any) -> AsyncIterator[Worker]:
    """`app.run_worker(**options)` running in this loop while the block runs,
    then stopped gracefully (as on SIGTERM) and awaited, so that nothing keeps
    running. Defaults suit tests: short visibility, block and intervals."""
    settings: dict[str, Any] = {
        "concurrency": 10,
        "grace_s": 2.0,
        "visibility_ms": 1000,
        "block_ms": 200,
        "promote_interval_ms": 100,
        "heartbeat_ms": 500,
    }
    settings.update(options)
    run = asyncio.create_task(app.run_worker(**settings))
    await asyncio.sleep(0)  # the run registers its worker before its first suspension
    worker = cast("Worker | None", app._link.worker)
    if worker is None:
        await run  # it did not start: raise its error here
        raise AssertionError("the worker run ended at once")
    try:
        yield worker
    finally:
        worker.stop()
        await asyncio.wait_for(run, STOP_WAIT_S)


async def run_burst(app: Ardiq[Any], **options: Any) -> None:
    """A burst worker run of `app` in this loop: drains the queue, then
    returns. Visibility defaults to 1 s."""
    settings: dict[str, Any] = {"visibility_ms": 1000}
    settings.update(options)
    await within(app.run_worker(burst=True, **settings), WAIT_S, "the burst run to drain the queue and end")


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], what: str, timeout_s: float = WAIT_S
) -> None:
    """Waits until `check()` is true; fails the test naming `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        outcome = check()
        if isinstance(outcome, Awaitable):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s} s: {what}")
        await asyncio.sleep(0.02)


async def within(awaitable: Awaitable[T], timeout_s: float, what: str) -> T:
    """Awaits with a bound; a hang fails the test naming `what`."""
    try:
        return await asyncio.wait_for(awaitable, timeout_s)
    except TimeoutError:
        pytest.fail(f"not within {timeout_s} s: {what}")


async def wait_for_status(job: Job[Any], status: JobStatus, timeout_s: float = WAIT_S) -> None:
    """Waits until the job has `status`."""

    async def reached() -> bool:
        return await job.status() is status

    await eventually(reached, f"job {job.id} is {status.value}", timeout_s)


class WorkerProcess:
    """`python -m ardiq run APP_SPEC ARGS...` in `tests/apps`, on one queue;
    its stdout and stderr go to a temporary file for failure messages."""

    def __init__(
        self, app_spec: str, redis_url: str, queue: str, *args: str, env: dict[str, str] | None = None
    ) -> None:
        # Closed by `kill`, which the `spawn_worker` fixture always calls.
        self.log: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115
        env = dict(
            os.environ, **(env or {}), ARDIQ_REDIS_URL=redis_url, ARDIQ_QUEUE=queue, PYTHONUNBUFFERED="1"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ardiq", "run", app_spec, *args],
            cwd=APPS,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def signal(self, signum: signal.Signals) -> None:
        self.process.send_signal(signum)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    async def exited(self, timeout_s: float = WAIT_S) -> int:
        """Waits for the process to end; its exit code."""
        deadline = time.monotonic() + timeout_s
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {self.pid} still runs after {timeout_s} s:\n{self.output()}")
            await asyncio.sleep(0.02)
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL (when still running), reap, and close the log."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.log.close()


SpawnWorker = Callable[..., WorkerProcess]


class _Link:
    """One relayed connection of a `StallingProxy`: whether its replies are dropped."""

    def __init__(self) -> None:
        self.discarding = False


class StallingProxy:
    """A TCP relay to Redis, in this loop, that can stall: while stalled it
    passes no byte either way (connections stay open, as in a network
    partition or a long stall of the path), then passes on what waited.
    It can also drop Redis's replies (all of them, or those of the
    connection that sent a given command) and then sever every connection:
    the calls in flight ran in Redis, and their callers never hear of it."""

    def __init__(self, redis_url: str) -> None:
        self.upstream = urlsplit(redis_url)
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.discarding = False
        self.trigger: bytes | None = None
        self.server: asyncio.Server | None = None
        self.pumps: set[asyncio.Task[None]] = set()
        self.links: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return urlunsplit(self.upstream._replace(netloc=f"127.0.0.1:{port}"))

    async def __aenter__(self) -> StallingProxy:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        pumps = list(self.pumps)
        for pump in pumps:
            pump.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)

    def stall(self) -> None:
        self.flowing.clear()

    def flow(self) -> None:
        self.flowing.set()

    def discard_replies(self) -> None:
        """From now on, what Redis sends back is dropped; calls still reach it."""
        self.discarding = True

    def discard_replies_after(self, *words: str) -> None:
        """From the first call that begins with `words` (a command's name,
        its key, ...) on, what Redis sends back on the connection that made
        it is dropped; other connections relay as usual."""
        # As RESP sends them (bulk strings), so that a script's text naming
        # the command is no match.
        self.trigger = b"".join(f"${len(word)}\r\n{word}\r\n".encode() for word in words)

    def sever(self) -> None:
        """Closes every relayed connection, with the replies dropped so far
        lost for good; connections made after this relay as usual."""
        for link in list(self.links):
            link.close()
        self.links.clear()
        self.discarding = False
        self.trigger = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        host, port = self.upstream.hostname or "127.0.0.1", self.upstream.port or 6379
        up_reader, up_writer = await asyncio.open_connection(host, port)
        self.links.update((writer, up_writer))
        link = _Link()
        for source, sink, replies in ((reader, up_writer, False), (up_reader, writer, True)):
            pump = asyncio.create_task(self._pump(source, sink, link, replies))
            self.pumps.add(pump)
            pump.add_done_callback(self.pumps.discard)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, link: _Link, replies: bool
    ) -> None:
        try:
            while data := await source.read(65536):
                await self.flowing.wait()
                if replies and (self.discarding or link.discarding):
                    continue
                if not replies and self.trigger is not None and self.trigger in data:
                    link.discarding = True
                sink.write(data)
                await sink.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            sink.close()


def run_cli(
    redis_url: str, queue: str, *args: str, timeout_s: float = WAIT_S, input: str = ""
) -> subprocess.CompletedProcess[str]:
    """Runs `python -m ardiq ARGS...` in `tests/apps` to completion, with
    `input` on its stdin."""
    env = dict(os.environ, ARDIQ_REDIS_URL=redis_url, ARDIQ_QUEUE=queue)
    return subprocess.run(
        [sys.executable, "-m", "ardiq", *args],
        cwd=APPS,
        env=env,
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )

"""Sync tasks registered with `process=True` run in child processes, so that a
time limit or an abort is enforced: a thread cannot be stopped, a process
can be killed.

Each child is `python -c _BOOT FD`, which ignores SIGINT before anything
else (a Ctrl-C reaches the whole process group: the parent stops, and kills
its children if it must) and serves requests: it imports the task's module
by name, so a process task lives at the top level of an importable module. The
parent and child speak over a socket pair in frames of a 4-byte big-endian
length and a MessagePack body (the spec's value table, as on the wire; no
pickle): the request `[module, qualname, args, kwargs, job]` (`job` the
run's `current_job()` context), then from the child any number of
`["progress", fraction, message]` frames (the task's progress reports, which
the parent hands to the core) and the reply `["ok", value]` or
`["error", type, message, traceback, retry delay_ms or nil]`. Children are kept
and reused; a child that overruns its time or whose job is aborted is
killed, and a fresh one is started for the next job.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import signal
import socket
import struct
import subprocess
import sys
import traceback
from typing import Any, cast

from ardiq import _core, context
from ardiq.errors import Retry

_HEADER = struct.Struct(">I")
_BOOT = (
    "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
    "from ardiq._process import _serve; _serve(int(sys.argv[1]))"
)


class ProcessTaskError(Exception):
    """A process task raised: its type name, message and traceback, from the child."""

    def __init__(self, kind: str, message: str, traceback_text: str, delay_ms: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.traceback_text = traceback_text
        #: The delay a `Retry` raised in the child asked for.
        self.delay_ms = delay_ms


class _Child:
    """One child process and the parent's end of its socket."""

    def __init__(self) -> None:
        parent_end, child_end = socket.socketpair()
        # The child imports what the parent can: the parent's path, the
        # current directory included.
        path = os.pathsep.join(entry or os.getcwd() for entry in sys.path)
        env = dict(os.environ, PYTHONPATH=path)
        self.process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, str(child_end.fileno())],
            pass_fds=(child_end.fileno(),),
            env=env,
        )
        child_end.close()
        parent_end.setblocking(False)
        self.sock = parent_end

    async def call(self, request: bytes, handle: int, reporter: context.Reporter) -> list[Any]:
        """Sends a request; hands its progress frames to `reporter`; returns the reply."""
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(self.sock, _HEADER.pack(len(request)) + request)
        while True:
            (length,) = _HEADER.unpack(await self._read(_HEADER.size))
            frame = cast("list[Any]", _core.decode_value(await self._read(length)))
            if frame[0] != "progress":
                return frame
            with contextlib.suppress(ValueError, TypeError):  # the child checked it
                reporter.progress(handle, frame[1], frame[2])

    async def _read(self, count: int) -> bytes:
        loop = asyncio.get_running_loop()
        chunks = bytearray()
        while len(chunks) < count:
            chunk = await loop.sock_recv(self.sock, count - len(chunks))
            if not chunk:
                raise ProcessTaskError(
                    "ProcessDied", f"the task's process ended with code {self.process.poll()}", ""
                )
            chunks += chunk
        return bytes(chunks)

    def kill(self) -> None:
        self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)


class ProcessPool:
    """At most `size` child processes, started when first needed."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("process_concurrency must be at least 1")
        self.size = size
        self.idle: list[_Child] = []
        self._slots: asyncio.Semaphore | None = None

    async def run(
        self,
        module: str,
        qualname: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        timeout_s: float | None,
        job: context.Raw,
    ) -> Any:
        """Runs the function in a child; kills the child when the time limit
        passes (raising `TimeoutError`) or when the run is cancelled."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.size)
        job_id, task, attempt, extras, worker_id, handle, reporter = job
        request = _core.encode_value(
            [
                module,
                qualname,
                list(args),
                kwargs,
                [job_id, task, attempt, list(cast(tuple[Any, ...], extras)), worker_id],
            ]
        )
        async with self._slots:
            child = self.idle.pop() if self.idle else _Child()
            try:
                async with asyncio.timeout(timeout_s):
                    outcome = await child.call(request, handle, reporter)
            except TimeoutError:
                child.kill()
                raise TimeoutError(
                    f"{qualname} timed out after {timeout_s} s; its process was killed"
                ) from None
            except BaseException:
                child.kill()
                raise
            self.idle.append(child)
        if outcome[0] == "ok":
            return outcome[1]
        _, kind, message, traceback_text, delay_ms = outcome
        raise ProcessTaskError(kind, message, traceback_text, delay_ms)

    def close(self) -> None:
        """Ends the idle children (running ones end with their cancelled runs)."""
        idle, self.idle = self.idle, []
        for child in idle:
            child.kill()


def _resolve(module: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module)
    for part in qualname.split("."):
        target = getattr(target, part)
    # `@app.task` leaves the `Task` under the function's name.
    return getattr(target, "fn", target)


def _read_exactly(sock: socket.socket, count: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < count:
        chunk = sock.recv(count - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


class _ToParent:
    """The child's reporter: each progress report is checked here, then sent
    to the parent as a frame."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def progress(self, handle: int, fraction: float, message: str) -> None:
        _core.check_progress(fraction, message)
        frame = _core.encode_value(["progress", float(fraction), message])
        self.sock.sendall(_HEADER.pack(len(frame)) + frame)


def _serve(fd: int) -> None:
    """The child's loop: one request at a time until the parent goes away."""
    sock = socket.socket(fileno=fd)
    reporter = _ToParent(sock)
    functions: dict[tuple[str, str], Any] = {}
    while (header := _read_exactly(sock, _HEADER.size)) is not None:
        body = _read_exactly(sock, _HEADER.unpack(header)[0])
        if body is None:
            return
        module, qualname, args, kwargs, job = cast("list[Any]", _core.decode_value(body))
        job_id, task, attempt, extras, worker_id = job
        token = context.enter((job_id, task, attempt, tuple(extras), worker_id, 0, reporter))
        try:
            fn = functions.get((module, qualname))
            if fn is None:
                fn = functions[(module, qualname)] = _resolve(module, qualname)
            reply = _core.encode_value(["ok", fn(*args, **kwargs)])
        except BaseException as exc:
            text = "".join(traceback.format_exception(exc))
            delay_ms = exc.delay_ms if isinstance(exc, Retry) else None
            reply = _core.encode_value(["error", type(exc).__name__, str(exc), text, delay_ms])
        finally:
            context.leave(token)
        sock.sendall(_HEADER.pack(len(reply)) + reply)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _serve(int(sys.argv[1]))

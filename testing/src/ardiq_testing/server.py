"""A redis-server process of the test's own on a loopback port."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from ardiq_testing.ports import free_port, wait_for_redis


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make redis` (Debian package redis-server)")
    return binary


class RedisServer:
    """A throwaway redis-server on 127.0.0.1, never the shared ``REDIS_URL``.

    Its port and data directory are fixed when it is made, so `stop()` then
    `start()` brings the same server back on the same URL (with its data, when
    `extra_args` turn persistence on, e.g. ``"--appendonly", "yes"``).
    Without extra arguments it persists nothing. `extra_args` come after the
    defaults, so they override them.
    """

    def __init__(
        self,
        *extra_args: str,
        port: int = 0,
        ready_timeout_s: float = 10.0,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.extra_args = extra_args
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.ready_timeout_s = ready_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._directory: tempfile.TemporaryDirectory[str] | None = None

    @property
    def directory(self) -> Path:
        """The server's working directory (its append-only file lives here); kept until `close()`."""
        if self._directory is None:
            self._directory = tempfile.TemporaryDirectory(prefix="ardiq-redis-")
        return Path(self._directory.name)

    def _spawn(self, *more_args: str) -> subprocess.Popen[bytes]:
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.directory)),
                *("--save", "", "--appendonly", "no"),
                *self.extra_args,
                *more_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return self.process

    def start(self) -> RedisServer:
        """Starts the process and waits until it answers PING."""
        if self.process is not None:
            return self
        process = self._spawn()
        try:
            wait_for_redis(self.port, process, timeout_s=self.ready_timeout_s)
        except RuntimeError:
            self.stop()
            raise
        return self

    def restart_loading(self, keys: int = 4000) -> None:
        """Restarts the running server so that it is still loading its data when this returns.

        It first adds `keys` small keys (``ardiq-testing:pad:<n>``) and saves everything to its
        RDB file; the new process then loads them at 300 µs a key and, between keys, answers
        clients with ``LOADING``, for about `keys` × 0.3 ms. For a server without an append-only
        file. `restart()`, `stop()` and `close()` work on it as usual.
        """
        if self.process is None:
            raise RuntimeError("restart_loading needs a running server")
        pairs = [part for n in range(keys) for part in (f"ardiq-testing:pad:{n}", "x")]
        for command in (["MSET", *pairs], ["SAVE"]):
            reply = _call(self.port, command)
            if not reply.startswith(b"+OK"):
                raise RuntimeError(f"redis-server answered {command[0]} with {reply!r}")
        self.stop()
        process = self._spawn("--key-load-delay", "300", "--loading-process-events-interval-bytes", "1024")
        deadline = time.monotonic() + self.ready_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited with code {process.returncode}")
            try:
                reply = _call(self.port, ["PING"])
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
                continue
            if reply.startswith(b"-LOADING"):
                return
            raise RuntimeError(f"redis-server answered PING with {reply!r} before LOADING: give more keys")

    def stop(self) -> None:
        """SIGTERM (Redis writes and fsyncs its append-only file, if any, and exits); SIGKILL if it hangs."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.terminate()
        try:
            process.wait(timeout=self.stop_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        """Stops the server and removes its directory."""
        self.stop()
        if self._directory is not None:
            self._directory.cleanup()
            self._directory = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _call(port: int, command: list[str]) -> bytes:
    """Sends one command on a fresh connection; the start of its reply (no client library: it
    would wait out ``LOADING`` on its own)."""
    parts = [part.encode() for part in command]
    request = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(part), part) for part in parts)
    with socket.create_connection(("127.0.0.1", port), timeout=10.0) as sock:
        sock.sendall(request)
        return sock.recv(256)

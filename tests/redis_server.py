"""The one Redis fixture of every ArdiQ test suite.

`RedisServer` starts a throwaway `redis-server` on a free loopback port (or
uses ``REDIS_URL`` when set). `RedisCluster` starts a three-master cluster on
loopback. Run as a script, it wraps a command so that suites in other
languages get the same server through ``REDIS_URL``::

    python tests/redis_server.py -- cargo test
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = random.randint(20000, 50000)
        if _port_is_free(port) and _port_is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


def wait_for_port(
    port: int, process: subprocess.Popen[bytes], timeout_s: float = 10.0, tls: ssl.SSLContext | None = None
) -> None:
    """Waits until the server on `port` answers PING (over `tls` when given)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as raw:
                sock = tls.wrap_socket(raw) if tls is not None else raw
                with sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"redis-server did not answer on port {port} within {timeout_s} s")


def redis_server_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: run `make redis` (Debian package redis-server)")
    return binary


class RedisServer:
    """A redis-server process on a free loopback port, or the one at REDIS_URL."""

    def __init__(self, *extra_args: str, port: int = 0) -> None:
        self.extra_args = extra_args
        self.requested_port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: tempfile.TemporaryDirectory[str] | None = None
        self.port = 0
        self.url = os.environ.get("REDIS_URL", "")

    def start(self) -> RedisServer:
        if self.url:
            return self
        self.directory = tempfile.TemporaryDirectory(prefix="ardiq-redis-")
        self.port = self.requested_port or free_port()
        self.process = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                self.directory.name,
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None
        if self.directory is not None:
            self.directory.cleanup()
            self.directory = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class RedisCluster:
    """Three redis-server masters on loopback joined into one cluster."""

    def __init__(self, masters: int = 3) -> None:
        self.masters = masters
        self.servers: list[RedisServer] = []
        self.ports: list[int] = []

    def start(self) -> RedisCluster:
        for _ in range(self.masters):
            server = RedisServer(
                "--cluster-enabled", "yes", "--cluster-node-timeout", "2000", port=free_cluster_port()
            )
            server.url = ""  # a cluster node is always our own process
            self.servers.append(server)
            server.start()
            assert server.directory is not None
            self.ports.append(server.port)
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed: run `make redis`")
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = subprocess.run(
                [cli, "-p", str(self.ports[0]), "cluster", "info"], capture_output=True, text=True, check=True
            ).stdout
            if "cluster_state:ok" in info:
                return self
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    @property
    def urls(self) -> list[str]:
        return [f"redis://127.0.0.1:{port}/0" for port in self.ports]

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: list[str]) -> int:
    """Runs ``argv`` (after ``--``) with REDIS_URL pointing at a Redis."""
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print("usage: python tests/redis_server.py -- COMMAND...", file=sys.stderr)
        return 2
    with RedisServer() as server:
        env = dict(os.environ, REDIS_URL=server.url)
        return subprocess.call(argv, env=env)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    raise SystemExit(main(sys.argv[1:]))

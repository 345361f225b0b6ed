"""A Redis restart with persistence on: delayed jobs survive it, and a
running worker reconnects and goes on working."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator

import pytest
from ardiq import Ardiq, Job, JobStatus, RedisUnavailable, Task
from redis_server import free_port
from worker_harness import WAIT_S, running_worker, within


class PersistentRedis:
    """A redis-server with an append-only file, restartable on the same port."""

    def __init__(self) -> None:
        self.directory = tempfile.TemporaryDirectory(prefix="ardiq-restart-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        self.process = subprocess.Popen(
            [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.directory.name),
                *("--save", "", "--appendonly", "yes", "--appendfsync", "always"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None
        self.directory.cleanup()


async def enqueue_until_reconnected(task: Task[[int, int], int], x: int, y: int) -> Job[int]:
    """The producer's first command after a restart may fail while its
    connection is re-established; this test is about the worker."""
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            return await within(task.enqueue(x, y), WAIT_S, "an enqueue after the restart")
        except RedisUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


@pytest.fixture
def persistent_redis() -> Iterator[PersistentRedis]:
    server = PersistentRedis()
    server.start()
    yield server
    server.close()


async def test_delayed_job_survives_a_redis_restart(persistent_redis: PersistentRedis) -> None:
    before = Ardiq(persistent_redis.url, queue="restart")
    job = await before.options(delay_ms=300).send("add", 2, 3)
    await before.close()
    persistent_redis.restart()

    after = Ardiq(persistent_redis.url, queue="restart")

    @after.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        revived = after.job(job.id)
        assert await revived.status() is JobStatus.SCHEDULED
        async with running_worker(after):
            assert await revived.result(timeout_s=WAIT_S) == 5
    finally:
        await after.close()


async def test_running_worker_goes_on_working_after_a_redis_restart(
    persistent_redis: PersistentRedis,
) -> None:
    app = Ardiq(persistent_redis.url, queue="restart")

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        async with running_worker(app):
            first = await add.enqueue(1, 1)
            assert await first.result(timeout_s=WAIT_S) == 2

            persistent_redis.restart()

            second = await enqueue_until_reconnected(add.options(job_id="after-restart"), 2, 2)
            assert await within(second.result(timeout_s=WAIT_S), WAIT_S, "the job after the restart") == 4
    finally:
        await app.close()

"""Fixtures of the worker's test suite: a fresh queue per test, an app on
it, a plain redis-py client to look at what the worker wrote, and
subprocess workers that are always killed at teardown."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import redis
from ardiq import Ardiq
from wire_records import Keys
from worker_harness import SpawnWorker, WorkerProcess


@pytest.fixture
def queue(request: pytest.FixtureRequest) -> str:
    """A queue name no other test uses, readable in `redis-cli`."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)[:70].strip("-")
    return f"wt-{name}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def keys(queue: str) -> Keys:
    """The Redis key names of the test's queue."""
    return Keys(queue)


@pytest.fixture
async def app(redis_url: str, queue: str) -> AsyncIterator[Ardiq]:
    """An app on the test's queue; each test registers its own tasks."""
    application = Ardiq(redis_url, queue=queue)
    yield application
    await application.close()


@pytest.fixture(params=["direct", "middleware"])
def run_path(request: pytest.FixtureRequest, app: Ardiq) -> str:
    """Runs a test twice: with the app's tasks called directly, and through
    a middleware that only passes each run on (the worker's other path)."""
    if request.param == "middleware":

        @app.middleware
        async def passing(job: Any, call_next: Callable[[], Awaitable[Any]]) -> Any:
            return await call_next()

    return str(request.param)


@pytest.fixture
def inspector(redis_url: str) -> Iterator[redis.Redis]:
    """A plain redis-py client for reading (and writing raw) Redis state."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def spawn_worker(redis_url: str, queue: str) -> Iterator[SpawnWorker]:
    """Starts `python -m ardiq run MODULE:app ARGS...` on the test's queue;
    every process still alive at teardown is killed."""
    started: list[WorkerProcess] = []

    def spawn(app_spec: str, *args: str) -> WorkerProcess:
        process = WorkerProcess(app_spec, redis_url, queue, *args)
        started.append(process)
        return process

    yield spawn
    for process in started:
        process.kill()

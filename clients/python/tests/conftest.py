"""Fixtures of the ardiq-client tests: a fresh queue per test on the session's Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
from ardiq_client import AsyncClient, Client


@pytest.fixture
def queue() -> str:
    """A queue name no other test uses."""
    return f"client-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def inspector(redis_url: str) -> Iterator[redis.Redis]:
    """A plain redis-py client to look at what the client wrote."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
async def client(redis_url: str, queue: str) -> AsyncIterator[AsyncClient]:
    async with AsyncClient.from_url(redis_url, queue=queue) as connected:
        yield connected


@pytest.fixture
def sync_client(redis_url: str, queue: str) -> Iterator[Client]:
    with Client.from_url(redis_url, queue=queue) as connected:
        yield connected

"""Connection errors, credentials and closed clients map to typed errors."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import redis
from ardiq_client import (
    ArdiqError,
    AsyncClient,
    AuthenticationFailed,
    Client,
    InvalidQueueName,
    NotConnected,
    RedisUnavailable,
)


def free_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def acl_user(inspector: redis.Redis) -> Iterator[tuple[str, str]]:
    """A Redis ACL user allowed everything (abort.lua publishes, so channels too), deleted after the test."""
    name, password = f"client-{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    inspector.acl_setuser(
        name, enabled=True, passwords=[f"+{password}"], keys=["*"], channels=["*"], commands=["+@all"]
    )
    yield name, password
    inspector.acl_deluser(name)


def with_credentials(redis_url: str, user: str, password: str) -> str:
    parts = urlsplit(redis_url)
    return f"redis://{user}:{password}@{parts.hostname}:{parts.port}{parts.path}"


async def test_unreachable_redis_raises_redis_unavailable() -> None:
    client = AsyncClient.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RedisUnavailable) as raised:
        await client.connect()
    assert isinstance(raised.value, ConnectionError)
    assert isinstance(raised.value, ArdiqError)
    with pytest.raises(RedisUnavailable):
        await client.send("t")
    await client.close()


def test_unreachable_redis_raises_redis_unavailable_in_the_sync_client() -> None:
    client = Client.from_url(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(RedisUnavailable):
        client.connect()
    client.close()


async def test_a_wrong_password_raises_authentication_failed(
    redis_url: str, acl_user: tuple[str, str]
) -> None:
    user, _ = acl_user
    client = AsyncClient.from_url(with_credentials(redis_url, user, "wrong"))
    with pytest.raises(AuthenticationFailed):
        await client.connect()
    await client.close()


async def test_acl_credentials_from_the_url_are_used(redis_url: str, acl_user: tuple[str, str]) -> None:
    async with AsyncClient.from_url(with_credentials(redis_url, *acl_user), queue="acl") as client:
        job = await client.send("t")
        await job.abort()


def test_a_wrong_password_raises_authentication_failed_in_the_sync_client(
    redis_url: str, acl_user: tuple[str, str]
) -> None:
    client = Client.from_url(with_credentials(redis_url, acl_user[0], "wrong"))
    with pytest.raises(AuthenticationFailed):
        client.connect()
    client.close()


async def test_a_closed_client_raises_not_connected(redis_url: str) -> None:
    client = AsyncClient.from_url(redis_url)
    await client.close()
    with pytest.raises(NotConnected):
        await client.send("t")


@pytest.mark.parametrize("queue", ["", "a{b}", "with space", "q" * 129])
def test_invalid_queue_names_are_rejected(redis_url: str, queue: str) -> None:
    with pytest.raises(InvalidQueueName):
        Client.from_url(redis_url, queue=queue)


def test_a_client_that_decodes_responses_is_refused() -> None:
    with pytest.raises(ValueError, match="decode_responses"):
        Client(redis.Redis(decode_responses=True))

"""`rediss://` URLs: the core speaks TLS (rustls) to a redis-server started
here whose certificate a private CA signed. Given that CA (`ssl_ca_certs`)
the core trusts it; with another CA, or with the public roots only, the
connection is refused at once with a `RedisUnavailable` that says TLS and
why; `#insecure` skips verification. The pure-Python client (redis-py's TLS)
talks to the same server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ardiq import Ardiq, RedisUnavailable
from ardiq_client import AsyncClient
from ardiq_testing import TlsRedis, tls_redis
from worker_harness import WAIT_S, run_burst, within


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    """A TLS redis-server whose certificate (for 127.0.0.1) a private CA signed."""
    with tls_redis(tmp_path_factory.mktemp("tls")) as server:
        yield server


@pytest.fixture(scope="module")
def tls_url(tls: TlsRedis) -> str:
    return tls.url


@pytest.fixture(scope="module")
def ca_file(tls: TlsRedis) -> Path:
    """The private CA that signed the server's certificate."""
    return tls.ca.cert


async def test_a_private_ca_is_trusted_when_given(tls_url: str, ca_file: Path) -> None:
    app = Ardiq(tls_url, queue="tls-ca", ssl_ca_certs=ca_file)

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        job = await add.enqueue(4, 5)
        await run_burst(app)
        assert await job.result(timeout_s=WAIT_S) == 9
    finally:
        await app.close()


async def test_a_server_signed_by_another_ca_is_refused_with_a_tls_error(tls: TlsRedis) -> None:
    app = Ardiq(tls.url, queue="tls-wrong-ca", ssl_ca_certs=tls.other_ca.cert)
    try:
        with pytest.raises(RedisUnavailable, match=r"TLS handshake failed: .*(certificate|UnknownIssuer)"):
            await within(app.ping(), WAIT_S, "the refused TLS connection to fail")
    finally:
        await app.close()


def test_a_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the CA file"):
        Ardiq("rediss://127.0.0.1:6379/0", ssl_ca_certs=tmp_path / "absent.pem")


async def test_enqueue_run_and_result_over_tls(tls_url: str) -> None:
    app = Ardiq(f"{tls_url}#insecure", queue="tls")

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        job = await add.enqueue(2, 3)
        await run_burst(app)
        assert await job.result(timeout_s=WAIT_S) == 5
    finally:
        await app.close()


async def test_a_certificate_no_public_root_vouches_for_is_refused(tls_url: str) -> None:
    app = Ardiq(tls_url, queue="tls-verified")
    try:
        with pytest.raises(RedisUnavailable, match="TLS handshake failed"):
            await within(app.ping(), WAIT_S, "the refused TLS connection to fail")
    finally:
        await app.close()


async def test_the_pure_python_client_enqueues_and_reads_over_tls(tls_url: str) -> None:
    app = Ardiq(f"{tls_url}#insecure", queue="tls-client")

    @app.task
    async def add(x: int, y: int) -> int:
        return x + y

    try:
        async with AsyncClient.from_url(f"{tls_url}?ssl_cert_reqs=none", queue="tls-client") as client:
            job = await client.send("add", (20, 22))
            await run_burst(app)
            assert await job.result(timeout_s=WAIT_S) == 42
    finally:
        await app.close()

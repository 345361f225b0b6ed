"""``rediss://`` with a private CA (SPEC.md section 14): the CA given as redis-py's ``ssl_ca_certs``
(an option or the URL's query) verifies the server; a certificate that does not verify is refused
at once with a `RedisUnavailable` that says TLS and why, never after a timeout."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest
from ardiq_client import AsyncClient, Client, EnqueueOutcome, JobStatus, RedisUnavailable
from ardiq_testing import TlsRedis, tls_redis

# What OpenSSL says of a chain that does not lead to a CA the client trusts (redis-server sends
# its CA along, so the chain ends in a self-signed certificate the client does not know).
UNVERIFIED = r"Redis is unavailable: TLS failed: .*certificate verify failed: self-signed certificate in"
# Long enough that a refusal cannot be a timeout in disguise.
PATIENT_S = 60.0


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsRedis]:
    with tls_redis(tmp_path_factory.mktemp("private-ca")) as server:
        yield server


async def test_the_private_ca_as_an_option_verifies_the_server(tls: TlsRedis) -> None:
    async with AsyncClient.from_url(tls.url, queue="tls", ssl_ca_certs=str(tls.ca.cert)) as client:
        job = await client.send("t")
        assert job.outcome is EnqueueOutcome.QUEUED
        assert await job.status() is JobStatus.QUEUED


def test_the_private_ca_in_the_url_verifies_the_server(tls: TlsRedis) -> None:
    url = f"{tls.url}?ssl_ca_certs={quote(str(tls.ca.cert))}"
    with Client.from_url(url, queue="tls") as client:
        job = client.send("t")
        assert job.status() is JobStatus.QUEUED
        assert job.abort().value == "abort_requested"


async def test_a_certificate_another_ca_signed_is_refused_at_once(tls: TlsRedis) -> None:
    client = AsyncClient.from_url(
        tls.url, ssl_ca_certs=str(tls.other_ca.cert), connect_timeout_s=PATIENT_S, command_timeout_s=PATIENT_S
    )
    with pytest.raises(RedisUnavailable, match=UNVERIFIED):
        await client.connect()
    await client.close()


def test_the_blocking_client_refuses_a_certificate_another_ca_signed(tls: TlsRedis) -> None:
    url = f"{tls.url}?ssl_ca_certs={quote(str(tls.other_ca.cert))}"
    client = Client.from_url(url, connect_timeout_s=PATIENT_S, command_timeout_s=PATIENT_S)
    with pytest.raises(RedisUnavailable, match=UNVERIFIED):
        client.send("t")
    client.close()


async def test_without_its_ca_a_private_certificate_is_refused(tls: TlsRedis) -> None:
    client = AsyncClient.from_url(tls.url, connect_timeout_s=PATIENT_S, command_timeout_s=PATIENT_S)
    with pytest.raises(RedisUnavailable, match=UNVERIFIED):
        await client.connect()
    await client.close()


async def test_verification_can_be_skipped_for_development(tls: TlsRedis) -> None:
    async with AsyncClient.from_url(f"{tls.url}?ssl_cert_reqs=none", queue="tls") as client:
        assert await (await client.send("t")).status() is JobStatus.QUEUED

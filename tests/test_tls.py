"""`rediss://` URLs: the core speaks TLS (rustls) to a redis-server started
here whose certificate a private CA signed. Given that CA (`ssl_ca_certs`)
the core trusts it; with another CA, or with the public roots only, the
connection is refused at once with a `RedisUnavailable` that says TLS and
why; `#insecure` skips verification. The pure-Python client (redis-py's TLS)
talks to the same server."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from ardiq import Ardiq, RedisUnavailable
from ardiq_client import AsyncClient
from redis_server import free_port, redis_server_binary, wait_for_port
from worker_harness import WAIT_S, run_burst, within


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def private_ca(directory: Path, name: str) -> tuple[Path, Path]:
    """A CA of our own: its certificate and key."""
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-keyout", str(key),
        "-out", str(cert), "-subj", f"/CN={name}",
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def tls_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="module")
def ca_file(tls_dir: Path) -> Path:
    """The private CA that signed the server's certificate."""
    return private_ca(tls_dir, "ardiq-test-ca")[0]


@pytest.fixture(scope="module")
def tls_url(tls_dir: Path, ca_file: Path) -> Iterator[str]:
    """A TLS redis-server whose certificate (for 127.0.0.1) the private CA signed."""
    ca_key = tls_dir / "ardiq-test-ca.key"
    cert, key, request = tls_dir / "server.pem", tls_dir / "server.key", tls_dir / "server.csr"
    extensions = tls_dir / "server.ext"
    extensions.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(request),
        "-subj",
        "/CN=localhost",
    )
    openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca_file), "-CAkey", str(ca_key), "-CAcreateserial",
        "-days", "2", "-out", str(cert), "-extfile", str(extensions),
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca_file),
            "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(tls_dir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
        context.check_hostname = False
        wait_for_port(port, process, tls=context)
        yield f"rediss://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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


async def test_a_server_signed_by_another_ca_is_refused_with_a_tls_error(tls_url: str, tls_dir: Path) -> None:
    other_ca, _ = private_ca(tls_dir, "some-other-ca")
    app = Ardiq(tls_url, queue="tls-wrong-ca", ssl_ca_certs=other_ca)
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

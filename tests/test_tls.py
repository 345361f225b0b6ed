"""`rediss://` URLs: the core speaks TLS (rustls) to a redis-server started
here with a self-signed certificate. `#insecure` skips verification; without
it, a certificate no public root vouches for is refused with a typed error.
The pure-Python client (redis-py's TLS) talks to the same server."""

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


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory: Path = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(cert),
            "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        wait_for_port(port, process, tls=context)
        yield f"rediss://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


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


async def test_a_certificate_no_root_vouches_for_is_refused(tls_url: str) -> None:
    app = Ardiq(tls_url, queue="tls-verified")
    try:
        with pytest.raises(RedisUnavailable, match="certificate"):
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

"""A TLS-only redis-server whose certificate a private CA made here (with ``openssl``) signed."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ardiq_testing.ports import free_port, wait_for_redis
from ardiq_testing.server import redis_server_binary


@dataclass(frozen=True)
class CertificateAuthority:
    """A private CA: its certificate (PEM) and key."""

    cert: Path
    key: Path


def _openssl(*args: str | Path) -> None:
    subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)


def make_ca(directory: Path, name: str) -> CertificateAuthority:
    """A self-signed CA certificate and key in `directory`, files named after `name`."""
    ca = CertificateAuthority(directory / f"{name}.pem", directory / f"{name}.key")
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-days", "2", "-keyout", ca.key, "-out", ca.cert, "-subj", f"/CN=ArdiQ test {name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return ca


def sign_server_certificate(ca: CertificateAuthority, directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by `ca`, and its key."""
    cert, key, request, extensions = (
        directory / name for name in ("server.pem", "server.key", "server.csr", "server.ext")
    )
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", key, "-out", request, "-subj", "/CN=localhost",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", request, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial",
        "-days", "2", "-out", cert, "-extfile", extensions,
    )  # fmt: skip
    return cert, key


@dataclass(frozen=True)
class TlsRedis:
    """A TLS-only redis-server whose certificate `ca` signed; `other_ca` signed nothing of it."""

    url: str
    ca: CertificateAuthority
    other_ca: CertificateAuthority


@contextmanager
def tls_redis(directory: Path) -> Iterator[TlsRedis]:
    """Makes two CAs and a server certificate in `directory` and runs the server until the block ends."""
    ca, other_ca = make_ca(directory, "ca"), make_ca(directory, "other-ca")
    cert, key = sign_server_certificate(ca, directory)
    port = free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
            "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca.cert),
            "--tls-auth-clients", "no", "--save", "", "--appendonly", "no", "--dir", str(directory),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        context = ssl.create_default_context(cafile=ca.cert)
        context.check_hostname = False  # the readiness probe names no host; the chain is still verified
        wait_for_redis(port, process, tls=context)
        yield TlsRedis(f"rediss://127.0.0.1:{port}/0", ca, other_ca)
    finally:
        process.terminate()
        process.wait(timeout=10)

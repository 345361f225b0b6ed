"""Test support for ArdiQ's suites: the Redis servers they run against.

- `choose_redis()`: the session's Redis: ``ARDIQ_REDIS_URL``/``REDIS_URL``,
  else a throwaway redis-server, else a throwaway container (see
  `ardiq_testing.sources`);
- `RedisServer`: a redis-server of the test's own, restartable on its port;
- `ContainerRedis`: a Redis container through testcontainers (the
  ``container`` extra), and `docker_unreachable()`, why none can start here;
- `RedisCluster`: three masters joined into a cluster;
- `tls_redis()`: a TLS-only server signed by a private CA made here;
- `free_port()`, `free_cluster_port()`, `silent_port()`, `wait_for_redis()`;
- ``python -m ardiq_testing.redis -- COMMAND``: COMMAND with ``REDIS_URL`` set;
- `ardiq_testing.fixtures`: the pytest fixture ``redis_url``.

Standard library only (pytest for the fixtures, testcontainers for a
container), and never the native ``ardiq`` module, so any suite can use it
without building the worker.
"""

from __future__ import annotations

from ardiq_testing.cluster import RedisCluster
from ardiq_testing.container import ContainerRedis, docker_unreachable
from ardiq_testing.ports import free_cluster_port, free_port, port_is_free, silent_port, wait_for_redis
from ardiq_testing.server import RedisServer, redis_server_binary
from ardiq_testing.sources import (
    SOURCES,
    ExternalRedis,
    ProvidedRedis,
    RedisSourceError,
    Source,
    choose_redis,
    redis_url_problem,
)
from ardiq_testing.tls import CertificateAuthority, TlsRedis, make_ca, sign_server_certificate, tls_redis

__all__ = [
    "SOURCES",
    "CertificateAuthority",
    "ContainerRedis",
    "ExternalRedis",
    "ProvidedRedis",
    "RedisCluster",
    "RedisServer",
    "RedisSourceError",
    "Source",
    "TlsRedis",
    "choose_redis",
    "docker_unreachable",
    "free_cluster_port",
    "free_port",
    "make_ca",
    "port_is_free",
    "redis_server_binary",
    "redis_url_problem",
    "sign_server_certificate",
    "silent_port",
    "tls_redis",
    "wait_for_redis",
]
__version__ = "1.1.0"

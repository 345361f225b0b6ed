"""A throwaway Redis in a Docker container, through testcontainers.

For machines that have a Docker engine but no ``redis-server`` binary (many
CI services). testcontainers comes with the ``container`` extra
(``pip install "ardiq-testing[container]"``, or ``ardiq[testing]``) and is
imported only here, only when a container is wanted, so the rest of the
package stays standard library only. testcontainers finds the engine the way
the Docker CLI does (``DOCKER_HOST``, the current Docker context, the default
socket) and removes its containers when the process ends, even a killed one
(its Ryuk container).
"""

from __future__ import annotations

import contextlib
import socket
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from testcontainers.community.redis import RedisContainer

# Redis 7, the major version of the redis-server CI here runs (Debian's 7.0).
IMAGE = "redis:7.4"
REDIS_PORT = 6379
PROBE_TIMEOUT_S = 5
# Where docker-py looks when neither DOCKER_HOST nor a Docker context names an engine.
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def docker_unreachable() -> str | None:
    """Why no container can be started here (testcontainers missing, or no
    Docker engine answering), or None when one can."""
    try:
        from testcontainers.core.docker_client import DockerClient, get_docker_host
    except ImportError:
        return 'testcontainers is not installed (pip install "ardiq-testing[container]")'
    where = get_docker_host() or DEFAULT_DOCKER_HOST
    if where.startswith("unix://"):
        # docker-py leaves the socket of a failed unix connect open (a ResourceWarning, an error
        # under -W error), so a socket nothing listens on is found out here first.
        path = where.removeprefix("unix://")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(PROBE_TIMEOUT_S)
            try:
                sock.connect(path)
            except OSError as exc:
                return f"no Docker engine answers at {where} ({exc.strerror or exc})"
    try:
        client = DockerClient(timeout=PROBE_TIMEOUT_S).client
    except Exception as exc:  # whatever the client raises means the same here: no engine to use
        return f"no Docker engine answers at {where} ({exc})"
    try:
        client.ping()
    except Exception as exc:
        return f"no Docker engine answers at {where} ({exc})"
    finally:
        client.close()
    return None


class ContainerRedis:
    """A Redis container started on enter and removed on exit. Its `url`
    (the engine's host and the port it mapped) is known once it has started.
    """

    def __init__(self, image: str = IMAGE) -> None:
        self.image = image
        self._container: RedisContainer | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("the Redis container has not been started: use it in a `with` block")
        return self._url

    def __enter__(self) -> ContainerRedis:
        from testcontainers.community.redis import RedisContainer

        container = RedisContainer(self.image, port=REDIS_PORT)
        try:
            container.start()  # returns once the server answers PING
            host = container.get_container_host_ip()
            port = container.get_exposed_port(REDIS_PORT)
        except BaseException:
            # Remove what did start; the start's own error is the one to see.
            with contextlib.suppress(Exception):
                container.stop()
            raise
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        self._container = container
        self._url = f"redis://{host}:{port}/0"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        container, self._container, self._url = self._container, None, None
        if container is not None:
            container.stop()

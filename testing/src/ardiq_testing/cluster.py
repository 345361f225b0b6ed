"""A Redis Cluster of three masters on loopback, made with `redis-cli --cluster create`."""

from __future__ import annotations

import shutil
import subprocess
import time
from types import TracebackType

from ardiq_testing.ports import free_cluster_port
from ardiq_testing.server import RedisServer


class RedisCluster:
    """`masters` redis-server processes of our own joined into one cluster, no replicas."""

    def __init__(self, masters: int = 3) -> None:
        self.masters = masters
        self.servers: list[RedisServer] = []

    @property
    def ports(self) -> list[int]:
        return [server.port for server in self.servers]

    @property
    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def start(self) -> RedisCluster:
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError("redis-cli is not installed: run `make redis`")
        for _ in range(self.masters):
            server = RedisServer(
                "--cluster-enabled", "yes", "--cluster-node-timeout", "2000", port=free_cluster_port()
            )
            self.servers.append(server)
            server.start()
        nodes = [f"127.0.0.1:{port}" for port in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            info = subprocess.run(
                [cli, "-p", str(self.ports[0]), "cluster", "info"], capture_output=True, text=True, check=True
            ).stdout
            if "cluster_state:ok" in info:
                return self
            time.sleep(0.1)
        raise RuntimeError("the cluster did not reach cluster_state:ok")

    def close(self) -> None:
        for server in self.servers:
            server.close()
        self.servers.clear()

    def __enter__(self) -> RedisCluster:
        try:
            return self.start()
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

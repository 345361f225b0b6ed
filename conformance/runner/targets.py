"""The Redis targets of the behaviour matrix and the `ardiq` worker that runs on them."""

from __future__ import annotations

import binascii
import os
import signal
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from conformance import check_vectors
from conformance.runner.paths import APPS, PYTHON
from conformance.runner.results import CaseFailedError


def crc16(data: bytes) -> int:
    """CRC16-CCITT (XMODEM), as Redis Cluster computes key slots."""
    return binascii.crc_hqx(data, 0)


def key_slot(key: str) -> int:
    raw = key.encode()
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1 : end]
    return crc16(raw) % 16384


@dataclass
class Target:
    """A Redis to run the behaviour matrix on."""

    mode: str  # "single" or "cluster"
    url: str
    work_queue: str  # a worker runs here for the whole stage
    burst_queue: str  # filled first, then drained by a burst worker
    client: Any = None
    runs: int = 0

    @property
    def cluster(self) -> bool:
        return self.mode == "cluster"


def cluster_queues(cluster_url: str) -> tuple[str, str]:
    """Two queue names whose hash tags land on different masters."""
    client = redis.Redis.from_url(cluster_url)
    try:
        owner: dict[int, Any] = {}
        for start, end, master, *_ in check_vectors.raw(client, "CLUSTER", "SLOTS"):
            for slot in range(start, end + 1):
                owner[slot] = (master[0], master[1])
    finally:
        client.close()
    work = f"work-{uuid.uuid4().hex[:6]}"
    for n in range(10000):
        burst = f"burst-{n}"
        if owner[key_slot(f"ardiq:{{{burst}}}:x")] != owner[key_slot(f"ardiq:{{{work}}}:x")]:
            return work, burst
    raise RuntimeError("no two queues on different masters")


class Worker:
    """`python -m ardiq run tasks:app` in conformance/apps, on one queue."""

    def __init__(self, target: Target, queue: str, log_dir: Path, burst: bool) -> None:
        env = dict(os.environ, ARDIQ_REDIS_URL=target.url, ARDIQ_QUEUE=queue, PYTHONUNBUFFERED="1")
        if target.cluster:
            env["ARDIQ_CLUSTER"] = "1"
        command = [PYTHON, "-m", "ardiq", "run", "tasks:app", *(["--burst"] if burst else [])]
        target.runs += 1
        self.log_path = log_dir / f"worker-{target.mode}-{queue}-{target.runs}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, cwd=APPS, env=env, stdout=log, stderr=subprocess.STDOUT)

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-600:].strip()

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise CaseFailedError(f"the worker exited with code {self.process.returncode}: {self.log_tail()}")

    def wait(self, timeout_s: float) -> int:
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as error:
            self.stop()
            raise CaseFailedError(f"the burst worker did not exit within {timeout_s:.0f} s") from error

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def worker_importable() -> str:
    """Empty when the `ardiq` package imports, else why not."""
    probe = subprocess.run(
        [PYTHON, "-c", "import ardiq"], cwd=APPS, capture_output=True, text=True, check=False
    )
    return (
        "" if probe.returncode == 0 else f"the ardiq package does not import: {probe.stderr.strip()[-300:]}"
    )

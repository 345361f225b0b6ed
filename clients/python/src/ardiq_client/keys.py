"""Redis key names of one queue (SPEC.md section 2).

Every key carries the hash tag ``{<queue>}`` so a queue lives in one
Redis Cluster slot.
"""

from __future__ import annotations

from ardiq_client.limits import PRIORITY_LEVELS, check_queue_name


class QueueKeys:
    """The key names of one queue."""

    __slots__ = (
        "abort",
        "dead",
        "delayed",
        "delayed_jobs",
        "events",
        "failed",
        "prefix",
        "queue",
        "running",
        "streams",
        "waiters",
        "workers",
    )

    def __init__(self, queue: str) -> None:
        self.queue = check_queue_name(queue)
        self.prefix = f"ardiq:{{{queue}}}:"
        self.streams = tuple(f"{self.prefix}stream:{p}" for p in range(PRIORITY_LEVELS))
        self.delayed = f"{self.prefix}delayed"
        self.delayed_jobs = f"{self.prefix}delayed:jobs"
        self.running = f"{self.prefix}running"
        self.abort = f"{self.prefix}abort"
        #: Pub/sub channel: ``abort:<id>`` hints, and (1.1) ``done:<id>`` and ``waiting:<ms>``.
        self.events = f"{self.prefix}events"
        self.dead = f"{self.prefix}dead"
        self.failed = f"{self.prefix}failed"  # spec 1.1
        self.workers = f"{self.prefix}workers"
        #: Sorted set of job ids someone waits on, by the wait's deadline (1.1).
        self.waiters = f"{self.prefix}waiters"

    def worker(self, worker_id: str) -> str:
        """The heartbeat key of a worker, ``ardiq:{q}:worker:<id>``."""
        return f"{self.prefix}worker:{worker_id}"

    def stream(self, priority: int) -> str:
        """The stream of one priority level, ``ardiq:{q}:stream:<p>``."""
        return self.streams[priority]

    def job(self, job_id: str) -> str:
        """The status key of a job, ``ardiq:{q}:job:<id>``."""
        return f"{self.prefix}job:{job_id}"

"""ArdiQ's exceptions. Input and Redis errors come from the native core;
job outcomes (`JobFailed`, `JobAborted`, `JobDead`) are raised by
`Job.result`."""

from __future__ import annotations

from ardiq._core import (
    ArdiqError,
    AuthenticationFailed,
    InvalidDelay,
    InvalidJobId,
    InvalidOption,
    InvalidPriority,
    InvalidQueueName,
    InvalidSchedule,
    InvalidTaskName,
    MalformedRecord,
    PayloadTooLarge,
    RedisCommandError,
    RedisUnavailable,
    UnsupportedValue,
)

__all__ = [
    "ArdiqError",
    "AuthenticationFailed",
    "ContextUnavailable",
    "InvalidDelay",
    "InvalidJobId",
    "InvalidOption",
    "InvalidPriority",
    "InvalidQueueName",
    "InvalidSchedule",
    "InvalidTaskName",
    "JobAborted",
    "JobDead",
    "JobFailed",
    "LifespanFailed",
    "MalformedRecord",
    "PayloadTooLarge",
    "RedisCommandError",
    "RedisUnavailable",
    "Retry",
    "UnknownTask",
    "UnsupportedValue",
]


class JobFailed(ArdiqError):
    """The job raised and has no retry left. Carries the remote error."""

    def __init__(self, job_id: str, remote_type: str, remote_message: str, remote_traceback: str) -> None:
        super().__init__(f"job {job_id} failed: {remote_type}: {remote_message}")
        self.job_id = job_id
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback


class JobDead(JobFailed):
    """The job was dead-lettered (malformed, or it ended its worker too often)."""


class JobAborted(ArdiqError):
    """The job was aborted."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} was aborted")
        self.job_id = job_id


class JobExpired(ArdiqError):
    """No worker started the job before its `expires_ms`: it never ran."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"job {job_id} expired before a worker started it")
        self.job_id = job_id


class UnknownTask(ArdiqError):
    """No task of that name is registered with this app."""


class Retry(Exception):
    """Raise inside a task to run it again after `delay_ms` (counts as an attempt)."""

    def __init__(self, delay_ms: int | None = None) -> None:
        if delay_ms is not None and (
            not isinstance(delay_ms, int) or isinstance(delay_ms, bool) or not 0 <= delay_ms < 2**63
        ):
            raise InvalidDelay(f"Retry delay_ms must be whole ms from 0, or None; got {delay_ms!r}")
        super().__init__(f"retry requested in {delay_ms} ms" if delay_ms is not None else "retry requested")
        self.delay_ms = delay_ms


class ContextUnavailable(ArdiqError, RuntimeError):
    """`current_job()` outside a job's run, or `app.context` outside a worker
    run (or for an app without a lifespan)."""


class LifespanFailed(ArdiqError):
    """The app's lifespan raised while entering; the worker ran no job."""

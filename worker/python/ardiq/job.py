"""Job handles and what they report: states, results, abort replies and dead
letters. The core builds `JobInfo` and `DeadLetter` straight from the
records Redis returned."""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar, cast

from ardiq.errors import JobAborted, JobDead, JobFailed

if TYPE_CHECKING:
    from ardiq._core import Core
    from ardiq._link import Link

R = TypeVar("R")


class JobStatus(enum.StrEnum):
    """Where a job is. `not_found`: never enqueued, or its result expired;
    `running`: a worker holds it (running, or waiting there for a slot)."""

    NOT_FOUND = "not_found"
    QUEUED = "queued"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"
    ABORTED = "aborted"
    DEAD = "dead"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.ABORTED, JobStatus.DEAD}


class AbortReply(enum.StrEnum):
    """What `Job.abort` did. `ABORTED`: aborted now (it was scheduled) or
    already; `ABORT_REQUESTED`: the worker holding or fetching it aborts it;
    the others: it had already finished that way, or was not found."""

    NOT_FOUND = "not_found"
    ABORTED = "aborted"
    ABORT_REQUESTED = "abort_requested"
    COMPLETE = "complete"
    FAILED = "failed"
    DEAD = "dead"

    @property
    def accepted(self) -> bool:
        """True when the job is or will be aborted."""
        return self in (AbortReply.ABORTED, AbortReply.ABORT_REQUESTED)


class EnqueueOutcome(enum.StrEnum):
    """What an enqueue did with a job."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    DUPLICATE = "duplicate"


class RemoteError(NamedTuple):
    """An error a job's run raised, as the worker stored it: the exception's
    type name, message and formatted traceback (any language's)."""

    type: str
    message: str
    traceback: str


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A job's status with the details of its result."""

    status: JobStatus
    value: object
    error: RemoteError | None
    attempts: int
    enqueued_ms: int
    started_ms: int
    finished_ms: int
    worker_id: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An entry of the dead-letter store."""

    entry_id: str
    job_id: str
    task: str
    reason: str
    detail: str
    dead_ms: int
    error: RemoteError | None


def _raise_for(job_id: str, info: JobInfo) -> None:
    """Raises what a finished job that did not complete stands for."""
    if info.status is JobStatus.NOT_FOUND:
        raise LookupError(f"job {job_id} was not found (never enqueued, or its result expired)")
    if info.status in (JobStatus.FAILED, JobStatus.DEAD):
        kind, message, traceback = info.error or RemoteError("Error", "", "")
        error_class = JobDead if info.status is JobStatus.DEAD else JobFailed
        raise error_class(job_id, kind, message, traceback)
    if info.status is JobStatus.ABORTED:
        raise JobAborted(job_id)


class Job(Generic[R]):
    """A handle on an enqueued job (of `queue`, `None` for the app's)."""

    __slots__ = ("_link", "id", "outcome", "queue")

    def __init__(
        self, link: Link, job_id: str, outcome: EnqueueOutcome | None = None, queue: str | None = None
    ) -> None:
        self._link = link
        self.id = job_id
        self.outcome = outcome
        self.queue = queue

    @property
    def duplicate(self) -> bool:
        """True when a job with this id existed, so nothing was enqueued."""
        return self.outcome is EnqueueOutcome.DUPLICATE

    def __repr__(self) -> str:
        return f"Job({self.id!r})"

    async def info(self) -> JobInfo:
        """Status and result details."""
        request, future = self._link.request()
        self._link.core.status(request, self.id, self.queue)
        return cast(JobInfo, await future)

    async def status(self) -> JobStatus:
        """Where the job is now."""
        return (await self.info()).status

    async def result(self, timeout_s: float | None = None, poll_interval_s: float = 0.05) -> R:
        """Waits for the job to finish and returns its value.

        Raises `JobFailed` (with the remote type, message and traceback),
        `JobDead`, `JobAborted`, or `TimeoutError` when `timeout_s` passes
        first. A job that is not found raises `LookupError`.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pause = 0.002
        while True:
            info = await self.info()
            if info.status is JobStatus.COMPLETE:
                return cast(R, info.value)
            _raise_for(self.id, info)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} is still {info.status.value} after {timeout_s} s")
            wait = pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(wait)
            pause = min(pause * 2, poll_interval_s)

    async def abort(self) -> AbortReply:
        """Aborts the job: at once when scheduled, through its worker when
        queued or running. `reply.accepted` tells whether it is or will be
        aborted."""
        request, future = self._link.request()
        self._link.core.abort(request, self.id, self.queue)
        return AbortReply(await future)


class BlockingJob(Generic[R]):
    """A handle on an enqueued job for sync code: each call waits in the
    calling thread (never call these from async code: they stall its loop)."""

    __slots__ = ("_core", "id", "outcome", "queue")

    def __init__(
        self, core: Core, job_id: str, outcome: EnqueueOutcome | None = None, queue: str | None = None
    ) -> None:
        self._core = core
        self.id = job_id
        self.outcome = outcome
        self.queue = queue

    @property
    def duplicate(self) -> bool:
        """True when a job with this id existed, so nothing was enqueued."""
        return self.outcome is EnqueueOutcome.DUPLICATE

    def __repr__(self) -> str:
        return f"BlockingJob({self.id!r})"

    def info(self) -> JobInfo:
        """Status and result details."""
        return cast(JobInfo, self._core.status_blocking(self.id, self.queue))

    def status(self) -> JobStatus:
        """Where the job is now."""
        return self.info().status

    def result(self, timeout_s: float | None = None, poll_interval_s: float = 0.05) -> R:
        """Waits for the job to finish and returns its value; raises as
        `Job.result` does."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        pause = 0.002
        while True:
            info = self.info()
            if info.status is JobStatus.COMPLETE:
                return cast(R, info.value)
            _raise_for(self.id, info)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} is still {info.status.value} after {timeout_s} s")
            wait = pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic()))
            time.sleep(wait)
            pause = min(pause * 2, poll_interval_s)

    def abort(self) -> AbortReply:
        """Aborts the job, as `Job.abort` does."""
        return AbortReply(self._core.abort_blocking(self.id, self.queue))

"""Job handles and what they report: states, results, abort replies and dead
letters. The core builds `JobInfo` and `DeadLetter` straight from the
records Redis returned."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar, cast

from ardiq.errors import JobAborted, JobDead, JobExpired, JobFailed

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
    #: No worker started it before its `expires_ms`.
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {JobStatus.COMPLETE, JobStatus.FAILED, JobStatus.ABORTED, JobStatus.DEAD, JobStatus.EXPIRED}


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
    EXPIRED = "expired"

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


class Progress(NamedTuple):
    """How far a job said it is (`current_job().progress(...)`), and when."""

    fraction: float
    message: str
    updated_ms: int


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A job's status with the details of its result, and its last progress
    report (while it runs, and with its result)."""

    status: JobStatus
    value: object
    error: RemoteError | None
    attempts: int
    enqueued_ms: int
    started_ms: int
    finished_ms: int
    worker_id: str
    progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class JobEvent:
    """One entry of a queue's journal (`Ardiq.events`): `event` is one of
    `enqueued`, `started`, `retried`, `completed`, `failed`, `aborted`,
    `expired`, `dead`; `ms` when it happened (for `enqueued`, the producer's
    enqueue time); `error` is `<type>: <message>` for failures, retries and
    dead letters."""

    event: str
    job_id: str
    task: str
    queue: str
    ms: int
    attempt: int
    worker_id: str
    error: str | None
    entry_id: str


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
    if info.status is JobStatus.EXPIRED:
        raise JobExpired(job_id)


def _timeout_ms(timeout_s: float | None) -> int:
    """A wait's length for the core: `None` waits (practically) forever."""
    if timeout_s is None or math.isinf(timeout_s):
        return 2**62
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or not timeout_s >= 0:
        raise ValueError(f"timeout_s must be a number of seconds of at least 0, not {timeout_s!r}")
    return round(timeout_s * 1000)


def _result_of(job_id: str, info: JobInfo, timeout_s: float | None) -> object:
    if info.status is JobStatus.COMPLETE:
        return info.value
    _raise_for(job_id, info)
    raise TimeoutError(f"job {job_id} is still {info.status.value} after {timeout_s} s")


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

    async def progress(self) -> Progress | None:
        """The job's last progress report (while it runs, and after it
        ended), `None` when it made none."""
        return (await self.info()).progress

    async def wait(self, timeout_s: float | None = None) -> JobInfo:
        """Waits up to `timeout_s` (`None`: as long as it takes) for the job
        to end and returns its info; not terminal when the time ran out.
        The worker that ends the job wakes the wait (no polling), with a
        status read every second as the fallback. A job that is not found
        (its result expired or was not kept, or no job has this id) ends
        the wait at once, with status `not_found`."""
        request, future = self._link.request()
        self._link.core.wait(request, self.id, _timeout_ms(timeout_s), self.queue)
        return cast(JobInfo, await future)

    async def result(self, timeout_s: float | None = None) -> R:
        """Waits for the job to finish and returns its value.

        Raises `JobFailed` (with the remote type, message and traceback),
        `JobDead`, `JobAborted`, `JobExpired`, or `TimeoutError` when
        `timeout_s` passes first. A job that is not found (its result
        expired or was not kept, or no job has this id) raises
        `LookupError` at once.
        """
        return cast(R, _result_of(self.id, await self.wait(timeout_s), timeout_s))

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

    def progress(self) -> Progress | None:
        """The job's last progress report, as `Job.progress`."""
        return self.info().progress

    def wait(self, timeout_s: float | None = None) -> JobInfo:
        """Waits for the job to end, as `Job.wait`."""
        return cast(JobInfo, self._core.wait_blocking(self.id, _timeout_ms(timeout_s), self.queue))

    def result(self, timeout_s: float | None = None) -> R:
        """Waits for the job to finish and returns its value; raises as
        `Job.result` does."""
        return cast(R, _result_of(self.id, self.wait(timeout_s), timeout_s))

    def abort(self) -> AbortReply:
        """Aborts the job, as `Job.abort` does."""
        return AbortReply(self._core.abort_blocking(self.id, self.queue))

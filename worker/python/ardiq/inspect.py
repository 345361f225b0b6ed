"""What an operator sees (SPEC.md section 20): a queue at a glance, its
workers, its jobs by state a page at a time, one job's full record, and the
kept failures. The `Ardiq` methods (`queue_info`, `workers`, `jobs`,
`job_details`, `failures`, ...) return these; the core reads Redis with the
spec's read-only scripts and hands over plain tuples in these fields' order.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ardiq.job import JobStatus, Progress, RemoteError


class ListState(enum.StrEnum):
    """Which jobs `Ardiq.jobs` lists."""

    #: Entries workers hold: running, waiting in a worker for a slot, or
    #: handed back (or left by a gone worker) until a reclaim takes them.
    RUNNING = "running"
    #: Waiting for their due time (delays and retries), soonest first.
    SCHEDULED = "scheduled"
    #: Kept failures, oldest first.
    FAILED = "failed"
    #: Dead letters, oldest first.
    DEAD = "dead"


def _error(fields: tuple[str, str, str] | None) -> RemoteError | None:
    return None if fields is None else RemoteError(*fields)


@dataclass(frozen=True, slots=True)
class LevelInfo:
    """One priority level: entries waiting (no worker has them), held
    (delivered, not acked), and when the oldest waiting one was queued."""

    priority: int
    waiting: int
    held: int
    oldest_waiting_ms: int | None


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue at a glance. `lag_ms` is how long its oldest waiting job has
    waited (0 when none waits); `workers` counts ids seen in the last minute,
    gone ones included (`Ardiq.workers` tells them apart). `held` counts
    entries workers fetched and have not finished (running, waiting in a
    worker for a slot, or handed back); `running` those in `running`."""

    queue: str
    levels: list[LevelInfo]
    waiting: int
    held: int
    scheduled: int
    next_due_ms: int | None
    running: int
    dead: int
    failed: int
    workers: int
    oldest_waiting_ms: int | None
    lag_ms: int
    #: Whether any key of the queue exists (a queue never used has none).
    exists: bool

    @classmethod
    def of(cls, fields: tuple[Any, ...]) -> QueueInfo:
        queue, levels, *rest = fields
        return cls(queue, [LevelInfo(*level) for level in levels], *rest)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker of the queue, from its heartbeat. `alive` is false once its
    heartbeat key expired (3 heartbeat intervals without one): its jobs are
    reclaimed by the others. A gone worker's heartbeat fields are empty, and
    so are those of a live one whose heartbeat does not decode."""

    worker_id: str
    alive: bool
    seen_ms: int
    hostname: str
    pid: int
    queues: list[str]
    concurrency: int
    started_ms: int
    running: int
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class JobRecord:
    """A `Job` record: the call and its options as the producer sent them.
    `args`/`kwargs` are None when they do not decode."""

    job_id: str
    task: str
    args: list[Any] | None
    kwargs: dict[str, Any] | None
    priority: int
    enqueued_ms: int
    due_ms: int
    attempt: int
    max_retries: int | None
    timeout_ms: int | None
    backoff_ms: int | None
    result_ttl_ms: int | None
    #: Not started by this time (ms since the epoch), it ends expired (spec 1.1).
    expires_ms: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, fields: tuple[Any, ...] | None) -> JobRecord | None:
        return None if fields is None else cls(*fields)


@dataclass(frozen=True, slots=True)
class ListedJob:
    """One job of a listing; which fields mean something depends on `state`:
    `entry_id` is its entry in its stream (running) or in the kept-failures
    or dead-letter store (for replay and delete); `worker_id` holds it
    (running) or ended it; `at_ms` is when it is due (scheduled), failed or
    died; `idle_ms`, `deliveries` and `in_running` describe a held entry.
    `malformed` says why a failed or dead entry's record does not decode
    (None when it does): such an entry is listed with the `job_id`, `task`
    and `reason` its fields hold, and can be deleted but not replayed."""

    state: ListState
    job_id: str
    task: str
    job: JobRecord | None
    entry_id: str
    worker_id: str
    priority: int
    at_ms: int
    idle_ms: int
    deliveries: int
    in_running: bool
    error: RemoteError | None
    reason: str
    attempts: int
    malformed: str | None = None

    @classmethod
    def of(cls, fields: tuple[Any, ...]) -> ListedJob:
        state, job_id, task, job, entry_id, worker_id, priority, at_ms, idle_ms, deliveries, in_running = (
            fields[:11]
        )
        error, reason, attempts, malformed = fields[11:]
        return cls(
            ListState(state),
            job_id,
            task,
            JobRecord.of(job),
            entry_id,
            worker_id,
            priority,
            at_ms,
            idle_ms,
            deliveries,
            in_running,
            _error(error),
            reason,
            attempts,
            malformed,
        )


@dataclass(frozen=True, slots=True)
class JobPage:
    """One page of a listing; pass `next` as the cursor of the following
    page (None: this was the last)."""

    jobs: list[ListedJob]
    next: str | None


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A job's status record: terminal ones carry the result (`value`) or
    the error, the attempts, the times and the worker."""

    state: int
    value: Any
    error: RemoteError | None
    attempts: int
    enqueued_ms: int
    started_ms: int
    finished_ms: int
    worker_id: str
    task: str
    #: The last progress the run reported (spec 1.1), while it runs and after.
    progress: Progress | None = None


@dataclass(frozen=True, slots=True)
class JobDetails:
    """Everything known about one job: its state, its status record, and for
    a scheduled job its record and due time, for a running one its worker."""

    status: JobStatus
    record: StatusRecord | None
    job: JobRecord | None
    due_ms: int | None
    worker_id: str | None

    @classmethod
    def of(cls, fields: tuple[Any, ...]) -> JobDetails:
        status, record, job, due_ms, worker_id = fields
        if record is not None:
            state, value, error, attempts, enqueued_ms, started_ms, finished_ms, worker, task, progress = (
                record
            )
            record = StatusRecord(
                state,
                value,
                _error(error),
                attempts,
                enqueued_ms,
                started_ms,
                finished_ms,
                worker,
                task,
                None if progress is None else Progress(*progress),
            )
        return cls(JobStatus(status), record, JobRecord.of(job), due_ms, worker_id)


@dataclass(frozen=True, slots=True)
class Failure:
    """A kept failure: a job that failed after its last retry, with the job
    as it last ran, its error, and when and where."""

    entry_id: str
    job_id: str
    task: str
    job: JobRecord | None
    error: RemoteError | None
    attempts: int
    started_ms: int
    failed_ms: int
    worker_id: str

    @classmethod
    def of(cls, fields: tuple[Any, ...]) -> Failure:
        entry_id, job_id, task, job, error, *rest = fields
        return cls(entry_id, job_id, task, JobRecord.of(job), _error(error), *rest)

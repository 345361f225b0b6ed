"""What the client sends to Redis and how it reads the replies.

Pure functions, shared by the async and the sync client: turning a
`JobRequest` into a `Job` record, the `enqueue.lua`, `status.lua`,
`abort.lua` and `wait.lua` calls (KEYS and ARGV exactly as the scripts'
headers name them), and the meaning of each reply. No I/O happens here.

`ScriptCall.pack` writes a batch call's RESP by hand, and the clients send
batches over a connection of redis-py's pool themselves. redis-py's own
machinery, measured (`send_many` of 50,000 jobs of ``add(i, i)`` against a
local Redis, medians of 7 runs):

- packed here: 83.5k jobs/s; packing costs 0.9 µs a job;
- redis-py's ``Connection.pack_command``: 75.4k jobs/s (-10%); 2.2 µs a
  job, since its asyncio connection packs in Python even with hiredis;
- a redis-py pipeline of script calls: 79.9k jobs/s (-4%), but a pipeline
  cannot do what SPEC.md section 14 asks when the connection breaks (send
  again only the calls that got no reply: it raises and drops the replies
  it had read), and it sends ``SCRIPT EXISTS`` before every batch, a command
  per batch that section 11's count of commands per task leaves out.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from ardiq_client import limits, records, scripts
from ardiq_client.errors import JobAborted, JobDead, JobExpired, JobFailed, JobNotFound, MalformedRecord
from ardiq_client.job_id import new_job_id
from ardiq_client.keys import QueueKeys
from ardiq_client.records import JobStatus, Progress
from ardiq_client.values import decode_value, encode_args, encode_kwargs


def now_ms() -> int:
    """The producer's clock: integer milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class EnqueueOutcome(enum.StrEnum):
    """What `enqueue.lua` did with one job."""

    QUEUED = "queued"
    SCHEDULED = "scheduled"
    #: A job with this id exists already; nothing was written.
    DUPLICATE = "duplicate"


class AbortOutcome(enum.StrEnum):
    """The reply of `abort.lua`."""

    NOT_FOUND = "not_found"
    #: Aborted now (it was scheduled), or it had been aborted before.
    ABORTED = "aborted"
    #: Queued or running: the worker that holds or fetches it aborts it.
    ABORT_REQUESTED = "abort_requested"
    COMPLETE = "complete"
    FAILED = "failed"
    DEAD = "dead"
    EXPIRED = "expired"


class JobRequest(NamedTuple):
    """One job to enqueue: a call of `task` with `args` and `kwargs`, and its options.

    Options left as None take the spec's defaults (priority 5, run now) or
    the task's settings in the worker (retries, timeout, backoff, result TTL).
    `delay_ms` is relative to now; `schedule_ms` is an absolute time in
    milliseconds since the Unix epoch; give at most one. `expires_ms` (ms
    since the Unix epoch): a job no worker has started by then is not run
    and ends ``expired``; it must be later than now and than the job's due
    time. (A named tuple,
    because batches build many of them and a tuple is the cheapest
    immutable record to create.)
    """

    task: str
    args: Sequence[object] = ()
    kwargs: Mapping[str, object] | None = None
    priority: int | None = None
    delay_ms: int | None = None
    schedule_ms: int | None = None
    job_id: str | None = None
    max_retries: int | None = None
    timeout_ms: int | None = None
    backoff_ms: int | None = None
    result_ttl_ms: int | None = None
    expires_ms: int | None = None
    #: Spec 1.1: strings for the worker, such as the W3C trace context; the
    #: current OpenTelemetry context is added when OpenTelemetry is installed.
    headers: Mapping[str, str] | None = None


class EncodedJob(NamedTuple):
    """A validated job, ready for `enqueue.lua`."""

    job_id: str
    task: str
    priority: int
    due_ms: int
    record: bytes


def encode_request(
    request: JobRequest, clock_ms: int, context: Mapping[str, str] | None = None
) -> EncodedJob:
    """Validates `request` and builds its `Job` record at clock `clock_ms`;
    `context` (the trace context's headers) is added to its headers, which
    win over it."""
    task = limits.check_task_name_cached(request.task)
    job_id = new_job_id() if request.job_id is None else limits.check_job_id(request.job_id)
    priority = limits.check_priority(request.priority)
    due = limits.due_ms(request.delay_ms, request.schedule_ms, clock_ms)
    expires = limits.check_expires(request.expires_ms, clock_ms, due)
    record = records.encode_job(
        job_id=job_id,
        task=task,
        args=encode_args(request.args),
        kwargs=encode_kwargs({} if request.kwargs is None else request.kwargs),
        priority=priority,
        enqueued_ms=clock_ms,
        due_ms=due,
        max_retries=limits.check_override("max_retries", request.max_retries, limits.MAX_RETRIES),
        timeout_ms=limits.check_override("timeout_ms", request.timeout_ms, limits.MAX_DURATION_MS),
        backoff_ms=limits.check_override("backoff_ms", request.backoff_ms, limits.MAX_DURATION_MS),
        result_ttl_ms=limits.check_override("result_ttl_ms", request.result_ttl_ms, limits.MAX_DURATION_MS),
        expires_ms=expires,
        headers=limits.check_headers({**(context or {}), **(request.headers or {})})
        if context or request.headers
        else None,
    )
    limits.check_record_size(len(record))
    return EncodedJob(job_id, task, priority, due, record)


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """One script run: the script, its KEYS and its ARGV, as bytes."""

    script: scripts.Script
    keys: list[bytes]
    args: list[bytes]

    def pack(self, command: bytes = b"EVALSHA") -> bytes:
        """The call as one RESP command, ``EVALSHA`` (or ``EVAL`` with the source).

        Batches are packed here rather than by redis-py, whose asyncio
        connection packs in Python at 2.2 µs a job (see the module doc).
        """
        head = self.script.sha.encode() if command == b"EVALSHA" else self.script.source
        count = len(self.keys)
        parts = [
            b"*%d\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n"
            % (3 + count + len(self.args), len(command), command, len(head), head),
            b"$%d\r\n%d\r\n" % (len(str(count)), count),
        ]
        for argument in self.keys:
            parts += (b"$%d\r\n" % len(argument), argument, b"\r\n")
        for argument in self.args:
            parts += (b"$%d\r\n" % len(argument), argument, b"\r\n")
        return b"".join(parts)


def enqueue_call(keys: QueueKeys, jobs: Sequence[EncodedJob]) -> ScriptCall:
    """The `enqueue.lua` call for a batch of at most `limits.MAX_BATCH` jobs."""
    script_keys = [keys.delayed.encode(), keys.delayed_jobs.encode()]
    script_args: list[bytes] = []
    job_key = (keys.prefix + "job:").encode()
    streams = [stream.encode() for stream in keys.streams]
    for job in jobs:
        job_id = job.job_id.encode()
        script_keys += (job_key + job_id, streams[job.priority])
        script_args += (job_id, job.task.encode(), b"%d" % job.due_ms, job.record)
    return ScriptCall(scripts.ENQUEUE, script_keys, script_args)


def parse_enqueue_reply(reply: object, count: int) -> list[EnqueueOutcome]:
    """Reads `enqueue.lua`'s reply: a stream entry id, ``scheduled``, or 0 per job."""
    if not isinstance(reply, list) or len(reply) != count:
        raise MalformedRecord(f"enqueue.lua replied {reply!r}, expected {count} elements")
    outcomes: list[EnqueueOutcome] = []
    for element in reply:
        if element == 0:
            outcomes.append(EnqueueOutcome.DUPLICATE)
        elif element == b"scheduled":
            outcomes.append(EnqueueOutcome.SCHEDULED)
        else:
            outcomes.append(EnqueueOutcome.QUEUED)
    return outcomes


def status_call(keys: QueueKeys, job_id: str) -> ScriptCall:
    """The `status.lua` call for one job."""
    return ScriptCall(
        scripts.STATUS,
        [keys.job(job_id).encode(), keys.running.encode(), keys.delayed.encode()],
        [job_id.encode()],
    )


def parse_status_reply(reply: object) -> tuple[JobStatus, bytes | None]:
    """Reads `status.lua`'s reply: the state name and the `Status` record bytes (None when not found)."""
    if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[0], bytes):
        raise MalformedRecord(f"status.lua replied {reply!r}")
    try:
        state = JobStatus(reply[0].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raise MalformedRecord(f"status.lua replied an unknown state {reply[0]!r}") from None
    record = reply[1] if isinstance(reply[1], bytes) else None
    return state, record


def abort_call(keys: QueueKeys, job_id: str, result_ttl_ms: int, clock_ms: int) -> ScriptCall:
    """The `abort.lua` call for one job; `result_ttl_ms` is how long an aborted status is kept.

    `clock_ms` stamps the aborted status and tells `abort.lua` which waits on
    the job have not passed (1.1): those are told it ended.
    """
    ttl = limits.check_override("result_ttl_ms", result_ttl_ms, limits.MAX_DURATION_MS)
    if ttl is None:
        ttl = records.DEFAULT_RESULT_TTL_MS
    return ScriptCall(
        scripts.ABORT,
        [
            key.encode()
            for key in (keys.job(job_id), keys.delayed, keys.delayed_jobs, keys.abort, keys.waiters)
        ],
        [
            job_id.encode(),
            b"%d" % ttl,
            records.encode_aborted_status(clock_ms),
            keys.events.encode(),
            b"%d" % clock_ms,
        ],
    )


def wait_call(keys: QueueKeys, job_id: str, clock_ms: int, deadline_ms: int) -> ScriptCall:
    """The `wait.lua` call registering a wait on one job until `deadline_ms` (SPEC.md section 15)."""
    return ScriptCall(
        scripts.WAIT,
        [keys.waiters.encode()],
        [b"%d" % clock_ms, b"%d" % deadline_ms, keys.events.encode(), job_id.encode()],
    )


def parse_abort_reply(reply: object) -> AbortOutcome:
    """Reads `abort.lua`'s reply."""
    try:
        return AbortOutcome(reply.decode("ascii") if isinstance(reply, bytes) else str(reply))
    except (UnicodeDecodeError, ValueError):
        raise MalformedRecord(f"abort.lua replied {reply!r}") from None


def result_of(job_id: str, state: JobStatus, record: bytes | None) -> Any:
    """The value of a finished job, or the error it finished with.

    Raises `JobFailed`, `JobDead` (a `JobFailed`), `JobAborted`,
    `JobExpired`, or `JobNotFound`; `state` must be terminal or ``not_found``.
    """
    if state is JobStatus.NOT_FOUND or record is None:
        raise JobNotFound(job_id)
    status = records.decode_status(record)
    if state is JobStatus.COMPLETE:
        return decode_value(status.value, "result") if status.value else None
    error = status.error or records.RemoteError("", "", "")
    if state is JobStatus.ABORTED:
        raise JobAborted(job_id, error.message)
    if state is JobStatus.EXPIRED:
        raise JobExpired(job_id, error.message)
    if state is JobStatus.DEAD:
        raise JobDead(job_id, error.type or "DeadLetter", error.message, error.traceback)
    if state is JobStatus.FAILED:
        raise JobFailed(job_id, error.type, error.message, error.traceback)
    raise ValueError(f"job {job_id!r} is {state}, not finished")


def progress_of(record: bytes | None) -> Progress | None:
    """The last progress a job reported, from the `Status` record `status.lua` returned."""
    return None if record is None else records.decode_status(record).progress

"""The read-only half of inspection (spec 1.1, SPEC.md section 20): a queue
at a glance (`inspect.lua`), its workers from their heartbeats, and its jobs
by state a page at a time. Pure: the calls to send and the reading of their
replies; the clients do the I/O (`AsyncClient.queue_info`, ...)."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError

from ardiq_client import scripts
from ardiq_client._proto import records_pb2 as pb
from ardiq_client.errors import InvalidOption, MalformedRecord
from ardiq_client.keys import QueueKeys
from ardiq_client.protocol import ScriptCall
from ardiq_client.records import RemoteError

#: Most jobs one page lists.
MAX_PAGE = 1_000
GROUP = b"ardiq"


class ListState(enum.StrEnum):
    """Which jobs to list."""

    RUNNING = "running"
    SCHEDULED = "scheduled"
    FAILED = "failed"
    DEAD = "dead"


@dataclass(frozen=True, slots=True)
class LevelInfo:
    """One priority level: entries waiting (no worker has them), held, and
    when the oldest waiting one was queued (ms)."""

    priority: int
    waiting: int
    held: int
    oldest_waiting_ms: int | None


@dataclass(frozen=True, slots=True)
class QueueInfo:
    """A queue at a glance; `lag_ms(now_ms)` is how long its oldest waiting job has waited."""

    queue: str
    levels: list[LevelInfo]
    scheduled: int
    next_due_ms: int | None
    running: int
    dead: int
    failed: int
    workers: int
    exists: bool

    @property
    def waiting(self) -> int:
        return sum(level.waiting for level in self.levels)

    @property
    def held(self) -> int:
        return sum(level.held for level in self.levels)

    @property
    def oldest_waiting_ms(self) -> int | None:
        times = [level.oldest_waiting_ms for level in self.levels if level.oldest_waiting_ms is not None]
        return min(times) if times else None

    def lag_ms(self, now_ms: int) -> int:
        oldest = self.oldest_waiting_ms
        return 0 if oldest is None else max(0, now_ms - oldest)


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    """A worker of the queue: alive while its heartbeat key exists; a gone
    worker's heartbeat fields are empty."""

    worker_id: str
    alive: bool
    seen_ms: int
    hostname: str = ""
    pid: int = 0
    queues: list[str] = field(default_factory=list)
    concurrency: int = 0
    started_ms: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class ListedJob:
    """One listed job; which fields mean something depends on its state (as
    in SPEC.md section 20): `entry_id` is its stream entry (running) or its
    entry in the kept-failures or dead-letter store; `at_ms` its due time,
    failure or death; `job` the `Job` record when known."""

    state: ListState
    job_id: str
    task: str
    job: pb.Job | None = None
    entry_id: str = ""
    worker_id: str = ""
    priority: int = 0
    at_ms: int = 0
    idle_ms: int = 0
    deliveries: int = 0
    in_running: bool = False
    error: RemoteError | None = None
    reason: str = ""
    attempts: int = 0


@dataclass(frozen=True, slots=True)
class JobPage:
    """A page of a listing; `next` is the following page's cursor (None at the end)."""

    jobs: list[ListedJob]
    next: str | None


def _text(value: object) -> str:
    """Text written by any producer: bytes that are not UTF-8 are shown replaced, as the
    other clients show them, rather than failing the whole listing."""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _entry_ms(entry_id: str) -> int | None:
    head = entry_id.partition("-")[0]
    return int(head) if head.isdigit() else None


def _record(message: Any, data: bytes, what: str) -> Any:
    record = message()
    try:
        record.ParseFromString(data)
    except DecodeError as error:
        raise MalformedRecord(f"undecodable {what}: {error}") from None
    return record


def _job(data: bytes) -> pb.Job | None:
    if not data:
        return None
    try:
        return _record(pb.Job, data, "Job record")  # type: ignore[no-any-return]
    except MalformedRecord:
        return None


def _error(record: Any) -> RemoteError | None:
    if not record.HasField("error"):
        return None
    return RemoteError(record.error.type, record.error.message, record.error.traceback)


#: How long a worker stays listed after its last heartbeat, ms (SPEC.md section 20).
WORKER_LISTED_MS = 60_000


def inspect_call(keys: QueueKeys, now_ms: int) -> ScriptCall:
    """The `inspect.lua` call of a queue at `now_ms`."""
    names = [*keys.streams, keys.delayed, keys.running, keys.dead, keys.failed, keys.workers]
    return ScriptCall(scripts.INSPECT, [name.encode() for name in names], [GROUP, b"%d" % now_ms])


def listed_since(now_ms: int) -> str:
    """The exclusive lowest score of the workers listed at `now_ms`, for
    `ZRANGE workers +inf <this> BYSCORE REV`: older ones are gone for good."""
    return f"({now_ms - WORKER_LISTED_MS}"


def parse_inspect_reply(queue: str, reply: object) -> QueueInfo:
    if not isinstance(reply, list) or len(reply) != 8 or not isinstance(reply[0], list):
        raise MalformedRecord(f"inspect.lua replied {reply!r}")
    levels = [
        LevelInfo(p, int(waiting), int(held), _entry_ms(_text(oldest)))
        for p, (waiting, held, oldest) in enumerate(reply[0])
    ]
    scheduled, due, running, dead, failed, workers, exists = (int(x) for x in reply[1:])
    return QueueInfo(
        queue, levels[::-1], scheduled, None if due < 0 else due, running, dead, failed, workers, exists > 0
    )


def parse_workers(seen: Sequence[Any], beats: Sequence[Any]) -> list[WorkerInfo]:
    """Workers from `ZRANGE workers ... REV WITHSCORES` ((id, score) pairs) and the `MGET`
    of their heartbeats (redis-py's replies)."""
    found: list[WorkerInfo] = []
    for (worker_id, score), beat in zip(seen, beats, strict=True):
        name = _text(worker_id)
        if beat is None:
            found.append(WorkerInfo(name, False, int(score)))
            continue
        record = _record(pb.Heartbeat, beat, f"heartbeat of {name}")
        found.append(
            WorkerInfo(
                name,
                True,
                record.seen_ms,
                record.hostname,
                record.pid,
                list(record.queues),
                record.concurrency,
                record.started_ms,
                record.running,
                record.completed,
                record.failed,
            )
        )
    return found


def worker_keys(keys: QueueKeys, seen: Sequence[Any]) -> list[str]:
    """The heartbeat keys of the workers `ZRANGE workers ... WITHSCORES` replied."""
    return [keys.worker(_text(pair[0])) for pair in seen]


def check_page(count: object) -> int:
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_PAGE:
        raise InvalidOption(f"invalid count {count!r}: it must be an int from 1 to {MAX_PAGE}")
    return count


#: A whole stream entry id, `<ms>-<sequence>`, as every listing's page gives.
_ENTRY_ID = re.compile(r"[0-9]+-[0-9]+")
_MAX_ENTRY_PART = 2**64 - 1


def is_entry_id(text: str) -> bool:
    """Whether `text` is an entry id Redis takes: both parts unsigned 64-bit."""
    if not _ENTRY_ID.fullmatch(text):
        return False
    ms, _, sequence = text.partition("-")
    return int(ms) <= _MAX_ENTRY_PART and int(sequence) <= _MAX_ENTRY_PART


def store_start(cursor: str | None) -> str:
    """The `XRANGE` start of a failed or dead page after `cursor`."""
    if cursor is None:
        return "-"
    if not is_entry_id(cursor):
        raise InvalidOption(f"invalid cursor {cursor!r}")
    return f"({cursor}"


def held_call(keys: QueueKeys, count: int, cursor: str | None) -> ScriptCall:
    """The `held.lua` call of one page of running jobs."""
    level, _, after = ("9:" if cursor is None else cursor).partition(":")
    if not level.isdigit() or int(level) > 9 or (after and not is_entry_id(after)):
        raise InvalidOption(f"invalid cursor {cursor!r}")
    names = [*keys.streams, keys.running]
    return ScriptCall(
        scripts.HELD, [n.encode() for n in names], [GROUP, level.encode(), after.encode(), b"%d" % count]
    )


#: The due time part of a scheduled listing's cursor: a score as Redis writes one.
_DUE = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def scheduled_call(keys: QueueKeys, count: int, cursor: str | None) -> ScriptCall:
    """The `scheduled.lua` call of one page of scheduled jobs; the cursor is
    `<due>:<job id>` of the last job of the page before."""
    due, after = "", ""
    if cursor is not None:
        due, sep, after = cursor.partition(":")
        if not sep or not _DUE.fullmatch(due):
            raise InvalidOption(f"invalid cursor {cursor!r}")
    names = [keys.delayed, keys.delayed_jobs]
    return ScriptCall(
        scripts.SCHEDULED, [n.encode() for n in names], [due.encode(), after.encode(), b"%d" % count]
    )


def store_key(keys: QueueKeys, state: ListState) -> str:
    return keys.failed if state is ListState.FAILED else keys.dead


def parse_held_reply(reply: object) -> JobPage:
    if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
        raise MalformedRecord(f"held.lua replied {reply!r}")
    jobs = []
    for level, entry_id, consumer, idle, deliveries, job_id, task, job, owner in reply[1]:
        jobs.append(
            ListedJob(
                ListState.RUNNING,
                _text(job_id),
                _text(task),
                _job(job),
                _text(entry_id),
                _text(owner) or _text(consumer),
                int(level),
                idle_ms=int(idle),
                deliveries=int(deliveries),
                in_running=bool(owner),
            )
        )
    following = _text(reply[0])
    return JobPage(jobs, following or None)


def parse_scheduled_reply(reply: object) -> JobPage:
    """A page of scheduled jobs from `scheduled.lua`."""
    if not isinstance(reply, list) or len(reply) != 2 or not isinstance(reply[1], list):
        raise MalformedRecord(f"scheduled.lua replied {reply!r}")
    jobs = []
    for job_id, due, raw in reply[1]:
        job = _job(raw)
        jobs.append(
            ListedJob(
                ListState.SCHEDULED,
                _text(job_id),
                job.task if job else "",
                job,
                priority=job.priority if job else 0,
                at_ms=int(due),
            )
        )
    following = _text(reply[0])
    return JobPage(jobs, following or None)


def parse_store(state: ListState, entries: Sequence[Any] | None, count: int) -> JobPage:
    """A page of kept failures or dead letters from `XRANGE`."""
    jobs = []
    for raw_id, fields in entries or []:
        entry_id = _text(raw_id)
        data = fields.get(b"record", b"")
        if state is ListState.FAILED:
            failure = _record(pb.Failure, data, f"kept failure {entry_id}")
            job = _job(failure.job)
            jobs.append(
                ListedJob(
                    state,
                    failure.job_id,
                    failure.task,
                    job,
                    entry_id,
                    failure.worker_id,
                    job.priority if job else 0,
                    failure.failed_ms,
                    error=_error(failure),
                    attempts=failure.attempts,
                )
            )
        else:
            letter = _record(pb.DeadLetter, data, f"dead letter {entry_id}")
            job = _job(letter.job)
            jobs.append(
                ListedJob(
                    state,
                    letter.job_id,
                    letter.task,
                    job,
                    entry_id,
                    letter.worker_id,
                    job.priority if job else 0,
                    letter.dead_ms,
                    error=_error(letter),
                    reason=letter.reason,
                )
            )
    following = jobs[-1].entry_id if len(jobs) == count else None
    return JobPage(jobs, following)

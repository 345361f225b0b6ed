"""The application object: task registry, producer API and job handles."""

from __future__ import annotations

import asyncio
import enum
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, ParamSpec, TypeVar, cast, overload

from ardiq._core import Core
from ardiq._link import Link
from ardiq.errors import JobAborted, JobDead, JobFailed, UnknownTask

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_RESULT_TTL_S = 86_400


class JobStatus(enum.StrEnum):
    """Where a job is. `not_found`: never enqueued, or its result expired."""

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


class JobOptions(NamedTuple):
    """Per-enqueue options; `None` means the task's default."""

    priority: int | None = None
    delay_ms: int | None = None
    schedule_ms: int | None = None
    job_id: str | None = None
    max_retries: int | None = None
    timeout_ms: int | None = None
    backoff_ms: int | None = None
    result_ttl_ms: int | None = None


@dataclass(frozen=True, slots=True)
class JobInfo:
    """A job's status with the details of its result."""

    status: JobStatus
    value: Any
    error: tuple[str, str, str] | None
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
    error: tuple[str, str, str] | None


class PreparedJob(NamedTuple):
    """A job described but not sent yet; give a list to `Ardiq.enqueue_many`.
    Its fields are the core's enqueue item, so a batch crosses into Rust
    without conversion."""

    task: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    priority: int | None = None
    delay_ms: int | None = None
    schedule_ms: int | None = None
    job_id: str | None = None
    max_retries: int | None = None
    timeout_ms: int | None = None
    backoff_ms: int | None = None
    result_ttl_ms: int | None = None

    @property
    def options(self) -> JobOptions:
        return JobOptions(*self[3:])


# `PreparedJob` from a full tuple of its fields, without the keyword-argument
# handling of the generated constructor (a batch builds thousands).
_tuple_new = tuple.__new__
_NO_OPTIONS = tuple(JobOptions())
_OUTCOMES = {outcome.value: outcome for outcome in EnqueueOutcome}


class Job(Generic[R]):
    """A handle on an enqueued job."""

    __slots__ = ("_app", "id", "outcome")

    def __init__(self, app: Ardiq, job_id: str, outcome: EnqueueOutcome | None = None) -> None:
        self._app = app
        self.id = job_id
        self.outcome = outcome

    @property
    def duplicate(self) -> bool:
        """True when a job with this id existed, so nothing was enqueued."""
        return self.outcome is EnqueueOutcome.DUPLICATE

    def __repr__(self) -> str:
        return f"Job({self.id!r})"

    async def info(self) -> JobInfo:
        """Status and result details."""
        link = self._app._link
        request, future = link.request()
        link.core.status(request, self.id)
        state, value, error, attempts, enqueued, started, finished, worker = await future
        return JobInfo(JobStatus(state), value, error, attempts, enqueued, started, finished, worker)

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
            if info.status is JobStatus.NOT_FOUND:
                raise LookupError(f"job {self.id} was not found (never enqueued, or its result expired)")
            if info.status in (JobStatus.FAILED, JobStatus.DEAD):
                kind, message, traceback = info.error or ("Error", "", "")
                error_class = JobDead if info.status is JobStatus.DEAD else JobFailed
                raise error_class(self.id, kind, message, traceback)
            if info.status is JobStatus.ABORTED:
                raise JobAborted(self.id)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} is still {info.status.value} after {timeout_s} s")
            wait = pause if deadline is None else min(pause, max(0.0, deadline - time.monotonic()))
            await asyncio.sleep(wait)
            pause = min(pause * 2, poll_interval_s)

    async def abort(self) -> AbortReply:
        """Aborts the job: at once when scheduled, through its worker when
        queued or running. `reply.accepted` tells whether it is or will be
        aborted."""
        link = self._app._link
        request, future = link.request()
        link.core.abort(request, self.id)
        return AbortReply(await future)


class _Sender:
    """Sends by task name with fixed options: `app.options(...).send(name, ...)`."""

    def __init__(self, app: Ardiq, options: JobOptions) -> None:
        self._app = app
        self._options = options

    async def send(self, task: str, *args: Any, **kwargs: Any) -> Job[Any]:
        return (await self._app._enqueue([_tuple_new(PreparedJob, (task, args, kwargs, *self._options))]))[0]

    def prepare(self, task: str, *args: Any, **kwargs: Any) -> PreparedJob:
        return _tuple_new(PreparedJob, (task, args, kwargs, *self._options))


class Task(Generic[P, R]):
    """A registered task. Call it to run the function here; `enqueue` to run
    it on a worker."""

    def __init__(
        self,
        app: Ardiq,
        fn: Callable[P, Awaitable[R]] | Callable[P, R],
        name: str,
        *,
        retries: int,
        backoff_ms: int,
        timeout_s: float | None,
        priority: int | None,
        result_ttl_s: float | None,
        process: bool = False,
        options: JobOptions | None = None,
    ) -> None:
        self.app = app
        self.fn = fn
        self.name = name
        self.retries = retries
        self.backoff_ms = backoff_ms
        self.timeout_s = timeout_s
        self.priority = priority
        self.result_ttl_s = result_ttl_s
        self.process = process
        self.is_async = inspect.iscoroutinefunction(fn)
        self._options = options or JobOptions(priority=priority)
        self._fields = tuple(self._options)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[R] | R:
        return self.fn(*args, **kwargs)

    def options(
        self,
        *,
        priority: int | None = None,
        delay_ms: int | None = None,
        schedule_ms: int | None = None,
        job_id: str | None = None,
        max_retries: int | None = None,
        timeout_ms: int | None = None,
        backoff_ms: int | None = None,
        result_ttl_ms: int | None = None,
    ) -> Task[P, R]:
        """The same task with per-enqueue options."""
        given: dict[str, Any] = {
            "priority": priority,
            "delay_ms": delay_ms,
            "schedule_ms": schedule_ms,
            "job_id": job_id,
            "max_retries": max_retries,
            "timeout_ms": timeout_ms,
            "backoff_ms": backoff_ms,
            "result_ttl_ms": result_ttl_ms,
        }
        options = self._options._replace(**{k: v for k, v in given.items() if v is not None})
        return Task(
            self.app,
            self.fn,
            self.name,
            retries=self.retries,
            backoff_ms=self.backoff_ms,
            timeout_s=self.timeout_s,
            priority=self.priority,
            result_ttl_s=self.result_ttl_s,
            process=self.process,
            options=options,
        )

    def prepare(self, *args: P.args, **kwargs: P.kwargs) -> PreparedJob:
        """Describes a job for `Ardiq.enqueue_many`."""
        return _tuple_new(PreparedJob, (self.name, args, kwargs, *self._fields))

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """Enqueues one job and returns its handle."""
        jobs = await self.app._enqueue([_tuple_new(PreparedJob, (self.name, args, kwargs, *self._fields))])
        return cast(Job[R], jobs[0])


class Ardiq:
    """An ArdiQ application: one Redis, one queue, its tasks."""

    def __init__(
        self,
        url: str | None = None,
        *,
        queue: str = "default",
        cluster: bool | None = None,
        result_ttl_s: float = DEFAULT_RESULT_TTL_S,
        ssl_ca_certs: str | os.PathLike[str] | None = None,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 5.0,
    ) -> None:
        """`url` (default `ARDIQ_REDIS_URL`, else the local Redis): `redis://` or
        `rediss://` (TLS, verified against the public roots, or against the CA
        certificates in the PEM file `ssl_ca_certs`, default
        `ARDIQ_SSL_CA_CERTS`). Connecting waits at most `connect_timeout_s`,
        each command `timeout_s`; then the call raises `RedisUnavailable`."""
        self.url = url or os.environ.get("ARDIQ_REDIS_URL") or DEFAULT_URL
        if cluster is None:
            cluster = os.environ.get("ARDIQ_CLUSTER", "") not in ("", "0", "false")
        if ssl_ca_certs is None:
            ssl_ca_certs = os.environ.get("ARDIQ_SSL_CA_CERTS") or None
        self.queue = queue
        self.result_ttl_s = _checked_seconds("result_ttl_s", result_ttl_s, allow_zero=True)
        self.tasks: dict[str, Task[Any, Any]] = {}
        self._core = Core(
            self.url,
            queue,
            cluster,
            None if ssl_ca_certs is None else os.fspath(ssl_ca_certs),
            _timeout_ms("connect_timeout_s", connect_timeout_s),
            _timeout_ms("timeout_s", timeout_s),
        )
        self._link = Link(self._core)

    def __repr__(self) -> str:
        return f"Ardiq(queue={self.queue!r}, tasks={sorted(self.tasks)!r})"

    @overload
    def task(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> Task[P, R]: ...
    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...
    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        retries: int = 0,
        backoff_ms: int = 1000,
        timeout_s: float | None = None,
        priority: int | None = None,
        result_ttl_s: float | None = None,
        process: bool = False,
    ) -> _TaskDecorator: ...

    def task(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        retries: int = 0,
        backoff_ms: int = 1000,
        timeout_s: float | None = None,
        priority: int | None = None,
        result_ttl_s: float | None = None,
        process: bool = False,
    ) -> Task[Any, Any] | _TaskDecorator:
        """Registers a task: `@app.task` or `@app.task(retries=3, ...)`.

        `process=True` runs a sync task in a child process instead of a
        thread, so that its time limit and aborts are enforced by killing the
        process. The function must be defined at the top level of an
        importable module: the child imports it by name."""

        def register(fn: Callable[..., Any]) -> Task[Any, Any]:
            task_name = name or fn.__name__
            if task_name in self.tasks:
                raise ValueError(f"a task named {task_name!r} is already registered")
            _check_task_options(task_name, retries, backoff_ms, timeout_s, result_ttl_s)
            if process and inspect.iscoroutinefunction(fn):
                raise ValueError(
                    f"{task_name}: process=True is for sync tasks; async tasks are cancelled in place"
                )
            if process and (fn.__module__ == "__main__" or "<locals>" in fn.__qualname__):
                raise ValueError(
                    f"{task_name}: a process task must be defined at the top level of an importable module"
                )
            task: Task[Any, Any] = Task(
                self,
                fn,
                task_name,
                retries=retries,
                backoff_ms=backoff_ms,
                timeout_s=timeout_s,
                priority=priority,
                result_ttl_s=result_ttl_s,
                process=process,
            )
            self.tasks[task_name] = task
            return task

        if fn is not None:
            return register(fn)
        return _TaskDecorator(register)

    def options(
        self,
        *,
        priority: int | None = None,
        delay_ms: int | None = None,
        schedule_ms: int | None = None,
        job_id: str | None = None,
        max_retries: int | None = None,
        timeout_ms: int | None = None,
        backoff_ms: int | None = None,
        result_ttl_ms: int | None = None,
    ) -> _Sender:
        """Options for `send`: `await app.options(priority=9).send("add", 1, 2)`."""
        return _Sender(
            self,
            JobOptions(
                priority, delay_ms, schedule_ms, job_id, max_retries, timeout_ms, backoff_ms, result_ttl_ms
            ),
        )

    async def send(self, task: str, *args: Any, **kwargs: Any) -> Job[Any]:
        """Enqueues a job by task name, without importing the task."""
        return (await self._enqueue([_tuple_new(PreparedJob, (task, args, kwargs, *_NO_OPTIONS))]))[0]

    def prepare(self, task: str, *args: Any, **kwargs: Any) -> PreparedJob:
        """Describes a job by task name for `enqueue_many`."""
        return _tuple_new(PreparedJob, (task, args, kwargs, *_NO_OPTIONS))

    async def enqueue_many(self, jobs: Iterable[PreparedJob]) -> list[Job[Any]]:
        """Enqueues many jobs in batched script calls; one handle each."""
        return await self._enqueue(list(jobs))

    async def _enqueue(self, prepared: list[PreparedJob]) -> list[Job[Any]]:
        if not prepared:
            return []
        request, future = self._link.request()
        try:
            ids = self._core.enqueue(request, prepared)
        except BaseException:
            self._link.futures.pop(request, None)
            raise
        # The handles are built while Redis works on the batch.
        jobs: list[Job[Any]] = [Job(self, job_id) for job_id in ids]
        outcomes: list[str] = await future
        for job, outcome in zip(jobs, outcomes, strict=True):
            job.outcome = _OUTCOMES[outcome]
        return jobs

    def job(self, job_id: str) -> Job[Any]:
        """A handle on a job by id."""
        return Job(self, job_id)

    async def ping(self) -> None:
        """Connects and checks Redis answers; raises `RedisUnavailable` or
        `AuthenticationFailed`."""
        request, future = self._link.request()
        self._core.ping(request)
        await future

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest `count` dead letters."""
        request, future = self._link.request()
        self._core.dead_letters(request, count)
        return [DeadLetter(*row) for row in await future]

    async def replay_dead_letter(self, entry_id: str) -> Job[Any] | None:
        """Queues a dead letter again (attempts reset); None when it is gone."""
        letters = {d.entry_id: d for d in await self.dead_letters(count=1_000_000)}
        letter = letters.get(entry_id)
        request, future = self._link.request()
        self._core.replay_dead(request, entry_id)
        stream_id: str | None = await future
        if stream_id is None or letter is None:
            return None
        return Job(self, letter.job_id)

    async def delete_dead_letters(self, entry_ids: list[str]) -> int:
        """Deletes dead letters; returns how many were removed."""
        request, future = self._link.request()
        self._core.delete_dead(request, entry_ids)
        removed: int = await future
        return removed

    def registered(self, name: str) -> Task[Any, Any]:
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTask(f"no task named {name!r} is registered") from None

    async def run_worker(
        self,
        *,
        burst: bool = False,
        concurrency: int = 100,
        prefetch: int | None = None,
        sync_concurrency: int | None = None,
        process_concurrency: int | None = None,
        grace_s: float = 30.0,
        visibility_ms: int = 30_000,
        max_deliveries: int = 3,
        block_ms: int = 2_000,
        promote_interval_ms: int = 500,
        heartbeat_ms: int = 5_000,
        handle_signals: bool = False,
    ) -> None:
        """Runs a worker in this process until stopped (or, with `burst`,
        until the queue is drained). `prefetch` jobs (default: as many as
        `concurrency`) are fetched ahead so the next batch is ready when slots
        free; `visibility_ms` is the idle time after which a dead worker's jobs
        are reclaimed; `max_deliveries` bounds runs that end their worker.
        Sync tasks run in a pool of `sync_concurrency` threads (default:
        `concurrency`, at most 32); `process=True` tasks in up to
        `process_concurrency` child processes (default: the CPU count)."""
        from ardiq.worker import Worker

        worker = Worker(
            self,
            concurrency=concurrency,
            prefetch=prefetch,
            sync_concurrency=sync_concurrency,
            process_concurrency=process_concurrency,
            burst=burst,
            grace_s=grace_s,
            visibility_ms=visibility_ms,
            max_deliveries=max_deliveries,
            block_ms=block_ms,
            promote_interval_ms=promote_interval_ms,
            heartbeat_ms=heartbeat_ms,
        )
        await worker.run(handle_signals=handle_signals)

    async def close(self) -> None:
        """Stops watching the core from this loop."""
        self._link.close()


# SPEC.md section 5: the bounds a worker applies to every job's options.
MAX_RETRIES = 1_000
MAX_DURATION_MS = 3_155_760_000_000


def _checked_seconds(name: str, value: object, *, allow_zero: bool) -> float:
    """A duration in seconds within the spec's bounds, or a clear ValueError."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, not {value!r}")
    seconds = float(value)
    if not (seconds >= 0 if allow_zero else seconds > 0) or seconds * 1000 > MAX_DURATION_MS:
        lowest = "0" if allow_zero else "more than 0"
        raise ValueError(f"{name} must be {lowest} to {MAX_DURATION_MS // 1000} seconds, not {value!r}")
    return seconds


def _timeout_ms(name: str, seconds: float) -> int:
    return max(1, round(_checked_seconds(name, seconds, allow_zero=False) * 1000))


def _check_task_options(
    name: str, retries: object, backoff_ms: object, timeout_s: float | None, result_ttl_s: float | None
) -> None:
    """A task's options within the spec's bounds, so that no job of it can
    end with an outcome Redis refuses to store."""
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= MAX_RETRIES:
        raise ValueError(f"{name}: retries must be an int from 0 to {MAX_RETRIES}, not {retries!r}")
    if (
        isinstance(backoff_ms, bool)
        or not isinstance(backoff_ms, int)
        or not 0 <= backoff_ms <= MAX_DURATION_MS
    ):
        raise ValueError(f"{name}: backoff_ms must be an int from 0 to {MAX_DURATION_MS}, not {backoff_ms!r}")
    if timeout_s is not None:
        _checked_seconds(f"{name}: timeout_s", timeout_s, allow_zero=False)
    if result_ttl_s is not None:
        _checked_seconds(f"{name}: result_ttl_s", result_ttl_s, allow_zero=True)


class _TaskDecorator:
    """`@app.task(...)` with options."""

    def __init__(self, register: Callable[[Callable[..., Any]], Task[Any, Any]]) -> None:
        self._register = register

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> Task[P, R]: ...
    @overload
    def __call__(self, fn: Callable[P, R], /) -> Task[P, R]: ...
    def __call__(self, fn: Callable[..., Any], /) -> Task[Any, Any]:
        return self._register(fn)

"""Registered tasks and jobs described before they are sent: `Task` (call it
to run the function here, `enqueue` to run it on a worker; `AsyncTask` and
`SyncTask` keep the function's own call type), `PreparedJob` (the core's
enqueue item) and the per-enqueue `JobOptions`."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, NamedTuple, ParamSpec, TypeVar, cast, overload

from ardiq._core import TaskConfig
from ardiq.job import BlockingJob, Job

P = ParamSpec("P")
R = TypeVar("R")


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
    #: Not started by this time (ms since the epoch), the job ends expired unrun.
    expires_ms: int | None = None


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
    expires_ms: int | None = None
    #: The queue it goes to; `None`: the app's.
    queue: str | None = None
    #: Headers for the worker (spec 1.1), such as the W3C trace context;
    #: the current OpenTelemetry context is added when OpenTelemetry is
    #: installed.
    headers: dict[str, str] | None = None

    @property
    def options(self) -> JobOptions:
        return JobOptions(*self[3:12])


# `PreparedJob` from a full tuple of its fields, without the keyword-argument
# handling of the generated constructor (a batch builds thousands).
prepared = cast(Callable[[type[PreparedJob], tuple[Any, ...]], PreparedJob], tuple.__new__)
NO_OPTIONS = tuple(JobOptions())

#: Sends prepared jobs and returns their handles: the app's enqueue.
Enqueue = Callable[[list[PreparedJob]], Awaitable[list[Job[Any]]]]
#: The same, waiting in the calling thread: for sync code.
EnqueueBlocking = Callable[[list[PreparedJob]], list[BlockingJob[Any]]]


class Task(Generic[P, R]):
    """A registered task. Call it to run the function here; `enqueue` to run
    it on a worker."""

    def __init__(
        self,
        enqueue: Enqueue,
        enqueue_blocking: EnqueueBlocking,
        fn: Callable[P, Awaitable[R]] | Callable[P, R],
        config: TaskConfig,
        *,
        priority: int | None,
        process: bool = False,
        options: JobOptions | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._enqueue = enqueue
        self._enqueue_blocking = enqueue_blocking
        self.fn = fn
        self.config = config
        self.name = config.name
        self.queue = config.queue
        self.priority = priority
        self.process = process
        self.is_async = inspect.iscoroutinefunction(fn)
        self._options = options or JobOptions(priority=priority)
        self._headers = headers
        self._fields = (*self._options, self.queue, headers)

    @property
    def retries(self) -> int:
        return self.config.retries

    @property
    def backoff_ms(self) -> int:
        return self.config.backoff_ms

    @property
    def timeout_s(self) -> float | None:
        return None if self.config.timeout_ms is None else self.config.timeout_ms / 1000

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
        expires_ms: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> Task[P, R]:
        """The same task with per-enqueue options. `expires_ms` (ms since the
        epoch): a job no worker has started by then is not run and ends
        `expired`. `headers` (spec 1.1: at most 64, names without white
        space, values 1 to 8192 bytes) reach the run as
        `current_job().headers`."""
        given: dict[str, Any] = {
            "priority": priority,
            "delay_ms": delay_ms,
            "schedule_ms": schedule_ms,
            "job_id": job_id,
            "max_retries": max_retries,
            "timeout_ms": timeout_ms,
            "backoff_ms": backoff_ms,
            "result_ttl_ms": result_ttl_ms,
            "expires_ms": expires_ms,
        }
        options = self._options._replace(**{k: v for k, v in given.items() if v is not None})
        return type(self)(
            self._enqueue,
            self._enqueue_blocking,
            self.fn,
            self.config,
            priority=self.priority,
            process=self.process,
            options=options,
            headers=self._headers if headers is None else {**(self._headers or {}), **headers},
        )

    def prepare(self, *args: P.args, **kwargs: P.kwargs) -> PreparedJob:
        """Describes a job for `Ardiq.enqueue_many`."""
        return prepared(PreparedJob, (self.name, args, kwargs, *self._fields))

    async def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> Job[R]:
        """Enqueues one job and returns its handle."""
        jobs = await self._enqueue([prepared(PreparedJob, (self.name, args, kwargs, *self._fields))])
        return cast(Job[R], jobs[0])

    def enqueue_blocking(self, *args: P.args, **kwargs: P.kwargs) -> BlockingJob[R]:
        """Enqueues one job from sync code (a Flask view, a script), waiting
        in this thread, and returns its blocking handle. Not for async code:
        it would stall the event loop."""
        jobs = self._enqueue_blocking([prepared(PreparedJob, (self.name, args, kwargs, *self._fields))])
        return cast(BlockingJob[R], jobs[0])


class AsyncTask(Task[P, R]):
    """A task of an `async def` function: calling it runs the body here and
    returns the coroutine, typed as the function's."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Coroutine[Any, Any, R]:
        return cast(Callable[P, Coroutine[Any, Any, R]], self.fn)(*args, **kwargs)


class SyncTask(Task[P, R]):
    """A task of a plain function: calling it runs the body here."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return cast(Callable[P, R], self.fn)(*args, **kwargs)


class TaskDecorator:
    """`@app.task(...)` with options."""

    def __init__(self, register: Callable[[Callable[..., Any]], Task[Any, Any]]) -> None:
        self._register = register

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> AsyncTask[P, R]: ...  # type: ignore[overload-overlap]
    @overload
    def __call__(self, fn: Callable[P, R], /) -> SyncTask[P, R]: ...
    def __call__(self, fn: Callable[..., Any], /) -> Task[Any, Any]:
        return self._register(fn)

"""The application object: one Redis, one queue, its registered tasks,
the producer API, and worker runs."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, ParamSpec, TypeVar, overload

from ardiq._core import Core, TaskConfig
from ardiq._link import Link
from ardiq.errors import UnknownTask
from ardiq.job import DeadLetter, EnqueueOutcome, Job
from ardiq.task import NO_OPTIONS, JobOptions, PreparedJob, Task, TaskDecorator, prepared
from ardiq.worker import Worker

P = ParamSpec("P")
R = TypeVar("R")

DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_RESULT_TTL_S = 86_400

_OUTCOMES = {outcome.value: outcome for outcome in EnqueueOutcome}


class Sender:
    """Sends by task name with fixed options: `app.options(...).send(name, ...)`."""

    def __init__(self, app: Ardiq, options: JobOptions) -> None:
        self._app = app
        self._options = options

    async def send(self, task: str, *args: Any, **kwargs: Any) -> Job[Any]:
        return (await self._app.enqueue_many([self.prepare(task, *args, **kwargs)]))[0]

    def prepare(self, task: str, *args: Any, **kwargs: Any) -> PreparedJob:
        return prepared(PreparedJob, (task, args, kwargs, *self._options))


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
        each command `timeout_s`; then the call raises `RedisUnavailable`.
        Results are kept `result_ttl_s` unless a task or job says otherwise."""
        self.url = url or os.environ.get("ARDIQ_REDIS_URL") or DEFAULT_URL
        if cluster is None:
            cluster = os.environ.get("ARDIQ_CLUSTER", "") not in ("", "0", "false")
        if ssl_ca_certs is None:
            ssl_ca_certs = os.environ.get("ARDIQ_SSL_CA_CERTS") or None
        self.queue = queue
        self.result_ttl_s = result_ttl_s
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
    ) -> TaskDecorator: ...

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
    ) -> Task[Any, Any] | TaskDecorator:
        """Registers a task: `@app.task` or `@app.task(retries=3, ...)`.

        Every option is checked here (a `ValueError` names the bad one).
        `process=True` runs a sync task in a child process instead of a
        thread, so that its time limit and aborts are enforced by killing the
        process. The function must be defined at the top level of an
        importable module: the child imports it by name."""

        def register(fn: Callable[..., Any]) -> Task[Any, Any]:
            task_name = name or fn.__name__
            if task_name in self.tasks:
                raise ValueError(f"a task named {task_name!r} is already registered")
            config = TaskConfig(
                task_name,
                retries=retries,
                backoff_ms=backoff_ms,
                timeout_s=timeout_s,
                result_ttl_s=result_ttl_s,
            )
            if process and inspect.iscoroutinefunction(fn):
                raise ValueError(
                    f"{task_name}: process=True is for sync tasks; async tasks are cancelled in place"
                )
            if process and (fn.__module__ == "__main__" or "<locals>" in fn.__qualname__):
                raise ValueError(
                    f"{task_name}: a process task must be defined at the top level of an importable module"
                )
            task: Task[Any, Any] = Task(self.enqueue_many, fn, config, priority=priority, process=process)
            self.tasks[task_name] = task
            return task

        if fn is not None:
            return register(fn)
        return TaskDecorator(register)

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
    ) -> Sender:
        """Options for `send`: `await app.options(priority=9).send("add", 1, 2)`."""
        return Sender(
            self,
            JobOptions(
                priority, delay_ms, schedule_ms, job_id, max_retries, timeout_ms, backoff_ms, result_ttl_ms
            ),
        )

    async def send(self, task: str, *args: Any, **kwargs: Any) -> Job[Any]:
        """Enqueues a job by task name, without importing the task."""
        return (await self.enqueue_many([prepared(PreparedJob, (task, args, kwargs, *NO_OPTIONS))]))[0]

    def prepare(self, task: str, *args: Any, **kwargs: Any) -> PreparedJob:
        """Describes a job by task name for `enqueue_many`."""
        return prepared(PreparedJob, (task, args, kwargs, *NO_OPTIONS))

    async def enqueue_many(self, jobs: Iterable[PreparedJob]) -> list[Job[Any]]:
        """Enqueues many jobs in batched script calls; one handle each. Every
        job is checked first: one bad job raises and writes nothing."""
        items = jobs if isinstance(jobs, list) else list(jobs)
        if not items:
            return []
        link = self._link
        request, future = link.request()
        try:
            ids = self._core.enqueue(request, items)
        except BaseException:
            link.futures.pop(request, None)
            raise
        # The handles are built while Redis works on the batch.
        handles: list[Job[Any]] = [Job(link, job_id) for job_id in ids]
        outcomes: list[str] = await future
        for job, outcome in zip(handles, outcomes, strict=True):
            job.outcome = _OUTCOMES[outcome]
        return handles

    def job(self, job_id: str) -> Job[Any]:
        """A handle on a job by id."""
        return Job(self._link, job_id)

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
        letters: list[DeadLetter] = await future
        return letters

    async def replay_dead_letter(self, entry_id: str) -> Job[Any] | None:
        """Queues a dead letter again (attempts reset); its job's handle, or
        None when the dead letter is gone."""
        request, future = self._link.request()
        self._core.replay_dead(request, entry_id)
        job_id: str | None = await future
        return None if job_id is None else Job(self._link, job_id)

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
        `process_concurrency` child processes (default: the CPU count).
        Every option is checked before anything starts."""
        worker = Worker(
            self._link,
            self.queue,
            self.tasks,
            result_ttl_s=self.result_ttl_s,
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


def _timeout_ms(name: str, seconds: float) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 86_400:
        raise ValueError(f"{name} must be more than 0 and at most 86400 seconds, not {seconds!r}")
    return max(1, round(seconds * 1000))

"""The application object: one Redis, its registered tasks (each routed to
a queue) and cron schedules, the producer API (async and blocking),
middleware, the lifespan that builds the context tasks share, and worker
runs."""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, cast, overload

from ardiq import trace
from ardiq._core import Core, InvalidSchedule, ScheduleConfig, TaskConfig
from ardiq._link import Link
from ardiq.cron import CatchUp, CronDecorator, Schedule, ScheduleState, interval_ms, timezone_name
from ardiq.errors import ContextUnavailable, LifespanFailed, UnknownTask
from ardiq.inspect import (
    Failure,
    JobDetails,
    JobPage,
    ListedJob,
    ListState,
    QueueInfo,
    WorkerInfo,
)
from ardiq.job import BlockingJob, DeadLetter, EnqueueOutcome, Job, JobEvent
from ardiq.task import (
    NO_OPTIONS,
    AsyncTask,
    JobOptions,
    PreparedJob,
    SyncTask,
    Task,
    TaskDecorator,
    prepared,
)
from ardiq.worker import Middleware, Worker

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from typing_extensions import TypeVar as DefaultingTypeVar

P = ParamSpec("P")
R = TypeVar("R")
# The context type; a bare `Ardiq` annotation means an app without a lifespan.
# Its default matters to type checkers only, so a worker does not import
# `typing_extensions` (0.4 MiB of memory) to run.
if TYPE_CHECKING:
    C = DefaultingTypeVar("C", default=None)
else:
    C = TypeVar("C")

DEFAULT_URL = "redis://localhost:6379/0"
DEFAULT_RESULT_TTL_S = 86_400

_OUTCOMES = {outcome.value: outcome for outcome in EnqueueOutcome}
_NO_CONTEXT = object()

#: What `lifespan=` takes: called with the app once per worker process, it
#: yields the context tasks read as `app.context`.
Lifespan = Callable[["Ardiq[C]"], AbstractAsyncContextManager[C]]


class Sender:
    """Sends by task name with fixed options: `app.options(...).send(name, ...)`."""

    def __init__(self, app: Ardiq[Any], options: JobOptions, headers: dict[str, str] | None = None) -> None:
        self._app = app
        self._options = options
        self._headers = headers

    async def send(self, task: str, *args: Any, **kwargs: Any) -> Job[Any]:
        return (await self._app.enqueue_many([self.prepare(task, *args, **kwargs)]))[0]

    def send_blocking(self, task: str, *args: Any, **kwargs: Any) -> BlockingJob[Any]:
        return self._app.enqueue_many_blocking([self.prepare(task, *args, **kwargs)])[0]

    def prepare(self, task: str, *args: Any, **kwargs: Any) -> PreparedJob:
        return prepared(
            PreparedJob, (task, args, kwargs, *self._options, self._app.queue_of(task), self._headers)
        )


class Ardiq(Generic[C]):
    """An ArdiQ application: one Redis, its tasks and their queues, and the
    context (`C`, from `lifespan`) its tasks share inside a worker."""

    @overload
    def __init__(
        self: Ardiq[None],
        url: str | None = None,
        *,
        queue: str = "default",
        cluster: bool | None = None,
        result_ttl_s: float = DEFAULT_RESULT_TTL_S,
        ssl_ca_certs: str | os.PathLike[str] | None = None,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 5.0,
        lifespan: None = None,
    ) -> None: ...
    @overload
    def __init__(
        self: Ardiq[C],
        url: str | None = None,
        *,
        queue: str = "default",
        cluster: bool | None = None,
        result_ttl_s: float = DEFAULT_RESULT_TTL_S,
        ssl_ca_certs: str | os.PathLike[str] | None = None,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 5.0,
        lifespan: Lifespan[C],
    ) -> None: ...

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
        lifespan: Lifespan[C] | None = None,
    ) -> None:
        """`url` (default `ARDIQ_REDIS_URL`, else the local Redis): `redis://` or
        `rediss://` (TLS, verified against the public roots, or against the CA
        certificates in the PEM file `ssl_ca_certs`, default
        `ARDIQ_SSL_CA_CERTS`). Connecting waits at most `connect_timeout_s`,
        each command `timeout_s`; then the call raises `RedisUnavailable`.
        `queue` is where tasks without a `queue=` of their own go. Results are
        kept `result_ttl_s` unless a task or job says otherwise. `lifespan`
        runs once per worker process around all its jobs; what it yields is
        `app.context`."""
        self.url = url or os.environ.get("ARDIQ_REDIS_URL") or DEFAULT_URL
        if cluster is None:
            cluster = os.environ.get("ARDIQ_CLUSTER", "") not in ("", "0", "false")
        if ssl_ca_certs is None:
            ssl_ca_certs = os.environ.get("ARDIQ_SSL_CA_CERTS") or None
        self.queue = queue
        self.result_ttl_s = result_ttl_s
        self.tasks: dict[str, Task[Any, Any]] = {}
        self.schedules: dict[str, Schedule] = {}
        self.lifespan = lifespan
        self.middlewares: list[Middleware] = []
        self._context: object = _NO_CONTEXT
        self._options = (
            cluster,
            None if ssl_ca_certs is None else os.fspath(ssl_ca_certs),
            _timeout_ms("connect_timeout_s", connect_timeout_s),
            _timeout_ms("timeout_s", timeout_s),
        )
        self._core = Core(self.url, queue, *self._options)
        self._link = Link(self._core)

    def _rebind(self, url: str) -> tuple[str, Core, Link]:
        """Points the app at the Redis `url` (for `ardiq.testing.use_redis`);
        returns what it pointed at before."""
        before = (self.url, self._core, self._link)
        core = Core(url, self.queue, *self._options)
        self.url, self._core, self._link = url, core, Link(core)
        return before

    def _restore(self, before: tuple[str, Core, Link]) -> None:
        self._link.close()
        self.url, self._core, self._link = before

    def __repr__(self) -> str:
        return f"Ardiq(queue={self.queue!r}, tasks={sorted(self.tasks)!r})"

    @property
    def context(self) -> C:
        """What the lifespan yielded, inside a worker run of this app (also in
        sync tasks' threads); `ContextUnavailable` elsewhere."""
        if self._context is _NO_CONTEXT:
            raise ContextUnavailable(
                "app.context is set only inside a worker run of an app with a lifespan"
                if self.lifespan is not None
                else "app.context needs a lifespan: Ardiq(..., lifespan=...)"
            )
        return cast(C, self._context)

    @property
    def queues(self) -> list[str]:
        """Every queue the app's tasks go to (its own queue when it has no
        task yet), in the order the tasks were registered."""
        found = [task.queue or self.queue for task in self.tasks.values()]
        return list(dict.fromkeys(found)) or [self.queue]

    def queue_of(self, task: str) -> str | None:
        """The queue a job of `task` goes to: the registered task's, else the
        app's (`None`)."""
        registered = self.tasks.get(task)
        return None if registered is None else registered.queue

    @overload
    def task(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> AsyncTask[P, R]: ...  # type: ignore[overload-overlap]
    @overload
    def task(self, fn: Callable[P, R], /) -> SyncTask[P, R]: ...
    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        queue: str | None = None,
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
        queue: str | None = None,
        retries: int = 0,
        backoff_ms: int = 1000,
        timeout_s: float | None = None,
        priority: int | None = None,
        result_ttl_s: float | None = None,
        process: bool = False,
    ) -> Task[Any, Any] | TaskDecorator:
        """Registers a task: `@app.task` or `@app.task(queue="emails", retries=3, ...)`.

        Every option is checked here (a `ValueError`, or `InvalidQueueName`,
        names the bad one). `process=True` runs a sync task in a child process
        instead of a thread, so that its time limit and aborts are enforced by
        killing the process. The function must be defined at the top level of
        an importable module: the child imports it by name."""

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
                queue=None if queue == self.queue else queue,
            )
            is_async = inspect.iscoroutinefunction(fn)
            if process and is_async:
                raise ValueError(
                    f"{task_name}: process=True is for sync tasks; async tasks are cancelled in place"
                )
            if process and (fn.__module__ == "__main__" or "<locals>" in fn.__qualname__):
                raise ValueError(
                    f"{task_name}: a process task must be defined at the top level of an importable module"
                )
            kind: type[Task[Any, Any]] = AsyncTask if is_async else SyncTask
            task = kind(
                self.enqueue_many, self.enqueue_many_blocking, fn, config, priority=priority, process=process
            )
            self.tasks[task_name] = task
            return task

        if fn is not None:
            return register(fn)
        return TaskDecorator(register)

    @overload
    def cron(
        self,
        schedule: str,
        /,
        *,
        timezone: str | ZoneInfo = "UTC",
        name: str | None = None,
        catch_up: CatchUp = "latest",
    ) -> CronDecorator: ...
    @overload
    def cron(
        self,
        schedule: str,
        job: PreparedJob | Task[[], Any],
        /,
        *,
        timezone: str | ZoneInfo = "UTC",
        name: str | None = None,
        catch_up: CatchUp = "latest",
    ) -> Schedule: ...
    @overload
    def cron(
        self, *, every: timedelta, name: str | None = None, catch_up: CatchUp = "latest"
    ) -> CronDecorator: ...
    @overload
    def cron(
        self,
        *,
        every: timedelta,
        job: PreparedJob | Task[[], Any],
        name: str | None = None,
        catch_up: CatchUp = "latest",
    ) -> Schedule: ...

    def cron(
        self,
        schedule: str | None = None,
        job: PreparedJob | Task[Any, Any] | None = None,
        *,
        every: timedelta | None = None,
        timezone: str | ZoneInfo | None = None,
        name: str | None = None,
        catch_up: CatchUp = "latest",
    ) -> CronDecorator | Schedule:
        """Schedules a job on a cron expression or an interval; the workers
        that consume the job's queue enqueue it once per tick, with the job
        id `cron:<name>:<tick_ms>`, however many of them run.

        `@app.cron("*/5 * * * *", timezone="Europe/Paris")` above a function
        registers it as a task and schedules it; above `@app.task(...)` it
        schedules that task. `app.cron("0 9 * * mon-fri", digest.prepare("weekly",
        limit=10))` schedules an existing task with arguments (and the
        options of `digest.options(...)`); `every=timedelta(seconds=30)`
        instead of an expression ticks at the multiples of the interval since
        the Unix epoch. An expression has 5 fields, or 6 with seconds first.
        `name` (default: the task's) is unique in the app. `catch_up` says what
        runs of the ticks that passed while no worker ran: the latest once
        (`latest`), none (`skip`) or each (`all`). A bad expression, time zone,
        interval, name or job raises `InvalidSchedule` (or the option's typed
        error) here."""
        if (schedule is None) == (every is None):
            raise InvalidSchedule("give either a cron expression or every=timedelta(...)")
        if schedule is not None and not isinstance(schedule, str):
            raise InvalidSchedule(f"a cron expression is a str, not {schedule!r}")
        timing: dict[str, Any] = {
            "cron": schedule,
            "every_ms": None if every is None else interval_ms(every),
            "timezone": None if timezone is None else timezone_name(timezone),
        }

        def register(target: PreparedJob | Task[Any, Any]) -> Schedule:
            prepared = target.prepare() if isinstance(target, Task) else target
            schedule_name = prepared.task if name is None else name
            task = self.tasks.get(prepared.task)
            if task is None:
                raise UnknownTask(
                    f"schedule {schedule_name!r}: no task named {prepared.task!r} is registered"
                )
            if schedule_name in self.schedules:
                raise InvalidSchedule(f"a schedule named {schedule_name!r} is already registered: give name=")
            try:
                inspect.signature(task.fn).bind(*prepared.args, **prepared.kwargs)
            except TypeError as exc:
                raise InvalidSchedule(
                    f"schedule {schedule_name!r}: the arguments do not fit task {task.name!r}: {exc}"
                ) from None
            config = ScheduleConfig(
                schedule_name, prepared, queue=prepared.queue or self.queue, catch_up=catch_up, **timing
            )
            registered = Schedule(config)
            self.schedules[schedule_name] = registered
            return registered

        if job is not None:
            return register(job)
        # The expression, time zone and policy are checked here, before the function.
        ScheduleConfig.check_timing(catch_up=catch_up, **timing)

        def define(fn: Callable[..., Any]) -> Task[Any, Any]:
            task = cast(Task[Any, Any], self.task(fn))
            try:
                register(task)
            except BaseException:
                # A function the schedule cannot call is not left registered.
                del self.tasks[task.name]
                raise
            return task

        return CronDecorator(define, register)

    def middleware(self, fn: Middleware) -> Middleware:
        """Registers a middleware: `async def m(job: JobContext, call_next)`,
        awaited around every run (the first registered outermost); it returns
        what `await call_next()` returned, or raises to fail the run like the
        task raising. Apps without middleware pay nothing for it."""
        if not inspect.iscoroutinefunction(fn):
            raise ValueError(f"middleware {fn.__qualname__} must be an async function")
        self.middlewares.append(fn)
        return fn

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
    ) -> Sender:
        """Options for `send`: `await app.options(priority=9).send("add", 1, 2)`."""
        return Sender(
            self,
            JobOptions(
                priority,
                delay_ms,
                schedule_ms,
                job_id,
                max_retries,
                timeout_ms,
                backoff_ms,
                result_ttl_ms,
                expires_ms,
            ),
            headers,
        )

    def prepare(self, task: str, *args: Any, **kwargs: Any) -> PreparedJob:
        """Describes a job by task name for `enqueue_many`; it goes to the
        registered task's queue, else the app's."""
        return prepared(PreparedJob, (task, args, kwargs, *NO_OPTIONS, self.queue_of(task), None))

    async def send(self, task: str, *args: Any, **kwargs: Any) -> Job[Any]:
        """Enqueues a job by task name, without importing the task."""
        return (await self.enqueue_many([self.prepare(task, *args, **kwargs)]))[0]

    async def enqueue_many(self, jobs: Iterable[PreparedJob]) -> list[Job[Any]]:
        """Enqueues many jobs in batched script calls, each to its queue; one
        handle each. Every job is checked first: one bad job raises and
        writes nothing."""
        items = jobs if isinstance(jobs, list) else list(jobs)
        if not items:
            return []
        if trace.INSTALLED:
            items = trace.with_context(items)
        link = self._link
        request, future = link.request()
        try:
            ids = self._core.enqueue(request, items)
        except BaseException:
            link.futures.pop(request, None)
            raise
        # The handles are built while Redis works on the batch.
        handles: list[Job[Any]] = [
            Job(link, job_id, None, item.queue) for job_id, item in zip(ids, items, strict=True)
        ]
        outcomes: list[str] = await future
        for job, outcome in zip(handles, outcomes, strict=True):
            job.outcome = _OUTCOMES[outcome]
        return handles

    def send_blocking(self, task: str, *args: Any, **kwargs: Any) -> BlockingJob[Any]:
        """`send` for sync code (Flask, Django, scripts): waits in this thread."""
        return self.enqueue_many_blocking([self.prepare(task, *args, **kwargs)])[0]

    def enqueue_many_blocking(self, jobs: Iterable[PreparedJob]) -> list[BlockingJob[Any]]:
        """`enqueue_many` for sync code: waits in this thread. Not for async
        code: it would stall the event loop."""
        items = jobs if isinstance(jobs, list) else list(jobs)
        if not items:
            return []
        if trace.INSTALLED:
            items = trace.with_context(items)
        ids, outcomes = self._core.enqueue_blocking(items)
        return [
            BlockingJob(self._core, job_id, _OUTCOMES[outcome], item.queue)
            for job_id, outcome, item in zip(ids, outcomes, items, strict=True)
        ]

    def job(self, job_id: str, *, queue: str | None = None) -> Job[Any]:
        """A handle on a job by id (on `queue`, default the app's)."""
        return Job(self._link, job_id, None, queue)

    def job_blocking(self, job_id: str, *, queue: str | None = None) -> BlockingJob[Any]:
        """A blocking handle on a job by id, for sync code."""
        return BlockingJob(self._core, job_id, None, queue)

    async def ping(self) -> None:
        """Connects and checks Redis answers; raises `RedisUnavailable` or
        `AuthenticationFailed`."""
        request, future = self._link.request()
        self._core.ping(request)
        await future

    async def events(
        self, queue: str | None = None, *, since: str = "$", block_s: float = 1.0
    ) -> AsyncIterator[JobEvent]:
        """The job events of `queue` (default the app's), as workers started
        with `journal=True` (`ardiq run --journal`) write them: from now on
        (`since="$"`), or from the oldest kept (`since="0"`), or after an
        entry id; forever, so stop iterating when done. The journal is a
        capped stream (10,000 entries by default)."""
        name = queue or self.queue
        after = since
        block_ms = _timeout_ms("block_s", block_s)
        while True:
            request, future = self._link.request()
            self._core.read_journal(request, after, 100, block_ms, queue)
            entries: list[tuple[str, list[tuple[str, str]]]]
            # `after` comes back resolved ("$" is now then), so no entry
            # added between two reads is missed.
            after, entries = await future
            for entry_id, pairs in entries:
                fields = dict(pairs)
                yield JobEvent(
                    event=fields.get("event", ""),
                    job_id=fields.get("id", ""),
                    task=fields.get("task", ""),
                    queue=name,
                    ms=int(fields.get("ms", "0")),
                    attempt=int(fields.get("attempt", "0")),
                    worker_id=fields.get("worker", ""),
                    error=fields.get("error"),
                    entry_id=entry_id,
                )

    async def dead_letters(self, count: int = 100) -> list[DeadLetter]:
        """The oldest `count` dead letters of the app's queue."""
        request, future = self._link.request()
        self._core.dead_letters(request, count)
        letters: list[DeadLetter] = await future
        return letters

    async def schedule_states(self, *, queue: str | None = None) -> list[ScheduleState]:
        """The cron schedules workers registered in Redis on `queue` (default:
        every queue of the app's tasks), each by next tick: what runs, its
        last tick enqueued and its next. Schedules no longer in any app's code
        stay listed until their keys are deleted (SPEC.md section 19)."""
        states: list[ScheduleState] = []
        for name in [queue] if queue is not None else self.queues:
            request, future = self._link.request()
            self._core.schedules(request, name)
            states += await future
        return states

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

    # -- inspection (SPEC.md section 20) ----------------------------------

    async def _ask(self, call: Callable[..., None], *args: Any, **kwargs: Any) -> Any:
        request, future = self._link.request()
        try:
            call(request, *args, **kwargs)
        except BaseException:
            self._link.futures.pop(request, None)
            raise
        return await future

    async def queue_info(self, queue: str | None = None) -> QueueInfo:
        """`queue` (default the app's) at a glance: waiting jobs per priority,
        held, scheduled and the next due time, running, dead and kept failed
        counts, workers, and the lag (one round trip, `inspect.lua`)."""
        return QueueInfo.of(await self._ask(self._core.queue_info, queue))

    async def workers(self, queue: str | None = None) -> list[WorkerInfo]:
        """The workers of `queue` seen in the last minute, from their
        heartbeats, most recently seen first; a gone one has `alive` False."""
        return [WorkerInfo(*fields) for fields in await self._ask(self._core.workers, queue)]

    async def jobs(
        self,
        state: ListState | str,
        *,
        count: int = 100,
        cursor: str | None = None,
        queue: str | None = None,
    ) -> JobPage:
        """One page of `queue`'s jobs in `state` (`running`, `scheduled`,
        `failed`, `dead`), at most `count` (1 to 1,000); pass the page's
        `next` as `cursor` for the following one."""
        jobs, following = await self._ask(self._core.jobs, str(state), count, cursor, queue)
        return JobPage([ListedJob.of(fields) for fields in jobs], following)

    async def job_details(self, job_id: str, *, queue: str | None = None) -> JobDetails:
        """Everything known about one job: state, status record (a finished
        job's result or error, attempts, times, worker), a scheduled job's
        record and due time, a running job's worker."""
        return JobDetails.of(await self._ask(self._core.job_details, job_id, queue))

    async def list_queues(self) -> list[str]:
        """The queues this Redis holds any key of. It scans every key
        (`SCAN`; queues have no registry), so keep it off hot paths."""
        names: list[str] = await self._ask(self._core.queues)
        return names

    async def failures(
        self, count: int = 100, *, after: str | None = None, queue: str | None = None
    ) -> list[Failure]:
        """Up to `count` kept failures (jobs that failed after their last
        retry) after entry `after`, oldest first."""
        return [Failure.of(fields) for fields in await self._ask(self._core.failures, count, after, queue)]

    async def replay_failure(self, entry_id: str, *, queue: str | None = None) -> Job[Any] | None:
        """Queues a kept failure's job again (attempts reset) and removes it
        from the store; its handle, or None when the entry is gone."""
        job_id: str | None = await self._ask(self._core.replay_failure, entry_id, queue)
        return None if job_id is None else Job(self._link, job_id, None, queue)

    async def delete_failures(self, entry_ids: list[str], *, queue: str | None = None) -> int:
        """Deletes kept failures; returns how many were removed."""
        removed: int = await self._ask(self._core.delete_failures, entry_ids, queue)
        return removed

    async def purge(self, queue: str | None = None) -> int:
        """Removes every job of `queue` that no worker holds yet, waiting or
        scheduled, with its status; returns how many. Running jobs, dead
        letters and kept failures stay."""
        removed: int = await self._ask(self._core.purge, queue)
        return removed

    def registered(self, name: str) -> Task[Any, Any]:
        try:
            return self.tasks[name]
        except KeyError:
            raise UnknownTask(f"no task named {name!r} is registered") from None

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[None]:
        """The lifespan around one worker run: `app.context` while it lasts."""
        if self.lifespan is None:
            yield
            return
        manager = self.lifespan(self)
        try:
            context = await manager.__aenter__()
        except Exception as exc:
            raise LifespanFailed(f"the lifespan of {self!r} failed: {type(exc).__name__}: {exc}") from exc
        self._context = context
        try:
            yield
        finally:
            self._context = _NO_CONTEXT
            await manager.__aexit__(None, None, None)

    async def run_worker(
        self,
        *,
        queues: Sequence[str] | Mapping[str, int] | None = None,
        burst: bool = False,
        wait_delayed: bool = False,
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
        failed_maxlen: int = 10_000,
        failed_retention_s: float = 7 * 86_400,
        metrics_port: int | None = None,
        metrics_host: str = "0.0.0.0",
        journal: bool | int = False,
        handle_signals: bool = False,
    ) -> None:
        """Runs a worker in this process until stopped (or, with `burst`,
        until its queues are drained), inside the app's lifespan. A burst
        ends when nothing is queued or running; retries and delayed jobs due
        later stay scheduled, unless `wait_delayed` makes it wait for them
        too (and run them when due, however far ahead that is).

        `queues`: names, or names with weights (`{"emails": 3, "default":
        1}`: under contention emails gets three slots for each of default's);
        default every queue of the app's tasks, weight 1. `concurrency` is
        shared by all of them. `prefetch` jobs per queue are fetched ahead so
        the next batch is ready when slots free (default: as many as
        `concurrency`, growing up to 200 while jobs are short enough that the
        slots start that many within about 10 ms, so short jobs come in big
        batches); `visibility_ms` is the idle time after which a dead worker's jobs
        are reclaimed; `max_deliveries` bounds runs that end their worker.
        `journal=True` keeps a journal of job events per queue (a capped
        stream of 10,000 entries, or as many as an int says) for
        `app.events()` and other tools; it costs one Redis command per event.
        Sync tasks run in a pool of `sync_concurrency` threads (default:
        `concurrency`, at most 32); `process=True` tasks in up to
        `process_concurrency` child processes (default: the CPU count).
        Jobs that fail after their last retry are kept (`failures`) up to
        about `failed_maxlen` of them (0 keeps none), each at most
        `failed_retention_s`. `metrics_port` serves Prometheus metrics on
        `http://metrics_host:metrics_port/metrics` (0: any free port; see
        `ardiq.metrics`). Every option is checked before anything starts."""
        if wait_delayed and not burst:
            raise ValueError("wait_delayed waits at the end of a burst: give burst=True too")
        worker = self._worker(
            queues,
            concurrency=concurrency,
            prefetch=prefetch,
            sync_concurrency=sync_concurrency,
            process_concurrency=process_concurrency,
            burst=burst,
            burst_waits_delayed=wait_delayed,
            grace_s=grace_s,
            visibility_ms=visibility_ms,
            max_deliveries=max_deliveries,
            block_ms=block_ms,
            promote_interval_ms=promote_interval_ms,
            heartbeat_ms=heartbeat_ms,
            failed_maxlen=failed_maxlen,
            failed_retention_ms=_timeout_ms("failed_retention_s", failed_retention_s, 3_155_760_000),
            metrics_port=metrics_port,
            metrics_host=metrics_host,
            journal_maxlen=_journal_maxlen(journal),
        )
        await worker.run(handle_signals=handle_signals)

    def _worker(self, queues: Sequence[str] | Mapping[str, int] | None, **options: Any) -> Worker:
        """A worker run of this app's tasks with `options` (`Worker`'s)."""
        return Worker(
            self._link,
            self.tasks,
            queues=self._weighted(queues),
            result_ttl_s=self.result_ttl_s,
            middlewares=list(self.middlewares),
            session=self._session,
            schedules=list(self.schedules.values()),
            **options,
        )

    def _weighted(self, queues: Sequence[str] | Mapping[str, int] | None) -> list[tuple[str, int]]:
        if queues is None:
            return [(queue, 1) for queue in self.queues]
        pairs = list(queues.items()) if isinstance(queues, Mapping) else [(queue, 1) for queue in queues]
        known = set(self.queues)
        unknown = [queue for queue, _ in pairs if queue not in known]
        if unknown:
            raise ValueError(
                f"no task of this app goes to queue {unknown[0]!r}; its queues are {', '.join(self.queues)}"
            )
        return pairs

    async def close(self) -> None:
        """Stops watching the core from this loop."""
        self._link.close()


#: Entries a journal keeps when `journal=True`.
DEFAULT_JOURNAL_MAXLEN = 10_000


def _journal_maxlen(journal: bool | int) -> int:
    if journal is True:
        return DEFAULT_JOURNAL_MAXLEN
    if journal is False:
        return 0
    if not isinstance(journal, int) or journal < 1:
        raise ValueError(f"journal must be a bool or a number of entries of at least 1, not {journal!r}")
    return journal


def _timeout_ms(name: str, seconds: float, most: int = 86_400) -> int:
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= most:
        raise ValueError(f"{name} must be more than 0 and at most {most} seconds, not {seconds!r}")
    return max(1, round(seconds * 1000))

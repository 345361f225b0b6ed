"""The Python half of a worker run: starts the jobs the core hands over and
reports their outcomes back in batches, inside the app's lifespan, through
its middleware when it has any, with `current_job()` set for each run.

Each run has a context of its own, copied from the worker's with its
`current_job()` set: a context variable one run sets, no other run sees.
An async run is an asyncio Task from its first step, so `asyncio.timeout()`,
`TaskGroup` and `current_task()` work before its first await; from Python
3.12 an eager Task, stepped at once, so that a coroutine that finishes
without suspending costs no loop iteration. Sync tasks run in a bounded
thread pool, their time limit counted from when a thread starts them; a
thread cannot be killed, so a timed-out or aborted sync run is reported at
once and its eventual result is discarded, and one still waiting for a
thread never starts. Sync tasks registered with `process=True` run in
child processes instead (`ardiq._process`), which a time limit or an abort
kills.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import logging
import os
import signal
import socket
import sys
import traceback
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, cast

from ardiq import context, trace
from ardiq._core import (
    CANCEL_ABORTED,
    CANCEL_LOST,
    OUTCOME_ABORTED,
    OUTCOME_COMPLETE,
    OUTCOME_FAILED,
    OUTCOME_INTERRUPTED,
    WorkerConfig,
)
from ardiq._process import ProcessPool, ProcessTaskError
from ardiq.context import JobContext
from ardiq.errors import Retry
from ardiq.metrics import MetricsServer, serve_metrics

if TYPE_CHECKING:
    from ardiq._core import Failure, Outcome, StartJob
    from ardiq._link import Link
    from ardiq.cron import Schedule
    from ardiq.task import Task

logger = logging.getLogger("ardiq.worker")

#: How long a stop waits, after the grace period, for cancelled async runs
#: to end; one that is still running then (it swallowed its cancellation)
#: is handed back anyway, so that the worker can exit.
CANCELLED_WAIT_S = 3.0

#: `async def middleware(job, call_next)`: awaited around every run.
Middleware = Callable[[JobContext, Callable[[], Awaitable[Any]]], Awaitable[Any]]


class _Exited(Exception):
    """Carries the `KeyboardInterrupt` or `SystemExit` a run raised: an
    asyncio Task re-raises those into the loop, which would end the worker,
    while the run's own error is the job's failure."""


if sys.version_info >= (3, 12):

    def _run_task(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], ctx: contextvars.Context
    ) -> asyncio.Task[Any]:
        """The run's Task, in its own context, stepped at once: a run that
        never suspends is done on return and costs no loop iteration."""
        return asyncio.Task(coro, loop=loop, context=ctx, eager_start=True)

else:

    def _run_task(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], ctx: contextvars.Context
    ) -> asyncio.Task[Any]:
        """The run's Task, in its own context (no eager tasks before 3.12)."""
        return loop.create_task(coro, context=ctx)


async def _limited(coro: Coroutine[Any, Any, Any], timeout_s: float) -> Any:
    """A run within its time limit: past it the run fails with
    `TimeoutError`, even when it caught the cancellation and returned."""
    limit = asyncio.timeout(timeout_s)
    try:
        async with limit:
            result = await coro
    except Exception as exc:
        if limit.expired() and not isinstance(exc, TimeoutError):
            raise TimeoutError(f"the run exceeded its time limit of {timeout_s} s") from exc
        raise
    if limit.expired():
        raise TimeoutError(f"the run exceeded its time limit of {timeout_s} s")
    return result


def _in_thread(
    ctx: contextvars.Context,
    started: Callable[[], object] | None,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A sync run in its pool thread; `started` tells the loop it began."""
    if started is not None:
        started()
    return ctx.run(fn, *args, **kwargs)


async def _in_thread_with_limit(
    executor: concurrent.futures.Executor,
    name: str,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    timeout_s: float | None,
) -> Any:
    """A sync run in the thread pool, awaited (through middleware): its
    time limit starts when a thread starts it; a cancellation before that
    (timeout, abort, shutdown) means it never starts."""
    loop = asyncio.get_running_loop()
    limit = asyncio.timeout(None)
    started = None
    if timeout_s is not None:

        def start_clock() -> None:
            with contextlib.suppress(RuntimeError):  # the wait has already ended
                limit.reschedule(loop.time() + timeout_s)

        started = functools.partial(loop.call_soon_threadsafe, start_clock)
    waiting = executor.submit(_in_thread, contextvars.copy_context(), started, fn, args, kwargs)
    try:
        async with limit:
            return await asyncio.wrap_future(waiting, loop=loop)
    except TimeoutError:
        if not limit.expired():
            raise
        logger.warning(
            "sync task %s timed out after %s s; its thread cannot be stopped and runs on", name, timeout_s
        )
        raise TimeoutError(
            f"sync task {name} timed out after {timeout_s} s (its thread was not stopped)"
        ) from None
    finally:
        waiting.cancel()  # not started yet: it never starts


def _failure(exc: BaseException) -> Failure:
    if isinstance(exc, _Exited):
        exc = exc.args[0]
    if isinstance(exc, ProcessTaskError):
        return (exc.kind, exc.message, exc.traceback_text, exc.delay_ms, True)
    # An exception whose `__str__` raises still fails its job, with a note.
    try:
        message = str(exc)
    except Exception as unprintable:
        message = f"<str() of the {type(exc).__name__} raised {type(unprintable).__name__}>"
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        text = ""
    if isinstance(exc, Retry):
        return ("Retry", message, text, exc.delay_ms, True)
    return (type(exc).__name__, message, text, None, True)


class Worker:
    """One worker run of an app's tasks."""

    def __init__(
        self,
        link: Link,
        tasks: Mapping[str, Task[Any, Any]],
        *,
        queues: Sequence[tuple[str, int]],
        result_ttl_s: float,
        middlewares: Sequence[Middleware] = (),
        session: Callable[[], AbstractAsyncContextManager[None]] = contextlib.nullcontext,
        concurrency: int,
        prefetch: int | None,
        sync_concurrency: int | None,
        process_concurrency: int | None,
        burst: bool,
        grace_s: float,
        visibility_ms: int,
        max_deliveries: int,
        block_ms: int,
        promote_interval_ms: int,
        heartbeat_ms: int,
        burst_waits_delayed: bool = False,
        failed_maxlen: int = 10_000,
        failed_retention_ms: int = 604_800_000,
        metrics_port: int | None = None,
        metrics_host: str = "0.0.0.0",
        schedules: Sequence[Schedule] = (),
        journal_maxlen: int = 0,
    ) -> None:
        worker_id = f"{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}"
        # The core checks every engine option here, each once; the pools'
        # options are this side's.
        self.config = WorkerConfig(
            worker_id=worker_id,
            hostname=socket.gethostname(),
            queues=list(queues),
            tasks=[task.config for task in tasks.values()],
            result_ttl_s=result_ttl_s,
            concurrency=concurrency,
            prefetch=prefetch,
            burst=burst,
            visibility_ms=visibility_ms,
            max_deliveries=max_deliveries,
            block_ms=block_ms,
            promote_interval_ms=promote_interval_ms,
            heartbeat_ms=heartbeat_ms,
            dead_maxlen=100_000,
            burst_waits_delayed=burst_waits_delayed,
            failed_maxlen=failed_maxlen,
            failed_retention_ms=failed_retention_ms,
            metrics=metrics_port is not None,
            # Each engine runs the schedules of its queue (none in a burst run).
            schedules=[schedule.config for schedule in schedules],
            journal_maxlen=journal_maxlen,
        )
        if metrics_port is not None and (
            isinstance(metrics_port, bool)
            or not isinstance(metrics_port, int)
            or not 0 <= metrics_port <= 65535
        ):
            raise ValueError(f"metrics_port must be an int from 0 to 65535, not {metrics_port!r}")
        self.metrics_port = metrics_port
        self.metrics_host = metrics_host
        #: The `/metrics` server while the run lasts.
        self.metrics: MetricsServer | None = None
        for name, value in (
            ("sync_concurrency", sync_concurrency),
            ("process_concurrency", process_concurrency),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be an int of at least 1, not {value!r}")
        if isinstance(grace_s, bool) or not isinstance(grace_s, int | float) or grace_s < 0:
            raise ValueError(f"grace_s must be a number of seconds of at least 0, not {grace_s!r}")
        self.link = link
        self.core = link.core
        self.queues = [queue for queue, _ in queues]
        self.tasks = tasks
        self.middlewares = tuple(middlewares)
        self.session = session
        self.worker_id = worker_id
        self.concurrency = concurrency
        self.burst = burst
        self.grace_s = grace_s
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=sync_concurrency or min(32, concurrency), thread_name_prefix="ardiq-sync"
        )
        self.processes = ProcessPool(process_concurrency or os.cpu_count() or 1)
        self.running: dict[int, asyncio.Future[Any]] = {}
        # A sync run's pool future (cancelled if it has not started when its
        # run ends early) and, once started, its time limit's timer.
        self.threads: dict[int, concurrent.futures.Future[Any]] = {}
        self.timers: dict[int, asyncio.TimerHandle] = {}
        self.cancel_reasons: dict[int, int | None] = {}
        #: Runs handed back at the end of a stop while they ignored their
        #: cancellation: what they do afterwards is not recorded.
        self.abandoned: set[int] = set()
        self.outcomes: list[Outcome] = []
        self.flush_pending = False
        self.stopping = False
        self.loop: asyncio.AbstractEventLoop | None = None
        self.done: asyncio.Future[str | None] | None = None
        self.totals = (0, 0, 0, 0)
        # Set whenever nothing runs here: the grace period waits on it.
        self.idle = asyncio.Event()
        self.idle.set()
        # Set by a second stop (a second SIGTERM or Ctrl-C): no more waiting.
        self.forced = asyncio.Event()
        # Spans of running jobs by handle, when a tracer provider is
        # installed (ardiq.trace); None makes a run cost nothing for tracing.
        self.tracer = trace.tracer()
        self.spans: dict[int, Any] | None = None if self.tracer is None else {}
        self.started_at = 0.0

    async def run(self, *, handle_signals: bool = False) -> None:
        """Runs until stopped (or drained, in burst mode), inside the app's
        lifespan: entered before the first job, left after the last."""
        async with self.session():
            await self._run(handle_signals)

    async def _run(self, handle_signals: bool) -> None:
        loop = asyncio.get_running_loop()
        self.loop = loop
        self.done = loop.create_future()
        link = self.link
        if self.metrics_port is not None:
            # Bound before anything starts: a port in use fails the run here.
            self.metrics = serve_metrics(self.core, self.queues, self.metrics_host, self.metrics_port)
        try:
            await self._serve(loop, link, handle_signals)
        finally:
            if self.metrics is not None:
                self.metrics.close()

    async def _serve(self, loop: asyncio.AbstractEventLoop, link: Link, handle_signals: bool) -> None:
        assert self.done is not None
        link.watch_job_logs()
        request, started = link.request()
        self.core.start_worker(request, self.config)
        self.started_at = loop.time()
        # Only this thread drains the core, so no job can arrive before this.
        link.worker = self
        if handle_signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.stop)
        try:
            # While Redis does not answer yet, the core keeps trying (and logs
            # why) for up to a minute; a stop meanwhile ends the wait.
            await started
        except BaseException:
            link.worker = None
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            if self.stopping:
                logger.info("worker %s stopped before it started", self.worker_id)
                return
            raise
        logger.info(
            "worker %s started: queues %s, %d tasks, concurrency %d%s%s",
            self.worker_id,
            ", ".join(self.queues),
            len(self.tasks),
            self.concurrency,
            ", burst" if self.burst else "",
            ""
            if self.metrics is None
            else f", metrics on http://{self.metrics_host}:{self.metrics.port}/metrics",
        )
        try:
            error = await self.done
        finally:
            if handle_signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            self.executor.shutdown(wait=False, cancel_futures=True)
            self.processes.close()
        runs, completed, failed, retried = self.totals
        uptime_s = loop.time() - self.started_at
        logger.info(
            "worker %s stopped after %.1f s: %d jobs run, %d completed, %d failed, %d retried",
            self.worker_id,
            uptime_s,
            runs,
            completed,
            failed,
            retried,
            extra={
                "event": "stopped",
                "uptime_s": round(uptime_s, 3),
                "jobs_run": runs,
                "jobs_completed": completed,
                "jobs_failed": failed,
                "jobs_retried": retried,
            },
        )
        if error:
            raise RuntimeError(f"worker {self.worker_id} stopped: {error}")

    # -- the core's side -------------------------------------------------

    def start(self, jobs: list[StartJob]) -> None:
        loop = self.loop
        assert loop is not None
        tasks = self.tasks
        worker_id = self.worker_id
        spans = self.spans
        core = self.core
        for handle, name, args, kwargs, job_id, attempt, timeout_s, extras in jobs:
            task = tasks[name]
            # Each run has a context of its own, copied while its
            # `current_job()` (and its span, when tracing) is set here: what
            # one run sets in a context variable no other run sees.
            token = context.enter((job_id, name, attempt, extras, worker_id, handle, core))
            if spans is not None:
                assert self.tracer is not None
                spans[handle], span_token = trace.start_span(
                    self.tracer, job_id, name, extras[0], attempt + 1, extras[5]
                )
            ctx = contextvars.copy_context()
            context.leave(token)
            if spans is not None:
                trace.detach(span_token)
            future = self._start_one(loop, ctx, handle, task, args, kwargs, job_id, timeout_s)
            if future is not None:
                self.running[handle] = future
                self.idle.clear()
        self._schedule_flush()

    def _start_one(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        handle: int,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        job_id: str,
        timeout_s: float | None,
    ) -> asyncio.Future[Any] | None:
        """Starts one run in `ctx`; `None` when it already finished (a
        coroutine that never suspended, or a call that raised at once)."""
        name = task.name
        future: asyncio.Future[Any]
        if self.middlewares:
            coro: Coroutine[Any, Any, Any] = self._through_middleware(task, args, kwargs, timeout_s)
            # A sync or process task's own run keeps its time limit (inside).
            if not task.is_async:
                timeout_s = None
        elif task.is_async:
            try:
                coro = cast("Coroutine[Any, Any, Any]", task.fn(*args, **kwargs))
            except BaseException as exc:
                self._fail(handle, name, job_id, exc)
                return None
        elif task.process:
            # A child process: its time limit and aborts kill it.
            future = _run_task(loop, ctx.run(self._in_process, task, args, kwargs, timeout_s), ctx)
            future.add_done_callback(functools.partial(self._async_done, handle, name, job_id))
            return future
        else:
            return self._start_in_thread(loop, ctx, handle, task, args, kwargs, job_id, timeout_s)
        future = _run_task(loop, self._run_recorded(handle, name, job_id, coro, timeout_s), ctx)
        # One that never suspended (an eager Task) has recorded itself.
        return None if future.done() else future

    async def _run_recorded(
        self,
        handle: int,
        name: str,
        job_id: str,
        coro: Coroutine[Any, Any, Any],
        timeout_s: float | None,
    ) -> None:
        """An async run inside its Task, recording its own outcome as it
        ends: a run costs no done callback and no loop pass for one."""
        if handle in self.cancel_reasons:
            # Cancelled before this first step (`_cancel_task` leaves such a
            # Task to start): the run never begins.
            coro.close()
            self._ended(handle, name, job_id, True, None, None)
            return
        try:
            value = await (coro if timeout_s is None else _limited(coro, timeout_s))
        except GeneratorExit:
            raise
        except asyncio.CancelledError:
            self._ended(handle, name, job_id, True, None, None)
            raise
        except (KeyboardInterrupt, SystemExit) as exc:
            # Raised out of the Task they would end the worker: the job's failure.
            self._ended(handle, name, job_id, False, _Exited(exc), None)
        except BaseException as exc:
            self._ended(handle, name, job_id, False, exc, None)
        else:
            self._ended(handle, name, job_id, False, None, value)

    def _start_in_thread(
        self,
        loop: asyncio.AbstractEventLoop,
        ctx: contextvars.Context,
        handle: int,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        job_id: str,
        timeout_s: float | None,
    ) -> asyncio.Future[Any]:
        """A sync run in the thread pool. Its time limit starts when a
        thread starts it, not while it waits for one."""
        name = task.name
        started = None
        if timeout_s is not None:
            started = functools.partial(
                loop.call_soon_threadsafe, self._sync_started, handle, name, job_id, timeout_s
            )
        waiting = self.executor.submit(_in_thread, ctx, started, task.fn, args, kwargs)
        self.threads[handle] = waiting
        future = asyncio.wrap_future(waiting, loop=loop)
        future.add_done_callback(functools.partial(self._sync_done, handle, name, job_id))
        return future

    def _sync_started(self, handle: int, name: str, job_id: str, timeout_s: float) -> None:
        assert self.loop is not None
        if handle in self.threads:
            self.timers[handle] = self.loop.call_later(
                timeout_s, self._sync_timeout, handle, name, job_id, timeout_s
            )

    def _in_process(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float | None
    ) -> Coroutine[Any, Any, Any]:
        job = context.raw_of(context.current_job())
        return self.processes.run(task.fn.__module__, task.fn.__qualname__, args, kwargs, timeout_s, job)

    async def _through_middleware(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any], timeout_s: float | None
    ) -> Any:
        """The run wrapped in the app's middleware, first registered outermost.
        A sync task's thread cannot be stopped: on a timeout or an abort its
        result is discarded, as without middleware."""
        job = context.current_job()

        async def innermost() -> Any:
            if task.is_async:
                return await task.fn(*args, **kwargs)
            if task.process:
                return await self._in_process(task, args, kwargs, timeout_s)
            return await _in_thread_with_limit(self.executor, task.name, task.fn, args, kwargs, timeout_s)

        call: Callable[[], Awaitable[Any]] = innermost
        for middleware in reversed(self.middlewares):
            call = functools.partial(middleware, job, call)
        return await call()

    def cancel(self, cancels: list[tuple[int, int]]) -> None:
        for handle, reason in cancels:
            future = self.running.get(handle)
            if future is None:
                continue
            if isinstance(future, asyncio.Task):
                self._cancel_task(handle, future, reason)
            else:
                # A thread cannot be stopped: report now, discard its result later.
                self._forget(handle)
                started = self._forget_thread(handle)
                if reason == CANCEL_ABORTED:
                    if started:
                        logger.warning(
                            "job of handle %d aborted; its thread runs on, result discarded", handle
                        )
                    self._outcome(handle, OUTCOME_ABORTED, None)
                    self._schedule_flush()

    def exited(self, error: str | None, totals: tuple[int, int, int, int] = (0, 0, 0, 0)) -> None:
        self.totals = totals
        if self.done is not None and not self.done.done():
            self.done.set_result(error)

    # -- outcomes --------------------------------------------------------

    def _fail(self, handle: int, name: str, job_id: str, exc: BaseException) -> None:
        # The core logs the failure: it knows whether a retry follows.
        self.outcomes.append((handle, OUTCOME_FAILED, _failure(exc)))
        if self.spans is not None:
            self._end_span(handle, exc)

    def _outcome(self, handle: int, code: int, payload: object) -> None:
        self.outcomes.append((handle, code, payload))
        if self.spans is not None:
            self._end_span(handle, None)

    def _end_span(self, handle: int, exc: BaseException | None) -> None:
        assert self.spans is not None
        span = self.spans.pop(handle, None)
        if span is not None:
            if exc is not None:
                span.record_exception(exc)
            trace.end_span(span, None if exc is None else (type(exc).__name__, str(exc)))

    def _cancel_task(self, handle: int, future: asyncio.Task[Any], reason: int | None) -> None:
        """Cancels an async run for `reason` (None: the end of a stop)."""
        self.cancel_reasons[handle] = reason
        coro = future.get_coro()
        if (
            inspect.iscoroutine(coro)
            and coro.cr_code is Worker._run_recorded.__code__
            and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED
        ):
            # A run not stepped yet (on Python 3.11 a Task first runs in the
            # next loop pass): cancelled now it would end without a line run
            # or recorded. Its first step sees the reason instead. (A process
            # task's Task has a done callback that records it either way.)
            return
        future.cancel()

    def _async_done(self, handle: int, name: str, job_id: str, future: asyncio.Future[Any]) -> None:
        """The end of a process task's run (its Task runs `_in_process`)."""
        if future.cancelled():
            self._ended(handle, name, job_id, True, None, None)
            return
        exc = future.exception()
        self._ended(handle, name, job_id, False, exc, None if exc is not None else future.result())

    def _ended(
        self, handle: int, name: str, job_id: str, cancelled: bool, exc: BaseException | None, value: object
    ) -> None:
        """Records how an async run ended: cancelled (for an abort, a lost
        entry or a stop), failed with `exc`, or complete with `value`."""
        if handle in self.abandoned:
            self.abandoned.discard(handle)
            return  # handed back at the end of a stop while it ignored its cancellation
        self._forget(handle)
        if cancelled:
            reason = self.cancel_reasons.pop(handle, None)
            if reason == CANCEL_ABORTED:
                self._outcome(handle, OUTCOME_ABORTED, None)
            elif reason == CANCEL_LOST:
                if self.spans is not None:
                    self._end_span(handle, None)  # another worker owns the entry now
            else:
                self._outcome(handle, OUTCOME_INTERRUPTED, None)
        else:
            self.cancel_reasons.pop(handle, None)
            if exc is None:
                self._outcome(handle, OUTCOME_COMPLETE, value)
            else:
                self._fail(handle, name, job_id, exc)
        self._schedule_flush()

    def _sync_done(self, handle: int, name: str, job_id: str, future: asyncio.Future[Any]) -> None:
        if self._forget(handle) is None:
            return  # already reported (timeout, abort or shutdown)
        self._forget_thread(handle)
        if future.cancelled():
            self._outcome(handle, OUTCOME_INTERRUPTED, None)
        elif (exc := future.exception()) is not None:
            self._fail(handle, name, job_id, exc)
        else:
            self._outcome(handle, OUTCOME_COMPLETE, future.result())
        self._schedule_flush()

    def _sync_timeout(self, handle: int, name: str, job_id: str, timeout_s: float) -> None:
        if self._forget(handle) is None:
            return
        self._forget_thread(handle)
        logger.warning(
            "job %s (%s) timed out after %s s; its thread cannot be stopped and runs on",
            job_id,
            name,
            timeout_s,
        )
        error = TimeoutError(f"sync task {name} timed out after {timeout_s} s (its thread was not stopped)")
        self._fail(handle, name, job_id, error)
        self._schedule_flush()

    def _forget(self, handle: int) -> asyncio.Future[Any] | None:
        """Drops a run from `running`; the last one out sets `idle`."""
        future = self.running.pop(handle, None)
        if not self.running:
            self.idle.set()
        return future

    def _forget_thread(self, handle: int) -> bool:
        """Drops a sync run's pool future and timer; whether its thread
        started it (one that had not never will)."""
        timer = self.timers.pop(handle, None)
        if timer is not None:
            timer.cancel()
        waiting = self.threads.pop(handle, None)
        return waiting is not None and not waiting.cancel()

    def _schedule_flush(self) -> None:
        if self.outcomes and not self.flush_pending and self.loop is not None:
            self.flush_pending = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_pending = False
        outcomes, self.outcomes = self.outcomes, []
        if outcomes:
            self.core.report(outcomes)

    # -- shutdown --------------------------------------------------------

    def stop(self) -> None:
        """Graceful stop: fetch and start nothing more (jobs fetched but not
        started are handed back at once), let running jobs finish within the
        grace period, then cancel the rest and hand them back unacknowledged.
        A second stop ends the waiting at once."""
        if self.loop is None:
            return
        if self.stopping:
            if not self.forced.is_set():
                logger.warning(
                    "worker %s: stopped again, handing back its %d running jobs now",
                    self.worker_id,
                    len(self.running),
                )
                self.forced.set()
            return
        self.stopping = True
        logger.info(
            "worker %s stopping: %d jobs running, grace %s s", self.worker_id, len(self.running), self.grace_s
        )
        self.core.stop_worker()
        self.loop.create_task(self._grace())

    async def _wait_idle(self, timeout_s: float) -> None:
        """Until nothing runs here, `timeout_s` passes or a second stop."""
        waits = [asyncio.ensure_future(self.idle.wait()), asyncio.ensure_future(self.forced.wait())]
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        for wait in waits:
            wait.cancel()

    async def _grace(self) -> None:
        # Jobs finish through their own callbacks; the last one sets `idle`.
        await self._wait_idle(self.grace_s)
        self.core.abandon_waiting()
        cancelled = False
        for handle, future in list(self.running.items()):
            if isinstance(future, asyncio.Task):
                self._cancel_task(handle, future, None)
                cancelled = True
            else:
                self._forget(handle)
                self._forget_thread(handle)
                self._outcome(handle, OUTCOME_INTERRUPTED, None)
        self._schedule_flush()
        if not cancelled:
            return
        # A cancelled run reports itself as it ends; one that swallowed its
        # cancellation would hold its job, and the worker, forever.
        await self._wait_idle(CANCELLED_WAIT_S)
        for handle in list(self.running):
            self._forget(handle)
            self.abandoned.add(handle)
            self.cancel_reasons.pop(handle, None)
            logger.warning(
                "job of handle %d did not end when cancelled; handed back while it runs on", handle
            )
            self._outcome(handle, OUTCOME_INTERRUPTED, None)
        self._schedule_flush()

"""What a running job can ask about itself: `current_job()` returns its
`JobContext` (id, task, queue, attempt, retries, priority, times, worker).

The worker sets one context variable per run to the tuple the core handed
over; the `JobContext` is built only when a task asks, so tasks that never
call `current_job()` pay one variable set and reset per run. Async tasks see
it directly, sync tasks through the copied context of their thread, process
tasks through the context sent to their child.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from ardiq.errors import ContextUnavailable

logger = logging.getLogger("ardiq.worker")


class Reporter(Protocol):
    """Where a run's progress goes: the core (`Core.progress`), or in a
    process task's child the frame it sends to its parent."""

    def progress(self, handle: int, fraction: float, message: str) -> None: ...


# (job id, task, attempt, (queue, priority, max_retries, enqueued_ms,
# deadline_ms, headers), worker id, handle, reporter): the core's start
# tuple in the order a run needs, and where its progress reports go.
Raw = tuple[str, str, int, tuple[str, int, int, int, int | None, dict[str, str] | None], str, int, Reporter]

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})

_current: contextvars.ContextVar[Raw] = contextvars.ContextVar("ardiq_current_job")


@dataclass(frozen=True, slots=True)
class JobContext:
    """The job a run belongs to. `attempt` is 0 for the first run and counts
    the retries; `max_retries` is the job's override or its task's;
    `deadline_ms` is when the run's time limit ends (None without one);
    `headers` are what the producer sent along (spec 1.1), such as the W3C
    trace context."""

    id: str
    task: str
    queue: str
    attempt: int
    max_retries: int
    priority: int
    enqueued_ms: int
    deadline_ms: int | None
    worker_id: str
    headers: Mapping[str, str] = field(default_factory=lambda: _NO_HEADERS)
    _handle: int = field(default=0, repr=False, compare=False)
    _reporter: Reporter | None = field(default=None, repr=False, compare=False)

    def progress(self, fraction: float, message: str = "") -> None:
        """Reports how far the run is: `fraction` from 0.0 to 1.0 and a
        `message` of at most 1,024 bytes. The worker keeps the last report
        and stores it at most every 250 ms (its report interval), so report
        as often as is convenient; every producer reads it with
        `job.progress()` while the job runs, and after, with its result. A
        report outside those bounds is logged and dropped; the run goes on."""
        if self._reporter is None:
            raise ContextUnavailable("progress() needs the JobContext of a running job")
        try:
            self._reporter.progress(self._handle, fraction, message)
        except (ValueError, TypeError) as exc:
            logger.warning("job %s (%s): progress report dropped: %s", self.id, self.task, exc)


def current_job() -> JobContext:
    """The job whose run calls this; `ContextUnavailable` outside a run."""
    try:
        job_id, task, attempt, extras, worker_id, handle, reporter = _current.get()
    except LookupError:
        raise ContextUnavailable("current_job() is only available inside a job's run") from None
    queue, priority, max_retries, enqueued_ms, deadline_ms, headers = extras
    return JobContext(
        job_id,
        task,
        queue,
        attempt,
        max_retries,
        priority,
        enqueued_ms,
        deadline_ms,
        worker_id,
        _NO_HEADERS if headers is None else MappingProxyType(headers),
        handle,
        reporter,
    )


def enter(raw: Raw) -> contextvars.Token[Raw]:
    """Sets the current job for the code that runs next in this context."""
    return _current.set(raw)


def leave(token: contextvars.Token[Raw]) -> None:
    _current.reset(token)


def raw_of(context: JobContext) -> Raw:
    """The variable's value for `context` (a process task's child sets it)."""
    extras = (
        context.queue,
        context.priority,
        context.max_retries,
        context.enqueued_ms,
        context.deadline_ms,
        dict(context.headers) or None,
    )
    assert context._reporter is not None
    return (
        context.id,
        context.task,
        context.attempt,
        extras,
        context.worker_id,
        context._handle,
        context._reporter,
    )

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
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ardiq.errors import ContextUnavailable

# (job id, task, attempt, (queue, priority, max_retries, enqueued_ms,
# deadline_ms, headers), worker id): the core's start tuple in the order a
# run needs.
Raw = tuple[str, str, int, tuple[str, int, int, int, int | None, dict[str, str] | None], str]

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


def current_job() -> JobContext:
    """The job whose run calls this; `ContextUnavailable` outside a run."""
    try:
        job_id, task, attempt, extras, worker_id = _current.get()
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
    return (context.id, context.task, context.attempt, extras, context.worker_id)

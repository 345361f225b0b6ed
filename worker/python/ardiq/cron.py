"""Cron schedules: `Schedule` (a registered schedule: its ticks and the job
each tick enqueues), `CronDecorator` (what `@app.cron(...)` returns) and
`ScheduleState` (a schedule as the workers that run it wrote it in Redis).
The ticks are computed in the native core (SPEC.md section 19), which also
runs the schedules inside worker runs."""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar, overload

from ardiq._core import InvalidSchedule, ScheduleConfig
from ardiq.task import AsyncTask, SyncTask, Task

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T", bound=Task[Any, Any])

#: What a schedule does with ticks that passed while no worker ran it:
#: `latest` runs the latest of them once, `skip` runs none, `all` runs each
#: (at most the latest 1,000).
CatchUp = Literal["latest", "skip", "all"]

_MS = timedelta(milliseconds=1)


def _ms_of(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} is a naive datetime: give one with a time zone")
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // _MS


def _at(ms: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + ms * _MS


def timezone_name(timezone: str | ZoneInfo) -> str:
    """The IANA name of `timezone` (a name, or a `zoneinfo.ZoneInfo`)."""
    # A ZoneInfo exists only once `zoneinfo` is imported: a worker that is
    # given names does not import it (0.9 MiB of memory).
    zoneinfo = sys.modules.get("zoneinfo")
    if zoneinfo is not None and isinstance(timezone, zoneinfo.ZoneInfo):
        key: str | None = timezone.key
        if key is None:
            # `ZoneInfo.from_file` makes a zone without a name, which the
            # worker cannot look up (it reads its own copy of the database).
            raise InvalidSchedule(f"{timezone!r} has no IANA name (key): give ZoneInfo(name) or the name")
        return key
    if isinstance(timezone, str):
        return timezone
    raise InvalidSchedule(f"timezone must be an IANA name or a ZoneInfo, not {timezone!r}")


def interval_ms(every: timedelta) -> int:
    """`every` in whole milliseconds."""
    if not isinstance(every, timedelta):
        raise InvalidSchedule(f"every must be a datetime.timedelta, not {every!r}")
    if every % _MS:
        raise InvalidSchedule(f"every must be a whole number of milliseconds, not {every!r}")
    return every // _MS


class Schedule:
    """A registered cron schedule: `app.cron(...)` returns it, and
    `app.schedules` holds every one by name. Workers that consume its queue
    enqueue its job once per tick, with the job id `cron:<name>:<tick_ms>`."""

    def __init__(self, config: ScheduleConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def task(self) -> str:
        """The task each tick runs."""
        return self.config.task

    @property
    def queue(self) -> str:
        return self.config.queue

    @property
    def cron(self) -> str | None:
        """The cron expression; `None` for an interval."""
        return self.config.cron

    @property
    def timezone(self) -> str | None:
        """The IANA time zone the expression is read in; `None` for an interval."""
        return self.config.timezone

    @property
    def every(self) -> timedelta | None:
        """The interval; `None` for a cron expression."""
        every_ms = self.config.every_ms
        return None if every_ms is None else every_ms * _MS

    @property
    def catch_up(self) -> CatchUp:
        policy: CatchUp = self.config.catch_up
        return policy

    def next_runs(self, count: int = 5, *, after: datetime | None = None) -> list[datetime]:
        """The next `count` ticks after `after` (default: now), as UTC datetimes."""
        start = _ms_of(after) if after is not None else _ms_of(datetime.now(UTC))
        return [_at(ms) for ms in self.config.next_ticks(start, count)]

    def latest_run(self, at: datetime | None = None) -> datetime | None:
        """The latest tick at or before `at` (default: now), as a UTC datetime."""
        tick = self.config.latest_tick(_ms_of(at) if at is not None else _ms_of(datetime.now(UTC)))
        return None if tick is None else _at(tick)

    def job_id(self, tick: datetime) -> str:
        """The id of the job of the tick at `tick`: `app.job(schedule.job_id(t))`
        follows it."""
        return self.config.job_id(_ms_of(tick))

    def __repr__(self) -> str:
        when = f"cron={self.cron!r}, timezone={self.timezone!r}" if self.cron else f"every={self.every!r}"
        return f"Schedule({self.name!r}, task={self.task!r}, {when}, catch_up={self.catch_up!r})"


@dataclass(frozen=True)
class ScheduleState:
    """A schedule as Redis holds it (`await app.schedule_states()`): what the
    workers that run it registered, its last tick enqueued and its next.
    Times are ms since the Unix epoch."""

    name: str
    task: str
    cron: str | None
    timezone: str | None
    every_ms: int | None
    catch_up: str
    #: The last tick enqueued; `None` before the first.
    last_ms: int | None
    next_ms: int | None
    #: When a worker first registered the schedule.
    since_ms: int | None
    #: When a worker last registered it (at its start).
    registered_ms: int | None

    @property
    def last_run(self) -> datetime | None:
        return None if self.last_ms is None else _at(self.last_ms)

    @property
    def next_run(self) -> datetime | None:
        return None if self.next_ms is None else _at(self.next_ms)


class CronDecorator:
    """`@app.cron(...)` above a function registers it as a task and
    schedules it without arguments; above a `Task` (`@app.task(...)` with
    options below it) it schedules that task. Either way it returns the task."""

    def __init__(
        self,
        define: Callable[[Callable[..., Any]], Task[Any, Any]],
        schedule: Callable[[Task[Any, Any]], Schedule],
    ) -> None:
        """`define` registers a function as a task and schedules it;
        `schedule` schedules a registered task."""
        self._define = define
        self._schedule = schedule

    @overload
    def __call__(self, fn: T, /) -> T: ...
    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, R]], /) -> AsyncTask[P, R]: ...  # type: ignore[overload-overlap]
    @overload
    def __call__(self, fn: Callable[P, R], /) -> SyncTask[P, R]: ...
    def __call__(self, fn: Callable[..., Any] | Task[Any, Any], /) -> Task[Any, Any]:
        if isinstance(fn, Task):
            self._schedule(fn)
            return fn
        return self._define(fn)

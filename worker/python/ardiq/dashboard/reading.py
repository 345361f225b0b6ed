"""What the dashboard reads from Redis, through the `ardiq` package's
inspection API only (SPEC.md section 15): the queues at a glance, their
workers, pages of jobs, one job, and the throughput the workers'
heartbeats show. Reads that every page asks for are shared for a moment,
so many open pages cost Redis no more than one."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ardiq.app import Ardiq
from ardiq.cron import ScheduleState
from ardiq.dashboard.display import now_ms
from ardiq.errors import InvalidOption, InvalidQueueName
from ardiq.inspect import JobDetails, JobPage, ListedJob, ListState, QueueInfo, WorkerInfo

#: How long a queue list read by `SCAN` is used before it is read again.
QUEUE_LIST_TTL_S = 30.0
#: The stream id before which every id is: `0-0` has no predecessor.
_MAX_SEQUENCE = 2**64 - 1


class QueueNotFound(LookupError):
    """A queue this dashboard does not show, or one without any key."""


@dataclass(frozen=True, slots=True)
class QueueRow:
    """One queue of the overview, with its workers counted."""

    info: QueueInfo
    alive: int
    gone: int


@dataclass(frozen=True, slots=True)
class Overview:
    """Every shown queue at a glance, their workers (each once, alive first,
    most recently seen first), and jobs finished per second."""

    queues: list[QueueRow]
    workers: list[WorkerInfo]
    throughput: list[tuple[int, float]]
    throughput_until_ms: int
    read_ms: int

    @property
    def alive(self) -> int:
        return sum(worker.alive for worker in self.workers)


class Throughput:
    """Jobs finished per second (completed and failed), from the workers'
    heartbeats. A heartbeat carries the worker's counts and when it was
    sent, so the jobs a worker finished between two heartbeats seen here
    are spread evenly over the time between them, in buckets of
    `bucket_ms`, for the last `span_ms`. A worker seen for the first time
    adds nothing: its counts cover its whole life."""

    def __init__(self, bucket_ms: int = 5_000, span_ms: int = 300_000) -> None:
        self.bucket_ms = bucket_ms
        self.span_ms = span_ms
        self._last: dict[str, tuple[int, int]] = {}
        self._buckets: dict[int, float] = {}
        self.started_ms: int | None = None

    def observe(self, workers: Iterable[WorkerInfo], at_ms: int) -> None:
        if self.started_ms is None:
            self.started_ms = at_ms
        for worker in workers:
            if not worker.alive:
                continue
            total = worker.completed + worker.failed
            last = self._last.get(worker.worker_id)
            if last is not None and worker.seen_ms <= last[0]:
                continue
            self._last[worker.worker_id] = (worker.seen_ms, total)
            if last is None:
                # Counted from this heartbeat on, which may be older than the first look.
                self.started_ms = min(self.started_ms, worker.seen_ms)
            elif total >= last[1]:
                self._spread(last[0], worker.seen_ms, total - last[1])
        horizon = at_ms - self.span_ms - self.bucket_ms
        for bucket in [bucket for bucket in self._buckets if bucket * self.bucket_ms < horizon]:
            del self._buckets[bucket]
        for worker_id in [wid for wid, (seen, _) in self._last.items() if seen < horizon]:
            del self._last[worker_id]

    def _spread(self, start_ms: int, end_ms: int, jobs: int) -> None:
        if jobs == 0:
            return
        length = end_ms - start_ms
        for bucket in range(start_ms // self.bucket_ms, (end_ms - 1) // self.bucket_ms + 1):
            low = max(start_ms, bucket * self.bucket_ms)
            high = min(end_ms, (bucket + 1) * self.bucket_ms)
            self._buckets[bucket] = self._buckets.get(bucket, 0.0) + jobs * (high - low) / length

    def known_until(self, workers: Iterable[WorkerInfo], at_ms: int) -> int:
        """The time up to which the counts are complete: the oldest last
        heartbeat among the live workers (now, when none lives)."""
        seen = [worker.seen_ms for worker in workers if worker.alive]
        return min(seen) if seen else at_ms

    def series(self, until_ms: int) -> list[tuple[int, float]]:
        """`(bucket start ms, jobs per second)` for every whole bucket of
        the span that ends by `until_ms`, zeros included, oldest first,
        from the one the counts start in (its rate is over the part of it
        they cover)."""
        started = self.started_ms if self.started_ms is not None else until_ms
        begin = max(until_ms - self.span_ms, started)
        series = []
        for bucket in range(begin // self.bucket_ms, until_ms // self.bucket_ms):
            low = max(bucket * self.bucket_ms, started)
            covered_ms = (bucket + 1) * self.bucket_ms - low
            series.append((bucket * self.bucket_ms, self._buckets.get(bucket, 0.0) * 1000 / covered_ms))
        return series


def entry_before(entry_id: str) -> str | None:
    """The stream entry id just before `entry_id` (`None` for `0-0`): the
    exclusive cursor whose page starts with `entry_id`."""
    ms_text, _, sequence_text = entry_id.partition("-")
    ms, sequence = int(ms_text), int(sequence_text or 0)
    if sequence > 0:
        return f"{ms}-{sequence - 1}"
    if ms > 0:
        return f"{ms - 1}-{_MAX_SEQUENCE}"
    return None


class Reader:
    """The dashboard's view of one Redis: the queues given, or every queue
    it holds (found by `SCAN`, read again every 30 s)."""

    def __init__(
        self,
        url: str,
        queues: Sequence[str] | None = None,
        *,
        cache_s: float = 1.0,
        connect_timeout_s: float = 2.0,
        timeout_s: float = 5.0,
    ) -> None:
        self.url = url
        self.fixed_queues = list(dict.fromkeys(queues)) if queues else None
        self.cache_s = cache_s
        self._timeouts = (connect_timeout_s, timeout_s)
        self.app = self._app("default")
        # Dead letters are replayed and deleted on an app's own queue.
        self._queue_apps: dict[str, Ardiq[None]] = {}
        self.throughput = Throughput()
        self._queue_list: tuple[float, list[str]] | None = None
        self._overview: tuple[float, Overview] | None = None
        self._reading: asyncio.Lock | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._wanted_at = 0.0

    def _app(self, queue: str) -> Ardiq[None]:
        connect_timeout_s, timeout_s = self._timeouts
        return Ardiq(self.url, queue=queue, connect_timeout_s=connect_timeout_s, timeout_s=timeout_s)

    def on_queue(self, queue: str) -> Ardiq[None]:
        """An app whose own queue is `queue` (for the calls that take no queue)."""
        app = self._queue_apps.get(queue)
        if app is None:
            app = self._queue_apps[queue] = self._app(queue)
        return app

    async def queue_names(self) -> list[str]:
        if self.fixed_queues is not None:
            return self.fixed_queues
        cached = self._queue_list
        if cached is not None and time.monotonic() - cached[0] < QUEUE_LIST_TTL_S:
            return cached[1]
        names = await self.app.list_queues()
        self._queue_list = (time.monotonic(), names)
        return names

    async def overview(self) -> Overview:
        """Every queue and its workers; a read younger than `cache_s` is
        shared."""
        if self._reading is None:
            self._reading = asyncio.Lock()
        async with self._reading:
            cached = self._overview
            if cached is not None and time.monotonic() - cached[0] < self.cache_s:
                return cached[1]
            overview = await self._read_overview()
            self._overview = (time.monotonic(), overview)
            return overview

    def forget(self) -> None:
        """Drops the shared read (after an action changed the queues)."""
        self._overview = None

    async def _read_overview(self) -> Overview:
        rows: list[QueueRow] = []
        workers: dict[str, WorkerInfo] = {}
        for name in await self.queue_names():
            info = await self.app.queue_info(name)
            queue_workers = await self.app.workers(name)
            alive = sum(worker.alive for worker in queue_workers)
            rows.append(QueueRow(info, alive, len(queue_workers) - alive))
            for worker in queue_workers:
                known = workers.get(worker.worker_id)
                if known is None or worker.seen_ms > known.seen_ms:
                    workers[worker.worker_id] = worker
        read_ms = now_ms()
        listed = sorted(workers.values(), key=lambda w: (not w.alive, -w.seen_ms, w.worker_id))
        self.throughput.observe(listed, read_ms)
        until = self.throughput.known_until(listed, read_ms)
        return Overview(rows, listed, self.throughput.series(until), until, read_ms)

    def shown(self, name: str) -> None:
        """`QueueNotFound` unless this dashboard shows the queue `name`."""
        if not name:
            raise QueueNotFound("name a queue")
        if self.fixed_queues is not None and name not in self.fixed_queues:
            raise QueueNotFound(f"this dashboard shows only the queues {', '.join(self.fixed_queues)}")

    async def queue(self, name: str) -> QueueInfo:
        """One queue at a glance; `QueueNotFound` for one not shown here, or
        (when every queue is shown) for one without any key."""
        self.shown(name)
        try:
            info = await self.app.queue_info(name)
        except InvalidQueueName as exc:
            raise QueueNotFound(str(exc)) from None
        if not info.exists and self.fixed_queues is None:
            raise QueueNotFound(f"queue {name!r} does not exist on this Redis (no key of it is there)")
        return info

    async def workers(self, queue: str) -> list[WorkerInfo]:
        return await self.app.workers(queue)

    async def schedules(self, queue: str) -> list[ScheduleState]:
        """The cron schedules workers registered on `queue`, by next tick."""
        return await self.app.schedule_states(queue=queue)

    async def jobs(self, queue: str, state: ListState, count: int, cursor: str | None) -> JobPage:
        return await self.app.jobs(state, count=count, cursor=cursor, queue=queue)

    async def entry(self, queue: str, state: ListState, entry_id: str) -> ListedJob | None:
        """One kept failure or dead letter by its entry id; `None` when gone."""
        try:
            page = await self.app.jobs(state, count=1, cursor=entry_before(entry_id), queue=queue)
        except (InvalidOption, ValueError):  # not an entry id
            return None
        if page.jobs and page.jobs[0].entry_id == entry_id:
            return page.jobs[0]
        return None

    async def job(self, queue: str, job_id: str) -> JobDetails:
        """A job's details (a finished job's status outlives its queue's other keys)."""
        self.shown(queue)
        try:
            return await self.app.job_details(job_id, queue=queue)
        except InvalidQueueName as exc:
            raise QueueNotFound(str(exc)) from None

    # -- the sampler -------------------------------------------------------

    def wanted(self, sample_s: float) -> None:
        """A page was asked for: keep reading the overview every `sample_s`
        (for the throughput chart) until nobody asked for 2 minutes."""
        self._wanted_at = time.monotonic()
        if self._sampler is None or self._sampler.done():
            self._sampler = asyncio.create_task(self._sample(sample_s))

    async def _sample(self, sample_s: float) -> None:
        while time.monotonic() - self._wanted_at < 120:
            with contextlib.suppress(Exception):  # an error shows on the pages, not here
                await self.overview()
            await asyncio.sleep(sample_s)

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
            self._sampler = None
        for app in [self.app, *self._queue_apps.values()]:
            await app.close()

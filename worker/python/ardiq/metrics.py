"""Prometheus metrics of a worker run (`ardiq run ... --metrics-port 9100`),
served on ``/metrics`` by `prometheus-client` (``pip install
"ardiq[metrics]"``).

The engine counts jobs in Rust, with atomics, so a run with metrics spends
no GIL time per job on them; this collector reads the counters when
Prometheus scrapes, and each queue's depth from Redis (`inspect.lua`, one
round trip per queue) at the same moment.

| metric | type | labels |
|---|---|---|
| `ardiq_jobs_started_total` | counter | queue, task |
| `ardiq_jobs_completed_total` | counter | queue, task |
| `ardiq_jobs_failed_total` (failed for good) | counter | queue, task |
| `ardiq_jobs_retried_total` | counter | queue, task |
| `ardiq_jobs_aborted_total` | counter | queue, task |
| `ardiq_jobs_dead_total` | counter | queue, task, reason |
| `ardiq_job_duration_seconds` | histogram | queue, task |
| `ardiq_jobs_in_flight` (running in this worker) | gauge | queue |
| `ardiq_queue_depth` (waiting, not fetched yet) | gauge | queue, priority |
| `ardiq_queue_held` (fetched, not acked) | gauge | queue |
| `ardiq_queue_scheduled` | gauge | queue |
| `ardiq_queue_lag_seconds` (age of the oldest waiting job) | gauge | queue |
| `ardiq_queue_dead` / `ardiq_queue_failed` (stores' sizes) | gauge | queue |
| `ardiq_redis_errors_total` (failed Redis commands) | counter | |
| `ardiq_redis_reconnects_total` | counter | |
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ardiq._core import DURATION_BUCKETS
from ardiq.errors import ArdiqError
from ardiq.inspect import QueueInfo

if TYPE_CHECKING:
    from ardiq._core import Core

logger = logging.getLogger("ardiq.metrics")


class MetricsUnavailable(ArdiqError):
    """`/metrics` cannot be served: the port is in use, or
    `prometheus-client` is not installed."""


class Collector:
    """What `/metrics` shows: the engine's counters and the queues' depths."""

    def __init__(self, core: Core, queues: Sequence[str]) -> None:
        self.core = core
        self.queues = list(queues)

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        per_queue, (errors, reconnects) = self.core.metrics()
        counters = {
            name: CounterMetricFamily(f"ardiq_jobs_{name}", text, labels=["queue", "task"])
            for name, text in (
                ("started", "Runs started."),
                ("completed", "Runs that returned."),
                ("failed", "Jobs that failed for good (no retry left)."),
                ("retried", "Runs that failed and were scheduled again."),
                ("aborted", "Jobs aborted."),
            )
        }
        dead = CounterMetricFamily(
            "ardiq_jobs_dead", "Jobs dead-lettered, by reason.", labels=["queue", "task", "reason"]
        )
        duration = HistogramMetricFamily(
            "ardiq_job_duration_seconds", "How long runs took.", labels=["queue", "task"]
        )
        in_flight = GaugeMetricFamily(
            "ardiq_jobs_in_flight", "Jobs running in this worker.", labels=["queue"]
        )
        bounds = [repr(bound) for bound in DURATION_BUCKETS] + ["+Inf"]
        for queue, tasks, letters, running in per_queue:
            in_flight.add_metric([queue], running)
            for task, started, completed, failed, retried, aborted, buckets, seconds in tasks:
                labels = [queue, task]
                for name, value in zip(
                    ("started", "completed", "failed", "retried", "aborted"),
                    (started, completed, failed, retried, aborted),
                    strict=True,
                ):
                    counters[name].add_metric(labels, value)
                duration.add_metric(labels, list(zip(bounds, buckets, strict=True)), seconds)
            for task, reason, count in letters:
                dead.add_metric([queue, task, reason], count)
        yield from counters.values()
        yield dead
        yield duration
        yield in_flight
        yield from self._queues()
        yield CounterMetricFamily("ardiq_redis_errors", "Redis commands that failed.", value=errors)
        yield CounterMetricFamily(
            "ardiq_redis_reconnects",
            "Calls sent again on a new connection after theirs broke.",
            value=reconnects,
        )

    def _queues(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily(
            "ardiq_queue_depth", "Jobs waiting, not fetched by any worker yet.", labels=["queue", "priority"]
        )
        gauges = {
            name: GaugeMetricFamily(f"ardiq_queue_{name}", text, labels=["queue"])
            for name, text in (
                ("held", "Jobs fetched by workers and not finished."),
                ("scheduled", "Jobs waiting for their due time."),
                ("lag_seconds", "How long the oldest waiting job has waited."),
                ("dead", "Dead letters."),
                ("failed", "Kept failures."),
            )
        }
        for queue in self.queues:
            try:
                info = QueueInfo.of(self.core.queue_info_blocking(queue))
            except ArdiqError as exc:
                logger.warning("metrics: cannot read queue %s: %s", queue, exc)
                continue
            for level in info.levels:
                depth.add_metric([queue, str(level.priority)], level.waiting)
            for name, value in (
                ("held", info.held),
                ("scheduled", info.scheduled),
                ("lag_seconds", info.lag_ms / 1000),
                ("dead", info.dead),
                ("failed", info.failed),
            ):
                gauges[name].add_metric([queue], value)
        yield depth
        yield from gauges.values()


class MetricsServer:
    """The `/metrics` HTTP server of one worker run."""

    def __init__(self, server: Any, thread: threading.Thread) -> None:
        self.server = server
        self.thread = thread

    @property
    def port(self) -> int:
        port: int = self.server.server_address[1]
        return port

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(core: Core, queues: Sequence[str], host: str, port: int) -> MetricsServer:
    """Serves `/metrics` on `host`:`port` (0: any free port) from a thread;
    `MetricsUnavailable` when the port is in use."""
    try:
        from prometheus_client import CollectorRegistry, start_http_server
    except ImportError:
        raise MetricsUnavailable('metrics need prometheus-client: pip install "ardiq[metrics]"') from None
    registry = CollectorRegistry()
    registry.register(Collector(core, queues))
    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise MetricsUnavailable(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    return MetricsServer(server, thread)

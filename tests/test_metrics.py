"""Prometheus metrics: `/metrics` scraped with a real HTTP client after
known work, parsed with the Prometheus text parser."""

from __future__ import annotations

import asyncio
import socket
import urllib.request

import pytest
from ardiq import Ardiq, JobFailed
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from worker_harness import WAIT_S, running_worker


async def scrape(port: int) -> dict[str, list[Sample]]:
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            body: bytes = response.read()
            return body.decode()

    text = await asyncio.to_thread(get)
    return {family.name: family.samples for family in text_string_to_metric_families(text)}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    [match] = [
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    return match


async def test_scrape_counts_known_work_by_task_and_queue(app: Ardiq) -> None:
    @app.task
    async def ok(n: int) -> int:
        await asyncio.sleep(0.05 if n % 2 else 0)
        return n

    @app.task(retries=1, backoff_ms=10)
    async def bad() -> None:
        raise ValueError("no")

    oks = [await ok.enqueue(n) for n in range(10)]
    bads = [await bad.enqueue() for _ in range(3)]
    await app.send("not_registered")
    long = await app.send("blocker")

    @app.task
    async def blocker() -> None:
        await asyncio.sleep(30)

    async with running_worker(app, metrics_port=0, metrics_host="127.0.0.1") as worker:
        assert worker.metrics is not None
        assert [await job.result(timeout_s=WAIT_S) for job in oks] == list(range(10))
        for job in bads:
            with pytest.raises(JobFailed):
                await job.result(timeout_s=WAIT_S)
        await app.options(delay_ms=60_000).send("ok", 1)
        families = await scrape(worker.metrics.port)
        await long.abort()

    q = app.queue
    assert value(families["ardiq_jobs_started"], "ardiq_jobs_started_total", queue=q, task="ok") == 10
    assert value(families["ardiq_jobs_completed"], "ardiq_jobs_completed_total", queue=q, task="ok") == 10
    assert value(families["ardiq_jobs_started"], "ardiq_jobs_started_total", queue=q, task="bad") == 6
    assert value(families["ardiq_jobs_retried"], "ardiq_jobs_retried_total", queue=q, task="bad") == 3
    assert value(families["ardiq_jobs_failed"], "ardiq_jobs_failed_total", queue=q, task="bad") == 3
    assert value(families["ardiq_jobs_completed"], "ardiq_jobs_completed_total", queue=q, task="bad") == 0
    assert (
        value(
            families["ardiq_jobs_dead"],
            "ardiq_jobs_dead_total",
            queue=q,
            task="not_registered",
            reason="unknown_task",
        )
        == 1
    )
    durations = families["ardiq_job_duration_seconds"]
    assert value(durations, "ardiq_job_duration_seconds_count", queue=q, task="ok") == 10
    assert value(durations, "ardiq_job_duration_seconds_bucket", queue=q, task="ok", le="+Inf") == 10
    assert value(durations, "ardiq_job_duration_seconds_bucket", queue=q, task="ok", le="0.025") == 5
    assert 0.25 <= value(durations, "ardiq_job_duration_seconds_sum", queue=q, task="ok") < 5
    assert value(families["ardiq_jobs_in_flight"], "ardiq_jobs_in_flight", queue=q) == 1
    assert value(families["ardiq_queue_scheduled"], "ardiq_queue_scheduled", queue=q) == 1
    assert value(families["ardiq_queue_failed"], "ardiq_queue_failed", queue=q) == 3
    assert value(families["ardiq_queue_dead"], "ardiq_queue_dead", queue=q) == 1
    assert value(families["ardiq_queue_depth"], "ardiq_queue_depth", queue=q, priority="5") == 0
    assert value(families["ardiq_queue_lag_seconds"], "ardiq_queue_lag_seconds", queue=q) == 0
    assert value(families["ardiq_redis_errors"], "ardiq_redis_errors_total") >= 0
    assert value(families["ardiq_redis_reconnects"], "ardiq_redis_reconnects_total") >= 0


async def test_queue_depth_and_lag_of_waiting_jobs(app: Ardiq) -> None:
    @app.task
    async def hold(seconds: float) -> None:
        await asyncio.sleep(seconds)

    blocker = await hold.options(priority=9).enqueue(30)
    for priority in (9, 9, 2):
        await hold.options(priority=priority).enqueue(0)

    async with running_worker(
        app, metrics_port=0, metrics_host="127.0.0.1", concurrency=1, prefetch=0
    ) as worker:
        assert worker.metrics is not None
        await asyncio.sleep(0.2)
        families = await scrape(worker.metrics.port)
        await blocker.abort()

    depth = families["ardiq_queue_depth"]
    assert {s.labels["priority"]: s.value for s in depth if s.value} == {"9": 2, "2": 1}
    assert {s.labels["priority"] for s in depth} == {str(p) for p in range(10)}
    assert value(families["ardiq_queue_held"], "ardiq_queue_held", queue=app.queue) == 1
    assert value(families["ardiq_queue_lag_seconds"], "ardiq_queue_lag_seconds", queue=app.queue) >= 0.15


async def test_without_a_port_the_run_counts_nothing(app: Ardiq) -> None:
    @app.task
    async def ok() -> None:
        return None

    async with running_worker(app) as worker:
        assert worker.metrics is None
        await (await ok.enqueue()).result(timeout_s=WAIT_S)
        per_queue, _ = app._core.metrics()

    assert per_queue == []


async def test_the_server_stops_with_the_run(app: Ardiq) -> None:
    async with running_worker(app, metrics_port=0, metrics_host="127.0.0.1") as worker:
        assert worker.metrics is not None
        port = worker.metrics.port
        await scrape(port)

    with pytest.raises(ConnectionRefusedError):
        await asyncio.to_thread(socket.create_connection, ("127.0.0.1", port), 2)

"""Trace context from the pure-Python producer: a job sent inside a span
carries its W3C context, and the `ardiq` worker (tests/e2e_tasks.py with
ARDIQ_TRACED_WORKER=1, which records its spans in an in-memory exporter)
runs it in a CONSUMER span of the same trace whose parent is that span."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from ardiq_client import AsyncClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from test_end_to_end import TESTS, WAIT_S, worker_command, worker_env


@pytest.fixture
def traced_worker(redis_url: str, queue: str) -> Iterator[subprocess.Popen[str]]:
    env = dict(worker_env(redis_url, queue), ARDIQ_TRACED_WORKER="1")
    process = subprocess.Popen(
        worker_command(burst=False),
        cwd=TESTS,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    yield process
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=WAIT_S)
    assert process.returncode == 0, stderr


@pytest.mark.usefixtures("traced_worker")
async def test_the_worker_span_continues_the_producer_span(client: AsyncClient) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    # The global propagator (W3C by default) reads the span from the current context.
    with provider.get_tracer("producer").start_as_current_span("enqueue", kind=SpanKind.PRODUCER) as producer:
        job = await client.send("traced_echo", ["hi"])
    assert await job.result(timeout_s=WAIT_S) == "hi"
    finished = await client.send("finished_spans")
    spans: list[dict[str, Any]] = await finished.result(timeout_s=WAIT_S)

    [run] = [span for span in spans if span["attributes"].get("messaging.message.id") == job.id]
    context = producer.get_span_context()
    assert run["kind"] == "CONSUMER"
    assert run["trace_id"] == f"{context.trace_id:032x}"
    assert run["parent_span_id"] == f"{context.span_id:016x}"
    assert [span.name for span in exporter.get_finished_spans()] == ["enqueue"]
    assert os.environ.get("ARDIQ_TRACED_WORKER") is None  # only the worker's process traces

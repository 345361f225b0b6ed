"""Tasks that every producer's end-to-end tests enqueue. Run a worker for
them with ``cd tests && python -m ardiq run e2e_tasks:app [--burst]`` and
``ARDIQ_REDIS_URL`` / ``ARDIQ_QUEUE`` set.

With ``ARDIQ_TRACED_WORKER=1`` the worker records its spans with
OpenTelemetry's SDK in an in-memory exporter (`EXPORTER`), and
`finished_spans` hands them back, so that a producer in any language can
check that the worker's span continues its trace."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ardiq import Ardiq, current_job
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()


def install_tracing() -> TracerProvider:
    """An SDK tracer provider whose spans go to `EXPORTER` as each ends."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    return provider


def described(span: ReadableSpan) -> dict[str, Any]:
    """A finished span as plain values: ids in lowercase hex, as in `traceparent`."""
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "parent_span_id": None if span.parent is None else f"{span.parent.span_id:016x}",
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
    }


app = Ardiq(os.environ.get("ARDIQ_REDIS_URL"), queue=os.environ.get("ARDIQ_QUEUE", "default"))


@app.task
async def add(x: int, y: int) -> int:
    return x + y


@app.task
async def echo(value: Any) -> Any:
    return value


@app.task
async def kwargs_echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


@app.task
async def fail(message: str) -> None:
    raise ValueError(message)


@app.task
async def sleep(seconds: float) -> float:
    await asyncio.sleep(seconds)
    return seconds


@app.task
def sync_add(x: int, y: int) -> int:
    return x + y


@app.task
async def report(steps: int, pause_s: float) -> int:
    """Reports its progress after each of `steps` pauses (SPEC.md section 16)."""
    job = current_job()
    for step in range(1, steps + 1):
        await asyncio.sleep(pause_s)
        job.progress(step / steps, f"step {step} of {steps}")
    return steps


@app.task
async def traced_echo(value: Any) -> Any:
    """Returns `value` from inside a span of its own (a child of the run's)."""
    with trace.get_tracer("e2e_tasks").start_as_current_span("inside the task"):
        return value


@app.task
async def finished_spans() -> list[dict[str, Any]]:
    """Every span this worker process has finished so far."""
    return [described(span) for span in EXPORTER.get_finished_spans()]


if os.environ.get("ARDIQ_TRACED_WORKER") == "1":
    trace.set_tracer_provider(install_tracing())

"""Trace context across languages (spec 1.1, SPEC.md section 3.1), when
OpenTelemetry is installed (`opentelemetry-api`; nothing here is imported
otherwise, so without it a job costs nothing more).

Producers: every job enqueued carries the current OpenTelemetry context in
its `headers`, written by the installed propagator (W3C `traceparent` and
`tracestate` by default); a header the caller set is kept.

Workers: when a tracer provider is installed (an SDK's, not the API's
default), each run is a span of kind CONSUMER that continues the
producer's trace, named ``process <queue>``, with the messaging semantic
conventions' attributes (`messaging.system` ``ardiq``,
`messaging.operation.type` ``process``, `messaging.destination.name`,
`messaging.message.id`) and ArdiQ's own (`ardiq.task`, `ardiq.attempt`).
A run that raises records the exception and ends with status ERROR. With
no provider installed a worker makes no span at all.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ardiq.task import PreparedJob, prepared

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer


def _api_installed() -> bool:
    """Whether the modules of OpenTelemetry's API used here can be imported.
    `opentelemetry` is a namespace that other distributions (`opentelemetry-proto`
    alone, say) provide too, so its presence says nothing of the API."""
    try:
        return all(
            importlib.util.find_spec(f"opentelemetry.{name}") is not None
            for name in ("context", "propagate", "trace")
        )
    except ModuleNotFoundError:
        return False


#: Whether OpenTelemetry's API is installed. It is imported on first use
#: only: its propagators load from entry points, which `import ardiq` (and
#: every process task's child) should not wait for.
INSTALLED = _api_installed()


def with_context(items: list[PreparedJob]) -> list[PreparedJob]:
    """`items` with the current trace context added to their headers (the
    same context for the whole batch: it is enqueued from one place)."""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    if not carrier:
        return items
    return [
        prepared(PreparedJob, (*item[:13], carrier if not item[13] else {**carrier, **item[13]}))
        for item in items
    ]


def tracer() -> Tracer | None:
    """The worker's tracer, or None when no tracer provider is installed."""
    if not INSTALLED:
        return None
    from opentelemetry import trace as otel_trace

    provider = otel_trace.get_tracer_provider()
    if isinstance(provider, otel_trace.ProxyTracerProvider | otel_trace.NoOpTracerProvider):
        return None
    return otel_trace.get_tracer("ardiq")


def start_span(
    tracer: Tracer, job_id: str, task: str, queue: str, attempt: int, headers: Mapping[str, str] | None
) -> tuple[Span, object]:
    """Starts the span of one run as the current span; returns it and the
    token that `detach` takes once the run has been started."""
    from opentelemetry import context as otel_context
    from opentelemetry import propagate
    from opentelemetry import trace as otel_trace

    parent = propagate.extract(headers) if headers else None
    span = tracer.start_span(
        f"process {queue}",
        context=parent,
        kind=otel_trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "ardiq",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": queue,
            "messaging.message.id": job_id,
            "ardiq.task": task,
            "ardiq.attempt": attempt,
        },
    )
    token = otel_context.attach(otel_trace.set_span_in_context(span))
    return span, token


def detach(token: Any) -> None:
    from opentelemetry import context as otel_context

    otel_context.detach(token)


def end_span(span: Span, error: tuple[str, str] | None) -> None:
    """Ends a run's span; `error` is the failure's (type, message)."""
    from opentelemetry import trace as otel_trace

    if error is not None:
        span.set_status(otel_trace.Status(otel_trace.StatusCode.ERROR, f"{error[0]}: {error[1]}"))
        span.set_attribute("error.type", error[0])
    span.end()

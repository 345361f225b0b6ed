"""Trace context for the worker (spec 1.1, SPEC.md section 3.1): with
OpenTelemetry's API installed, every job sent carries the current context in
its headers, written by the installed propagator (W3C `traceparent` and
`tracestate` by default); a header the caller set is kept. Without
OpenTelemetry this costs one check per call, and nothing is imported."""

from __future__ import annotations

import importlib.util

#: Whether OpenTelemetry's API is installed (imported on first use only).
INSTALLED = importlib.util.find_spec("opentelemetry") is not None


def current_headers() -> dict[str, str]:
    """The current trace context as headers; empty outside any span."""
    if not INSTALLED:
        return {}
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier

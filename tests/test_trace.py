"""Trace context across languages, from the Python producers: a job carries
the producer's OpenTelemetry context in its headers, and the worker runs it
in a CONSUMER span that continues that trace (an in-memory exporter sees
both). The TypeScript and Rust producers have the same test in their
end-to-end suites, against `tests/e2e_tasks.py`."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator

import ardiq
import pytest
from ardiq import Ardiq, JobFailed
from ardiq.inspect import ListState
from e2e_tasks import EXPORTER, described, install_tracing
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util._once import Once
from worker_harness import WAIT_S, running_worker


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    """An SDK tracer provider installed globally for one test, then removed
    again (as OpenTelemetry's own test utilities do), so that no other test
    runs with tracing on."""
    installed = install_tracing()
    trace.set_tracer_provider(installed)
    EXPORTER.clear()
    yield installed
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    EXPORTER.clear()


async def test_the_run_continues_the_python_producers_trace(app: Ardiq, provider: TracerProvider) -> None:
    @app.task
    async def double(x: int) -> int:
        with trace.get_tracer("test").start_as_current_span("inside"):
            return 2 * x

    tracer = provider.get_tracer("producer")
    with tracer.start_as_current_span("enqueue", kind=SpanKind.PRODUCER) as producer:
        job = await double.enqueue(21)
    async with running_worker(app):
        assert await job.result(timeout_s=WAIT_S) == 42

    spans = {span["name"]: span for span in map(described, EXPORTER.get_finished_spans())}
    run, inside = spans[f"process {app.queue}"], spans["inside"]
    context = producer.get_span_context()
    assert run["trace_id"] == inside["trace_id"] == f"{context.trace_id:032x}"
    assert run["parent_span_id"] == f"{context.span_id:016x}"
    assert inside["parent_span_id"] == run["span_id"]
    assert run["kind"] == "CONSUMER"
    assert run["attributes"] == {
        "messaging.system": "ardiq",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": app.queue,
        "messaging.message.id": job.id,
        "ardiq.task": "double",
        "ardiq.attempt": 1,
    }


async def test_the_job_carries_the_w3c_traceparent(app: Ardiq, provider: TracerProvider) -> None:
    with provider.get_tracer("producer").start_as_current_span("enqueue") as producer:
        job = await app.options(delay_ms=60_000).send("later")

    [listed] = (await app.jobs(ListState.SCHEDULED)).jobs
    context = producer.get_span_context()
    assert listed.job_id == job.id
    assert listed.job is not None
    flags = f"{int(context.trace_flags):02x}"
    assert listed.job.headers == {"traceparent": f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags}"}


async def test_a_failed_run_is_an_error_span_with_the_exception(app: Ardiq, provider: TracerProvider) -> None:
    @app.task
    async def explode() -> None:
        raise KeyError("gone")

    job = await explode.enqueue()
    async with running_worker(app):
        with pytest.raises(JobFailed):
            await job.result(timeout_s=WAIT_S)

    [span] = [s for s in EXPORTER.get_finished_spans() if s.kind is SpanKind.CONSUMER]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "KeyError"
    assert [event.name for event in span.events] == ["exception"]
    assert span.parent is None  # enqueued outside any span: a trace of its own


async def test_without_a_tracer_provider_there_is_no_span_and_no_header(app: Ardiq) -> None:
    @app.task
    async def noop() -> None:
        return None

    job = await noop.options(delay_ms=60_000).enqueue()
    [listed] = (await app.jobs(ListState.SCHEDULED)).jobs
    async with running_worker(app) as worker:
        assert worker.spans is None

    assert listed.job_id == job.id
    assert listed.job is not None
    assert listed.job.headers == {}


@pytest.mark.parametrize(
    ("present", "installed"),
    [([], False), (["proto"], False), (["context", "propagate", "trace"], True)],
    ids=["no-opentelemetry", "only-another-distribution", "the-api"],
)
def test_tracing_is_on_only_when_the_api_modules_are_there(
    tmp_path: pathlib.Path, present: list[str], installed: bool
) -> None:
    """`opentelemetry` is a namespace package; `opentelemetry-proto` alone
    provides it without the API, and enqueueing must not then fail."""
    for name in present:
        module = tmp_path / "opentelemetry" / name
        module.mkdir(parents=True)
        (module / "__init__.py").write_text("")
    package = pathlib.Path(ardiq.__file__).parent.parent
    code = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p]"
        f" + [{str(tmp_path)!r}, {str(package)!r}]; import ardiq.trace; print(ardiq.trace.INSTALLED)"
    )

    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert shown.stdout.strip() == str(installed)

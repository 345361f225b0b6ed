"""Conformance testee for the `ardiq` package (Python API over the Rust core).

Speaks conformance/PROTOCOL.md: one JSON request per line on stdin, one
response per line on stdout. It only translates between typed JSON and the
package's public API; every byte and every decision comes from `ardiq`.
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import json
import math
import os
import sys
import time
from typing import Any

import ardiq  # type: ignore[import-not-found,unused-ignore]

# The protocol's error names; a raised exception maps to the first of these in its class hierarchy.
ERROR_TYPES = {
    "UnsupportedValue",
    "InvalidTaskName",
    "InvalidJobId",
    "InvalidPriority",
    "InvalidDelay",
    "InvalidQueueName",
    "InvalidOption",
    "PayloadTooLarge",
    "ConnectionError",
    "AuthenticationError",
    "JobFailed",
    "JobAborted",
    "JobExpired",
    "JobNotFound",
    "Timeout",
    "NotConnected",
    "MalformedRecord",
}
# The package's own names for errors the protocol names differently.
ALIASES = {"RedisUnavailable": "ConnectionError", "AuthenticationFailed": "AuthenticationError"}
# The package encodes and decodes records only inside its Rust core, where they are the
# ardiq-spec crate's (the rust testee runs every records case through that crate).
RECORDS_ELSEWHERE = "the ardiq package has no record codec of its own: its records are ardiq-spec's"
OPTION_NAMES = (
    "priority",
    "delay_ms",
    "schedule_ms",
    "job_id",
    "max_retries",
    "timeout_ms",
    "backoff_ms",
    "result_ttl_ms",
    "expires_ms",
)


class InexpressibleError(Exception):
    """A typed value that Python cannot build (the op answers skipped)."""


def to_native(value: dict[str, Any]) -> Any:
    """The Python value a typed JSON value stands for (closest native value for `unsupported`)."""
    ((kind, inner),) = value.items()
    if kind == "nil":
        return None
    if kind == "bool":
        return bool(inner)
    if kind == "int":
        return int(inner)
    if kind == "float":
        if isinstance(inner, str):
            return {
                "NaN": math.nan,
                "-NaN": math.copysign(math.nan, -1.0),
                "Infinity": math.inf,
                "-Infinity": -math.inf,
                "-0": -0.0,
            }[inner]
        return float(inner)
    if kind == "str":
        return str(inner)
    if kind == "bytes":
        return bytes.fromhex(inner)
    if kind == "array":
        return [to_native(item) for item in inner]
    if kind == "map":
        return {key: to_native(item) for key, item in inner}
    if kind == "unsupported":
        return unsupported(inner)
    raise ValueError(f"not a typed value: {value!r}")


def unsupported(kind: str) -> Any:
    if kind == "set":
        return {1, 2}
    if kind == "datetime":
        return datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    if kind == "int_too_large":
        return 2**63
    if kind == "non_str_key":
        return {1: "one"}
    if kind == "function":
        return len
    raise InexpressibleError(f"Python has no {kind}")


def to_typed(value: Any) -> dict[str, Any]:
    """Typed JSON of a decoded Python value."""
    if value is None:
        return {"nil": None}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": str(value)}
    if isinstance(value, float):
        if math.isnan(value):
            return {"float": "NaN"}
        if math.isinf(value):
            return {"float": "Infinity" if value > 0 else "-Infinity"}
        if value == 0 and math.copysign(1.0, value) < 0:
            return {"float": "-0"}
        return {"float": value}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, (list, tuple)):
        return {"array": [to_typed(item) for item in value]}
    if isinstance(value, dict):
        return {"map": [[key, to_typed(item)] for key, item in value.items()]}
    raise TypeError(f"a decoded value of type {type(value).__name__}")


def error_type(error: BaseException) -> str:
    # The package's `result` raises a plain LookupError for a job not found.
    if type(error) is LookupError:
        return "JobNotFound"
    for cls in type(error).__mro__:
        name = ALIASES.get(cls.__name__, cls.__name__)
        if name in ERROR_TYPES:
            return name
        if cls is TimeoutError:
            return "Timeout"
    return type(error).__name__


def remote_of(error: BaseException) -> dict[str, str]:
    """The remote type, message and traceback a JobFailed carries."""

    def first(*names: str) -> str:
        for name in names:
            value = getattr(error, name, None)
            if isinstance(value, str):
                return value
        return ""

    return {
        "type": first("remote_type", "type_name", "type"),
        "message": first("remote_message", "message"),
        "traceback": first("remote_traceback", "traceback"),
    }


class Session:
    """The testee's state: one `Ardiq` app per connect."""

    def __init__(self) -> None:
        self.app: Any = None

    async def handle(self, request: dict[str, Any]) -> Any:
        op = request["op"]
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise NotImplementedError(f"no op {op}")
        return await handler(request)

    # Pure operations.
    async def op_encode_value(self, request: dict[str, Any]) -> Any:
        return bytes(pure("encode_value")(to_native(request["value"]))).hex()

    async def op_decode_value(self, request: dict[str, Any]) -> Any:
        return to_typed(pure("decode_value")(bytes.fromhex(request["hex"])))

    async def op_encode_record(self, request: dict[str, Any]) -> Any:
        raise UnofferedError(RECORDS_ELSEWHERE)

    async def op_decode_record(self, request: dict[str, Any]) -> Any:
        raise UnofferedError(RECORDS_ELSEWHERE)

    async def op_build_enqueue(self, request: dict[str, Any]) -> Any:
        # A `PreparedJob` is the core's enqueue item: the same one `Ardiq.enqueue_many` hands it.
        job = ardiq.PreparedJob(
            request["task"],
            tuple(to_native(arg) for arg in request["args"]),
            {key: to_native(value) for key, value in request["kwargs"]},
            **native_options(request["options"]),
        )
        keys, argv = pure("build_enqueue")(request["queue"], job, request["now_ms"])
        return {"keys": [as_text(key) for key in keys], "argv": [as_bytes(item).hex() for item in argv]}

    # Operations against Redis.
    async def op_connect(self, request: dict[str, Any]) -> Any:
        if request.get("cluster"):
            os.environ["ARDIQ_CLUSTER"] = "1"
        else:
            os.environ.pop("ARDIQ_CLUSTER", None)
        self.app = ardiq.Ardiq(request["url"], queue=request["queue"])
        return None

    async def op_close(self, request: dict[str, Any]) -> Any:
        close = getattr(self.app, "close", None)
        if close is not None:
            result = close()
            if asyncio.iscoroutine(result):
                await result
        self.app = None
        return None

    def connected(self) -> Any:
        if self.app is None:
            raise NotConnectedError("connect first")
        return self.app

    async def send(self, job: dict[str, Any]) -> Any:
        options = native_options(job.get("options", {}))
        app = self.connected()
        sender = app.options(**options) if options else app
        args = [to_native(arg) for arg in job.get("args", [])]
        kwargs = {key: to_native(value) for key, value in job.get("kwargs", [])}
        return await sender.send(job["task"], *args, **kwargs)

    async def op_enqueue(self, request: dict[str, Any]) -> Any:
        return outcome(await self.send(request), request.get("options", {}))

    async def op_enqueue_many(self, request: dict[str, Any]) -> Any:
        app = self.connected()
        prepared = []
        for job in request["jobs"]:
            options = native_options(job.get("options", {}))
            sender = app.options(**options) if options else app
            prepare = getattr(sender, "prepare", None)
            if prepare is None:
                raise UnofferedError("the ardiq package has no prepare-by-name for enqueue_many")
            args = [to_native(arg) for arg in job.get("args", [])]
            kwargs = {key: to_native(value) for key, value in job.get("kwargs", [])}
            prepared.append(prepare(job["task"], *args, **kwargs))
        jobs = await app.enqueue_many(prepared)
        return [
            outcome(job, spec.get("options", {})) for job, spec in zip(jobs, request["jobs"], strict=True)
        ]

    def job(self, job_id: str) -> Any:
        return self.connected().job(job_id)

    async def op_status(self, request: dict[str, Any]) -> Any:
        status = await self.job(request["job_id"]).status()
        return str(getattr(status, "value", status)).lower()

    async def op_result(self, request: dict[str, Any]) -> Any:
        return to_typed(await self.job(request["job_id"]).result(timeout_s=request["timeout_ms"] / 1000))

    async def op_progress(self, request: dict[str, Any]) -> Any:
        progress = await self.job(request["job_id"]).progress()
        if progress is None:
            return None
        return {
            "fraction": progress.fraction,
            "message": progress.message,
            "updated_ms": str(progress.updated_ms),
        }

    async def op_abort(self, request: dict[str, Any]) -> Any:
        reply = await self.job(request["job_id"]).abort()
        return str(getattr(reply, "value", reply)).lower()


class NotConnectedError(Exception):
    """An op against Redis before `connect` (protocol type NotConnected)."""


class UnofferedError(Exception):
    """The package does not offer this operation (the op answers skipped)."""


def pure(name: str) -> Any:
    """A pure function of the package's native core (`encode_value`, `decode_value`, `build_enqueue`):
    the code paths enqueue and the worker run, without Redis."""
    function = getattr(importlib.import_module("ardiq._core"), name, None)
    if function is None:
        raise UnofferedError(f"the ardiq package has no {name}")
    return function


def as_text(item: Any) -> str:
    return item.decode() if isinstance(item, (bytes, bytearray)) else str(item)


def as_bytes(item: Any) -> bytes:
    return bytes(item) if isinstance(item, (bytes, bytearray, memoryview)) else str(item).encode()


def native_options(options: dict[str, Any]) -> dict[str, Any]:
    """The protocol's options as `Ardiq.options` takes them: headers (given as
    [name, value] pairs, a name again replacing its value) as a dict."""
    native = {name: options[name] for name in OPTION_NAMES if name in options}
    if "headers" in options:
        native["headers"] = dict(options["headers"])
    return native


def outcome(job: Any, options: dict[str, Any]) -> dict[str, Any]:
    """{"job_id", "outcome"} of an enqueued job."""
    reported = getattr(job, "outcome", None)
    if reported is not None:
        return {"job_id": job.id, "outcome": str(getattr(reported, "value", reported)).lower()}
    if job.duplicate:
        return {"job_id": job.id, "outcome": "duplicate"}
    # The package reports only `duplicate`; a job is scheduled when its due time is in the future.
    now = time.time_ns() // 1_000_000
    due = options["schedule_ms"] if "schedule_ms" in options else now + options.get("delay_ms", 0)
    return {"job_id": job.id, "outcome": "scheduled" if due > now else "queued"}


def respond(request_id: Any, coroutine_result: Any) -> dict[str, Any]:
    return {"id": request_id, "result": "ok", "value": coroutine_result}


async def answer(session: Session, request: dict[str, Any]) -> dict[str, Any]:
    request_id = request.get("id")
    try:
        return respond(request_id, await session.handle(request))
    except (InexpressibleError, UnofferedError) as reason:
        return {"id": request_id, "result": "skipped", "reason": str(reason)}
    except NotConnectedError as error:
        return {"id": request_id, "result": "error", "error": {"type": "NotConnected", "message": str(error)}}
    except Exception as error:  # every failure becomes a typed answer, never a crash
        body: dict[str, Any] = {"type": error_type(error), "message": str(error)}
        if body["type"] == "JobFailed":
            remote = remote_of(error)
            body["remote"] = remote
            body["message"] = f"{remote['type']}: {remote['message']}"
        return {"id": request_id, "result": "error", "error": body}


def main() -> int:
    loop = asyncio.new_event_loop()
    session = Session()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        response = loop.run_until_complete(answer(session, request))
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()
    if session.app is not None:
        loop.run_until_complete(session.op_close({}))
    loop.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

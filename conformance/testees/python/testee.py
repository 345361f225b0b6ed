"""Conformance testee of `ardiq_client`, the pure-Python producer.

Speaks conformance/PROTOCOL.md: one JSON request per line on stdin, one
JSON response per line on stdout, until stdin closes. Every operation goes
through `ardiq_client`'s public API (the blocking `Client`), except the
record codec and `build_enqueue`, which use the client's own encoding
modules so the bytes checked are the bytes the client sends.
"""

from __future__ import annotations

import datetime
import json
import math
import sys
from collections.abc import Callable
from typing import Any

import ardiq_client
from ardiq_client import (
    AuthenticationFailed,
    Client,
    InvalidDelay,
    InvalidJobId,
    InvalidOption,
    InvalidPriority,
    InvalidQueueName,
    InvalidTaskName,
    JobAborted,
    JobExpired,
    JobFailed,
    JobNotFound,
    JobRequest,
    MalformedRecord,
    NotConnected,
    PayloadTooLarge,
    RedisUnavailable,
    ResultTimeout,
    UnsupportedValue,
    protocol,
)
from ardiq_client._proto import records_pb2
from ardiq_client.keys import QueueKeys
from google.protobuf.message import DecodeError, Message

# The spec's error names (PROTOCOL.md), most specific class first.
ERROR_NAMES: list[tuple[type[BaseException], str]] = [
    (UnsupportedValue, "UnsupportedValue"),
    (InvalidQueueName, "InvalidQueueName"),
    (InvalidTaskName, "InvalidTaskName"),
    (InvalidJobId, "InvalidJobId"),
    (InvalidPriority, "InvalidPriority"),
    (InvalidDelay, "InvalidDelay"),
    (InvalidOption, "InvalidOption"),
    (PayloadTooLarge, "PayloadTooLarge"),
    (AuthenticationFailed, "AuthenticationError"),
    (RedisUnavailable, "ConnectionError"),
    (JobFailed, "JobFailed"),
    (JobAborted, "JobAborted"),
    (JobExpired, "JobExpired"),
    (JobNotFound, "JobNotFound"),
    (ResultTimeout, "Timeout"),
    (NotConnected, "NotConnected"),
    (MalformedRecord, "MalformedRecord"),
]

MESSAGES: dict[str, type[Message]] = {"Job": records_pb2.Job, "Status": records_pb2.Status}


class Skipped(Exception):
    """The operation or value cannot be expressed here."""


def to_native(value: Any) -> Any:
    """A typed JSON value as the Python value the client is given."""
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
        unsupported: dict[str, Callable[[], Any]] = {
            "set": lambda: {1, 2},
            "datetime": lambda: datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
            "int_too_large": lambda: 2**63,
            "non_str_key": lambda: {1: "one"},
            "function": lambda: len,
        }
        if inner not in unsupported:
            raise Skipped(f"Python has no {inner}")
        return unsupported[inner]()
    raise ValueError(f"unknown typed kind {kind!r}")


def to_typed(value: Any) -> Any:
    """A decoded Python value as typed JSON."""
    if value is None:
        return {"nil": None}
    if type(value) is bool:
        return {"bool": value}
    if type(value) is int:
        return {"int": str(value)}
    if type(value) is float:
        if math.isnan(value):
            return {"float": "NaN"}
        if math.isinf(value):
            return {"float": "Infinity" if value > 0 else "-Infinity"}
        if value == 0 and math.copysign(1.0, value) < 0:
            return {"float": "-0"}
        return {"float": value}
    if type(value) is str:
        return {"str": value}
    if type(value) is bytes:
        return {"bytes": value.hex()}
    if type(value) is list:
        return {"array": [to_typed(item) for item in value]}
    if type(value) is dict:
        return {"map": [[key, to_typed(item)] for key, item in value.items()]}
    raise TypeError(f"cannot express {type(value).__name__} as typed JSON")


# Scalar fields that travel as decimal strings: the 64-bit integers.
_TEXT_INTEGERS = {"int64", "uint64"}


def _field_kind(message: Message, name: str) -> str:
    field = message.DESCRIPTOR.fields_by_name[name]
    return {
        field.TYPE_INT64: "int64",
        field.TYPE_UINT64: "uint64",
        field.TYPE_BYTES: "bytes",
        field.TYPE_MESSAGE: "message",
    }.get(field.type, "other")


def fill_message(message: Message, fields: dict[str, Any]) -> None:
    for name, value in fields.items():
        kind = _field_kind(message, name)
        if name == "headers":  # 1.1: map<string, string>
            getattr(message, name).update(value)
        elif kind == "message":
            fill_message(getattr(message, name), value)
        elif kind == "bytes":
            setattr(message, name, bytes.fromhex(value))
        elif kind in _TEXT_INTEGERS:
            setattr(message, name, int(value))
        else:
            setattr(message, name, value)


def message_fields(message: Message) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for descriptor, value in message.ListFields():
        kind = _field_kind(message, descriptor.name)
        if descriptor.name == "headers":  # 1.1: map<string, string>
            fields["headers"] = dict(sorted(value.items()))
        elif kind == "message":
            fields[descriptor.name] = message_fields(value)
        elif kind == "bytes":
            fields[descriptor.name] = value.hex()
        elif kind in _TEXT_INTEGERS:
            fields[descriptor.name] = str(value)
        else:
            fields[descriptor.name] = int(value) if isinstance(value, int) else value
    return fields


def request_of(job: dict[str, Any]) -> JobRequest:
    """A `JobRequest` from a protocol job: `task`, typed `args`, `kwargs` pairs, `options`."""
    options = job.get("options", {})
    return JobRequest(
        job["task"],
        [to_native(arg) for arg in job.get("args", [])],
        {key: to_native(value) for key, value in job.get("kwargs", [])},
        priority=options.get("priority"),
        delay_ms=options.get("delay_ms"),
        schedule_ms=options.get("schedule_ms"),
        job_id=options.get("job_id"),
        max_retries=options.get("max_retries"),
        timeout_ms=options.get("timeout_ms"),
        backoff_ms=options.get("backoff_ms"),
        result_ttl_ms=options.get("result_ttl_ms"),
        expires_ms=options.get("expires_ms"),
        headers=dict(options["headers"]) if "headers" in options else None,
    )


class Testee:
    """Holds the connected client between requests."""

    def __init__(self) -> None:
        self.client: Client | None = None

    def connected(self) -> Client:
        if self.client is None:
            raise NotConnected("connect first")
        return self.client

    def handle(self, op: str, request: dict[str, Any]) -> Any:
        handler = getattr(self, f"op_{op}", None)
        if handler is None:
            raise Skipped(f"unknown operation {op!r}")
        return handler(request)

    def op_encode_value(self, request: dict[str, Any]) -> Any:
        return ardiq_client.encode_value(to_native(request["value"])).hex()

    def op_decode_value(self, request: dict[str, Any]) -> Any:
        return to_typed(ardiq_client.decode_value(bytes.fromhex(request["hex"])))

    def op_encode_record(self, request: dict[str, Any]) -> Any:
        message = MESSAGES[request["message"]]()
        fill_message(message, request["fields"])
        # Deterministic: map entries sorted by key (SPEC.md section 3.1).
        return message.SerializeToString(deterministic=True).hex()

    def op_decode_record(self, request: dict[str, Any]) -> Any:
        message = MESSAGES[request["message"]]()
        try:
            message.ParseFromString(bytes.fromhex(request["hex"]))
        except DecodeError as error:
            raise MalformedRecord(f"undecodable {request['message']} record: {error}") from None
        return message_fields(message)

    def op_build_enqueue(self, request: dict[str, Any]) -> Any:
        job = protocol.encode_request(request_of(request), request["now_ms"])
        call = protocol.enqueue_call(QueueKeys(request["queue"]), [job])
        return {"keys": [key.decode() for key in call.keys], "argv": [arg.hex() for arg in call.args]}

    def op_connect(self, request: dict[str, Any]) -> Any:
        if self.client is not None:
            self.client.close()
            self.client = None
        cluster = bool(request.get("cluster", False))
        self.client = Client.from_url(request["url"], queue=request["queue"], cluster=cluster).connect()
        return None

    def op_enqueue(self, request: dict[str, Any]) -> Any:
        (job,) = self.connected().send_many([request_of(request)])
        return {"job_id": job.id, "outcome": str(job.outcome)}

    def op_enqueue_many(self, request: dict[str, Any]) -> Any:
        jobs = self.connected().send_many([request_of(job) for job in request["jobs"]])
        return [{"job_id": job.id, "outcome": str(job.outcome)} for job in jobs]

    def op_status(self, request: dict[str, Any]) -> Any:
        return str(self.connected().status(request["job_id"]))

    def op_result(self, request: dict[str, Any]) -> Any:
        value = self.connected().result(request["job_id"], timeout_s=request["timeout_ms"] / 1000)
        return to_typed(value)

    def op_abort(self, request: dict[str, Any]) -> Any:
        return str(self.connected().abort(request["job_id"]))

    def op_progress(self, request: dict[str, Any]) -> Any:
        progress = self.connected().progress(request["job_id"])
        if progress is None:
            return None
        return {"fraction": progress.fraction, "message": progress.message, "updated_ms": progress.updated_ms}

    def op_close(self, request: dict[str, Any]) -> Any:
        if self.client is not None:
            self.client.close()
            self.client = None
        return None


def error_response(request_id: Any, error: BaseException) -> dict[str, Any]:
    name = next((name for kind, name in ERROR_NAMES if isinstance(error, kind)), type(error).__name__)
    body: dict[str, Any] = {"type": name, "message": str(error)}
    if isinstance(error, JobFailed):
        body["remote"] = {
            "type": error.remote_type,
            "message": error.remote_message,
            "traceback": error.remote_traceback,
        }
    return {"id": request_id, "result": "error", "error": body}


def main() -> int:
    testee = Testee()
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        request_id = request.get("id")
        try:
            value = testee.handle(request["op"], request)
            response: dict[str, Any] = {"id": request_id, "result": "ok", "value": value}
        except Skipped as skipped:
            response = {"id": request_id, "result": "skipped", "reason": str(skipped)}
        except Exception as error:
            response = error_response(request_id, error)
        sys.stdout.write(json.dumps(response) + "\n")
        sys.stdout.flush()
    testee.op_close({})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

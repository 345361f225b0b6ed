"""ArdiQ's protobuf records, built from a descriptor written out here.

The conformance suite must not trust any implementation under test for its
expected bytes, so it builds the `ardiq.v1` messages with the `protobuf`
runtime from this hand-written descriptor of `spec/proto/ardiq/v1/records.proto`
instead of importing generated code from a client.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_T = descriptor_pb2.FieldDescriptorProto

#: The kind of a `map<string, string>` field (no `FieldDescriptorProto` type
#: of its own: a repeated nested `<Name>Entry` message with `map_entry` set).
MAP = -1

# (name, number, type, optional, message type) per field, in field-number order.
_Field = tuple[str, int, int, bool, str]

_MESSAGES: dict[str, list[_Field]] = {
    "Job": [
        ("spec_version", 1, _T.TYPE_STRING, False, ""),
        ("id", 2, _T.TYPE_STRING, False, ""),
        ("task", 3, _T.TYPE_STRING, False, ""),
        ("args", 4, _T.TYPE_BYTES, False, ""),
        ("kwargs", 5, _T.TYPE_BYTES, False, ""),
        ("priority", 6, _T.TYPE_UINT32, False, ""),
        ("enqueued_ms", 7, _T.TYPE_INT64, False, ""),
        ("due_ms", 8, _T.TYPE_INT64, False, ""),
        ("attempt", 9, _T.TYPE_UINT32, False, ""),
        ("max_retries", 10, _T.TYPE_UINT32, True, ""),
        ("timeout_ms", 11, _T.TYPE_UINT64, True, ""),
        ("backoff_ms", 12, _T.TYPE_UINT64, True, ""),
        ("result_ttl_ms", 13, _T.TYPE_UINT64, True, ""),
        ("expires_ms", 14, _T.TYPE_INT64, True, ""),
        # 1.1: map<string, string>; in protocol form a JSON object.
        ("headers", 15, MAP, False, ".ardiq.v1.Job.HeadersEntry"),
    ],
    "Progress": [
        ("fraction", 1, _T.TYPE_DOUBLE, False, ""),
        ("message", 2, _T.TYPE_STRING, False, ""),
        ("updated_ms", 3, _T.TYPE_INT64, False, ""),
    ],
    "Error": [
        ("type", 1, _T.TYPE_STRING, False, ""),
        ("message", 2, _T.TYPE_STRING, False, ""),
        ("traceback", 3, _T.TYPE_STRING, False, ""),
    ],
    "Status": [
        ("spec_version", 1, _T.TYPE_STRING, False, ""),
        ("state", 2, _T.TYPE_ENUM, False, ".ardiq.v1.State"),
        ("value", 3, _T.TYPE_BYTES, False, ""),
        ("error", 4, _T.TYPE_MESSAGE, False, ".ardiq.v1.Error"),
        ("attempts", 5, _T.TYPE_UINT32, False, ""),
        ("enqueued_ms", 6, _T.TYPE_INT64, False, ""),
        ("started_ms", 7, _T.TYPE_INT64, False, ""),
        ("finished_ms", 8, _T.TYPE_INT64, False, ""),
        ("worker_id", 9, _T.TYPE_STRING, False, ""),
        ("task", 10, _T.TYPE_STRING, False, ""),
        ("progress", 11, _T.TYPE_MESSAGE, False, ".ardiq.v1.Progress"),
    ],
    "DeadLetter": [
        ("spec_version", 1, _T.TYPE_STRING, False, ""),
        ("job_id", 2, _T.TYPE_STRING, False, ""),
        ("task", 3, _T.TYPE_STRING, False, ""),
        ("reason", 4, _T.TYPE_STRING, False, ""),
        ("detail", 5, _T.TYPE_STRING, False, ""),
        ("job", 6, _T.TYPE_BYTES, False, ""),
        ("stream_id", 7, _T.TYPE_STRING, False, ""),
        ("dead_ms", 8, _T.TYPE_INT64, False, ""),
        ("worker_id", 9, _T.TYPE_STRING, False, ""),
        ("error", 10, _T.TYPE_MESSAGE, False, ".ardiq.v1.Error"),
    ],
    # 1.1: a kept failure (SPEC.md section 9.1).
    "Failure": [
        ("spec_version", 1, _T.TYPE_STRING, False, ""),
        ("job_id", 2, _T.TYPE_STRING, False, ""),
        ("task", 3, _T.TYPE_STRING, False, ""),
        ("job", 4, _T.TYPE_BYTES, False, ""),
        ("error", 5, _T.TYPE_MESSAGE, False, ".ardiq.v1.Error"),
        ("attempts", 6, _T.TYPE_UINT32, False, ""),
        ("started_ms", 7, _T.TYPE_INT64, False, ""),
        ("failed_ms", 8, _T.TYPE_INT64, False, ""),
        ("worker_id", 9, _T.TYPE_STRING, False, ""),
    ],
}

STATES = {
    "STATE_UNSPECIFIED": 0,
    "STATE_QUEUED": 1,
    "STATE_SCHEDULED": 2,
    "STATE_RUNNING": 3,
    "STATE_COMPLETE": 4,
    "STATE_FAILED": 5,
    "STATE_ABORTED": 6,
    "STATE_DEAD": 7,
    "STATE_EXPIRED": 8,
}

# Fields that travel as decimal strings in the testee protocol (64-bit ints).
WIDE_INTS = {_T.TYPE_INT64, _T.TYPE_UINT64}


def _file() -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto(
        name="ardiq/v1/records.proto", package="ardiq.v1", syntax="proto3"
    )
    state = proto.enum_type.add(name="State")
    for name, number in STATES.items():
        state.value.add(name=name, number=number)
    for message_name, fields in _MESSAGES.items():
        message = proto.message_type.add(name=message_name)
        for name, number, kind, optional, type_name in fields:
            if kind == MAP:
                entry = message.nested_type.add(name=type_name.rsplit(".", 1)[1])
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=_T.TYPE_STRING, label=_T.LABEL_OPTIONAL)
                entry.field.add(name="value", number=2, type=_T.TYPE_STRING, label=_T.LABEL_OPTIONAL)
                message.field.add(
                    name=name,
                    number=number,
                    type=_T.TYPE_MESSAGE,
                    label=_T.LABEL_REPEATED,
                    type_name=type_name,
                )
                continue
            field = message.field.add(name=name, number=number, type=kind, label=_T.LABEL_OPTIONAL)
            if type_name:
                field.type_name = type_name
            if optional:
                # proto3 `optional` is a synthetic one-field oneof named `_<field>`.
                field.proto3_optional = True
                field.oneof_index = len(message.oneof_decl)
                message.oneof_decl.add(name=f"_{name}")
    return proto


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())
CLASSES: dict[str, type[Message]] = {
    name: message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"ardiq.v1.{name}"))
    for name in _MESSAGES
}


def encode(message: str, fields: dict[str, Any]) -> bytes:
    """Serialises `fields` (protocol form: wide ints as strings, bytes as hex)."""
    record = CLASSES[message]()
    _fill(record, message, fields)
    # Deterministic output writes map entries sorted by key (SPEC.md 3.1).
    return record.SerializeToString(deterministic=True)


def _fill(record: Any, message: str, fields: dict[str, Any]) -> None:
    kinds = {name: (kind, type_name) for name, _, kind, _, type_name in _MESSAGES[message]}
    for name, value in fields.items():
        kind, type_name = kinds[name]
        if kind == MAP:
            getattr(record, name).update(value)
        elif kind == _T.TYPE_MESSAGE:
            _fill(getattr(record, name), type_name.rsplit(".", 1)[1], value)
        elif kind == _T.TYPE_BYTES:
            setattr(record, name, bytes.fromhex(value))
        elif kind in WIDE_INTS:
            setattr(record, name, int(value))
        else:
            setattr(record, name, value)


def decode(message: str, data: bytes) -> dict[str, Any]:
    """Parses a record into protocol form, default-valued fields omitted."""
    record = CLASSES[message]()
    record.ParseFromString(data)
    return _fields(record, message)


def _fields(record: Any, message: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _, kind, optional, type_name in _MESSAGES[message]:
        if kind == MAP:
            if getattr(record, name):
                out[name] = dict(sorted(getattr(record, name).items()))
            continue
        if (kind == _T.TYPE_MESSAGE or optional) and not record.HasField(name):
            continue
        value = getattr(record, name)
        if kind == _T.TYPE_MESSAGE:
            out[name] = _fields(value, type_name.rsplit(".", 1)[1])
        elif not optional and not value:
            continue
        elif kind == _T.TYPE_BYTES:
            out[name] = value.hex()
        elif kind in WIDE_INTS:
            out[name] = str(value)
        else:
            out[name] = value
    return out

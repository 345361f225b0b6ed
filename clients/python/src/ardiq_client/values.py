"""User values: the spec's MessagePack type table (SPEC.md section 4).

`encode_value` writes the canonical form: smallest int formats (positive
formats for non-negative ints), floats always as float 64, str as str and
bytes as bin in their smallest formats, maps in insertion order. It accepts
exactly the Python types of the table (`None`, `bool`, `int` in int64,
`float`, `str`, `bytes`, `list`, `tuple`, `dict` with `str` keys); anything
else, subclasses included, is an `UnsupportedValue` naming its path, never a
coercion, and so is a value enclosed by more than 64 arrays or maps (the args
array and the kwargs map around the arguments are not counted). `decode_value`
accepts exactly the table and rejects the rest.
"""

from __future__ import annotations

import struct
import threading
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]  # msgpack ships no type information

from ardiq_client.errors import MalformedRecord, UnsupportedValue

MAX_DEPTH = 64
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_SCALARS = frozenset({str, bool, bytes, type(None)})
_QUIET_NAN_BITS = bytes.fromhex("7ff8000000000000")
_QUIET_NAN: float = struct.unpack(">d", _QUIET_NAN_BITS)[0]


def _other_nan(value: float) -> bool:
    """True for a NaN that is not the quiet NaN: negative, or with a payload."""
    return value != value and struct.pack(">d", value) != _QUIET_NAN_BITS


class _NaNSeen(Exception):
    """A NaN other than the quiet NaN is inside the value: it is rebuilt, then checked again."""


class _RejectionError(Exception):
    """Carries a rejection up the value tree; each level adds its path segment."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: list[str] = []

    def at(self, root: str) -> UnsupportedValue:
        return UnsupportedValue(root + "".join(reversed(self.segments)), self.reason)


def _check(value: object, depth: int) -> None:
    """Raises `_RejectionError` unless `value` is inside the type table.

    Path segments are added only while a rejection unwinds, so a valid value
    costs no string building.
    """
    if depth > MAX_DEPTH:
        raise _RejectionError(f"nesting deeper than {MAX_DEPTH}")
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is float:
        if _other_nan(value):  # type: ignore[arg-type]
            raise _NaNSeen
        return
    if kind is int:
        if not INT64_MIN <= value <= INT64_MAX:  # type: ignore[operator]
            raise _RejectionError(f"integer {value} is beyond int64")
        return
    if kind is list or kind is tuple:
        for index, item in enumerate(value):  # type: ignore[arg-type, var-annotated]
            try:
                _check(item, depth + 1)
            except _RejectionError as rejected:
                rejected.segments.append(f"[{index}]")
                raise
        return
    if kind is dict:
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise _RejectionError(f"map key {key!r} of type {type(key).__name__} is not a str")
            try:
                _check(item, depth + 1)
            except _RejectionError as rejected:
                rejected.segments.append(f".{key}")
                raise
        return
    raise _RejectionError(f"type {kind.__module__}.{kind.__qualname__} is not in the type table")


def _check_strings(value: object) -> None:
    """Finds a str that is not valid UTF-8 (a lone surrogate); run only after packing failed."""
    if type(value) is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise _RejectionError(f"str is not valid UTF-8 ({error.reason})") from None
    elif type(value) is list or type(value) is tuple:
        for index, item in enumerate(value):
            try:
                _check_strings(item)
            except _RejectionError as rejected:
                rejected.segments.append(f"[{index}]")
                raise
    elif type(value) is dict:
        for key, item in value.items():
            try:
                _check_strings(key)
                _check_strings(item)
            except _RejectionError as rejected:
                rejected.segments.append(f".{key}")
                raise


_local = threading.local()


def _packer() -> Any:
    """This thread's Packer: creating one per value would cost more than packing small args."""
    try:
        return _local.packer
    except AttributeError:
        _local.packer = msgpack.Packer(use_bin_type=True, use_single_float=False, autoreset=True)
        return _local.packer


def _check_items(items: list[object] | tuple[object, ...], depth: int) -> None:
    """`_check` of an array's items at `depth`, scalars inline: argument lists are mostly flat."""
    for index, item in enumerate(items):
        kind = type(item)
        if kind in _SCALARS or (kind is int and INT64_MIN <= item <= INT64_MAX):  # type: ignore[operator]
            continue
        if kind is float:
            if item != item and _other_nan(item):  # type: ignore[arg-type]
                raise _NaNSeen
            continue
        try:
            _check(item, depth)
        except _RejectionError as rejected:
            rejected.segments.append(f"[{index}]")
            raise


def _check_value(value: object, depth: int) -> None:
    if type(value) is tuple or type(value) is list:
        _check_items(value, depth + 1)
    else:
        _check(value, depth)


def _with_quiet_nans(value: object, depth: int = 0) -> object:
    """A copy of `value` whose every NaN is the quiet NaN `7ff8000000000000` (SPEC.md section 4).

    A negative NaN or one with a payload would otherwise be packed bit for bit.
    Only the containers and floats the table allows are rebuilt; anything
    else is kept for the check that follows to reject.
    """
    kind = type(value)
    if kind is float:
        return _QUIET_NAN if value != value else value
    if depth > MAX_DEPTH:
        return value
    if kind is list or kind is tuple:
        return kind(_with_quiet_nans(item, depth + 1) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        return {key: _with_quiet_nans(item, depth + 1) for key, item in value.items()}  # type: ignore[attr-defined]
    return value


def _pack(value: object, root: str, depth: int) -> bytes:
    """Checks and packs `value`, which `depth` counted arrays or maps enclose.

    A user value starts at depth 0; the args array and the kwargs map start
    at -1, since they are not counted (SPEC.md section 4).
    """
    try:
        try:
            _check_value(value, depth)
        except _NaNSeen:
            value = _with_quiet_nans(value)
            _check_value(value, depth)
    except _RejectionError as rejected:
        raise rejected.at(root) from None
    try:
        packed: bytes = _packer().pack(value)
    except UnicodeEncodeError:
        try:
            _check_strings(value)
        except _RejectionError as rejected:
            raise rejected.at(root) from None
        raise
    return packed


def encode_value(value: object, path: str = "value") -> bytes:
    """The canonical MessagePack encoding of one user value.

    `path` names the value in an `UnsupportedValue` error.
    """
    return _pack(value, path, 0)


def encode_args(args: object) -> bytes:
    """The `Job.args` bytes: a MessagePack array, or empty bytes for no arguments."""
    if type(args) is not tuple and type(args) is not list:
        raise UnsupportedValue(
            "args", f"positional arguments must be a list or tuple, not {type(args).__name__}"
        )
    if not args:
        return b""
    return _pack(args, "args", -1)


def encode_kwargs(kwargs: object) -> bytes:
    """The `Job.kwargs` bytes: a MessagePack map with str keys, or empty bytes for none."""
    if type(kwargs) is not dict:
        raise UnsupportedValue("kwargs", f"keyword arguments must be a dict, not {type(kwargs).__name__}")
    if not kwargs:
        return b""
    return _pack(kwargs, "kwargs", -1)


def _check_decoded(value: Any, depth: int) -> None:
    """Like `_check`, for a decoded tree: also rejects bytes map keys and ext values."""
    if depth > MAX_DEPTH:
        raise _RejectionError(f"nesting deeper than {MAX_DEPTH}")
    kind = type(value)
    if kind in _SCALARS or kind is float:
        return
    if kind is int:
        if not INT64_MIN <= value <= INT64_MAX:
            raise _RejectionError(f"integer {value} is beyond int64")
        return
    if kind is list or kind is tuple:
        for index, item in enumerate(value):
            try:
                _check_decoded(item, depth + 1)
            except _RejectionError as rejected:
                rejected.segments.append(f"[{index}]")
                raise
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise _RejectionError(f"map key {key!r} is not a str")
            try:
                _check_decoded(item, depth + 1)
            except _RejectionError as rejected:
                rejected.segments.append(f".{key}")
                raise
        return
    if kind is msgpack.ExtType or kind is msgpack.Timestamp:
        raise _RejectionError("MessagePack ext type")
    raise _RejectionError(f"type {kind.__name__} is not in the type table")


def decode_value(data: bytes, path: str = "value") -> Any:
    """Decodes exactly one user value that fills `data`.

    Raises `UnsupportedValue` for a well-formed value outside the type table
    (ext types, non-str map keys, ints beyond int64, nesting over 64) and
    `MalformedRecord` for bytes that are not MessagePack.
    """
    try:
        value = msgpack.unpackb(data, raw=False, strict_map_key=True, use_list=True)
    except ValueError as error:
        if isinstance(error, UnicodeDecodeError):
            raise MalformedRecord(f"undecodable MessagePack at {path}: invalid UTF-8 string") from None
        # A non-str map key: decode again leniently (arrays as tuples, so they can be keys)
        # to report where it sits; bytes that fail this too are not MessagePack.
        try:
            lenient = msgpack.unpackb(data, raw=False, strict_map_key=False, use_list=False)
        except Exception:
            raise MalformedRecord(f"undecodable MessagePack at {path}: {error}") from None
        try:
            _check_decoded(lenient, 0)
        except _RejectionError as rejected:
            raise rejected.at(path) from None
        raise MalformedRecord(f"undecodable MessagePack at {path}: {error}") from None
    except Exception as error:
        detail = str(error) or type(error).__name__
        raise MalformedRecord(f"undecodable MessagePack at {path}: {detail}") from None
    try:
        _check_decoded(value, 0)
    except _RejectionError as rejected:
        raise rejected.at(path) from None
    return value

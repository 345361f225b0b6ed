"""Typed JSON values (PROTOCOL.md) and their canonical MessagePack.

The encoder here is the suite's independent reference: it turns typed JSON
into Python values and packs them with the `msgpack` package, whose output is
the canonical form of SPEC.md section 4 (smallest int, str and bin formats,
positive formats for non-negative ints, floats as float 64, maps in insertion
order). It never asks an implementation under test for bytes.
"""

from __future__ import annotations

import math
import struct
from typing import Any

import msgpack

MAX_DEPTH = 64
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class UnsupportedValueError(ValueError):
    """A typed value outside the type table (PROTOCOL.md `unsupported`)."""


def expand(value: Any) -> Any:
    """Expands the vector-only `fill` shorthand into a plain typed value.

    `{"fill": {"kind": "bytes", "unit": "61", "count": N}}` is `{"bytes": "61" * N}`;
    with kind `str` the unit is text. Large payloads stay readable in the files.
    """
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "fill":
        return {inner["kind"]: inner["unit"] * inner["count"]}
    if kind == "array":
        return {"array": [expand(item) for item in inner]}
    if kind == "map":
        return {"map": [[key, expand(item)] for key, item in inner]}
    return value


def to_python(value: Any, depth: int = 0) -> Any:
    """The Python value a typed JSON value stands for."""
    if depth > MAX_DEPTH:
        raise UnsupportedValueError(f"nesting deeper than {MAX_DEPTH}")
    ((kind, inner),) = value.items()
    if kind == "nil":
        return None
    if kind == "bool":
        return bool(inner)
    if kind == "int":
        number = int(inner)
        if not INT64_MIN <= number <= INT64_MAX:
            raise UnsupportedValueError(f"integer {number} is beyond int64")
        return number
    if kind == "float":
        return parse_float(inner)
    if kind == "str":
        return str(inner)
    if kind == "bytes":
        return bytes.fromhex(inner)
    if kind == "array":
        return [to_python(item, depth + 1) for item in inner]
    if kind == "map":
        return {key: to_python(item, depth + 1) for key, item in inner}
    if kind == "unsupported":
        raise UnsupportedValueError(f"unsupported kind {inner}")
    raise ValueError(f"not a typed value: {value!r}")


def parse_float(inner: Any) -> float:
    """A typed float's number; NaN and the infinities are spelled as strings."""
    if isinstance(inner, str):
        return {
            "NaN": math.nan,
            "-NaN": math.copysign(math.nan, -1.0),
            "Infinity": math.inf,
            "-Infinity": -math.inf,
            "-0": -0.0,
        }[inner]
    return float(inner)


def pack(value: Any) -> bytes:
    """Canonical MessagePack of a typed value."""
    packed: bytes = msgpack.packb(to_python(expand(value)), use_bin_type=True, use_single_float=False)
    return packed


def pack_args(args: list[Any]) -> bytes:
    """Canonical MessagePack of a job's `args`: an array of user values. The
    array itself is no nesting level (SPEC.md section 4): each argument may
    nest 64 deep."""
    items = [to_python(expand(item)) for item in args]
    packed: bytes = msgpack.packb(items, use_bin_type=True, use_single_float=False)
    return packed


def pack_kwargs(kwargs: list[list[Any]]) -> bytes:
    """Canonical MessagePack of a job's `kwargs`: a map of user values, the
    map itself no nesting level."""
    items = {key: to_python(expand(item)) for key, item in kwargs}
    packed: bytes = msgpack.packb(items, use_bin_type=True, use_single_float=False)
    return packed


def same(expected: Any, actual: Any) -> bool:
    """Whether two typed values are the same value (floats bit for bit, NaN equal to NaN)."""
    if not isinstance(expected, dict) or not isinstance(actual, dict) or len(actual) != 1:
        return False
    ((kind, inner),) = expected.items()
    if kind not in actual:
        return False
    other = actual[kind]
    if kind == "float":
        if not isinstance(other, (int, float, str)) or isinstance(other, bool):
            return False
        try:
            left, right = parse_float(inner), parse_float(other)
        except (KeyError, ValueError):
            return False
        if math.isnan(left):
            return math.isnan(right)
        return struct.pack(">d", left) == struct.pack(">d", right)
    if kind == "array":
        return (
            isinstance(other, list)
            and len(other) == len(inner)
            and all(same(a, b) for a, b in zip(inner, other, strict=True))
        )
    if kind == "map":
        return (
            isinstance(other, list)
            and len(other) == len(inner)
            and all(
                isinstance(pair, list) and len(pair) == 2 and pair[0] == key and same(item, pair[1])
                for (key, item), pair in zip(inner, other, strict=True)
            )
        )
    if kind == "bytes":
        return isinstance(other, str) and other == inner.lower()
    if kind == "bool":
        return other is inner
    return bool(other == inner and type(other) is type(inner))

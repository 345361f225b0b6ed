"""User values: canonical MessagePack and the type table (SPEC.md section 4)."""

from __future__ import annotations

import datetime
import math
from typing import Any

import msgpack  # type: ignore[import-untyped,unused-ignore]
import pytest
from ardiq_client import MalformedRecord, UnsupportedValue, decode_value, encode_value
from ardiq_client.values import encode_args, encode_kwargs


@pytest.mark.parametrize(
    ("value", "hex_bytes"),
    [
        (None, "c0"),
        (True, "c3"),
        (False, "c2"),
        (0, "00"),
        (127, "7f"),
        (128, "cc80"),
        (200, "ccc8"),
        (65535, "cdffff"),
        (2**32, "cf0000000100000000"),
        (2**63 - 1, "cf7fffffffffffffff"),
        (-1, "ff"),
        (-32, "e0"),
        (-33, "d0df"),
        (-200, "d1ff38"),
        (-(2**63), "d38000000000000000"),
        (1.0, "cb3ff0000000000000"),
        (-0.0, "cb8000000000000000"),
        ("", "a0"),
        ("żółw", "a7c5bcc3b3c582w".replace("w", "77")),
        ("a" * 32, "d920" + "61" * 32),
        (b"", "c400"),
        (b"\x00\xff", "c40200ff"),
        ([], "90"),
        ((1, 2), "920102"),
        ({"b": 1, "a": [None]}, "82a16201a16191c0"),
    ],
)
def test_values_encode_canonically(value: object, hex_bytes: str) -> None:
    assert encode_value(value).hex() == hex_bytes


def test_bool_stays_bool_and_int_stays_int() -> None:
    assert encode_value([True, 1, False, 0]).hex() == "94c301c200"


def test_floats_are_always_float64() -> None:
    assert len(encode_value(0.5)) == 9
    assert decode_value(encode_value(math.inf)) == math.inf
    assert math.isnan(decode_value(encode_value(math.nan)))


@pytest.mark.parametrize(
    ("value", "path", "reason"),
    [
        ([1, {"when": datetime.datetime(2024, 1, 1)}], "args[1].when", "datetime"),
        ([{1, 2}], "args[0]", "set"),
        ([2**63], "args[0]", "beyond int64"),
        ([-(2**63) - 1], "args[0]", "beyond int64"),
        ([{1: "x"}], "args[0]", "not a str"),
        ([bytearray(b"x")], "args[0]", "bytearray"),
        (["ok", "\ud800"], "args[1]", "UTF-8"),
    ],
)
def test_values_outside_the_table_are_rejected_with_their_path(value: Any, path: str, reason: str) -> None:
    with pytest.raises(UnsupportedValue) as raised:
        encode_args(value)
    assert raised.value.path == path
    assert reason in raised.value.reason
    assert isinstance(raised.value, ValueError)


def test_subclasses_of_table_types_are_rejected() -> None:
    class Name(str):
        pass

    with pytest.raises(UnsupportedValue, match=r"kwargs\.who"):
        encode_kwargs({"who": Name("x")})


def test_nesting_up_to_64_is_accepted_and_deeper_is_rejected() -> None:
    value: Any = 1
    for _ in range(64):
        value = [value]
    assert decode_value(encode_value(value)) == value
    with pytest.raises(UnsupportedValue, match="nesting deeper than 64"):
        encode_value([value])


def test_empty_args_and_kwargs_encode_as_empty_bytes() -> None:
    assert encode_args(()) == b""
    assert encode_args([]) == b""
    assert encode_kwargs({}) == b""


def test_args_must_be_a_list_or_tuple_and_kwargs_a_dict() -> None:
    with pytest.raises(UnsupportedValue, match="args"):
        encode_args("ab")
    with pytest.raises(UnsupportedValue, match="kwargs"):
        encode_kwargs([("a", 1)])


def test_decode_round_trips_every_type() -> None:
    value = {"a": [None, True, -5, 2**63 - 1], "b": b"\x00", "c": "żółw", "d": -0.5, "e": {}}
    assert decode_value(encode_value(value)) == value


@pytest.mark.parametrize(
    ("hex_bytes", "error"),
    [
        ("d40100", UnsupportedValue),  # fixext 1
        ("c7010000", UnsupportedValue),  # ext 8
        ("d6ff00000000", UnsupportedValue),  # timestamp ext
        ("81c40161c0", UnsupportedValue),  # bin map key
        ("8101c0", UnsupportedValue),  # int map key
        ("cfffffffffffffffff", UnsupportedValue),  # uint64 beyond int64
        ("9201", MalformedRecord),  # truncated
        ("0102", MalformedRecord),  # trailing bytes
        ("a2ff00", MalformedRecord),  # invalid UTF-8
        ("c1", MalformedRecord),  # reserved marker
    ],
)
def test_decode_rejects_what_is_outside_the_table(hex_bytes: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        decode_value(bytes.fromhex(hex_bytes))


def test_decode_names_the_path_of_a_non_str_key() -> None:
    with pytest.raises(UnsupportedValue) as raised:
        decode_value(msgpack.packb({"a": [{1: 2}]}))
    assert raised.value.path == "value.a[0]"


def test_decode_accepts_float32_from_other_writers() -> None:
    assert decode_value(bytes.fromhex("ca3fc00000")) == 1.5

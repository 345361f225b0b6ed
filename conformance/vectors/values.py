"""The `values` area: typed values and their canonical MessagePack (SPEC.md section 4), values
outside the type table, and bytes that do not decode."""

from __future__ import annotations

from typing import Any

from conformance import typed
from conformance.vectors.builders import NOW, Case, i, s

DESCRIPTION = "Typed values and their canonical MessagePack (SPEC.md section 4)."


def build() -> list[Case]:
    cases: list[Case] = []

    def ok(name: str, description: str, value: Any, hex_: str | None = None) -> None:
        cases.append(
            {
                "name": f"values.{name}",
                "description": description,
                "op": "encode_value",
                "value": value,
                "hex": hex_ or typed.pack(value).hex(),
            }
        )

    def bad(name: str, description: str, value: Any, may_skip: bool = False) -> None:
        case: Case = {
            "name": f"values.invalid.{name}",
            "description": description,
            "op": "encode_value",
            "value": value,
            "error": "UnsupportedValue",
        }
        if may_skip:
            case["may_skip"] = True
        cases.append(case)

    def undecodable(name: str, description: str, hex_: str, error: str) -> None:
        cases.append(
            {
                "name": f"values.undecodable.{name}",
                "description": description,
                "op": "decode_value",
                "hex": hex_,
                "error": error,
            }
        )

    ok("nil", "nil is the one-byte nil", {"nil": None})
    ok("bool.true", "true", {"bool": True})
    ok("bool.false", "false", {"bool": False})
    for name, n, why in [
        ("zero", 0, "positive fixint"),
        ("pos_fixint_max", 127, "largest positive fixint"),
        ("uint8_min", 128, "smallest value that needs uint8"),
        ("uint8_max", 255, "largest uint8"),
        ("uint16_min", 256, "smallest value that needs uint16"),
        ("uint16_max", 65535, "largest uint16"),
        ("uint32_min", 65536, "smallest value that needs uint32"),
        ("uint32_max", 2**32 - 1, "largest uint32"),
        ("uint64_min", 2**32, "2^32 needs uint64"),
        ("int64_max", 2**63 - 1, "int64 max, a positive uint64"),
        ("minus_one", -1, "negative fixint"),
        ("neg_fixint_min", -32, "smallest negative fixint"),
        ("int8_max_neg", -33, "largest negative value that needs int8"),
        ("int8_min", -128, "smallest int8"),
        ("int16_max_neg", -129, "-129 needs int16"),
        ("int16_min", -32768, "smallest int16"),
        ("int32_max_neg", -32769, "-32769 needs int32"),
        ("int32_min", -(2**31), "smallest int32"),
        ("int64_max_neg", -(2**31) - 1, "-2^31-1 needs int64"),
        ("int64_min", -(2**63), "int64 min"),
    ]:
        ok(f"int.{name}", f"{n}: {why}", i(n))
    for name, value, why in [
        ("zero", 0.0, "0.0 stays a float 64, never an int"),
        ("one", 1.0, "1.0 is a float 64"),
        ("one_and_half", 1.5, "exactly representable"),
        ("negative", -2.25, "negative float"),
        ("tenth", 0.1, "not exactly representable: the nearest float 64"),
        ("max", 1.7976931348623157e308, "largest finite float 64"),
        ("min_subnormal", 5e-324, "smallest positive subnormal"),
    ]:
        ok(f"float.{name}", f"{value!r}: {why}", {"float": value})
    ok("float.negative_zero", "-0.0 keeps its sign bit", {"float": "-0"})
    ok("float.nan", "NaN as the quiet NaN 0x7ff8000000000000", {"float": "NaN"})
    # Written by hand: msgpack (the generator's packer) keeps the sign bit.
    ok(
        "float.nan_negative",
        "a NaN with its sign bit set is written as the quiet NaN 0x7ff8000000000000 too",
        {"float": "-NaN"},
        "cb7ff8000000000000",
    )
    ok("float.infinity", "+Infinity", {"float": "Infinity"})
    ok("float.negative_infinity", "-Infinity", {"float": "-Infinity"})
    ok("str.empty", "empty string is fixstr 0", s(""))
    ok("str.ascii", "short ASCII", s("add"))
    ok("str.unicode", "UTF-8 of Polish letters (length counts bytes)", s("żółw"))
    ok("str.astral", "a character outside the BMP is 4 UTF-8 bytes", s("🐢 ok"))
    ok("str.fixstr_max", "31 bytes: largest fixstr", s("a" * 31))
    ok("str.str8_min", "32 bytes: smallest str 8", s("b" * 32))
    ok("str.str8_min_multibyte", "16 two-byte characters are 32 bytes: str 8", s("ż" * 16))
    ok("str.str8_max", "255 bytes: largest str 8", s("c" * 255))
    ok("str.str16_min", "256 bytes: smallest str 16", s("d" * 256))
    ok("bytes.empty", "empty bin 8", {"bytes": ""})
    ok("bytes.two", "bin 8 keeps every byte", {"bytes": "00ff"})
    ok("bytes.bin8_max", "255 bytes: largest bin 8", {"bytes": "ab" * 255})
    ok("bytes.bin16_min", "256 bytes: smallest bin 16", {"bytes": "cd" * 256})
    ok("array.empty", "empty fixarray", {"array": []})
    ok(
        "array.mixed",
        "every scalar kind in one array",
        {"array": [{"nil": None}, {"bool": True}, i(-1), {"float": 0.5}, s("x"), {"bytes": "01"}]},
    )
    ok("array.fixarray_max", "15 elements: largest fixarray", {"array": [i(n) for n in range(15)]})
    ok("array.array16_min", "16 elements: array 16", {"array": [i(n) for n in range(16)]})
    ok(
        "array.nested",
        "arrays and maps inside arrays",
        {"array": [i(1), {"array": [i(2), {"array": [i(3)]}]}, {"map": [["k", {"array": []}]]}]},
    )
    deep: Any = i(1)
    for _ in range(typed.MAX_DEPTH):
        deep = {"array": [deep]}
    ok("array.depth_64", "an int inside 64 arrays: the deepest value allowed", deep)
    ok("map.empty", "empty fixmap", {"map": []})
    ok(
        "map.insertion_order",
        "keys stay in insertion order, not sorted",
        {"map": [["b", i(1)], ["a", i(2)], ["c", i(3)]]},
    )
    ok("map.unicode_keys", "keys are UTF-8 strings", {"map": [["żółw", s("turtle")], ["", {"nil": None}]]})
    ok("map.fixmap_max", "15 entries: largest fixmap", {"map": [[f"k{n:02}", i(n)] for n in range(15)]})
    ok("map.map16_min", "16 entries: map 16", {"map": [[f"k{n:02}", i(n)] for n in range(16)]})
    ok(
        "map.nested",
        "maps and arrays inside a map",
        {
            "map": [
                ["when", {"map": [["ms", i(NOW)], ["tz", s("UTC")]]}],
                ["tags", {"array": [s("a"), s("b")]}],
                ["raw", {"bytes": "deadbeef"}],
            ]
        },
    )

    bad("set", "a set is outside the type table", {"unsupported": "set"}, may_skip=True)
    bad("datetime", "a date-time is outside the type table", {"unsupported": "datetime"}, may_skip=True)
    bad("int_too_large", "2^63 does not fit int64", {"unsupported": "int_too_large"})
    bad("non_str_key", "a map with an int key", {"unsupported": "non_str_key"}, may_skip=True)
    bad("undefined", "TypeScript undefined", {"unsupported": "undefined"}, may_skip=True)
    bad("function", "a function", {"unsupported": "function"}, may_skip=True)
    bad(
        "nested_set",
        "an unsupported value deep inside a map is rejected too",
        {"map": [["ok", i(1)], ["bad", {"array": [{"unsupported": "set"}]}]]},
        may_skip=True,
    )
    bad("depth_65", "an int inside 65 arrays is nested too deep", {"array": [deep]})

    undecodable("ext_fixext1", "fixext 1 is a MessagePack ext type", "d40100", "UnsupportedValue")
    undecodable("ext8", "ext 8 is a MessagePack ext type", "c7010561", "UnsupportedValue")
    undecodable(
        "timestamp_ext",
        "the timestamp ext type (-1) is outside the table",
        "d6ff00000000",
        "UnsupportedValue",
    )
    undecodable("int_key", "a map key that is an int", "810102", "UnsupportedValue")
    undecodable("nil_key", "a map key that is nil", "81c001", "UnsupportedValue")
    undecodable(
        "uint64_over_int64", "2^63 as uint64 is beyond int64", "cf8000000000000000", "UnsupportedValue"
    )
    undecodable("uint64_max", "2^64-1 is beyond int64", "cfffffffffffffffff", "UnsupportedValue")
    undecodable("truncated_array", "an array of 2 with one element", "9201", "MalformedRecord")
    undecodable("truncated_str", "a str of 3 bytes with 2", "a36162", "MalformedRecord")
    undecodable("truncated_uint32", "uint32 with 2 of its 4 bytes", "ce0001", "MalformedRecord")
    undecodable("empty", "no bytes at all", "", "MalformedRecord")
    undecodable("trailing", "bytes after one complete value", "0102", "MalformedRecord")
    undecodable("reserved_c1", "0xc1 is never used", "c1", "MalformedRecord")
    undecodable("invalid_utf8", "a str that is not UTF-8", "a1ff", "MalformedRecord")
    return cases

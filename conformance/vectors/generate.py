"""Writes `v1/*.json` from the cases listed here.

Expected bytes come from the suite's own reference encoders (`typed.py`:
the `msgpack` package; `records.py`: the `protobuf` runtime over a descriptor
written by hand), never from an implementation under test. Bytes that
SPEC.md states outright are asserted against the spec's text below.

Run `.venv/bin/python conformance/vectors/generate.py` after changing a case
and review the diff of the JSON files: the JSON files are the contract.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from conformance import records, typed

OUT = Path(__file__).resolve().parent / "v1"
NOW = 1_700_000_000_000
# SPEC.md section 5.
MAX_DURATION_MS = 3_155_760_000_000
MAX_SCHEDULE_MS = 253_402_300_799_999
MAX_RETRIES = 1_000
Case = dict[str, Any]

# SPEC.md section 6 states these bytes; the generator must agree with the spec's text.
QUEUED = bytes.fromhex("0a03312e301001")
SCHEDULED = bytes.fromhex("0a03312e301002")
assert records.encode("Status", {"spec_version": "1.0", "state": 1}) == QUEUED
assert records.encode("Status", {"spec_version": "1.0", "state": 2}) == SCHEDULED


def i(n: int) -> dict[str, str]:
    return {"int": str(n)}


def s(text: str) -> dict[str, str]:
    return {"str": text}


def write(area: str, description: str, cases: list[Case]) -> None:
    names = [case["name"] for case in cases]
    duplicates = {name for name in names if names.count(name) > 1}
    assert not duplicates, duplicates
    document = {"area": area, "spec_version": "1.0", "description": description, "cases": cases}
    text = json.dumps(document, indent=1, ensure_ascii=False) + "\n"
    (OUT / f"{area}.json").write_text(text, encoding="utf-8")


# ---------------------------------------------------------------- values


def values() -> None:
    cases: list[Case] = []

    def ok(name: str, description: str, value: Any) -> None:
        cases.append(
            {
                "name": f"values.{name}",
                "description": description,
                "op": "encode_value",
                "value": value,
                "hex": typed.pack(value).hex(),
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
    write("values", "Typed values and their canonical MessagePack (SPEC.md section 4).", cases)


# ---------------------------------------------------------------- records


def job_fields(**fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"spec_version": "1.0"}
    out.update(fields)
    return out


def records_area() -> None:
    cases: list[Case] = []

    def record(name: str, description: str, message: str, fields: dict[str, Any]) -> None:
        cases.append(
            {
                "name": f"records.{name}",
                "description": description,
                "op": "encode_record",
                "message": message,
                "fields": fields,
                "hex": records.encode(message, fields).hex(),
            }
        )

    args = typed.pack({"array": [i(1), i(2)]}).hex()
    record(
        "job.minimal",
        "defaults omitted: priority 0 and empty args are not written",
        "Job",
        job_fields(id="j1", task="add"),
    )
    record(
        "job.typical",
        "a queued job with args and the default priority 5",
        "Job",
        job_fields(
            id="0190b6a4-5f7e-7c3a-8b1d-2e4f6a8c0d1e", task="add", args=args, priority=5, enqueued_ms=str(NOW)
        ),
    )
    record(
        "job.all_options",
        "every field set, optional overrides included",
        "Job",
        job_fields(
            id="order-17",
            task="mail.send",
            args=args,
            kwargs=typed.pack({"map": [["to", s("a@example.com")]]}).hex(),
            priority=9,
            enqueued_ms=str(NOW),
            due_ms=str(NOW + 1500),
            attempt=2,
            max_retries=5,
            timeout_ms="30000",
            backoff_ms="250",
            result_ttl_ms="3600000",
        ),
    )
    record(
        "job.optional_zero",
        "optional overrides set to 0 are written (presence matters)",
        "Job",
        job_fields(
            id="j0",
            task="t",
            priority=5,
            enqueued_ms=str(NOW),
            max_retries=0,
            timeout_ms="0",
            backoff_ms="0",
            result_ttl_ms="0",
        ),
    )
    record(
        "job.large_ints",
        "64-bit fields at large values (varints of 9 and 10 bytes)",
        "Job",
        job_fields(
            id="j",
            task="t",
            enqueued_ms=str(2**63 - 1),
            due_ms=str(2**62),
            timeout_ms=str(2**64 - 1),
            max_retries=2**32 - 1,
        ),
    )
    record(
        "job.unicode",
        "UTF-8 id and task name",
        "Job",
        job_fields(id="zamówienie-17", task="żółw.run", priority=1),
    )
    record(
        "status.queued",
        "the QUEUED constant of SPEC.md section 6 and enqueue.lua",
        "Status",
        {"spec_version": "1.0", "state": 1},
    )
    record(
        "status.scheduled",
        "the SCHEDULED constant of SPEC.md section 6 and enqueue.lua",
        "Status",
        {"spec_version": "1.0", "state": 2},
    )
    record(
        "status.aborted_before_run",
        "what a producer passes to abort.lua (SPEC.md section 6)",
        "Status",
        {
            "spec_version": "1.0",
            "state": 6,
            "error": {"type": "JobAborted", "message": "aborted before it ran"},
            "finished_ms": str(NOW),
        },
    )
    record(
        "status.complete",
        "a terminal COMPLETE record with a value",
        "Status",
        {
            "spec_version": "1.0",
            "state": 4,
            "value": typed.pack(i(3)).hex(),
            "attempts": 1,
            "enqueued_ms": str(NOW),
            "started_ms": str(NOW + 5),
            "finished_ms": str(NOW + 7),
            "worker_id": "w-1",
            "task": "add",
        },
    )
    record(
        "status.complete_nil",
        "a COMPLETE record whose value is nil (c0 is not empty)",
        "Status",
        {"spec_version": "1.0", "state": 4, "value": "c0", "attempts": 1, "task": "noop"},
    )
    record(
        "status.failed",
        "a FAILED record: remote type, message and traceback",
        "Status",
        {
            "spec_version": "1.0",
            "state": 5,
            "error": {
                "type": "ValueError",
                "message": "bad input",
                "traceback": 'Traceback (most recent call last):\n  File "tasks.py", line 3\n',
            },
            "attempts": 3,
            "enqueued_ms": str(NOW),
            "started_ms": str(NOW + 1),
            "finished_ms": str(NOW + 2),
            "worker_id": "w-1",
            "task": "fail",
        },
    )
    record(
        "status.dead",
        "a DEAD record names the reason",
        "Status",
        {
            "spec_version": "1.0",
            "state": 7,
            "error": {"type": "DeadLetter", "message": "unknown_task: no task named 'nope'"},
            "finished_ms": str(NOW),
            "worker_id": "w-2",
            "task": "nope",
        },
    )
    assert cases[6]["hex"] == QUEUED.hex()
    assert cases[7]["hex"] == SCHEDULED.hex()

    def malformed(name: str, description: str, message: str, hex_: str) -> None:
        cases.append(
            {
                "name": f"records.undecodable.{name}",
                "description": description,
                "op": "decode_record",
                "message": message,
                "hex": hex_,
                "error": "MalformedRecord",
            }
        )

    malformed("truncated_string", "field 1 says 3 bytes, 1 follows", "Job", "0a0331")
    malformed("truncated_varint", "a varint whose last byte has the continuation bit", "Job", "38ff")
    malformed("bad_wire_type", "wire type 7 does not exist", "Status", "0f")
    cases.append(
        {
            "name": "records.unknown_field_ignored",
            "description": "readers ignore unknown fields (field 99 varint)",
            "op": "decode_record",
            "message": "Status",
            "hex": QUEUED.hex() + "980601",
            "fields": {"spec_version": "1.0", "state": 1},
        }
    )
    write("records", "Job and Status records: fields and their exact protobuf bytes.", cases)


# ---------------------------------------------------------------- enqueue


def keys_of(queue: str, job_id: str, priority: int) -> list[str]:
    prefix = f"ardiq:{{{queue}}}:"
    return [
        f"{prefix}delayed",
        f"{prefix}delayed:jobs",
        f"{prefix}job:{job_id}",
        f"{prefix}stream:{priority}",
    ]


def enqueue_area() -> None:
    cases: list[Case] = []

    def ok(
        name: str,
        description: str,
        *,
        queue: str = "default",
        task: str = "add",
        args: list[Any] | None = None,
        kwargs: list[list[Any]] | None = None,
        options: dict[str, Any],
        now_ms: int = NOW,
    ) -> None:
        args = [] if args is None else args
        kwargs = [] if kwargs is None else kwargs
        job_id = options["job_id"]
        priority = options.get("priority", 5)
        due = 0
        if "delay_ms" in options:
            due = now_ms + options["delay_ms"]
        if "schedule_ms" in options:
            due = options["schedule_ms"]
        if due <= now_ms:
            due = 0
        fields: dict[str, Any] = job_fields(id=job_id, task=task)
        if args:
            fields["args"] = typed.pack_args(args).hex()
        if kwargs:
            fields["kwargs"] = typed.pack_kwargs(kwargs).hex()
        if priority:
            fields["priority"] = priority
        fields["enqueued_ms"] = str(now_ms)
        if due:
            fields["due_ms"] = str(due)
        for option in ("max_retries", "timeout_ms", "backoff_ms", "result_ttl_ms"):
            if option in options:
                fields[option] = options[option] if option == "max_retries" else str(options[option])
        job = records.encode("Job", fields)
        cases.append(
            {
                "name": f"enqueue.{name}",
                "description": description,
                "op": "build_enqueue",
                "queue": queue,
                "task": task,
                "args": args,
                "kwargs": kwargs,
                "options": options,
                "now_ms": now_ms,
                "keys": keys_of(queue, job_id, priority),
                "argv": [job_id.encode().hex(), task.encode().hex(), str(due).encode().hex(), job.hex()],
                "job": fields,
            }
        )

    def bad(
        name: str,
        description: str,
        error: str,
        *,
        queue: str = "default",
        task: str = "add",
        args: list[Any] | None = None,
        kwargs: list[list[Any]] | None = None,
        options: dict[str, Any],
        may_skip: bool = False,
    ) -> None:
        case: Case = {
            "name": f"enqueue.invalid.{name}",
            "description": description,
            "op": "build_enqueue",
            "queue": queue,
            "task": task,
            "args": args or [],
            "kwargs": kwargs or [],
            "options": options,
            "now_ms": NOW,
            "error": error,
        }
        if may_skip:
            case["may_skip"] = True
        cases.append(case)

    ok(
        "defaults",
        "no options but the id: priority 5 is written, due 0, attempt omitted",
        args=[i(1), i(2)],
        options={"job_id": "job-1"},
    )
    ok(
        "no_arguments",
        "no args and no kwargs: both fields are empty bytes (omitted)",
        task="tick",
        options={"job_id": "job-2"},
    )
    ok(
        "kwargs_only",
        "keyword arguments only, in insertion order",
        task="mail.send",
        kwargs=[["to", s("a@example.com")], ["cc", {"array": []}]],
        options={"job_id": "job-3"},
    )
    ok(
        "args_and_kwargs",
        "typed args and kwargs together",
        args=[s("żółw"), {"float": 1.5}, {"bytes": "00ff"}],
        kwargs=[["n", i(-(2**63))]],
        options={"job_id": "job-4"},
    )
    ok(
        "all_options",
        "every option: priority 9 picks stream 9; overrides are written",
        args=[i(1)],
        options={
            "job_id": "order-17",
            "priority": 9,
            "max_retries": 3,
            "timeout_ms": 30000,
            "backoff_ms": 500,
            "result_ttl_ms": 60000,
        },
    )
    ok(
        "options_zero",
        "priority 0 (omitted in the record, stream 0) and zero overrides (written)",
        options={
            "job_id": "job-5",
            "priority": 0,
            "max_retries": 0,
            "timeout_ms": 0,
            "backoff_ms": 0,
            "result_ttl_ms": 0,
        },
    )
    ok("priority_1", "priority 1 picks stream 1", options={"job_id": "job-6", "priority": 1})
    ok(
        "delay",
        "delay_ms becomes due = now + delay; the due string goes to ARGV",
        args=[i(7)],
        options={"job_id": "job-7", "delay_ms": 1500},
    )
    ok("delay_zero", 'delay_ms 0 is due now: run now, due "0"', options={"job_id": "job-8", "delay_ms": 0})
    ok(
        "schedule_future",
        "schedule_ms in the future is the due time as given",
        options={"job_id": "job-9", "schedule_ms": NOW + 60_000},
    )
    ok(
        "schedule_past",
        'schedule_ms in the past runs now: due "0" and due_ms 0',
        options={"job_id": "job-10", "schedule_ms": NOW - 60_000},
    )
    ok(
        "schedule_now",
        "schedule_ms equal to the clock is not later than it: run now",
        options={"job_id": "job-11", "schedule_ms": NOW},
    )
    ok(
        "delay_with_priority",
        "a delayed job keeps its priority in the record and stream key",
        options={"job_id": "job-12", "delay_ms": 10, "priority": 8},
    )
    ok(
        "unicode_names",
        "UTF-8 queue, task and id",
        queue="kolejka-żółw",
        task="żółw.run",
        options={"job_id": "zamówienie-17"},
    )
    ok("id_256_bytes", "a job id of exactly 256 bytes is allowed", options={"job_id": "i" * 256})
    ok(
        "task_256_bytes",
        "a task name of exactly 256 bytes is allowed",
        task="t" * 256,
        options={"job_id": "job-13"},
    )

    bad("empty_task", "a task name must not be empty", "InvalidTaskName", task="", options={"job_id": "x"})
    bad(
        "task_257_bytes",
        "a task name is at most 256 bytes",
        "InvalidTaskName",
        task="t" * 257,
        options={"job_id": "x"},
    )
    bad("empty_id", "a job id must not be empty", "InvalidJobId", options={"job_id": ""})
    bad("id_whitespace", "a job id has no white space", "InvalidJobId", options={"job_id": "a b"})
    bad("id_tab", "a tab is white space too", "InvalidJobId", options={"job_id": "a\tb"})
    bad("id_257_bytes", "a job id is at most 256 bytes", "InvalidJobId", options={"job_id": "i" * 257})
    bad(
        "priority_10",
        "priority 10 is outside 0..9",
        "InvalidPriority",
        options={"job_id": "x", "priority": 10},
    )
    bad(
        "priority_negative",
        "priority -1 is outside 0..9",
        "InvalidPriority",
        options={"job_id": "x", "priority": -1},
    )
    bad(
        "negative_delay",
        "delay_ms must not be negative",
        "InvalidDelay",
        options={"job_id": "x", "delay_ms": -1},
    )
    bad(
        "payload_too_large",
        "a Job record over 1,048,576 bytes is refused before anything is written",
        "PayloadTooLarge",
        args=[{"fill": {"kind": "bytes", "unit": "61", "count": 1_048_576}}],
        options={"job_id": "x"},
    )
    bad(
        "unsupported_arg",
        "a value outside the type table in args",
        "UnsupportedValue",
        args=[i(1), {"unsupported": "int_too_large"}],
        options={"job_id": "x"},
    )
    # Nesting (SPEC.md section 4): the args array and kwargs map are not counted.
    deep: Any = i(1)
    for _ in range(typed.MAX_DEPTH):
        deep = {"array": [deep]}
    too_deep: Any = {"array": [deep]}
    ok(
        "arg_depth_64",
        "an argument nested 64 deep is allowed: the args array itself is not counted",
        args=[deep],
        options={"job_id": "job-14"},
    )
    ok(
        "kwarg_depth_64",
        "a keyword argument nested 64 deep is allowed: the kwargs map itself is not counted",
        kwargs=[["deep", deep]],
        options={"job_id": "job-15"},
    )
    bad(
        "arg_depth_65",
        "an argument nested 65 deep is refused",
        "UnsupportedValue",
        args=[too_deep],
        options={"job_id": "x"},
    )
    bad(
        "kwarg_depth_65",
        "a keyword argument nested 65 deep is refused",
        "UnsupportedValue",
        kwargs=[["deep", too_deep]],
        options={"job_id": "x"},
    )

    # Bounds (SPEC.md section 5): the largest value is allowed, one more is not.
    ok(
        "delay_max",
        "delay_ms of 100 years (3,155,760,000,000) is the largest allowed",
        options={"job_id": "job-16", "delay_ms": MAX_DURATION_MS},
    )
    ok(
        "schedule_max",
        "schedule_ms of 9999-12-31T23:59:59.999Z is the latest allowed",
        options={"job_id": "job-17", "schedule_ms": MAX_SCHEDULE_MS},
    )
    ok(
        "overrides_max",
        "the largest max_retries (1,000) and durations (100 years) are written as given",
        options={
            "job_id": "job-18",
            "max_retries": MAX_RETRIES,
            "timeout_ms": MAX_DURATION_MS,
            "backoff_ms": MAX_DURATION_MS,
            "result_ttl_ms": MAX_DURATION_MS,
        },
    )
    bad(
        "delay_over_max",
        "delay_ms one past 100 years",
        "InvalidDelay",
        options={"job_id": "x", "delay_ms": MAX_DURATION_MS + 1},
    )
    bad(
        "delay_2_64",
        "delay_ms of 2^64 is a typed error, not an overflow",
        "InvalidDelay",
        options={"job_id": "x", "delay_ms": 2**64},
        may_skip=True,
    )
    bad(
        "schedule_over_max",
        "schedule_ms one past 9999-12-31T23:59:59.999Z",
        "InvalidDelay",
        options={"job_id": "x", "schedule_ms": MAX_SCHEDULE_MS + 1},
    )
    bad(
        "negative_schedule",
        "schedule_ms must not be negative (it is not 'in the past')",
        "InvalidDelay",
        options={"job_id": "x", "schedule_ms": -1},
    )
    bad(
        "delay_and_schedule",
        "delay_ms and schedule_ms together",
        "InvalidDelay",
        options={"job_id": "x", "delay_ms": 10, "schedule_ms": NOW + 10},
        may_skip=True,
    )
    bad(
        "max_retries_over_max",
        "max_retries of 1,001",
        "InvalidOption",
        options={"job_id": "x", "max_retries": MAX_RETRIES + 1},
    )
    bad(
        "max_retries_negative",
        "max_retries of -1",
        "InvalidOption",
        options={"job_id": "x", "max_retries": -1},
        may_skip=True,
    )
    for option in ("timeout_ms", "backoff_ms", "result_ttl_ms"):
        bad(
            f"{option}_over_max",
            f"{option} one past 100 years",
            "InvalidOption",
            options={"job_id": "x", option: MAX_DURATION_MS + 1},
        )
        bad(
            f"{option}_negative",
            f"{option} of -1",
            "InvalidOption",
            options={"job_id": "x", option: -1},
            may_skip=True,
        )
    bad(
        "result_ttl_ms_2_63",
        "result_ttl_ms of 2^63 (a uint64 in the record, but no Redis TTL) is refused at enqueue",
        "InvalidOption",
        options={"job_id": "x", "result_ttl_ms": 2**63},
    )
    bad(
        "priority_bool",
        "a boolean is not a priority, although some languages count it as an int",
        "InvalidPriority",
        options={"job_id": "x", "priority": True},
        may_skip=True,
    )
    bad(
        "priority_fraction",
        "a non-integral priority",
        "InvalidPriority",
        options={"job_id": "x", "priority": 1.5},
        may_skip=True,
    )
    bad(
        "max_retries_bool",
        "a boolean is not a retry count",
        "InvalidOption",
        options={"job_id": "x", "max_retries": True},
        may_skip=True,
    )

    # Names (SPEC.md sections 1 and 5).
    ok(
        "queue_128_bytes",
        "a queue name of exactly 128 bytes is allowed",
        queue="q" * 128,
        options={"job_id": "job-19"},
    )
    ok(
        "id_not_white_space",
        "U+001F and U+200B are not White_Space: allowed in a job id",
        options={"job_id": "a\u001fb\u200bc"},
    )
    bad(
        "queue_empty", "a queue name must not be empty", "InvalidQueueName", queue="", options={"job_id": "x"}
    )
    bad(
        "queue_129_bytes",
        "a queue name is at most 128 bytes",
        "InvalidQueueName",
        queue="q" * 129,
        options={"job_id": "x"},
    )
    bad(
        "queue_brace",
        "a queue name has no braces (they are the hash tag)",
        "InvalidQueueName",
        queue="a{b",
        options={"job_id": "x"},
    )
    bad(
        "queue_white_space",
        "U+3000 IDEOGRAPHIC SPACE is white space",
        "InvalidQueueName",
        queue="a\u3000b",
        options={"job_id": "x"},
    )
    bad("id_nel", "U+0085 NEXT LINE is white space", "InvalidJobId", options={"job_id": "a\u0085b"})
    write("enqueue", "build_enqueue: one job's exact enqueue.lua KEYS and ARGV at a fixed clock.", cases)


# ---------------------------------------------------------------- scripts

P = "ardiq:{q}:"
STATUS = {
    "complete": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 4,
            "value": "03",
            "attempts": 1,
            "enqueued_ms": str(NOW),
            "started_ms": str(NOW + 5),
            "finished_ms": str(NOW + 7),
            "worker_id": "w1",
            "task": "add",
        },
    ),
    "failed": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 5,
            "error": {"type": "ValueError", "message": "no"},
            "attempts": 1,
            "worker_id": "w1",
            "task": "add",
        },
    ),
    "aborted": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 6,
            "error": {"type": "JobAborted", "message": "aborted before it ran"},
            "finished_ms": str(NOW),
        },
    ),
    "dead": records.encode(
        "Status",
        {
            "spec_version": "1.0",
            "state": 7,
            "error": {"type": "DeadLetter", "message": "unknown_task"},
            "worker_id": "w1",
            "task": "nope",
        },
    ),
}


def hx(data: bytes) -> dict[str, str]:
    return {"hex": data.hex()}


def tx(text: str) -> dict[str, str]:
    return {"text": text}


def job(job_id: str, task: str = "add", priority: int = 5, **extra: Any) -> bytes:
    fields = job_fields(id=job_id, task=task, args=typed.pack({"array": [i(1), i(2)]}).hex())
    if priority:
        fields["priority"] = priority
    fields["enqueued_ms"] = str(NOW)
    fields.update(extra)
    return records.encode("Job", fields)


def string(key: str, value: bytes, ttl_ms: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"key": key, "type": "string", "value": hx(value)}
    if ttl_ms is not None:
        out["ttl_ms"] = ttl_ms
    return out


def entry(job_id: str, record: bytes, task: str = "add", entry_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "fields": [[tx("id"), tx(job_id)], [tx("task"), tx(task)], [tx("job"), hx(record)]]
    }
    if entry_id is not None:
        out["id"] = entry_id
    return out


def scripts_area() -> None:
    cases: list[Case] = []

    def case(
        name: str,
        description: str,
        script: str,
        before: list[Any],
        keys: list[str],
        argv: list[Any],
        reply: Any,
        after: list[Any],
        published: list[Any] | None = None,
    ) -> None:
        item: Case = {
            "name": f"scripts.{name}",
            "description": description,
            "script": script,
            "before": before,
            "keys": keys,
            "argv": argv,
            "reply": reply,
            "after": after,
        }
        if published is not None:
            item["published"] = published
        cases.append(item)

    j1, j2, j3 = job("j1"), job("j2", priority=9), job("j3", priority=0)
    enq_keys = [P + "delayed", P + "delayed:jobs"]
    new_id = {"entry_id": {"key": P + "stream:5", "index": 0}}

    # enqueue.lua
    case(
        "enqueue.queued",
        'due "0": status QUEUED (SETNX) and one stream entry id, task, job',
        "enqueue",
        [],
        [*enq_keys, P + "job:j1", P + "stream:5"],
        [tx("j1"), tx("add"), tx("0"), hx(j1)],
        {"array": [new_id]},
        [
            string(P + "job:j1", QUEUED),
            {"key": P + "stream:5", "type": "stream", "entries": [entry("j1", j1)]},
        ],
    )
    case(
        "enqueue.scheduled",
        "due > 0: status SCHEDULED, the record in delayed:jobs, the id in delayed",
        "enqueue",
        [],
        [*enq_keys, P + "job:j1", P + "stream:5"],
        [tx("j1"), tx("add"), tx(str(NOW + 1500)), hx(j1)],
        {"array": [{"bulk": tx("scheduled")}]},
        [
            string(P + "job:j1", SCHEDULED),
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 1500]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(j1)]]},
        ],
    )
    case(
        "enqueue.duplicate_queued",
        "an id whose status key exists is a duplicate: reply 0, nothing written",
        "enqueue",
        [string(P + "job:j1", QUEUED)],
        [*enq_keys, P + "job:j1", P + "stream:5"],
        [tx("j1"), tx("add"), tx("0"), hx(j1)],
        {"array": [{"int": 0}]},
        [string(P + "job:j1", QUEUED)],
    )
    case(
        "enqueue.duplicate_of_result",
        "a kept result also makes the id a duplicate",
        "enqueue",
        [string(P + "job:j1", STATUS["complete"])],
        [*enq_keys, P + "job:j1", P + "stream:5"],
        [tx("j1"), tx("add"), tx(str(NOW + 10)), hx(j1)],
        {"array": [{"int": 0}]},
        [string(P + "job:j1", STATUS["complete"])],
    )
    case(
        "enqueue.batch",
        "a batch: queued on stream 9, scheduled, and a duplicate of the first",
        "enqueue",
        [],
        [*enq_keys, P + "job:j2", P + "stream:9", P + "job:j3", P + "stream:0", P + "job:j2", P + "stream:9"],
        [
            tx("j2"),
            tx("add"),
            tx("0"),
            hx(j2),
            tx("j3"),
            tx("add"),
            tx(str(NOW)),
            hx(j3),
            tx("j2"),
            tx("add"),
            tx("0"),
            hx(j2),
        ],
        {"array": [{"entry_id": {"key": P + "stream:9", "index": 0}}, {"bulk": tx("scheduled")}, {"int": 0}]},
        [
            string(P + "job:j2", QUEUED),
            string(P + "job:j3", SCHEDULED),
            {"key": P + "stream:9", "type": "stream", "entries": [entry("j2", j2)]},
            {"key": P + "delayed", "type": "zset", "members": [[tx("j3"), NOW]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j3"), hx(j3)]]},
        ],
    )

    # status.lua
    st_keys = [P + "job:j1", P + "running", P + "delayed"]

    def status(name: str, description: str, before: list[Any], state: str, record: bytes | None) -> None:
        reply = {"array": [{"bulk": tx(state)}, {"nil": None} if record is None else {"bulk": hx(record)}]}
        case(f"status.{name}", description, "status", before, st_keys, [tx("j1")], reply, before)

    status("not_found", "no status key: not_found and a nil record", [], "not_found", None)
    status("queued", "QUEUED and not running", [string(P + "job:j1", QUEUED)], "queued", QUEUED)
    status(
        "scheduled",
        "SCHEDULED and in delayed",
        [
            string(P + "job:j1", SCHEDULED),
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW]]},
        ],
        "scheduled",
        SCHEDULED,
    )
    status(
        "promoted",
        "SCHEDULED but no longer in delayed (promoted): queued",
        [string(P + "job:j1", SCHEDULED)],
        "queued",
        SCHEDULED,
    )
    status(
        "running",
        "a field of running wins over QUEUED",
        [
            string(P + "job:j1", QUEUED),
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")]]},
        ],
        "running",
        QUEUED,
    )
    status(
        "running_after_retry",
        "SCHEDULED in delayed and running (a retry raced a read): running",
        [
            string(P + "job:j1", SCHEDULED),
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")]]},
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW]]},
        ],
        "running",
        SCHEDULED,
    )
    for state in ("complete", "failed", "aborted", "dead"):
        status(
            state,
            f"a terminal {state.upper()} record is returned with its state",
            [string(P + "job:j1", STATUS[state])],
            state,
            STATUS[state],
        )
    status(
        "terminal_wins_over_running",
        "a terminal record wins over a stale running field",
        [
            string(P + "job:j1", STATUS["complete"]),
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")]]},
        ],
        "complete",
        STATUS["complete"],
    )

    # abort.lua
    ab_keys = [P + "job:j1", P + "delayed", P + "delayed:jobs", P + "abort"]
    aborted = STATUS["aborted"]
    ab_argv = [tx("j1"), tx("86400000"), hx(aborted), tx(P + "events")]
    case(
        "abort.not_found",
        "no status key: not_found, nothing written",
        "abort",
        [],
        ab_keys,
        ab_argv,
        {"bulk": tx("not_found")},
        [],
    )
    scheduled_before = [
        string(P + "job:j1", SCHEDULED),
        {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 1500], [tx("j9"), NOW]]},
        {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(j1)], [tx("j9"), hx(j1)]]},
    ]
    rest = [
        {"key": P + "delayed", "type": "zset", "members": [[tx("j9"), NOW]]},
        {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j9"), hx(j1)]]},
    ]
    case(
        "abort.scheduled",
        "a scheduled job is aborted at once: the given record with the TTL, out of delayed",
        "abort",
        scheduled_before,
        ab_keys,
        ab_argv,
        {"bulk": tx("aborted")},
        [string(P + "job:j1", aborted, ttl_ms=86400000), *rest],
        published=[],
    )
    case(
        "abort.scheduled_ttl_zero",
        'TTL "0" deletes the status key instead',
        "abort",
        scheduled_before,
        ab_keys,
        [tx("j1"), tx("0"), hx(aborted), tx(P + "events")],
        {"bulk": tx("aborted")},
        rest,
    )
    own_ttl = job("j1", result_ttl_ms="5000")
    case(
        "abort.scheduled_own_ttl",
        "the job record's result_ttl_ms wins over ARGV's TTL; a stale abort request is cleared",
        "abort",
        [
            string(P + "job:j1", SCHEDULED),
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 1500]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(own_ttl)]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
        ],
        ab_keys,
        ab_argv,
        {"bulk": tx("aborted")},
        [string(P + "job:j1", aborted, ttl_ms=5000)],
    )
    queued_before = [
        string(P + "job:j1", QUEUED),
        {"key": P + "stream:5", "type": "stream", "entries": [entry("j1", j1, entry_id="1-0")]},
    ]
    case(
        "abort.queued",
        "a queued job gets a request in the abort set and an abort:<id> event",
        "abort",
        queued_before,
        ab_keys,
        ab_argv,
        {"bulk": tx("abort_requested")},
        [*queued_before, {"key": P + "abort", "type": "set", "members": [tx("j1")]}],
        published=[[P + "events", "abort:j1"]],
    )
    running_before = [
        string(P + "job:j1", QUEUED),
        {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")]]},
    ]
    case(
        "abort.running",
        "a running job gets a request too",
        "abort",
        running_before,
        ab_keys,
        ab_argv,
        {"bulk": tx("abort_requested")},
        [*running_before, {"key": P + "abort", "type": "set", "members": [tx("j1")]}],
        published=[[P + "events", "abort:j1"]],
    )
    case(
        "abort.promoted",
        "SCHEDULED but promoted (not in delayed) is queued: a request",
        "abort",
        [string(P + "job:j1", SCHEDULED)],
        ab_keys,
        ab_argv,
        {"bulk": tx("abort_requested")},
        [string(P + "job:j1", SCHEDULED), {"key": P + "abort", "type": "set", "members": [tx("j1")]}],
    )
    for state in ("complete", "failed", "aborted", "dead"):
        case(
            f"abort.{state}",
            f"a {state} job is left alone; the reply names its state",
            "abort",
            [string(P + "job:j1", STATUS[state])],
            ab_keys,
            ab_argv,
            {"bulk": tx(state)},
            [string(P + "job:j1", STATUS[state])],
            published=[],
        )

    # promote.lua
    pr_keys = [P + "delayed", P + "delayed:jobs", *[P + f"stream:{p}" for p in range(10)]]
    j7, j0 = job("j7", priority=7, due_ms=str(NOW)), job("j0", task="tick", priority=0)
    case(
        "promote.due",
        "due jobs move to their priority's stream; the next due time is returned",
        "promote",
        [
            {
                "key": P + "delayed",
                "type": "zset",
                "members": [[tx("j7"), NOW], [tx("j0"), NOW + 1], [tx("j1"), NOW + 5000]],
            },
            {
                "key": P + "delayed:jobs",
                "type": "hash",
                "fields": [[tx("j7"), hx(j7)], [tx("j0"), hx(j0)], [tx("j1"), hx(j1)]],
            },
        ],
        pr_keys,
        [tx(str(NOW + 1)), tx("100")],
        {"array": [{"int": 2}, {"int": NOW + 5000}]},
        [
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 5000]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(j1)]]},
            {"key": P + "stream:7", "type": "stream", "entries": [entry("j7", j7)]},
            {"key": P + "stream:0", "type": "stream", "entries": [entry("j0", j0, task="tick")]},
        ],
    )
    case(
        "promote.limit",
        "at most ARGV[2] jobs move, earliest first",
        "promote",
        [
            {"key": P + "delayed", "type": "zset", "members": [[tx("j7"), NOW], [tx("j0"), NOW + 1]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j7"), hx(j7)], [tx("j0"), hx(j0)]]},
        ],
        pr_keys,
        [tx(str(NOW + 10)), tx("1")],
        {"array": [{"int": 1}, {"int": NOW + 1}]},
        [
            {"key": P + "delayed", "type": "zset", "members": [[tx("j0"), NOW + 1]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j0"), hx(j0)]]},
            {"key": P + "stream:7", "type": "stream", "entries": [entry("j7", j7)]},
        ],
    )
    case(
        "promote.none_left",
        "everything due moves; -1 says nothing is delayed any more",
        "promote",
        [
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(j1)]]},
        ],
        pr_keys,
        [tx(str(NOW)), tx("100")],
        {"array": [{"int": 1}, {"int": -1}]},
        [{"key": P + "stream:5", "type": "stream", "entries": [entry("j1", j1)]}],
    )
    case(
        "promote.nothing_due",
        "nothing due: nothing moves, the earliest due time is returned",
        "promote",
        [
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 5]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(j1)]]},
        ],
        pr_keys,
        [tx(str(NOW)), tx("100")],
        {"array": [{"int": 0}, {"int": NOW + 5}]},
        [
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 5]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(j1)]]},
        ],
    )
    case(
        "promote.empty",
        "no delayed jobs at all",
        "promote",
        [],
        pr_keys,
        [tx(str(NOW)), tx("100")],
        {"array": [{"int": 0}, {"int": -1}]},
        [],
    )

    # finish.lua
    group_w1 = [{"name": "ardiq", "reads": [{"consumer": "w1", "count": 10}]}]
    fin_before = [
        {
            "key": P + "stream:5",
            "type": "stream",
            "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
            "groups": group_w1,
        },
        {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")], [tx("j4"), tx("w1")]]},
        {"key": P + "abort", "type": "set", "members": [tx("j1")]},
    ]
    complete = STATUS["complete"]
    case(
        "finish.one",
        "stores the terminal record with its TTL, acks and deletes the entry, clears running and abort",
        "finish",
        fin_before,
        [P + "running", P + "abort", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("1-0"), tx("j1"), tx("86400000"), hx(complete)],
        {"array": []},
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("j4", job("j4"), entry_id="2-0")],
                "groups": [{"name": "ardiq", "pending": [{"id": "2-0", "consumer": "w1", "deliveries": 1}]}],
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            string(P + "job:j1", complete, ttl_ms=86400000),
        ],
    )
    case(
        "finish.ttl_zero",
        'TTL "0" keeps no result: the status key is deleted',
        "finish",
        [string(P + "job:j1", QUEUED), *fin_before],
        [P + "running", P + "abort", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("1-0"), tx("j1"), tx("0"), hx(complete)],
        {"array": []},
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("j4", job("j4"), entry_id="2-0")],
                "groups": [{"name": "ardiq", "pending": [{"id": "2-0", "consumer": "w1", "deliveries": 1}]}],
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
        ],
    )
    failed = STATUS["failed"]
    case(
        "finish.batch_two_streams",
        "a batch over two streams: each stream acked and emptied",
        "finish",
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("j1", j1, entry_id="1-0")],
                "groups": group_w1,
            },
            {
                "key": P + "stream:9",
                "type": "stream",
                "entries": [entry("j2", j2, entry_id="1-0")],
                "groups": group_w1,
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")], [tx("j2"), tx("w1")]]},
        ],
        [P + "running", P + "abort", P + "stream:5", P + "job:j1", P + "stream:9", P + "job:j2"],
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx("j1"),
            tx("60000"),
            hx(complete),
            tx("1-0"),
            tx("j2"),
            tx("60000"),
            hx(failed),
        ],
        {"array": []},
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [],
                "groups": [{"name": "ardiq", "pending": []}],
            },
            {
                "key": P + "stream:9",
                "type": "stream",
                "entries": [],
                "groups": [{"name": "ardiq", "pending": []}],
            },
            string(P + "job:j1", complete, ttl_ms=60000),
            string(P + "job:j2", failed, ttl_ms=60000),
        ],
    )

    # A stream whose entry 1-0 (j1) another consumer reclaimed: w1 owns only 2-0 (j4).
    reclaimed_before = [
        string(P + "job:j1", QUEUED),
        {
            "key": P + "stream:5",
            "type": "stream",
            "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
            "groups": [
                {"name": "ardiq", "reads": [{"consumer": "w2", "count": 1}, {"consumer": "w1", "count": 1}]}
            ],
        },
        {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w2")], [tx("j4"), tx("w1")]]},
        {"key": P + "abort", "type": "set", "members": [tx("j1")]},
    ]
    reclaimed_after = [
        string(P + "job:j1", QUEUED),
        {
            "key": P + "stream:5",
            "type": "stream",
            "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
            "groups": [
                {
                    "name": "ardiq",
                    "pending": [
                        {"id": "1-0", "consumer": "w2", "deliveries": 1},
                        {"id": "2-0", "consumer": "w1", "deliveries": 1},
                    ],
                }
            ],
        },
        {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w2")], [tx("j4"), tx("w1")]]},
        {"key": P + "abort", "type": "set", "members": [tx("j1")]},
    ]
    case(
        "finish.not_owned",
        "an entry another consumer owns now: nothing is written for it, its job id is the reply",
        "finish",
        reclaimed_before,
        [P + "running", P + "abort", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("1-0"), tx("j1"), tx("86400000"), hx(complete)],
        {"array": [{"bulk": tx("j1")}]},
        reclaimed_after,
    )
    case(
        "finish.partly_owned",
        "a batch where one entry was reclaimed: the owned one is finished, the other left alone",
        "finish",
        reclaimed_before,
        [P + "running", P + "abort", P + "stream:5", P + "job:j1", P + "stream:5", P + "job:j4"],
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx("j1"),
            tx("86400000"),
            hx(complete),
            tx("2-0"),
            tx("j4"),
            tx("86400000"),
            hx(complete),
        ],
        {"array": [{"bulk": tx("j1")}]},
        [
            string(P + "job:j1", QUEUED),
            string(P + "job:j4", complete, ttl_ms=86400000),
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("j1", j1, entry_id="1-0")],
                "groups": [{"name": "ardiq", "pending": [{"id": "1-0", "consumer": "w2", "deliveries": 1}]}],
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w2")]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
        ],
    )
    case(
        "finish.stream_gone",
        "the stream and its group are gone (FLUSHALL): nothing is owned, nothing written",
        "finish",
        [],
        [P + "running", P + "abort", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("1-0"), tx("j1"), tx("86400000"), hx(complete)],
        {"array": [{"bulk": tx("j1")}]},
        [],
    )

    # retry.lua
    retried = job("j1", attempt=1, due_ms=str(NOW + 2000))
    retry_keys = [P + "stream:5", P + "job:j1", P + "delayed", P + "delayed:jobs", P + "running"]
    retry_keys.append(P + "abort")
    retry_argv = [tx("ardiq"), tx("w1"), tx("1-0"), tx("j1"), tx(str(NOW + 2000)), hx(retried)]
    retry_argv += [hx(aborted), tx("86400000")]
    other_abort: dict[str, Any] = {"key": P + "abort", "type": "set", "members": [tx("j9")]}
    kept = [k for k in fin_before if cast(dict[str, Any], k)["key"] != P + "abort"]
    retry_before = [string(P + "job:j1", QUEUED), *kept, other_abort]
    stream_left = {
        "key": P + "stream:5",
        "type": "stream",
        "entries": [entry("j4", job("j4"), entry_id="2-0")],
        "groups": [{"name": "ardiq", "pending": [{"id": "2-0", "consumer": "w1", "deliveries": 1}]}],
    }
    case(
        "retry.one",
        "the entry leaves the stream and running; the next attempt waits in delayed, status SCHEDULED",
        "retry",
        retry_before,
        retry_keys,
        retry_argv,
        {"int": 1},
        [
            stream_left,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            other_abort,
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 2000]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(retried)]]},
            string(P + "job:j1", SCHEDULED),
        ],
    )
    case(
        "retry.aborted_meanwhile",
        "an abort requested while the run failed wins: status ABORTED with its TTL, no next attempt",
        "retry",
        [string(P + "job:j1", QUEUED), *fin_before],
        retry_keys,
        retry_argv,
        {"int": 0},
        [
            stream_left,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            string(P + "job:j1", aborted, ttl_ms=86400000),
        ],
    )

    case(
        "retry.not_owned",
        "an entry another consumer owns now: reply -1, nothing written",
        "retry",
        reclaimed_before,
        retry_keys,
        retry_argv,
        {"int": -1},
        reclaimed_after,
    )

    # dead_letter.lua
    dead_status = STATUS["dead"]
    letter = records.encode(
        "DeadLetter",
        {
            "spec_version": "1.0",
            "job_id": "j1",
            "task": "nope",
            "reason": "unknown_task",
            "detail": "no task named 'nope'",
            "job": j1.hex(),
            "stream_id": "1-0",
            "dead_ms": str(NOW),
            "worker_id": "w1",
        },
    )
    dl_keys = [P + "stream:5", P + "dead", P + "running", P + "job:j1"]
    dead_entry = {
        "fields": [
            [tx("id"), tx("j1")],
            [tx("task"), tx("nope")],
            [tx("reason"), tx("unknown_task")],
            [tx("record"), hx(letter)],
        ]
    }
    stream_after = {
        "key": P + "stream:5",
        "type": "stream",
        "entries": [entry("j4", job("j4"), entry_id="2-0")],
        "groups": [{"name": "ardiq", "pending": [{"id": "2-0", "consumer": "w1", "deliveries": 1}]}],
    }
    dl_reply = {"entry_id": {"key": P + "dead", "index": 0}}
    case(
        "dead_letter.known_id",
        "the entry moves to the dead stream; status DEAD with its TTL; out of running",
        "dead_letter",
        [string(P + "job:j1", QUEUED), *fin_before],
        dl_keys,
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx("j1"),
            tx("nope"),
            tx("unknown_task"),
            hx(letter),
            hx(dead_status),
            tx("86400000"),
            tx("100000"),
        ],
        dl_reply,
        [
            stream_after,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
            {"key": P + "dead", "type": "stream", "entries": [dead_entry]},
            string(P + "job:j1", dead_status, ttl_ms=86400000),
        ],
    )
    case(
        "dead_letter.ttl_zero",
        'status TTL "0" deletes the status key',
        "dead_letter",
        [string(P + "job:j1", QUEUED), *fin_before],
        dl_keys,
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx("j1"),
            tx("nope"),
            tx("unknown_task"),
            hx(letter),
            hx(dead_status),
            tx("0"),
            tx("100000"),
        ],
        dl_reply,
        [
            stream_after,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
            {"key": P + "dead", "type": "stream", "entries": [dead_entry]},
        ],
    )
    anonymous = records.encode(
        "DeadLetter",
        {
            "spec_version": "1.0",
            "reason": "malformed_entry",
            "detail": "the entry has no id field",
            "stream_id": "1-0",
            "dead_ms": str(NOW),
            "worker_id": "w1",
        },
    )
    case(
        "dead_letter.unknown_id",
        "an entry without a readable id: dead entry with empty id and task; no status",
        "dead_letter",
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [{"id": "1-0", "fields": [[tx("junk"), tx("1")]]}],
                "groups": group_w1,
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
        ],
        [P + "stream:5", P + "dead", P + "running", P + "job:"],
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx(""),
            tx(""),
            tx("malformed_entry"),
            hx(anonymous),
            tx(""),
            tx("0"),
            tx("100000"),
        ],
        dl_reply,
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [],
                "groups": [{"name": "ardiq", "pending": []}],
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            {
                "key": P + "dead",
                "type": "stream",
                "entries": [
                    {
                        "fields": [
                            [tx("id"), tx("")],
                            [tx("task"), tx("")],
                            [tx("reason"), tx("malformed_entry")],
                            [tx("record"), hx(anonymous)],
                        ]
                    }
                ],
            },
        ],
    )
    case(
        "dead_letter.keep_status",
        "an empty Status argument leaves the status key alone",
        "dead_letter",
        [string(P + "job:j1", QUEUED), *fin_before],
        dl_keys,
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx("j1"),
            tx("nope"),
            tx("unknown_task"),
            hx(letter),
            tx(""),
            tx("86400000"),
            tx("100000"),
        ],
        dl_reply,
        [
            stream_after,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
            {"key": P + "dead", "type": "stream", "entries": [dead_entry]},
            string(P + "job:j1", QUEUED),
        ],
    )

    case(
        "dead_letter.not_owned",
        "an entry another consumer owns now: reply 0, nothing written",
        "dead_letter",
        reclaimed_before,
        dl_keys,
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx("j1"),
            tx("nope"),
            tx("unknown_task"),
            hx(letter),
            hx(dead_status),
            tx("86400000"),
            tx("100000"),
        ],
        {"int": 0},
        reclaimed_after,
    )

    # fetch.lua
    def fetch_state(
        levels: dict[int, list[tuple[str, str]]],
        pending: dict[int, list[str]],
        running: list[str],
        aborts: list[str],
    ) -> list[Any]:
        """All ten streams with the group, `running` and `abort`; `levels`: priority -> (job id, entry id)."""
        states: list[Any] = []
        for priority in range(9, -1, -1):
            group: dict[str, Any] = {"name": "ardiq"}
            if priority in pending:
                group["pending"] = [
                    {"id": entry_id, "consumer": "w1", "deliveries": 1} for entry_id in pending[priority]
                ]
            states.append(
                {
                    "key": P + f"stream:{priority}",
                    "type": "stream",
                    "entries": [
                        entry(job_id, job(job_id, priority=priority), entry_id=entry_id)
                        for job_id, entry_id in levels.get(priority, [])
                    ],
                    "groups": [group],
                }
            )
        if running:
            states.append(
                {"key": P + "running", "type": "hash", "fields": [[tx(i), tx("w1")] for i in running]}
            )
        if aborts:
            states.append({"key": P + "abort", "type": "set", "members": [tx(i) for i in aborts]})
        return states

    def fetch_reply(
        levels: dict[int, list[tuple[str, str]]], taken: dict[int, int], aborted: list[str]
    ) -> Any:
        streams = []
        for priority in sorted(taken, reverse=True):
            entries = []
            for job_id, entry_id in levels[priority][: taken[priority]]:
                record = job(job_id, priority=priority)
                fields = [tx("id"), tx(job_id), tx("task"), tx("add"), tx("job"), hx(record)]
                entries.append({"array": [{"bulk": tx(entry_id)}, {"array": [{"bulk": f} for f in fields]}]})
            streams.append({"array": [{"bulk": tx(P + f"stream:{priority}")}, {"array": entries}]})
        return {"array": [{"array": streams}, {"array": [{"bulk": tx(i)} for i in aborted]}]}

    fetch_levels = {9: [("j9", "1-0")], 5: [("j1", "1-0"), ("j4", "2-0"), ("j5", "3-0")], 1: [("jl", "1-0")]}
    fetch_keys = [P + "running", P + "abort", *(P + f"stream:{p}" for p in range(9, -1, -1))]
    case(
        "fetch.higher_levels_first",
        (
            "levels are read from 9 down, each asked only for what is still missing: 3 wanted takes"
            " the one entry of level 9 and the first two of level 5, level 1 is not read; the ids read"
            " go to running for the consumer, and those in abort come back"
        ),
        "fetch",
        fetch_state(fetch_levels, {}, [], ["j4", "jl"]),
        fetch_keys,
        [tx("ardiq"), tx("w1"), tx("3")],
        fetch_reply(fetch_levels, {9: 1, 5: 2}, ["j4"]),
        fetch_state(fetch_levels, {9: ["1-0"], 5: ["1-0", "2-0"]}, ["j9", "j1", "j4"], ["j4", "jl"]),
    )
    case(
        "fetch.every_level_when_short",
        "more wanted than queued: every level with entries gives them all, highest first",
        "fetch",
        fetch_state(fetch_levels, {}, [], []),
        fetch_keys,
        [tx("ardiq"), tx("w1"), tx("10")],
        fetch_reply(fetch_levels, {9: 1, 5: 3, 1: 1}, []),
        fetch_state(
            fetch_levels,
            {9: ["1-0"], 5: ["1-0", "2-0", "3-0"], 1: ["1-0"]},
            ["j9", "j1", "j4", "j5", "jl"],
            [],
        ),
    )
    case(
        "fetch.none",
        "nothing queued: two empty arrays, nothing written",
        "fetch",
        fetch_state({}, {}, [], []),
        fetch_keys,
        [tx("ardiq"), tx("w1"), tx("200")],
        {"array": [{"array": []}, {"array": []}]},
        fetch_state({}, {}, [], []),
    )

    # renew.lua
    renew_before = [
        {
            "key": P + "stream:5",
            "type": "stream",
            "entries": [
                entry("j1", j1, entry_id="1-0"),
                entry("j4", job("j4"), entry_id="2-0"),
                entry("j5", job("j5"), entry_id="3-0"),
            ],
            "groups": [
                {
                    "name": "ardiq",
                    "reads": [{"consumer": "w1", "count": 2}, {"consumer": "w2", "count": 1}],
                    "idle_ms": 600_000,
                }
            ],
        }
    ]
    renew_after = [
        {
            "key": P + "stream:5",
            "type": "stream",
            "entries": [
                entry("j1", j1, entry_id="1-0"),
                entry("j4", job("j4"), entry_id="2-0"),
                entry("j5", job("j5"), entry_id="3-0"),
            ],
            "groups": [
                {
                    "name": "ardiq",
                    "pending": [
                        {"id": "1-0", "consumer": "w1", "deliveries": 1, "max_idle_ms": 60_000},
                        {"id": "2-0", "consumer": "w1", "deliveries": 1, "max_idle_ms": 60_000},
                        {"id": "3-0", "consumer": "w2", "deliveries": 1, "min_idle_ms": 600_000},
                    ],
                }
            ],
        }
    ]
    untouched = cast(list[dict[str, Any]], json.loads(json.dumps(renew_after)))
    for item in untouched[0]["groups"][0]["pending"]:
        item.pop("max_idle_ms", None)
        item["min_idle_ms"] = 600_000
    case(
        "renew.owned_only",
        (
            "returns the ids the consumer still owns; another consumer's entry and an unknown id"
            " are not taken; no delivery is counted"
        ),
        "renew",
        renew_before,
        [P + "stream:5"],
        [tx("ardiq"), tx("w1"), tx("1-0"), tx("3-0"), tx("2-0"), tx("9-0")],
        {"array": [{"bulk": tx("1-0")}, {"bulk": tx("2-0")}]},
        renew_after,
    )
    case(
        "renew.none",
        "nothing owned: an empty reply",
        "renew",
        renew_before,
        [P + "stream:5"],
        [tx("ardiq"), tx("w3"), tx("1-0")],
        {"array": []},
        untouched,
    )
    many = 150
    many_entries = [entry(f"m{n}", b"", entry_id=f"{n + 1}-0") for n in range(many)]
    case(
        "renew.many",
        "150 entries in one call (past the XCLAIM chunk of 100): every one renewed, none left idle",
        "renew",
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": many_entries,
                "groups": [
                    {"name": "ardiq", "reads": [{"consumer": "w1", "count": many}], "idle_ms": 600_000}
                ],
            }
        ],
        [P + "stream:5"],
        [tx("ardiq"), tx("w1"), *[tx(f"{n + 1}-0") for n in range(many)]],
        {"array": [{"bulk": tx(f"{n + 1}-0")} for n in range(many)]},
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": many_entries,
                "groups": [
                    {
                        "name": "ardiq",
                        "pending": [
                            {"id": f"{n + 1}-0", "consumer": "w1", "deliveries": 1, "max_idle_ms": 60_000}
                            for n in range(many)
                        ],
                    }
                ],
            }
        ],
    )

    # release.lua
    handed_back = 999_999_999_000
    case(
        "release.owned_only",
        (
            "owned entries stay pending with an idle time past any visibility timeout and leave"
            " running; a reclaimed one is left alone"
        ),
        "release",
        reclaimed_before,
        [P + "stream:5", P + "running"],
        [tx("ardiq"), tx("w1"), tx("1000000000000"), tx("1-0"), tx("j1"), tx("2-0"), tx("j4")],
        {"array": [{"bulk": tx("2-0")}]},
        [
            string(P + "job:j1", QUEUED),
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
                "groups": [
                    {
                        "name": "ardiq",
                        "pending": [
                            {"id": "1-0", "consumer": "w2", "deliveries": 1, "max_idle_ms": 60_000},
                            {"id": "2-0", "consumer": "w1", "deliveries": 1, "min_idle_ms": handed_back},
                        ],
                    }
                ],
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w2")]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
        ],
    )

    # retire.lua
    retire_stream = {
        "key": P + "stream:5",
        "type": "stream",
        "entries": [entry("j1", j1, entry_id="1-0")],
        "groups": [
            {
                "name": "ardiq",
                "consumers": ["gone-idle", "alive"],
                "reads": [{"consumer": "gone-busy", "count": 1}],
            }
        ],
    }
    beat = string(P + "worker:alive", b"beat", ttl_ms=15_000)
    case(
        "retire.gone_and_empty_only",
        (
            "a consumer without heartbeat and pending entries is deleted; one with an entry, or"
            " with a heartbeat, is kept"
        ),
        "retire",
        [retire_stream, beat],
        [P + "stream:5", P + "worker:gone-busy", P + "worker:gone-idle", P + "worker:alive"],
        [tx("ardiq"), tx("gone-busy"), tx("gone-idle"), tx("alive")],
        {"array": [{"bulk": tx("gone-idle")}]},
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("j1", j1, entry_id="1-0")],
                "groups": [
                    {
                        "name": "ardiq",
                        "consumers": ["gone-busy", "alive"],
                        "pending": [{"id": "1-0", "consumer": "gone-busy", "deliveries": 1}],
                    }
                ],
            },
            beat,
        ],
    )

    # replay.lua
    replay_job = job("j1", attempt=0)
    dead_before = {
        "key": P + "dead",
        "type": "stream",
        "entries": [
            {
                "id": "5-0",
                "fields": [
                    [tx("id"), tx("j1")],
                    [tx("task"), tx("add")],
                    [tx("reason"), tx("delivery_limit")],
                    [tx("record"), hx(letter)],
                ],
            }
        ],
    }
    case(
        "replay.present",
        "the dead letter is removed, status QUEUED without TTL, a new stream entry",
        "replay",
        [dead_before, string(P + "job:j1", dead_status, ttl_ms=None)],
        [P + "dead", P + "job:j1", P + "stream:5"],
        [tx("5-0"), tx("j1"), tx("add"), hx(replay_job)],
        new_id,
        [
            {"key": P + "dead", "type": "stream", "entries": []},
            string(P + "job:j1", QUEUED),
            {"key": P + "stream:5", "type": "stream", "entries": [entry("j1", replay_job)]},
        ],
    )
    case(
        "replay.gone",
        "a dead letter that is gone: reply 0 and nothing written",
        "replay",
        [string(P + "job:j1", dead_status)],
        [P + "dead", P + "job:j1", P + "stream:5"],
        [tx("5-0"), tx("j1"), tx("add"), hx(replay_job)],
        {"int": 0},
        [string(P + "job:j1", dead_status)],
    )
    write(
        "scripts",
        "Every spec script against a real Redis: keys before, KEYS and ARGV, reply, keys after.",
        cases,
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    values()
    records_area()
    enqueue_area()
    scripts_area()


if __name__ == "__main__":
    main()

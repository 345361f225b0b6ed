"""The `enqueue` area: one job's exact `enqueue.lua` KEYS and ARGV at a fixed clock, and the
typed error of every invalid name, option and value (SPEC.md sections 1, 4 and 5)."""

from __future__ import annotations

from typing import Any

from conformance import records, typed
from conformance.vectors.builders import (
    MAX_DURATION_MS,
    MAX_RETRIES,
    MAX_SCHEDULE_MS,
    NOW,
    Case,
    i,
    job_fields,
    s,
)

DESCRIPTION = "build_enqueue: one job's exact enqueue.lua KEYS and ARGV at a fixed clock."


def keys_of(queue: str, job_id: str, priority: int) -> list[str]:
    prefix = f"ardiq:{{{queue}}}:"
    return [
        f"{prefix}delayed",
        f"{prefix}delayed:jobs",
        f"{prefix}job:{job_id}",
        f"{prefix}stream:{priority}",
    ]


def build() -> list[Case]:
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
        for option in ("max_retries", "timeout_ms", "backoff_ms", "result_ttl_ms", "expires_ms"):
            if option in options:
                fields[option] = options[option] if option == "max_retries" else str(options[option])
        if "expires_ms" in options:
            # A record that sets a 1.1 field says so (SPEC.md section 12).
            fields["spec_version"] = "1.1"
        if options.get("headers"):
            # A name given again replaces its value; entries sorted by name.
            fields["headers"] = dict(sorted(dict(options["headers"]).items()))
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
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    ok(
        "headers",
        "1.1: headers given out of order are written sorted by name; a name given again keeps its last value",
        args=[i(1)],
        options={
            "job_id": "job-h1",
            "headers": [["tracestate", "v=1"], ["traceparent", traceparent], ["tracestate", "vendor=opaque"]],
        },
    )
    ok(
        "headers_at_limits",
        "1.1: 64 headers, a name of 256 bytes and a value of 8192 bytes are allowed",
        options={
            "job_id": "job-h2",
            "headers": [["n" * 256, "v" * 8192], *([f"h{n:02d}", "żółw"] for n in range(63))],
        },
    )
    for name, description, headers in (
        ("headers_65", "1.1: 65 headers are one too many", [[f"h{n:02d}", "v"] for n in range(65)]),
        ("header_name_257", "1.1: a header name of 257 bytes", [["n" * 257, "v"]]),
        ("header_name_empty", "1.1: an empty header name", [["", "v"]]),
        ("header_name_white_space", "1.1: a header name with white space", [["trace parent", "v"]]),
        ("header_value_empty", "1.1: an empty header value", [["a", ""]]),
        ("header_value_8193", "1.1: a header value of 8193 bytes", [["a", "v" * 8193]]),
    ):
        bad(name, description, "InvalidOption", options={"job_id": "job-hx", "headers": headers})
    bad(
        "header_value_not_a_string",
        "1.1: a header value that is not a string is refused, never converted",
        "InvalidOption",
        options={"job_id": "job-hx", "headers": [["a", 1]]},
        may_skip=True,
    )
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

    # Expiry (1.1, SPEC.md sections 5 and 17).
    ok(
        "expires",
        'expires_ms later than the clock: field 14, and the record says "1.1"',
        options={"job_id": "job-20", "expires_ms": NOW + 200},
    )
    ok(
        "expires_after_due",
        "a delayed job may expire after its due time",
        options={"job_id": "job-21", "delay_ms": 1_000, "expires_ms": NOW + 1_001},
    )
    ok(
        "expires_max",
        "expires_ms of 9999-12-31T23:59:59.999Z is the latest allowed",
        options={"job_id": "job-22", "expires_ms": MAX_SCHEDULE_MS},
    )
    ok(
        "expires_schedule_in_the_past",
        "a schedule_ms in the past runs now (due 0), so only the clock bounds expires_ms",
        options={"job_id": "job-23", "schedule_ms": NOW - 5_000, "expires_ms": NOW + 1},
    )
    bad(
        "expires_now",
        "expires_ms equal to the clock: the job could never start",
        "InvalidOption",
        options={"job_id": "x", "expires_ms": NOW},
    )
    bad(
        "expires_past",
        "expires_ms in the past",
        "InvalidOption",
        options={"job_id": "x", "expires_ms": NOW - 1},
    )
    bad(
        "expires_at_due",
        "expires_ms not later than the due time of a delayed job",
        "InvalidOption",
        options={"job_id": "x", "delay_ms": 1_000, "expires_ms": NOW + 1_000},
    )
    bad(
        "expires_over_max",
        "expires_ms one past 9999-12-31T23:59:59.999Z",
        "InvalidOption",
        options={"job_id": "x", "expires_ms": MAX_SCHEDULE_MS + 1},
    )
    bad(
        "expires_fraction",
        "a non-integral expires_ms",
        "InvalidOption",
        options={"job_id": "x", "expires_ms": NOW + 0.5},
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
    return cases

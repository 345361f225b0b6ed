"""Script cases of the operators' scripts (spec 1.1, SPEC.md section 20): `inspect.lua` (a
queue at a glance), `held.lua` (a page of held entries), `scheduled.lua` (a page of scheduled
jobs) and `purge.lua` (jobs no worker holds yet)."""

from __future__ import annotations

from typing import Any

from conformance.vectors.builders import NOW, QUEUED, SCHEDULED, Case
from conformance.vectors.scripts.states import P, ScriptCases, entry, job, string, tx

STREAMS = [P + f"stream:{p}" for p in range(10)]
INSPECT_KEYS = [*STREAMS, P + "delayed", P + "running", P + "dead", P + "failed", P + "workers"]
HELD_KEYS = [*STREAMS, P + "running"]
#: An idle time the case cannot fix: an entry read while the database was seeded.
IDLE = {"int_range": {"min": 0, "max": 60_000}}


def level(waiting: int, held: int, oldest: str = "") -> dict[str, Any]:
    oldest_reply: dict[str, Any] = {"bulk": tx(oldest)} if oldest else {"bulk": tx("")}
    return {"array": [{"int": waiting}, {"int": held}, oldest_reply]}


def build() -> list[Case]:
    cases = ScriptCases()
    case = cases.case
    j5a, j5b, j5c, j9 = job("a"), job("b"), job("c"), job("n", priority=9)
    level5 = {
        "key": P + "stream:5",
        "type": "stream",
        "entries": [
            entry("a", j5a, entry_id="10-0"),
            entry("b", j5b, entry_id="11-0"),
            entry("c", j5c, entry_id="12-0"),
        ],
        "groups": [{"name": "ardiq", "reads": [{"consumer": "w1", "count": 1}]}],
    }
    level9 = {"key": P + "stream:9", "type": "stream", "entries": [entry("n", j9, entry_id="20-0")]}
    others = [
        {
            "key": P + "delayed",
            "type": "zset",
            "members": [[tx("s2"), NOW + 100], [tx("s1"), NOW + 500]],
        },
        {"key": P + "running", "type": "hash", "fields": [[tx("a"), tx("w1")]]},
        # w3 was seen 60 s ago: gone, and no longer counted; w2 a moment less.
        {
            "key": P + "workers",
            "type": "zset",
            "members": [[tx("w3"), NOW - 60_000], [tx("w2"), NOW - 59_999], [tx("w1"), NOW]],
        },
    ]
    state = [level5, level9, *others]
    after_state = [
        {
            **level5,
            "groups": [{"name": "ardiq", "pending": [{"id": "10-0", "consumer": "w1", "deliveries": 1}]}],
        },
        level9,
        *others,
    ]
    levels = [level(0, 0)] * 10
    levels[5] = level(2, 1, "11-0")
    levels[9] = level(1, 0, "20-0")
    case(
        "inspect.counts",
        "per level: waiting (XLEN minus pending), held, the oldest waiting entry (after the group's "
        "last delivered id, or the first without a group); scheduled, next due, running, dead, failed, "
        "workers seen less than 60 s before now, keys",
        "inspect",
        state,
        INSPECT_KEYS,
        [tx("ardiq"), tx(str(NOW))],
        {
            "array": [
                {"array": levels},
                {"int": 2},
                {"int": NOW + 100},
                {"int": 1},
                {"int": 0},
                {"int": 0},
                {"int": 2},
                {"int": 5},
            ]
        },
        after_state,
    )
    case(
        "inspect.no_such_queue",
        "a queue without any key: every count 0, no due time, no key",
        "inspect",
        [],
        INSPECT_KEYS,
        [tx("ardiq"), tx(str(NOW))],
        {
            "array": [
                {"array": [level(0, 0)] * 10},
                {"int": 0},
                {"int": -1},
                {"int": 0},
                {"int": 0},
                {"int": 0},
                {"int": 0},
                {"int": 0},
            ]
        },
        [],
    )

    # held.lua: w1 holds 10-0 and 11-0 of level 5 (11-0 handed back: not in running), w2 20-0 of 9.
    held_state = [
        {**level5, "groups": [{"name": "ardiq", "reads": [{"consumer": "w1", "count": 2}]}]},
        {**level9, "groups": [{"name": "ardiq", "reads": [{"consumer": "w2", "count": 1}]}]},
        {"key": P + "running", "type": "hash", "fields": [[tx("a"), tx("w1")], [tx("n"), tx("w2")]]},
    ]
    held_after = [
        {
            **level5,
            "groups": [
                {
                    "name": "ardiq",
                    "pending": [
                        {"id": "10-0", "consumer": "w1", "deliveries": 1},
                        {"id": "11-0", "consumer": "w1", "deliveries": 1},
                    ],
                }
            ],
        },
        {
            **level9,
            "groups": [{"name": "ardiq", "pending": [{"id": "20-0", "consumer": "w2", "deliveries": 1}]}],
        },
        held_state[2],
    ]

    def held(
        level_no: int, entry_id: str, consumer: str, job_id: str, record: bytes, owner: str
    ) -> dict[str, Any]:
        return {
            "array": [
                {"int": level_no},
                {"bulk": tx(entry_id)},
                {"bulk": tx(consumer)},
                IDLE,
                {"int": 1},
                {"bulk": tx(job_id)},
                {"bulk": tx("add")},
                {"bulk": {"hex": record.hex()}},
                {"bulk": tx(owner)},
            ]
        }

    case(
        "held.first_page",
        "level 9 first, then 5, oldest first; the worker `running` names, empty for a handed-back entry; "
        "a full page names where the next starts",
        "held",
        held_state,
        HELD_KEYS,
        [tx("ardiq"), tx("9"), tx(""), tx("2")],
        {
            "array": [
                {"bulk": tx("5:10-0")},
                {"array": [held(9, "20-0", "w2", "n", j9, "w2"), held(5, "10-0", "w1", "a", j5a, "w1")]},
            ]
        },
        held_after,
    )
    case(
        "held.next_page",
        "the page after 5:10-0 holds the rest and ends the listing",
        "held",
        held_state,
        HELD_KEYS,
        [tx("ardiq"), tx("5"), tx("10-0"), tx("2")],
        {"array": [{"bulk": tx("")}, {"array": [held(5, "11-0", "w1", "b", j5b, "")]}]},
        held_after,
    )

    # scheduled.lua: B, a and c are due at T (ties in byte order: "B" < "a"), d later and its
    # record gone; b, the last job of a page before, was aborted or promoted since.
    due_at = NOW + 100
    jb, ja, jc = job("B"), job("a"), job("c")

    def scheduled_state(*ids: str) -> list[dict[str, Any]]:
        scores = {"B": due_at, "a": due_at, "b": due_at, "c": due_at, "d": due_at + 100}
        records = {"B": jb, "a": ja, "b": job("b"), "c": jc}
        return [
            {"key": P + "delayed", "type": "zset", "members": [[tx(j), scores[j]] for j in ids]},
            {
                "key": P + "delayed:jobs",
                "type": "hash",
                "fields": [[tx(j), {"hex": records[j].hex()}] for j in ids if j in records],
            },
        ]

    def scheduled(job_id: str, due: int, record: bytes) -> dict[str, Any]:
        return {"array": [{"bulk": tx(job_id)}, {"int": due}, {"bulk": {"hex": record.hex()}}]}

    scheduled_keys = [P + "delayed", P + "delayed:jobs"]
    listed = scheduled_state("B", "a", "c", "d")
    case(
        "scheduled.first_page",
        "soonest first, ties in byte order; a page with more after it names its last job as `<due>:<job id>`",
        "scheduled",
        listed,
        scheduled_keys,
        [tx(""), tx(""), tx("2")],
        {
            "array": [
                {"bulk": tx(f"{due_at}:a")},
                {"array": [scheduled("B", due_at, jb), scheduled("a", due_at, ja)]},
            ]
        },
        listed,
    )
    case(
        "scheduled.after_a_gone_job",
        "the page after a job no longer scheduled starts at the next one in order, skipping none "
        "of its ties; a record gone is empty; the last page names no next",
        "scheduled",
        listed,
        scheduled_keys,
        [tx(str(due_at)), tx("b"), tx("2")],
        {
            "array": [
                {"bulk": tx("")},
                {"array": [scheduled("c", due_at, jc), scheduled("d", due_at + 100, b"")]},
            ]
        },
        listed,
    )

    # purge.lua: 10-0 is pending (fetched), 11-0 and 12-0 wait; s1 is scheduled, s9 is not.
    purge_before = [
        level5,
        string(P + "job:a", QUEUED),
        string(P + "job:b", QUEUED),
        string(P + "job:c", QUEUED),
        string(P + "job:s1", SCHEDULED),
        {"key": P + "delayed", "type": "zset", "members": [[tx("s1"), NOW + 500]]},
        {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("s1"), {"hex": job("s1").hex()}]]},
    ]
    case(
        "purge.waiting_and_scheduled",
        "waiting entries and scheduled jobs go with their status keys; a fetched entry and a job no "
        "longer in delayed stay",
        "purge",
        purge_before,
        [
            P + "stream:5",
            P + "delayed",
            P + "delayed:jobs",
            P + "job:a",
            P + "job:b",
            P + "job:c",
            P + "job:s1",
            P + "job:s9",
        ],
        [
            tx("ardiq"),
            tx("10-0"),
            tx("a"),
            tx("11-0"),
            tx("b"),
            tx("12-0"),
            tx("c"),
            tx(""),
            tx("s1"),
            tx(""),
            tx("s9"),
        ],
        {"int": 3},
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("a", j5a, entry_id="10-0")],
                "groups": [{"name": "ardiq", "pending": [{"id": "10-0", "consumer": "w1", "deliveries": 1}]}],
            },
            string(P + "job:a", QUEUED),
        ],
    )
    case(
        "purge.no_group",
        "a stream no worker has read yet (no group): every entry named is waiting",
        "purge",
        [
            {"key": P + "stream:9", "type": "stream", "entries": [entry("n", j9, entry_id="20-0")]},
            string(P + "job:n", QUEUED),
        ],
        [P + "stream:9", P + "delayed", P + "delayed:jobs", P + "job:n"],
        [tx("ardiq"), tx("20-0"), tx("n")],
        {"int": 1},
        [{"key": P + "stream:9", "type": "stream", "entries": []}],
    )
    return cases

"""Script cases of a worker holding entries: `fetch.lua`, `renew.lua`, `release.lua` (hand back),
`retire.lua` (gone consumers), and `replay.lua` (a dead letter back in its stream)."""

from __future__ import annotations

import json
from typing import Any, cast

from conformance.vectors.builders import QUEUED, Case
from conformance.vectors.scripts.states import (
    P,
    ScriptCases,
    dead_status,
    entry,
    hx,
    j1,
    job,
    letter,
    new_id,
    reclaimed_before,
    string,
    three_entries,
    tx,
)


def build() -> list[Case]:
    cases = ScriptCases()
    case = cases.case

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
        # Per level one flat array: the stream key, then per entry its id, its field count and fields.
        streams = []
        for priority in sorted(taken, reverse=True):
            flat: list[Any] = [{"bulk": tx(P + f"stream:{priority}")}]
            for job_id, entry_id in levels[priority][: taken[priority]]:
                record = job(job_id, priority=priority)
                fields = [tx("id"), tx(job_id), tx("task"), tx("add"), tx("job"), hx(record)]
                flat += [{"bulk": tx(entry_id)}, {"int": len(fields)}, *({"bulk": f} for f in fields)]
            streams.append({"array": flat})
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
    # An id field given twice: the last one counts, as a map of the entry's fields keeps it.
    twice = [[tx("id"), tx("first")], [tx("task"), tx("add")], [tx("job"), hx(job("second"))]]
    twice.append([tx("id"), tx("second")])

    def twice_state(pending: bool, running: list[str]) -> list[Any]:
        group: dict[str, Any] = {"name": "ardiq"}
        if pending:
            group["pending"] = [{"id": "1-0", "consumer": "w1", "deliveries": 1}]
        states: list[Any] = [
            {
                "key": P + f"stream:{priority}",
                "type": "stream",
                "entries": [{"id": "1-0", "fields": twice}] if priority == 5 else [],
                "groups": [group if priority == 5 else {"name": "ardiq"}],
            }
            for priority in range(9, -1, -1)
        ]
        if running:
            states.append(
                {"key": P + "running", "type": "hash", "fields": [[tx(i), tx("w1")] for i in running]}
            )
        states.append({"key": P + "abort", "type": "set", "members": [tx("second")]})
        return states

    twice_flat: list[Any] = [{"bulk": tx(P + "stream:5")}, {"bulk": tx("1-0")}, {"int": 8}]
    twice_flat += [{"bulk": item} for pair in twice for item in pair]
    case(
        "fetch.last_id_field",
        (
            "an entry that gives its id field twice: the last one goes to running and is the one"
            " looked up in abort, as a map of the entry's fields keeps it"
        ),
        "fetch",
        twice_state(False, []),
        fetch_keys,
        [tx("ardiq"), tx("w1"), tx("10")],
        {"array": [{"array": [{"array": twice_flat}]}, {"array": [{"bulk": tx("second")}]}]},
        twice_state(True, ["second"]),
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
            "entries": three_entries(),
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
        "replay.kept_failure",
        "1.1: a kept failure is replayed the same way, from the kept-failures stream",
        "replay",
        [{**dead_before, "key": P + "failed"}, string(P + "job:j1", dead_status)],
        [P + "failed", P + "job:j1", P + "stream:5"],
        [tx("5-0"), tx("j1"), tx("add"), hx(replay_job)],
        new_id,
        [
            {"key": P + "failed", "type": "stream", "entries": []},
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
    return cases

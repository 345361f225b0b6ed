"""Script cases of a job coming in, being read and aborted: `enqueue.lua`, `status.lua`,
`abort.lua`, and `promote.lua` moving it from delayed to its stream when due."""

from __future__ import annotations

from typing import Any

from conformance.vectors.builders import NOW, QUEUED, SCHEDULED, Case
from conformance.vectors.scripts.states import (
    STATUS,
    P,
    ScriptCases,
    aborted,
    entry,
    hx,
    j1,
    j2,
    j3,
    job,
    new_id,
    string,
    tx,
)


def build() -> list[Case]:
    cases = ScriptCases()
    case = cases.case

    enq_keys = [P + "delayed", P + "delayed:jobs"]

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
    for state in ("complete", "failed", "aborted", "dead", "expired"):
        status(
            state,
            f"a terminal {state.upper()} record is returned with its state",
            [string(P + "job:j1", STATUS[state])],
            state,
            STATUS[state],
        )
    status(
        "running_with_progress",
        "a RUNNING record with progress (1.1) is returned as it is while the job runs",
        [
            string(P + "job:j1", STATUS["running_progress"]),
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")]]},
        ],
        "running",
        STATUS["running_progress"],
    )
    status(
        "handed_back_with_progress",
        "a RUNNING record of a job no longer in running (handed back) reads as queued",
        [string(P + "job:j1", STATUS["running_progress"])],
        "queued",
        STATUS["running_progress"],
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
    ab_keys = [P + "job:j1", P + "delayed", P + "delayed:jobs", P + "abort", P + "waiters"]
    ab_argv = [tx("j1"), tx("86400000"), hx(aborted), tx(P + "events"), tx(str(NOW))]
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
        [tx("j1"), tx("0"), hx(aborted), tx(P + "events"), tx(str(NOW))],
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
    case(
        "abort.scheduled_tells_waiters",
        "aborting a scheduled job someone waits on publishes done:<id> and removes the wait (1.1)",
        "abort",
        [
            *scheduled_before,
            {
                "key": P + "waiters",
                "type": "zset",
                "members": [[tx("j1"), NOW + 60_000], [tx("j8"), NOW + 60_000]],
            },
        ],
        ab_keys,
        ab_argv,
        {"bulk": tx("aborted")},
        [
            string(P + "job:j1", aborted, ttl_ms=86400000),
            *rest,
            {"key": P + "waiters", "type": "zset", "members": [[tx("j8"), NOW + 60_000]]},
        ],
        published=[[P + "events", "done:j1"]],
    )
    case(
        "abort.scheduled_wait_passed",
        "a wait whose deadline has passed is not told (nor removed: wait.lua clears it)",
        "abort",
        [*scheduled_before, {"key": P + "waiters", "type": "zset", "members": [[tx("j1"), NOW - 1]]}],
        ab_keys,
        ab_argv,
        {"bulk": tx("aborted")},
        [
            string(P + "job:j1", aborted, ttl_ms=86400000),
            *rest,
            {"key": P + "waiters", "type": "zset", "members": [[tx("j1"), NOW - 1]]},
        ],
        published=[],
    )
    for state in ("complete", "failed", "aborted", "dead", "expired"):
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

    # wait.lua (1.1)
    wt_keys = [P + "waiters"]
    case(
        "wait.register",
        "registers waits with their deadline, clears passed ones, tells workers someone waits",
        "wait",
        [{"key": P + "waiters", "type": "zset", "members": [[tx("old"), NOW - 1], [tx("j9"), NOW + 5]]}],
        wt_keys,
        [tx(str(NOW)), tx(str(NOW + 30_000)), tx(P + "events"), tx("j1"), tx("j2")],
        {"int": 3},
        [
            {
                "key": P + "waiters",
                "type": "zset",
                "members": [[tx("j9"), NOW + 5], [tx("j1"), NOW + 30_000], [tx("j2"), NOW + 30_000]],
            }
        ],
        published=[[P + "events", f"waiting:{NOW + 30_000}"]],
    )
    case(
        "wait.keeps_the_later_deadline",
        "a shorter wait on a job someone waits on longer does not shorten that wait (ZADD GT)",
        "wait",
        [{"key": P + "waiters", "type": "zset", "members": [[tx("j1"), NOW + 60_000]]}],
        wt_keys,
        [tx(str(NOW)), tx(str(NOW + 1_000)), tx(P + "events"), tx("j1")],
        {"int": 1},
        [{"key": P + "waiters", "type": "zset", "members": [[tx("j1"), NOW + 60_000]]}],
        published=[[P + "events", f"waiting:{NOW + 1_000}"]],
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
    return cases

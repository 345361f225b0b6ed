"""Script cases of a run ending: `finish.lua`, `retry.lua` and `dead_letter.lua`, each only for
entries the worker still owns."""

from __future__ import annotations

from typing import Any, cast

from conformance import records
from conformance.vectors.builders import NOW, QUEUED, SCHEDULED, Case
from conformance.vectors.scripts.states import (
    STATUS,
    P,
    ScriptCases,
    aborted,
    dead_status,
    entry,
    fin_before,
    group_w1,
    hx,
    j1,
    j2,
    job,
    letter,
    reclaimed_after,
    reclaimed_before,
    string,
    three_entries,
    tx,
)


def build() -> list[Case]:
    cases = ScriptCases()
    case = cases.case

    # finish.lua
    complete = STATUS["complete"]
    case(
        "finish.one",
        "stores the terminal record with its TTL, acks and deletes the entry, clears running and abort",
        "finish",
        fin_before,
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("0"), tx(P + "events"), tx("1-0"), tx("j1"), tx("86400000"), hx(complete)],
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
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("0"), tx(P + "events"), tx("1-0"), tx("j1"), tx("0"), hx(complete)],
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
        [
            P + "running",
            P + "abort",
            P + "waiters",
            P + "stream:5",
            P + "job:j1",
            P + "stream:9",
            P + "job:j2",
        ],
        [
            tx("ardiq"),
            tx("w1"),
            tx("0"),
            tx(P + "events"),
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

    case(
        "finish.not_owned",
        "an entry another consumer owns now: nothing is written for it, its job id is the reply",
        "finish",
        reclaimed_before,
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("0"), tx(P + "events"), tx("1-0"), tx("j1"), tx("86400000"), hx(complete)],
        {"array": [{"bulk": tx("j1")}]},
        reclaimed_after,
    )
    case(
        "finish.partly_owned",
        "a batch where one entry was reclaimed: the owned one is finished, the other left alone",
        "finish",
        reclaimed_before,
        [
            P + "running",
            P + "abort",
            P + "waiters",
            P + "stream:5",
            P + "job:j1",
            P + "stream:5",
            P + "job:j4",
        ],
        [
            tx("ardiq"),
            tx("w1"),
            tx("0"),
            tx(P + "events"),
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
    # Acked entries below the group's oldest pending one go with XTRIM MINID, the others by id.
    three = [
        {
            "key": P + "stream:5",
            "type": "stream",
            "entries": three_entries(),
            "groups": [{"name": "ardiq", "reads": [{"consumer": "w1", "count": 3}]}],
        },
        {
            "key": P + "running",
            "type": "hash",
            "fields": [[tx("j1"), tx("w1")], [tx("j4"), tx("w1")], [tx("j5"), tx("w1")]],
        },
    ]

    def left(job_id: str, entry_id: str) -> list[Any]:
        pending = {"id": entry_id, "consumer": "w1", "deliveries": 1}
        return [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry(job_id, j1 if job_id == "j1" else job(job_id), entry_id=entry_id)],
                "groups": [{"name": "ardiq", "pending": [pending]}],
            },
            {"key": P + "running", "type": "hash", "fields": [[tx(job_id), tx("w1")]]},
        ]

    def finishing(*jobs: tuple[str, str]) -> tuple[list[str], list[Any]]:
        keys = [P + "running", P + "abort", P + "waiters"]
        argv = [tx("ardiq"), tx("w1"), tx("0"), tx(P + "events")]
        for job_id, entry_id in jobs:
            keys += [P + "stream:5", P + "job:" + job_id]
            argv += [tx(entry_id), tx(job_id), tx("60000"), hx(complete)]
        return keys, argv

    keys, argv = finishing(("j4", "2-0"), ("j5", "3-0"))
    case(
        "finish.behind_an_older_entry",
        "the two newer entries finish while the oldest still runs: both are deleted, the oldest stays",
        "finish",
        three,
        keys,
        argv,
        {"array": []},
        [
            *left("j1", "1-0"),
            string(P + "job:j4", complete, ttl_ms=60000),
            string(P + "job:j5", complete, ttl_ms=60000),
        ],
    )
    keys, argv = finishing(("j5", "3-0"), ("j1", "1-0"))
    case(
        "finish.around_a_running_entry",
        "the newest and the oldest entry finish, newest first, while the middle one runs: "
        "both are deleted, the middle one stays",
        "finish",
        three,
        keys,
        argv,
        {"array": []},
        [
            *left("j4", "2-0"),
            string(P + "job:j5", complete, ttl_ms=60000),
            string(P + "job:j1", complete, ttl_ms=60000),
        ],
    )
    case(
        "finish.stream_gone",
        "the stream and its group are gone (FLUSHALL): nothing is owned, nothing written",
        "finish",
        [],
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("0"), tx(P + "events"), tx("1-0"), tx("j1"), tx("86400000"), hx(complete)],
        {"array": [{"bulk": tx("j1")}]},
        [],
    )

    # finish.lua telling waiters (1.1)
    waited = {
        "key": P + "waiters",
        "type": "zset",
        "members": [[tx("old"), NOW - 1], [tx("j1"), NOW + 60_000], [tx("j9"), NOW + 60_000]],
    }
    # What `waited` keeps once j1's wait is told: the passed wait and another job's.
    waits_left = {
        "key": P + "waiters",
        "type": "zset",
        "members": [[tx("old"), NOW - 1], [tx("j9"), NOW + 60_000]],
    }
    finish_after = [
        {
            "key": P + "stream:5",
            "type": "stream",
            "entries": [entry("j4", job("j4"), entry_id="2-0")],
            "groups": [{"name": "ardiq", "pending": [{"id": "2-0", "consumer": "w1", "deliveries": 1}]}],
        },
        {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
        string(P + "job:j1", complete, ttl_ms=86400000),
    ]
    case(
        "finish.tells_waiters",
        "with the worker's clock in ARGV[3], a finished job someone waits on is published as done:<id> "
        "and its wait removed; passed and other waits stay",
        "finish",
        [*fin_before, waited],
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1"],
        [
            tx("ardiq"),
            tx("w1"),
            tx(str(NOW)),
            tx(P + "events"),
            tx("1-0"),
            tx("j1"),
            tx("86400000"),
            hx(complete),
        ],
        {"array": []},
        [
            *finish_after,
            waits_left,
        ],
        published=[[P + "events", "done:j1"]],
    )
    case(
        "finish.nobody_waits",
        'ARGV[3] "0" (the worker knows of no wait): the waiters zset is not read, nothing published',
        "finish",
        [*fin_before, waited],
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1"],
        [tx("ardiq"), tx("w1"), tx("0"), tx(P + "events"), tx("1-0"), tx("j1"), tx("86400000"), hx(complete)],
        {"array": []},
        [*finish_after, waited],
        published=[],
    )
    case(
        "finish.expired",
        "an EXPIRED record is stored like any terminal record (1.1)",
        "finish",
        fin_before,
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1"],
        [
            tx("ardiq"),
            tx("w1"),
            tx("0"),
            tx(P + "events"),
            tx("1-0"),
            tx("j1"),
            tx("86400000"),
            hx(STATUS["expired"]),
        ],
        {"array": []},
        [*finish_after[:2], string(P + "job:j1", STATUS["expired"], ttl_ms=86400000)],
    )

    # finish.lua with kept failures (1.1)
    failure = records.encode(
        "Failure",
        {
            "spec_version": "1.0",
            "job_id": "j4",
            "task": "add",
            "job": job("j4").hex(),
            "error": {"type": "ValueError", "message": "no"},
            "attempts": 1,
            "started_ms": str(NOW + 5),
            "failed_ms": str(NOW + 7),
            "worker_id": "w1",
        },
    )
    kept_argv = [tx("10000"), tx("604800000"), tx(str(NOW - 604_800_000))]
    case(
        "finish.kept_failure",
        "1.1: a job that failed for good is also added to the kept-failures stream, which gets the "
        "retention as its TTL; the job that completed is not kept",
        "finish",
        fin_before,
        [
            P + "running",
            P + "abort",
            P + "waiters",
            P + "stream:5",
            P + "job:j1",
            P + "stream:5",
            P + "job:j4",
            P + "failed",
        ],
        [
            tx("ardiq"),
            tx("w1"),
            tx("0"),
            tx(P + "events"),
            tx("1-0"),
            tx("j1"),
            tx("86400000"),
            hx(complete),
            tx("2-0"),
            tx("j4"),
            tx("86400000"),
            hx(failed),
            *kept_argv,
            tx("2"),
            tx("add"),
            tx("ValueError"),
            hx(failure),
        ],
        {"array": []},
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [],
                "groups": [{"name": "ardiq", "pending": []}],
            },
            string(P + "job:j1", complete, ttl_ms=86400000),
            string(P + "job:j4", failed, ttl_ms=86400000),
            {
                "key": P + "failed",
                "type": "stream",
                "ttl_ms": 604800000,
                "entries": [
                    {
                        "fields": [
                            [tx("id"), tx("j4")],
                            [tx("task"), tx("add")],
                            [tx("type"), tx("ValueError")],
                            [tx("record"), hx(failure)],
                        ]
                    }
                ],
            },
        ],
    )
    case(
        "finish.kept_failure_not_owned",
        "1.1: a failure whose entry another worker owns now is neither finished nor kept",
        "finish",
        reclaimed_before,
        [P + "running", P + "abort", P + "waiters", P + "stream:5", P + "job:j1", P + "failed"],
        [
            *[tx("ardiq"), tx("w1"), tx("0"), tx(P + "events"), tx("1-0"), tx("j1"), tx("86400000")],
            *[hx(failed), *kept_argv],
            *[tx("1"), tx("add"), tx("ValueError"), hx(failure)],
        ],
        {"array": [{"bulk": tx("j1")}]},
        reclaimed_after,
    )

    # retry.lua
    retried = job("j1", attempt=1, due_ms=str(NOW + 2000))
    retry_keys = [P + "stream:5", P + "job:j1", P + "delayed", P + "delayed:jobs", P + "running"]
    retry_keys += [P + "abort", P + "waiters"]
    retry_argv = [tx("ardiq"), tx("w1"), tx("1-0"), tx("j1"), tx(str(NOW + 2000)), hx(retried)]
    retry_argv += [hx(aborted), tx("86400000"), tx("0"), tx(P + "events")]
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
        "retry.aborted_tells_waiters",
        "an abort that ends the job instead of its retry tells its waiters (1.1)",
        "retry",
        [string(P + "job:j1", QUEUED), *fin_before, waited],
        retry_keys,
        [*retry_argv[:-2], tx(str(NOW)), tx(P + "events")],
        {"int": 0},
        [
            stream_left,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            string(P + "job:j1", aborted, ttl_ms=86400000),
            waits_left,
        ],
        published=[[P + "events", "done:j1"]],
    )
    case(
        "retry.scheduled_tells_nobody",
        "a scheduled retry has not ended the job: waiters are not told",
        "retry",
        [*retry_before, waited],
        retry_keys,
        [*retry_argv[:-2], tx(str(NOW)), tx(P + "events")],
        {"int": 1},
        [
            stream_left,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            other_abort,
            {"key": P + "delayed", "type": "zset", "members": [[tx("j1"), NOW + 2000]]},
            {"key": P + "delayed:jobs", "type": "hash", "fields": [[tx("j1"), hx(retried)]]},
            string(P + "job:j1", SCHEDULED),
            waited,
        ],
        published=[],
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
    dl_keys = [P + "stream:5", P + "dead", P + "running", P + "job:j1", P + "waiters"]
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
            tx("0"),
            tx(P + "events"),
            tx("j1"),
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
            tx("0"),
            tx(P + "events"),
            tx("j1"),
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
        [P + "stream:5", P + "dead", P + "running", P + "job:", P + "waiters"],
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
            tx("0"),
            tx(P + "events"),
            tx(""),
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
    not_an_id = records.encode(
        "DeadLetter",
        {
            "spec_version": "1.0",
            "reason": "malformed_entry",
            "detail": "the entry needs UTF-8 fields id and task and a job field",
            "stream_id": "1-0",
            "dead_ms": str(NOW),
            "worker_id": "w1",
        },
    )
    case(
        "dead_letter.recorded_id_not_utf8",
        (
            "an entry whose id field is not UTF-8: fetch.lua recorded those bytes in running, and"
            " ARGV[13] removes exactly them; the dead entry names no id; no status"
        ),
        "dead_letter",
        [
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [{"id": "1-0", "fields": [[tx("id"), hx(b"\xff\xfe")], [tx("task"), tx("add")]]}],
                "groups": group_w1,
            },
            {
                "key": P + "running",
                "type": "hash",
                "fields": [[hx(b"\xff\xfe"), tx("w1")], [tx("j4"), tx("w1")]],
            },
        ],
        [P + "stream:5", P + "dead", P + "running", P + "job:", P + "waiters"],
        [
            tx("ardiq"),
            tx("w1"),
            tx("1-0"),
            tx(""),
            tx("add"),
            tx("malformed_entry"),
            hx(not_an_id),
            tx(""),
            tx("86400000"),
            tx("100000"),
            tx("0"),
            tx(P + "events"),
            hx(b"\xff\xfe"),
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
                            [tx("task"), tx("add")],
                            [tx("reason"), tx("malformed_entry")],
                            [tx("record"), hx(not_an_id)],
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
            tx("0"),
            tx(P + "events"),
            tx("j1"),
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
            tx("0"),
            tx(P + "events"),
            tx("j1"),
        ],
        {"int": 0},
        reclaimed_after,
    )
    # dead_letter.lua telling waiters (1.1)
    case(
        "dead_letter.tells_waiters",
        "a dead-lettered job someone waits on is published as done:<id> (1.1)",
        "dead_letter",
        [string(P + "job:j1", QUEUED), *fin_before, waited],
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
            tx(str(NOW)),
            tx(P + "events"),
            tx("j1"),
        ],
        dl_reply,
        [
            stream_after,
            {"key": P + "running", "type": "hash", "fields": [[tx("j4"), tx("w1")]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
            {"key": P + "dead", "type": "stream", "entries": [dead_entry]},
            string(P + "job:j1", dead_status, ttl_ms=86400000),
            waits_left,
        ],
        published=[[P + "events", "done:j1"]],
    )

    # progress.lua (1.1)
    running = STATUS["running_progress"]
    case(
        "progress.owned",
        "the RUNNING records of owned entries are stored (no TTL); the reply counts them",
        "progress",
        [string(P + "job:j1", QUEUED), string(P + "job:j4", QUEUED), *fin_before],
        [P + "stream:5", P + "job:j1", P + "job:j4"],
        [tx("ardiq"), tx("w1"), tx("1-0"), hx(running), tx("2-0"), hx(running)],
        {"int": 2},
        [
            string(P + "job:j1", running),
            string(P + "job:j4", running),
            {
                "key": P + "stream:5",
                "type": "stream",
                "entries": [entry("j1", j1, entry_id="1-0"), entry("j4", job("j4"), entry_id="2-0")],
                "groups": [
                    {
                        "name": "ardiq",
                        "pending": [
                            {"id": "1-0", "consumer": "w1", "deliveries": 1},
                            {"id": "2-0", "consumer": "w1", "deliveries": 1},
                        ],
                    }
                ],
            },
            {"key": P + "running", "type": "hash", "fields": [[tx("j1"), tx("w1")], [tx("j4"), tx("w1")]]},
            {"key": P + "abort", "type": "set", "members": [tx("j1")]},
        ],
    )
    case(
        "progress.not_owned",
        "an entry another consumer owns now (or finished: no longer pending) is left alone",
        "progress",
        reclaimed_before,
        [P + "stream:5", P + "job:j1", P + "job:j4"],
        [tx("ardiq"), tx("w1"), tx("1-0"), hx(running), tx("2-0"), hx(running)],
        {"int": 1},
        [*reclaimed_after, string(P + "job:j4", running)],
    )
    return cases

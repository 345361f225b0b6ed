"""Script cases of `cron.lua` (SPEC.md section 19): a tick is claimed and its job enqueued in
one script, at most once per tick; a tick not later than the schedule's last one writes
nothing; a claimed tick whose job id exists writes only the claim."""

from __future__ import annotations

from typing import Any

from conformance.vectors.builders import NOW, QUEUED, Case
from conformance.vectors.scripts.states import STATUS, P, ScriptCases, entry, hx, job, string, tx

TICK = NOW  # a whole second
NEXT = TICK + 1000
JOB_ID = f"cron:beat:{TICK}"
RECORD = job(JOB_ID, task="beat")
KEYS = [
    P + "cron",
    P + "cron:beat",
    P + "delayed",
    P + "delayed:jobs",
    P + "job:" + JOB_ID,
    P + "stream:5",
]
ARGV = [tx("beat"), tx(str(TICK)), tx(str(NEXT)), tx(JOB_ID), tx("beat"), tx("0"), hx(RECORD)]
DESCRIPTION = [
    [tx("task"), tx("beat")],
    [tx("every_ms"), tx("1000")],
    [tx("since_ms"), tx(str(TICK - 60_000))],
]


def state(last_ms: int, next_ms: int, description: list[Any] | None = None) -> list[Any]:
    """The schedule's index entry and hash after a claim of `last_ms`."""
    fields = [*(description or []), [tx("last_ms"), tx(str(last_ms))], [tx("next_ms"), tx(str(next_ms))]]
    return [
        {"key": P + "cron", "type": "zset", "members": [[tx("beat"), next_ms]]},
        {"key": P + "cron:beat", "type": "hash", "fields": fields},
    ]


def build() -> list[Case]:
    cases = ScriptCases()
    case = cases.case
    enqueued = [
        string(P + "job:" + JOB_ID, QUEUED),
        {"key": P + "stream:5", "type": "stream", "entries": [entry(JOB_ID, RECORD, task="beat")]},
    ]
    new_entry = {"entry_id": {"key": P + "stream:5", "index": 0}}

    case(
        "cron.first_tick",
        "no state yet: the tick is claimed (last_ms, next_ms, the index score) and its job "
        "enqueued as enqueue.lua enqueues a job due now",
        "cron",
        [],
        KEYS,
        ARGV,
        new_entry,
        [*state(TICK, NEXT), *enqueued],
    )
    case(
        "cron.next_tick",
        "an earlier tick was claimed: this one is claimed too; the description fields stay",
        "cron",
        state(TICK - 1000, TICK, DESCRIPTION),
        KEYS,
        ARGV,
        new_entry,
        [*state(TICK, NEXT, DESCRIPTION), *enqueued],
    )
    case(
        "cron.tick_claimed_before",
        "this tick was claimed (by another worker): reply 0, nothing written",
        "cron",
        state(TICK, NEXT, DESCRIPTION),
        KEYS,
        ARGV,
        {"int": 0},
        state(TICK, NEXT, DESCRIPTION),
    )
    case(
        "cron.later_tick_claimed",
        "a later tick was claimed: an earlier one is not enqueued any more, reply 0",
        "cron",
        state(TICK + 5000, TICK + 6000),
        KEYS,
        ARGV,
        {"int": 0},
        state(TICK + 5000, TICK + 6000),
    )
    case(
        "cron.job_id_exists",
        "the schedule's state was deleted but the tick's job is known: the claim is written, "
        'the job is not enqueued again, reply "duplicate"',
        "cron",
        [string(P + "job:" + JOB_ID, STATUS["complete"])],
        KEYS,
        ARGV,
        {"bulk": tx("duplicate")},
        [*state(TICK, NEXT), string(P + "job:" + JOB_ID, STATUS["complete"])],
    )
    return cases

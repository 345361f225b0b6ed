"""What `fetch.lua` and `finish.lua` cost Redis per job, by batch size.

`.venv/bin/python bench/script_cost.py 10 100` (batch sizes; default 10 and 100).

Against a throwaway redis-server of its own, it adds 20,000 entries of the
shape producers write (`id`, `task`, `job`) to level 5, then fetches them
with `fetch.lua` (EVALSHA) and finishes them with `finish.lua` (EVAL, so its
calls are counted apart from the fetch's; EVAL also hashes the script's text
at each call), a batch at a time, and prints `INFO commandstats` per job: a
script's line includes the commands it calls, which also have their own
lines, so the difference is what the script's Lua and call cost.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import redis
from ardiq_testing import RedisServer

ROOT = Path(__file__).resolve().parent.parent
JOBS = 20_000
STREAMS = [f"ardiq:{{q}}:stream:{p}" for p in range(9, -1, -1)]
# A Job record's size for a no-op task (spec version, a 32-character id, task, empty args).
JOB = b"\x0a\x031.0\x12\x20" + b"x" * 32 + b"\x1a\x04noop\x22\x03\x92\x00\x80\x38" + b"\x80" * 6
STATUS = b"\x08\x03\x10\x01" + b"\x00" * 20


def measure(client: Any, batch: int) -> None:
    client.flushall()
    for stream in STREAMS:
        client.xgroup_create(stream, "ardiq", id="0", mkstream=True)
    pipe = client.pipeline(transaction=False)
    for i in range(JOBS):
        pipe.xadd(STREAMS[4], {"id": f"job-{i:032d}", "task": "noop", "job": JOB})
    pipe.execute()
    fetch = client.script_load((ROOT / "spec/scripts/fetch.lua").read_text())
    finish = (ROOT / "spec/scripts/finish.lua").read_text()
    client.config_resetstat()
    done = 0
    while done < JOBS:
        streams, _aborted = client.evalsha(
            fetch, 2 + len(STREAMS), "ardiq:{q}:running", "ardiq:{q}:abort", *STREAMS, "ardiq", "w", batch
        )
        keys = ["ardiq:{q}:running", "ardiq:{q}:abort", "ardiq:{q}:waiters"]
        argv: list[Any] = ["ardiq", "w", "0", "ardiq:{q}:events"]
        for stream, *flat in streams:
            # Per entry: its id, its field count, then the fields (id, <job id>, task, <name>, ...).
            at = 0
            while at < len(flat):
                entry_id, count = flat[at], int(flat[at + 1])
                job_id = flat[at + 3]
                keys += [stream, b"ardiq:{q}:job:" + job_id]
                argv += [entry_id, job_id, 86_400_000, STATUS]
                at += 2 + count
        if len(keys) == 3:
            break
        client.eval(finish, len(keys), *keys, *argv)
        done += (len(keys) - 3) // 2
    stats: dict[str, Any] = client.info("commandstats")
    print(f"batch {batch}: {done:,} jobs, µs per job (fetch.lua = evalsha, finish.lua = eval)")
    for name, fields in sorted(stats.items(), key=lambda item: -float(item[1]["usec"])):
        command = name.removeprefix("cmdstat_")
        if command in ("info", "config|resetstat"):
            continue
        print(f"  {command:12} {fields['calls']:7,} calls {float(fields['usec']) / done:7.2f} µs/job")


def main(argv: list[str]) -> None:
    with RedisServer() as server:
        client = redis.Redis.from_url(server.url)
        for batch in [int(arg) for arg in argv] or [10, 100]:
            measure(client, batch)
        client.close()


if __name__ == "__main__":
    main(sys.argv[1:])

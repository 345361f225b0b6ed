"""Enqueue throughput of `AsyncClient.send_many`.

Usage: REDIS_URL=redis://... python clients/python/bench_enqueue.py [N]

Enqueues N jobs (default 20,000) of ``add(i, i)`` to a fresh queue, in
batches of 1,000 per `enqueue.lua` call, all pipelined, then deletes the
queue's keys. Prints one JSON line: {"jobs": N, "seconds": S, "jobs_per_s": R}.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid

import redis.asyncio
from ardiq_client import AsyncClient, JobRequest


async def run(url: str, count: int) -> dict[str, float]:
    queue = f"bench-{uuid.uuid4().hex[:12]}"
    async with AsyncClient.from_url(url, queue=queue) as client:
        await client.send("warm_up")  # loads enqueue.lua and opens the connection
        started = time.perf_counter()
        jobs = await client.send_many(JobRequest("add", (i, i)) for i in range(count))
        seconds = time.perf_counter() - started
    if len(jobs) != count:
        raise RuntimeError(f"enqueued {len(jobs)} jobs, expected {count}")
    cleanup = redis.asyncio.Redis.from_url(url)
    try:
        keys = [key async for key in cleanup.scan_iter(match=f"ardiq:{{{queue}}}:*", count=10_000)]
        for start in range(0, len(keys), 10_000):
            await cleanup.unlink(*keys[start : start + 10_000])
    finally:
        await cleanup.aclose()
    return {"jobs": count, "seconds": round(seconds, 4), "jobs_per_s": round(count / seconds, 1)}


def main(argv: list[str]) -> int:
    url = os.environ.get("REDIS_URL")
    if not url:
        print("REDIS_URL must name the Redis to benchmark against", file=sys.stderr)
        return 2
    count = int(argv[0]) if argv else 20_000
    print(json.dumps(asyncio.run(run(url, count))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

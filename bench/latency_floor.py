"""The floor under the latency workload on this machine: no queue, only Redis.

`.venv/bin/python bench/latency_floor.py` starts a throwaway redis-server and
two processes: one `XADD`s an entry carrying `time.time_ns()` every 2 ms
(1,000 entries), the other waits in a blocking `XREAD` and takes the time
each entry arrives; both use redis-py's asyncio client, as a Python producer
and a Python worker would. It prints p50 and p99 of enqueue to arrival: what
any queue whose producer and worker are Python processes pays before it
fetches, registers or starts anything.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import time
from typing import Any

import redis.asyncio as redis
from ardiq_testing import RedisServer

STREAM = "floor"


async def consume(url: str, count: int) -> list[float]:
    client = redis.from_url(url, socket_timeout=None)
    latencies: list[float] = []
    last: Any = "$"
    while len(latencies) < count:
        reply: Any = await client.xread({STREAM: last}, block=0, count=1)
        arrived = time.time_ns()
        for _stream, entries in reply:
            for entry_id, fields in entries:
                last = entry_id
                latencies.append((arrived - int(fields[b"t"])) / 1e6)
    await client.aclose()
    return sorted(latencies)


async def produce(url: str, count: int, interval_s: float) -> None:
    client = redis.from_url(url, socket_timeout=None)
    await asyncio.sleep(0.5)  # the consumer is blocked in its read by then
    for _ in range(count):
        await client.xadd(STREAM, {"t": str(time.time_ns())})
        await asyncio.sleep(interval_s)
    await client.aclose()


def producer(url: str, count: int, interval_s: float) -> None:
    asyncio.run(produce(url, count, interval_s))


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 1_000
    with RedisServer() as server:
        process = multiprocessing.Process(target=producer, args=(server.url, count, 0.002))
        process.start()
        latencies = asyncio.run(consume(server.url, count))
        process.join()
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, len(latencies) * 99 // 100)]
    print(f"XADD to blocked XREAD, {count:,} entries 2 ms apart: p50 {p50:.3f} ms, p99 {p99:.3f} ms")


if __name__ == "__main__":
    main(sys.argv[1:])

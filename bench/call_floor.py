"""The floor under the single awaited enqueue on this machine.

`.venv/bin/python bench/call_floor.py` starts a throwaway redis-server and,
in one asyncio process, times four kinds of awaited call, one at a time, in
interleaved rounds (5 rounds of 2,000 calls each by default):

- `ardiq ping`: `await app.ping()`, the core's path to Redis and back (the
  asyncio thread to the tokio thread, a `PING`, the reply handed back) with
  no script;
- `ardiq enqueue`: `await task.enqueue()`, the bench's single-enqueue
  workload: the same path with one `enqueue.lua` call;
- `redis-py ping`: redis-py's asyncio client, `PING`, no thread hop;
- `redis-py enqueue.lua`: the same client calling `enqueue.lua` with the
  exact KEYS and ARGV the core builds for such a job (`build_enqueue`).

It prints the median µs per call of each kind. The two differences
(enqueue less ping, on each client) say what the script costs a caller;
the rest of a call is the round trip itself.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as redis
from ardiq import Ardiq
from ardiq._core import build_enqueue
from ardiq_testing import RedisServer

SCRIPT = (Path(__file__).resolve().parents[1] / "spec" / "scripts" / "enqueue.lua").read_text()
QUEUE = "floor"


async def timed(call: Callable[[], Awaitable[object]], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        await call()
    return (time.perf_counter() - started) * 1e6 / count


async def run(url: str, rounds: int, count: int) -> dict[str, list[float]]:
    app = Ardiq(url, queue=QUEUE)

    @app.task
    async def noop() -> None:
        return None

    client = redis.from_url(url)
    sha = await client.script_load(SCRIPT)

    async def script_enqueue() -> None:
        keys, argv = build_enqueue(QUEUE, noop.prepare(), time.time_ns() // 1_000_000)
        await client.evalsha(sha, len(keys), *keys, *argv)

    kinds: dict[str, Callable[[], Awaitable[object]]] = {
        "ardiq ping": app.ping,
        "ardiq enqueue": noop.enqueue,
        "redis-py ping": client.ping,
        "redis-py enqueue.lua": script_enqueue,
    }
    for call in kinds.values():  # connections open, scripts loaded, code warm
        await timed(call, 200)
    times: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(rounds):
        for name, call in kinds.items():
            times[name].append(await timed(call, count))
    await client.aclose()
    await app.close()
    return times


def main(argv: list[str]) -> None:
    rounds = int(argv[0]) if argv else 5
    count = int(argv[1]) if len(argv) > 1 else 2_000
    with RedisServer() as server:
        times = asyncio.run(run(server.url, rounds, count))
    median = {name: statistics.median(values) for name, values in times.items()}
    print(f"awaited calls, one at a time, median of {rounds} rounds of {count:,}:")
    for name, value in median.items():
        print(f"  {name:<22} {value:6.1f} µs per call ({1e6 / value:,.0f} calls/s)")
    ardiq = median["ardiq enqueue"] - median["ardiq ping"]
    plain = median["redis-py enqueue.lua"] - median["redis-py ping"]
    print(f"  the script adds {ardiq:.1f} µs through the core, {plain:.1f} µs through redis-py")


if __name__ == "__main__":
    main(sys.argv[1:])

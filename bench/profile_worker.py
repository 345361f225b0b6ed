"""A burst worker over staged no-op jobs, to profile from outside.

`.venv/bin/python bench/profile_worker.py 200000 10` stages 200,000 no-op jobs
(batches of 1,000) on a throwaway redis-server, prints `staged <pid>`, waits
`--pause` seconds (default 1.5) so a profiler can attach to that pid (`perf
record -F 2999 -g -p <pid> -- sleep 3`, or `py-spy record --native --pid
<pid>`), then drains them with `run_worker(burst=True)` at the given
concurrency and prints the rate, the process's and Redis's CPU µs per task
(`used_cpu_user + used_cpu_sys`), and per task each command's calls and µs
as Redis's `INFO commandstats` counts them (commands inside scripts
included, so a script's µs include its commands').
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from ardiq import Ardiq
from ardiq_testing import RedisServer
from harness.workloads import RedisProbe


async def run(url: str, jobs: int, concurrency: int, pause_s: float) -> None:
    app = Ardiq(url, queue="profile")

    @app.task
    async def noop() -> None:
        return None

    for first in range(0, jobs, 1000):
        await app.enqueue_many([noop.prepare() for _ in range(min(1000, jobs - first))])
    print("staged", os.getpid(), flush=True)
    await asyncio.sleep(pause_s)
    probe = RedisProbe(url)
    probe.reset_counters()
    started, cpu, redis_cpu = time.perf_counter(), time.process_time(), probe.cpu_s()
    await app.run_worker(burst=True, concurrency=concurrency)
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    redis_s = probe.cpu_s() - redis_cpu
    print(
        f"{jobs / seconds:,.0f} tasks/s, {cpu_s * 1e6 / jobs:.1f} µs of worker CPU and"
        f" {redis_s * 1e6 / jobs:.1f} µs of Redis CPU per task",
        flush=True,
    )
    per_task = {
        name: (calls / jobs, usec / jobs)
        for name, (calls, usec) in probe.command_stats().items()
        if calls / jobs >= 0.001
    }
    print(
        "per task (calls, µs): "
        + ", ".join(f"{name} {calls:.3f} {usec:.2f}" for name, (calls, usec) in sorted(per_task.items())),
        flush=True,
    )
    probe.close()
    await app.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("jobs", type=int)
    parser.add_argument("concurrency", type=int)
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between staging and the worker")
    args = parser.parse_args()
    with RedisServer() as server:
        asyncio.run(run(server.url, args.jobs, args.concurrency, args.pause))


if __name__ == "__main__":
    main()

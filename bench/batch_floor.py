"""Where the time of a batch enqueue goes, per job.

`.venv/bin/python bench/batch_floor.py` starts a throwaway redis-server and,
in one asyncio process, enqueues batches of 1,000 no-op jobs (40 batches by
default) the way the bench's batch workload does, one batch awaited before
the next is built, and times the three steps of each batch apart:

- `prepare`: building the 1,000 `PreparedJob`s in the caller's loop;
- `submit`: the core's part under the GIL (checking each job and turning it
  into a record), the synchronous start of `Ardiq.enqueue_many`;
- `await`: waiting for the reply: the records encoded on the runtime thread,
  one `enqueue.lua` call, and Redis's work on it.

(`Ardiq.enqueue_many` also builds a `Job` handle per job, while Redis works;
this probe calls the two halves directly and builds none.)

It prints each step's µs per job, the process's and Redis's CPU µs per job
(`used_cpu_user + used_cpu_sys`), and the jobs/s of the batches. `prepare`
plus Redis's CPU per job bounds what one such loop can reach even if the rest
overlapped with Redis's work.
"""

from __future__ import annotations

import asyncio
import sys
import time

from ardiq import Ardiq
from ardiq_testing import RedisServer
from harness.workloads import RedisProbe

BATCH = 1_000


async def run(url: str, batches: int) -> None:
    app = Ardiq(url, queue="floor")

    @app.task
    async def noop() -> None:
        return None

    for _ in range(5):  # connection open, script loaded, code warm
        await app.enqueue_many([noop.prepare() for _ in range(BATCH)])
    probe = RedisProbe(url)
    link, core = app._link, app._core  # the two halves of `enqueue_many`, timed apart
    prepare = submit = wait = 0.0
    redis_before, cpu_before, started = probe.cpu_s(), time.process_time(), time.perf_counter()
    for _ in range(batches):
        t0 = time.perf_counter()
        items = [noop.prepare() for _ in range(BATCH)]
        t1 = time.perf_counter()
        request, future = link.request()
        core.enqueue(request, items)
        t2 = time.perf_counter()
        await future
        t3 = time.perf_counter()
        prepare, submit, wait = prepare + t1 - t0, submit + t2 - t1, wait + t3 - t2
    seconds = time.perf_counter() - started
    cpu_s, redis_s = time.process_time() - cpu_before, probe.cpu_s() - redis_before
    jobs = batches * BATCH
    print(f"{batches} batches of {BATCH:,}, each awaited before the next: {jobs / seconds:,.0f} jobs/s")
    steps = {"prepare": prepare, "submit": submit, "await": wait}
    print("  per job: " + ", ".join(f"{name} {value * 1e6 / jobs:.2f} µs" for name, value in steps.items()))
    print(f"  CPU per job: this process {cpu_s * 1e6 / jobs:.2f} µs, Redis {redis_s * 1e6 / jobs:.2f}")
    probe.close()
    await app.close()


def main(argv: list[str]) -> None:
    batches = int(argv[0]) if argv else 40
    with RedisServer() as server:
        asyncio.run(run(server.url, batches))


if __name__ == "__main__":
    main(sys.argv[1:])

"""`make demo`: enqueue from Python, Rust and TypeScript, run one worker,
read every result back, and print the timings.

Uses the Redis at REDIS_URL, or starts a throwaway redis-server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ardiq_testing import choose_redis

if TYPE_CHECKING:
    from ardiq import Job

ROOT = Path(__file__).resolve().parent.parent

QUEUE = "demo"
BATCH = 20_000
SINGLE = 2_000


def run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"demo: {' '.join(command)} failed:\n{done.stderr}")
    return done.stdout.strip()


def rate(count: int, seconds: float) -> str:
    return f"{count:,} in {seconds:.2f} s = {count / seconds:,.0f}/s"


async def demo(url: str) -> None:
    env = dict(os.environ, REDIS_URL=url, ARDIQ_REDIS_URL=url, ARDIQ_QUEUE=QUEUE)
    os.environ.update(ARDIQ_REDIS_URL=url, ARDIQ_QUEUE=QUEUE)
    import demo_tasks as tasks
    from ardiq_client import AsyncClient

    app = tasks.app
    print(f"Redis: {url}   queue: {QUEUE}")

    print("\n1. Producers")
    started = time.perf_counter()
    await app.enqueue_many([tasks.noop.prepare() for _ in range(BATCH)])
    print(f"   ardiq (Rust core), batch enqueue: {rate(BATCH, time.perf_counter() - started)}")
    started = time.perf_counter()
    for _ in range(SINGLE):
        await tasks.noop.enqueue()
    print(f"   ardiq (Rust core), awaited one by one: {rate(SINGLE, time.perf_counter() - started)}")
    python_jobs: list[Job[Any]] = [
        await tasks.add.enqueue(1, 2),
        await tasks.shout.enqueue("hello from a sync task"),
        await tasks.add.options(priority=9).enqueue(100, 1),
    ]
    naps = await app.enqueue_many([tasks.nap.prepare(50) for _ in range(100)])

    client = AsyncClient.from_url(url, queue=QUEUE)
    pure_job = await client.send("add", args=(5, 6))
    print(f"   ardiq-client (pure Python): job {pure_job.id}")
    ts_id = run(["node", "demo/producer.mjs", "enqueue"], env)
    print(f"   TypeScript client: job {ts_id}")
    print("   Rust client: building and running the example (cargo, release)...", flush=True)
    rust = ["cargo", "run", "--release", "-q", "-p", "ardiq-client", "--example", "demo", "--"]
    rust_id = run([*rust, "enqueue"], env)
    print(f"   Rust client: job {rust_id}")

    total = BATCH + SINGLE + len(python_jobs) + len(naps) + 3
    print(f"\n2. One worker process drains {total:,} jobs (burst mode, concurrency 100)")
    started = time.perf_counter()
    run(
        [sys.executable, "-m", "ardiq", "--log-level", "WARNING", "run", "demo_tasks:app", "--burst"],
        dict(env, PYTHONPATH=str(ROOT / "demo")),
    )
    elapsed = time.perf_counter() - started
    print(f"   {rate(total, elapsed)} (process start and import included)")

    print("\n3. Results, each read back by its producer")
    for job, call in zip(python_jobs, ["add(1, 2)", "shout(...)", "add(100, 1) at priority 9"], strict=True):
        print(f"   ardiq        {call:<28} -> {await job.result(timeout_s=10)!r}")
    slept = [await job.result(timeout_s=10) for job in naps]
    print(f"   ardiq        100 x nap(50 ms)             -> {len(slept)} results, {sum(slept)} ms in total")
    print(f"   pure Python  add(5, 6)                    -> {await pure_job.result(timeout_s=10)!r}")
    print(
        f"   TypeScript   add(20, 22)                  -> {run(['node', 'demo/producer.mjs', 'result', ts_id], env)}"  # noqa: E501
    )
    rust_result = run([*rust, "result", rust_id], env)
    print(f"   Rust         add(40, 2)                   -> {rust_result}")
    await client.close()
    await app.close()

    print('\n4. The dashboard (pip install "ardiq[dashboard]"; here it is installed)')
    print(f"   .venv/bin/ardiq dashboard --url {url} --queue {QUEUE}")
    if not os.environ.get("REDIS_URL"):
        print("   This demo's Redis stops with it: run `REDIS_URL=redis://... make demo` to keep the queue")


def main() -> None:
    with choose_redis() as redis:
        asyncio.run(demo(redis.url))


if __name__ == "__main__":
    main()

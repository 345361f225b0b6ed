"""What is measured: the workloads, their sizes, and how each measurement runs (the adapters
as subprocesses, the worker measured from outside, Redis commands from `INFO commandstats`)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from harness import ROOT
from harness.peers import Adapter, PeerSpec, process_usage

WORKLOADS = ("dispatch", "dispatch10", "cpu", "io", "enqueue", "latency", "roundtrip", "clients", "scaling")


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    dispatch: int = 20_000
    cpu: int = 1_000
    io: int = 1_000
    enqueue: int = 20_000
    latency: int = 1_000
    latency_interval_ms: float = 2.0
    roundtrip: int = 100  # per repetition: 300 per queue in a full run, pooled in the table
    roundtrip_budget_s: float = 30.0  # per repetition and queue: fewer round trips past this
    batch_size: int = 1_000
    concurrency: int = 100
    #: The second dispatch run's concurrency (the public `ardiq` package's own benchmark setting).
    low_concurrency: int = 10
    #: No-op jobs per step of the scaling run, and its steps: worker processes on one Redis.
    scaling: int = 40_000
    scaling_workers: tuple[int, ...] = (1, 2, 4)
    repetitions: int = 3


QUICK = Sizes(
    dispatch=300,
    cpu=50,
    io=200,
    enqueue=300,
    latency=50,
    roundtrip=20,
    roundtrip_budget_s=10.0,
    scaling=600,
    scaling_workers=(1, 2),
    repetitions=1,
)


class RedisProbe:
    """The few commands the harness itself sends: one redis-py connection, no client name or
    version sent on connect, so that nothing but the measured queue shows in the counters."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(
            url, socket_timeout=30, decode_responses=True, lib_name=None, lib_version=None
        )

    def reset(self) -> None:
        """An empty Redis with zeroed command counters."""
        untyped: Any = self.client  # redis-py types flushall() without its SYNC argument
        untyped.execute_command("FLUSHALL", "SYNC")
        self.client.script_flush("SYNC")
        self.client.function_flush("SYNC")
        self.client.config_resetstat()

    def reset_counters(self) -> None:
        """Zeroed command counters, the data left as it is (a worker is running)."""
        self.client.config_resetstat()

    def command_calls(self) -> dict[str, int]:
        """Calls per command since the last reset, without the harness's own CONFIG and INFO."""
        return {name: calls for name, (calls, _) in self.command_stats().items()}

    def command_stats(self) -> dict[str, tuple[int, float]]:
        """(calls, microseconds) per command since the last reset, without the harness's own
        CONFIG and INFO. A script's time includes the commands it calls, which are also
        counted under their own names."""
        stats: dict[str, Any] = self.client.info("commandstats")
        out: dict[str, tuple[int, float]] = {}
        for key, fields in stats.items():
            name = key.removeprefix("cmdstat_")
            if name.startswith("config") or name == "info":
                continue
            out[name] = (int(fields["calls"]), float(fields["usec"]))
        return out

    def cpu_s(self) -> float:
        """Redis's own CPU seconds so far (`used_cpu_user` + `used_cpu_sys` of `INFO cpu`)."""
        stats: dict[str, Any] = self.client.info("cpu")
        return float(stats["used_cpu_user"]) + float(stats["used_cpu_sys"])

    def close(self) -> None:
        self.client.close()


@dataclass
class Bench:
    url: str
    sizes: Sizes
    pythons: dict[str, Path]
    logs: Path
    runs: list[dict[str, Any]] = field(default_factory=list)

    def adapter(self, spec: PeerSpec, role: str, *options: str) -> Adapter:
        return Adapter(
            self.pythons[spec.name], spec, role, list(options), self.url, self.logs / f"{spec.adapter}.log"
        )

    def enqueue(
        self, spec: PeerSpec, workload: str, count: int, mode: str, timeout_s: float
    ) -> dict[str, Any]:
        producer = self.adapter(
            spec,
            "enqueue",
            "--workload",
            workload,
            "--count",
            str(count),
            "--mode",
            mode,
            "--batch-size",
            str(self.sizes.batch_size),
            "--interval-ms",
            str(self.sizes.latency_interval_ms),
        )
        try:
            return producer.next_event("enqueued", timeout_s)
        finally:
            producer.finish()
            producer.kill()

    def execute(
        self, spec: PeerSpec, workload: str, count: int, concurrency: int | None = None
    ) -> dict[str, Any]:
        """One worker over `count` tasks: pre-enqueued, or (latency) enqueued while it idles."""
        probe = RedisProbe(self.url)
        try:
            probe.reset()
            concurrency = concurrency or self.sizes.concurrency
            bound_s = {
                "dispatch": count / 50,
                "cpu": count * 0.05,
                "io": count * 0.05,
                "latency": count * 0.05,
            }
            timeout_s = 60 + bound_s[workload]
            redis_cpu_start = probe.cpu_s()
            if workload != "latency":
                self.enqueue(spec, workload, count, "setup", timeout_s)
            redis_cpu_staged = probe.cpu_s()
            worker = self.adapter(
                spec,
                "worker",
                "--workload",
                workload,
                "--count",
                str(count),
                "--concurrency",
                str(concurrency),
            )
            try:
                worker.next_event("ready", 60)
                if workload == "latency":
                    time.sleep(1.0)  # an idle worker: connected, blocked on its first read
                    self.enqueue(spec, workload, count, "spaced", timeout_s)
                done = worker.next_event("done", timeout_s)
                redis_cpu_done = probe.cpu_s()
                peak_mib, cpu_s = process_usage(worker.pid)
                worker.finish()
            finally:
                worker.kill()
            stats = probe.command_stats()
        finally:
            probe.close()
        calls = {name: n for name, (n, _) in stats.items()}
        seconds = done["seconds"]
        result: dict[str, Any] = {
            "tasks": done["tasks"],
            "seconds": seconds,
            "tasks_per_s": done["tasks"] / seconds if seconds else None,
            "worker_peak_rss_mib": peak_mib,
            "worker_cpu_s": cpu_s,
            "redis_commands": calls,
            "redis_commands_per_task": sum(calls.values()) / count,
            # Where Redis's time goes: per command, its calls and µs per call (INFO commandstats).
            "redis_usec_per_call": {name: [n, round(usec / n, 2)] for name, (n, usec) in stats.items() if n},
            # Per task, from the worker loop's start to its stop: the worker process's CPU (every
            # thread) and Redis's (fetching, storing results, polls); staging is Redis's CPU for
            # the producer's enqueues before the worker started (none for latency, whose
            # enqueues run while the worker does and are counted in the Redis figure).
            "worker_cpu_us_per_task": done["work_cpu_s"] * 1e6 / count if "work_cpu_s" in done else None,
            "redis_cpu_us_per_task": (redis_cpu_done - redis_cpu_staged) * 1e6 / count,
            "redis_staging_cpu_us_per_task": (redis_cpu_staged - redis_cpu_start) * 1e6 / count,
        }
        if workload == "io":
            ideal = concurrency / 0.1
            result["ideal_tasks_per_s"] = ideal
            result["percent_of_ideal"] = 100 * result["tasks_per_s"] / ideal if seconds else None
        if "cpu_body_ms" in done:
            result["cpu_body_ms"] = done["cpu_body_ms"]
        if "latencies_ms" in done:
            latencies = sorted(done["latencies_ms"])
            result["latency_p50_ms"] = percentile(latencies, 50)
            result["latency_p99_ms"] = percentile(latencies, 99)
            result["latency_max_ms"] = latencies[-1]
        return result

    def scaling(self, spec: PeerSpec) -> dict[str, Any]:
        """Several worker processes on one Redis: for each step of `scaling_workers`, that many
        burst workers (each at the run's concurrency) drain `scaling` pre-enqueued no-op tasks,
        all told to start at once. Per step: the rate over the whole drain (from the start
        signal to the last task's end in any worker, one clock), the workers' CPU and Redis's
        CPU per task, and Redis's CPU as a share of one core (it runs on one thread: near 100%
        it is the bottleneck, whatever the number of workers)."""
        count = self.sizes.scaling
        result: dict[str, Any] = {}
        for workers in self.sizes.scaling_workers:
            probe = RedisProbe(self.url)
            try:
                probe.reset()
                self.enqueue(spec, "dispatch", count, "setup", 60 + count / 50)
                started = [
                    self.adapter(
                        spec,
                        "worker",
                        "--workload",
                        "dispatch",
                        "--count",
                        "0",  # each runs until the queue is drained (burst mode)
                        "--concurrency",
                        str(self.sizes.concurrency),
                        "--wait-go",
                    )
                    for _ in range(workers)
                ]
                try:
                    for worker in started:
                        worker.next_event("ready", 60)
                    redis_cpu = probe.cpu_s()
                    go = time.perf_counter()
                    for worker in started:
                        worker.tell("go")
                    done = [worker.next_event("done", 60 + count / 50) for worker in started]
                    redis_cpu = probe.cpu_s() - redis_cpu
                    for worker in started:
                        worker.finish()
                finally:
                    for worker in started:
                        worker.kill()
            finally:
                probe.close()
            tasks = sum(int(d["tasks"]) for d in done)
            if tasks != count:
                raise RuntimeError(f"{workers} workers ran {tasks} of {count} tasks")
            # `t_last` is each worker's perf_counter (CLOCK_MONOTONIC, one clock for the machine).
            seconds = max(float(d["t_last"]) for d in done if d["tasks"]) - go
            result[f"tasks_per_s_{workers}"] = count / seconds
            result[f"worker_cpu_us_per_task_{workers}"] = sum(d["work_cpu_s"] for d in done) * 1e6 / count
            result[f"redis_cpu_us_per_task_{workers}"] = redis_cpu * 1e6 / count
            result[f"redis_core_percent_{workers}"] = 100 * redis_cpu / seconds
        return result

    def roundtrip(self, spec: PeerSpec, count: int) -> dict[str, Any]:
        """An idle worker and one producer: `count` no-op jobs one after another (fewer when the
        time budget runs out first), each enqueued and its result awaited through the queue's
        result API. The producer times each one and its own CPU; Redis's counters cover the
        measured round trips and whatever the idle worker did meanwhile."""
        probe = RedisProbe(self.url)
        budget_s = self.sizes.roundtrip_budget_s
        try:
            probe.reset()
            worker = self.adapter(
                spec, "worker", "--workload", "roundtrip", "--concurrency", str(self.sizes.concurrency)
            )
            try:
                worker.next_event("ready", 60)
                # As for latency: an idle worker, connected, past its start-up work (SAQ's first
                # sweep aborts a job it finds moved to its active list but not yet marked active).
                time.sleep(1.0)
                producer = self.adapter(spec, "roundtrip", "--count", str(count), "--budget-s", str(budget_s))
                try:
                    # The warm-up round trip also proves the worker is in its loop: when the
                    # measured ones start, it is idle, waiting for work.
                    producer.next_event("warm", 60)
                    probe.reset_counters()
                    producer.tell("go")
                    # The budget, then the last round trip's own time-out, then slack.
                    measured = producer.next_event("roundtrips", budget_s + 30 + 30)
                    calls = probe.command_calls()
                finally:
                    producer.finish()
                    producer.kill()
                worker.tell("stop")
                done = worker.next_event("done", 60)
                worker.finish()
            finally:
                worker.kill()
        finally:
            probe.close()
        samples = sorted(measured["samples_ms"])
        if done["tasks"] != len(samples) + 1:  # the warm-up job, then one run per round trip
            raise RuntimeError(f"the worker ran {done['tasks']} jobs for {len(samples)} round trips + 1")
        return {
            "roundtrips": len(samples),
            "roundtrip_ms": measured["samples_ms"],
            "roundtrip_p50_ms": percentile(samples, 50),
            "roundtrip_p99_ms": percentile(samples, 99),
            "roundtrip_max_ms": samples[-1],
            "producer_cpu_ms_per_roundtrip": measured["cpu_s"] * 1000 / len(samples),
            "redis_commands": calls,
            "redis_commands_per_roundtrip": sum(calls.values()) / len(samples),
        }

    def enqueue_rates(self, spec: PeerSpec, batch: bool) -> dict[str, Any]:
        count = self.sizes.enqueue
        result: dict[str, Any] = {}
        for mode in ("single", "batch") if batch else ("single",):
            probe = RedisProbe(self.url)
            try:
                probe.reset()
                enqueued = self.enqueue(spec, "dispatch", count, mode, 60 + count / 50)
                result[f"{mode}_jobs_per_s"] = enqueued["jobs_per_s"]
                result[f"{mode}_redis_commands_per_job"] = sum(probe.command_calls().values()) / count
            finally:
                probe.close()
        return result

    def clients(self, quick: bool) -> dict[str, Any]:
        """Each ArdiQ client's own batch-enqueue script: jobs/s, or why there is no number."""
        scripts = {
            "python": (
                [str(ROOT / ".venv" / "bin" / "python"), "clients/python/bench_enqueue.py"],
                ROOT / "clients/python/bench_enqueue.py",
            ),
            "typescript": (
                ["node", "clients/typescript/bench/enqueue.mjs"],
                ROOT / "clients/typescript/bench/enqueue.mjs",
            ),
            "rust": (
                ["cargo", "run", "--release", "-q", "-p", "ardiq-client", "--example", "bench_enqueue"],
                ROOT / "clients/rust/examples/bench_enqueue.rs",
            ),
        }
        env = dict(os.environ, REDIS_URL=self.url, ARDIQ_BENCH_JOBS=str(self.sizes.enqueue))
        result: dict[str, Any] = {}
        for client, (command, script) in scripts.items():
            if not script.exists():
                result[client] = "n/a (missing)"
                continue
            if quick and client == "rust":
                result[client] = "skipped (--quick: compiles the release example)"
                continue
            probe = RedisProbe(self.url)
            try:
                probe.reset()
                out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
                lines = [line for line in out.stdout.splitlines() if line.strip().startswith("{")]
                if out.returncode != 0 or not lines:
                    tail = (out.stderr.strip().splitlines() or ["no output"])[-1]
                    result[client] = f"error (exit {out.returncode}: {tail[:120]})"
                else:
                    report = json.loads(lines[-1])
                    result[client] = float(report["jobs_per_s"])
                    result[f"{client}_jobs"] = report.get("jobs")
            except (subprocess.TimeoutExpired, ValueError, KeyError) as error:
                result[client] = f"error ({type(error).__name__})"
            finally:
                probe.close()
        return result


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[min(len(ordered) - 1, max(0, math.ceil(pct / 100 * len(ordered)) - 1))]

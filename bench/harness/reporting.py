"""Medians over repetitions, ratios to ArdiQ, the Markdown tables, and the machine's description."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
from pathlib import Path
from typing import Any

from harness import REFERENCE
from harness.workloads import WORKLOADS, percentile

# Runs that carry their raw samples: the summary takes the percentiles over every repetition's
# samples pooled (a median of per-repetition p99s of 100 samples would be a median of near-maxima).
POOLED = {"roundtrip_ms": "roundtrip"}


def median_of(runs: list[dict[str, Any]], key: str) -> float | str | None:
    numbers = [r[key] for r in runs if isinstance(r.get(key), int | float)]
    if numbers:
        return float(statistics.median(numbers))
    texts = [str(r[key]) for r in runs if key in r and r[key] is not None]
    errors = [str(r["error"]) for r in runs if "error" in r]
    return texts[0] if texts else (f"error: {errors[0]}" if errors else None)


def summarize(runs: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    for run in runs:
        summary.setdefault(run["workload"], {}).setdefault(run["peer"], {})
    for workload, peers in summary.items():
        for peer in peers:
            mine = [r for r in runs if r["workload"] == workload and r["peer"] == peer]
            keys = {k for r in mine for k in r} - {
                "workload",
                "peer",
                "rep",
                "redis_commands",
                "redis_usec_per_call",
                "error",
            }
            keys -= POOLED.keys()
            peers[peer] = {k: median_of(mine, k) for k in sorted(keys)} or {"error": median_of(mine, "error")}
            for samples_key, name in POOLED.items():
                pooled = sorted(s for r in mine for s in r.get(samples_key, []))
                if pooled:
                    peers[peer] |= {
                        f"{name}s": len(pooled),
                        f"{name}_p50_ms": percentile(pooled, 50),
                        f"{name}_p99_ms": percentile(pooled, 99),
                        f"{name}_max_ms": pooled[-1],
                    }
            if all("error" in r for r in mine):
                peers[peer]["error"] = mine[0]["error"]
    return summary


def cell(value: Any, digits: int = 0) -> str:
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return "–" if value is None else str(value)


def ratio(values: dict[str, Any], peer: str, key: str) -> str:
    mine, reference = values.get(peer, {}).get(key), values.get(REFERENCE, {}).get(key)
    if isinstance(mine, int | float) and isinstance(reference, int | float) and reference:
        return f"{mine / reference:.2f}×"
    return "–"


# What a run of tasks cost, the same columns for the dispatch, cpu and io workloads.
TASK_COSTS: list[tuple[str, str, int, bool]] = [
    ("worker CPU s", "worker_cpu_s", 2, True),
    ("peak RSS MiB", "worker_peak_rss_mib", 1, True),
    ("Redis cmds/task", "redis_commands_per_task", 2, True),
    ("worker CPU µs/task", "worker_cpu_us_per_task", 1, True),
    ("Redis CPU µs/task", "redis_cpu_us_per_task", 1, True),
    ("Redis CPU µs/task staging", "redis_staging_cpu_us_per_task", 1, False),
]

COLUMNS: dict[str, list[tuple[str, str, int, bool]]] = {
    # workload: (heading, key, decimals, with a ratio column)
    "dispatch": [
        ("tasks/s", "tasks_per_s", 0, True),
        *TASK_COSTS,
    ],
    "dispatch10": [
        ("tasks/s", "tasks_per_s", 0, True),
        *TASK_COSTS,
    ],
    "cpu": [
        ("tasks/s", "tasks_per_s", 0, True),
        ("task body ms", "cpu_body_ms", 2, False),
        *TASK_COSTS,
    ],
    "io": [
        ("tasks/s", "tasks_per_s", 0, True),
        ("% of ideal", "percent_of_ideal", 1, False),
        *TASK_COSTS,
    ],
    "enqueue": [
        ("single jobs/s", "single_jobs_per_s", 0, True),
        ("batch jobs/s", "batch_jobs_per_s", 0, True),
        ("cmds/job single", "single_redis_commands_per_job", 2, False),
        ("cmds/job batch", "batch_redis_commands_per_job", 2, False),
    ],
    "latency": [
        ("p50 ms", "latency_p50_ms", 2, True),
        ("p99 ms", "latency_p99_ms", 2, True),
        ("worker CPU s", "worker_cpu_s", 2, True),
        ("peak RSS MiB", "worker_peak_rss_mib", 1, True),
    ],
    "roundtrip": [
        ("round trips", "roundtrips", 0, False),
        ("p50 ms", "roundtrip_p50_ms", 2, True),
        ("p99 ms", "roundtrip_p99_ms", 2, True),
        ("max ms", "roundtrip_max_ms", 2, False),
        ("Redis cmds/round trip", "redis_commands_per_roundtrip", 2, True),
        ("producer CPU ms/round trip", "producer_cpu_ms_per_roundtrip", 2, True),
    ],
    "clients": [
        ("Python jobs/s", "python", 0, False),
        ("TypeScript jobs/s", "typescript", 0, False),
        ("Rust jobs/s", "rust", 0, False),
    ],
}

TITLES = {
    "dispatch": "Dispatch: no-op async tasks, pre-enqueued",
    "dispatch10": "Dispatch at concurrency 10: the same, with fewer slots",
    "cpu": "CPU-bound: about 2 ms of pure-Python work per task",
    "io": "I/O-bound: each task awaits a 100 ms sleep",
    "enqueue": "Enqueue: single awaited enqueues, and batches where the queue offers them",
    "latency": "Latency: enqueue to start, idle worker, jobs spaced apart",
    "roundtrip": "Round trip: enqueue to result seen by the producer, idle worker, one job at a time",
    "clients": "ArdiQ clients' own batch-enqueue scripts",
}


def markdown(summary: dict[str, dict[str, dict[str, Any]]], order: list[str], meta: dict[str, Any]) -> str:
    sizes = meta["sizes"]
    counts = {
        "dispatch": f"{sizes['dispatch']:,}",
        "dispatch10": f"{sizes['dispatch']:,}, concurrency {sizes['low_concurrency']}",
        "cpu": f"{sizes['cpu']:,}",
        "io": f"{sizes['io']:,}",
        "enqueue": f"{sizes['enqueue']:,}",
        "latency": f"{sizes['latency']:,}",
        "roundtrip": f"up to {sizes['roundtrip'] * sizes['repetitions']:,} per queue, "
        f"{sizes['roundtrip_budget_s']:g} s per repetition",
        "clients": f"{sizes['enqueue']:,}",
    }
    out = [
        f"Medians of {sizes['repetitions']} repetition(s); one worker process per queue at concurrency "
        f"{sizes['concurrency']}. Every ratio is peer ÷ ArdiQ (ArdiQ = 1.00×): above 1 means more "
        "tasks/s, more CPU, more memory, more Redis commands or more latency than ArdiQ.",
        "",
    ]
    for workload in WORKLOADS:
        if workload not in summary:
            continue
        values = summary[workload]
        if workload == "scaling":
            out += scaling_table(values.get(REFERENCE, {}), meta)
            continue
        out += [f"### {TITLES[workload]} ({counts[workload]})", ""]
        heading = ["queue"]
        for title, _, _, with_ratio in COLUMNS[workload]:
            heading += [title, "÷ ArdiQ"] if with_ratio else [title]
        out += ["| " + " | ".join(heading) + " |", "|" + "---|" * len(heading)]
        for peer in [p for p in order if p in values]:
            row = [f"{peer} {meta['versions'].get(peer, '')}".strip()]
            if "error" in values[peer] and len(values[peer]) == 1:
                row.append(str(values[peer]["error"]))
                row += [""] * (len(heading) - 2)
            else:
                for _, key, digits, with_ratio in COLUMNS[workload]:
                    row.append(cell(values[peer].get(key), digits))
                    if with_ratio:
                        row.append(ratio(values, peer, key))
            out.append("| " + " | ".join(row) + " |")
        out.append("")
        if workload == "dispatch":
            out += variant_cost(values, "ardiq+middleware", "One no-op middleware")
            out += variant_cost(values, "ardiq+metrics", "Prometheus metrics on")
        if workload == "roundtrip":
            out += [
                "p50, p99 and max are over the round trips of every repetition pooled; Redis "
                "commands (producer, worker and anything else the queue sent meanwhile) and "
                "producer CPU per round trip are medians of the repetitions. A queue that "
                "polls for results gets fewer round trips in the time budget.",
                "",
            ]
    return "\n".join(out)


def scaling_table(values: dict[str, Any], meta: dict[str, Any]) -> list[str]:
    """ArdiQ's workers side by side on one Redis: a row per number of worker processes."""
    sizes = meta["sizes"]
    out = [
        f"### Scaling: ArdiQ worker processes on one Redis ({sizes['scaling']:,} no-op tasks per step, "
        f"each worker at concurrency {sizes['concurrency']}, burst mode)",
        "",
    ]
    if "error" in values and len(values) == 1:
        return [*out, str(values["error"]), ""]
    out += [
        "| workers | tasks/s | × 1 worker | worker CPU µs/task | Redis CPU µs/task "
        "| Redis CPU, % of one core |",
        "|---|---|---|---|---|---|",
    ]
    one = values.get(f"tasks_per_s_{sizes['scaling_workers'][0]}")
    for workers in sizes["scaling_workers"]:
        rate = values.get(f"tasks_per_s_{workers}")
        gain = f"{rate / one:.2f}×" if isinstance(rate, int | float) and isinstance(one, int | float) else "–"
        worker_cpu = cell(values.get(f"worker_cpu_us_per_task_{workers}"), 1)
        redis_cpu = cell(values.get(f"redis_cpu_us_per_task_{workers}"), 1)
        redis_core = cell(values.get(f"redis_core_percent_{workers}"), 0)
        out.append(f"| {workers} | {cell(rate)} | {gain} | {worker_cpu} | {redis_cpu} | {redis_core} |")
    cores = meta["machine"].get("cpus")
    out += [
        "",
        f"This machine has {cores} cores for Redis, every worker process and the harness together: "
        "once the workers and Redis want more than that, more workers add no rate. Redis runs "
        "commands on one thread, so near 100% of one core it is the limit on any machine.",
        "",
    ]
    return out


def variant_cost(values: dict[str, dict[str, Any]], variant: str, what: str) -> list[str]:
    """The time an ArdiQ variant adds to each task, from its dispatch row beside plain ArdiQ's."""
    plain = values.get("ardiq", {}).get("tasks_per_s")
    other = values.get(variant, {}).get("tasks_per_s")
    if not isinstance(plain, int | float) or not isinstance(other, int | float) or not plain or not other:
        return []
    cost_us = (1 / other - 1 / plain) * 1e6
    share = other / plain
    return [f"{what}: {cost_us:+.2f} µs per task ({share:.2f}× the dispatch rate).", ""]


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    redis_version = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis": redis_version,
    }


def headline(run: dict[str, Any]) -> str:
    if "error" in run:
        return str(run["error"])
    for key, unit in (
        ("latency_p50_ms", "ms p50"),
        ("roundtrip_p50_ms", "ms p50 round trip"),
        ("tasks_per_s", "tasks/s"),
        ("single_jobs_per_s", "jobs/s single"),
        ("python", "jobs/s (Python client)"),
    ):
        if key in run:
            return f"{cell(run[key], 1)} {unit}"
    return ""

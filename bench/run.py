"""ArdiQ against peer queues, side by side: `make bench` (or `.venv/bin/python bench/run.py`).

This harness owns the run: it starts its own redis-server, installs each peer
into `bench/.venvs/<peer>` from the pins in `bench/requirements/<peer>.txt`,
and drives one adapter per peer (`bench/peers/<peer>.py`, run with the peer's
own interpreter) as subprocesses speaking JSON lines. It measures the worker
process from outside (peak RSS from /proc/<pid>/status VmHWM, CPU seconds from
/proc/<pid>/stat) and Redis commands from `INFO commandstats`, repeats every
measurement with the peer order rotated, and prints medians as Markdown.
Ratios are always "peer ÷ ArdiQ" (ArdiQ = 1.00×). bench/README.md says what
each workload means; `harness/` holds the parts (peers, workloads, reporting).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ardiq_testing import RedisServer
from harness import BENCH, REFERENCE, progress
from harness.peers import PEERS, PeerSpec, describe, ensure_venv
from harness.reporting import headline, machine, markdown, summarize
from harness.workloads import QUICK, WORKLOADS, Bench, Sizes

RESULTS = BENCH / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny counts, one repetition: a smoke run")
    parser.add_argument("--only", help="comma-separated peers: " + ",".join(p.name for p in PEERS))
    parser.add_argument("--workloads", help="comma-separated workloads: " + ",".join(WORKLOADS))
    parser.add_argument("--repetitions", type=int, help="repetitions (default 3, 1 with --quick)")
    parser.add_argument("--concurrency", type=int, help="worker concurrency for every workload (default 100)")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when any queue or workload could not be measured"
    )
    args = parser.parse_args(argv)
    names = [p.name for p in PEERS]
    args.peers = [p for p in PEERS if not args.only or p.name in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(names) if args.only else set()
    if unknown:
        parser.error(f"unknown peers {sorted(unknown)}; choose from {names}")
    args.selected = [w for w in WORKLOADS if not args.workloads or w in args.workloads.split(",")]
    unknown = set(args.workloads.split(",")) - set(WORKLOADS) if args.workloads else set()
    if unknown:
        parser.error(f"unknown workloads {sorted(unknown)}; choose from {list(WORKLOADS)}")
    return args


def rotated(items: list[PeerSpec], by: int) -> list[PeerSpec]:
    by %= max(1, len(items))
    return items[by:] + items[:by]


@contextlib.contextmanager
def own_redis() -> Iterator[str]:
    # Always a fresh server of our own (never REDIS_URL): the harness flushes it between runs.
    with RedisServer() as server:
        yield server.url


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else Sizes()
    if args.repetitions or args.concurrency:
        sizes = Sizes(
            **{
                **sizes.__dict__,
                **{
                    k: v
                    for k, v in (("repetitions", args.repetitions), ("concurrency", args.concurrency))
                    if v
                },
            }
        )
    logs = RESULTS / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old in logs.glob("*.log"):
        old.unlink()

    pythons: dict[str, Path] = {}
    versions: dict[str, str] = {}
    batch: dict[str, bool] = {}
    results: dict[str, bool] = {}
    unavailable: dict[str, str] = {}
    peers: list[PeerSpec] = []
    for spec in args.peers:
        try:
            pythons[spec.name] = ensure_venv(spec)
            described = describe(spec, pythons[spec.name])
            versions[spec.name] = f"{described['version']} (py {described['python']})"
            batch[spec.name] = bool(described["batch"])
            results[spec.name] = bool(described.get("results"))
            peers.append(spec)
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as error:
            reason = f"n/a ({error})"
            if spec.name == REFERENCE and "ardiq" in str(error).lower():
                reason = "n/a (not built: run `make build-dev`)"
            unavailable[spec.name] = reason
            progress(f"{spec.name}: {reason}")

    runs: list[dict[str, Any]] = []
    started = time.monotonic()
    with own_redis() as url:
        bench = Bench(url, sizes, pythons, logs)
        for rep in range(sizes.repetitions):
            for workload in args.selected:
                # dispatch10 is the dispatch workload at the lower concurrency: the same queues.
                base = "dispatch" if workload == "dispatch10" else workload
                turn = [p for p in rotated(peers, rep) if p.workloads is None or base in p.workloads]
                if workload == "roundtrip":
                    # A queue without a way to await a result has no round trip: its row says so.
                    turn = [p for p in turn if results[p.name]]
                if workload in ("clients", "scaling"):
                    # The clients' scripts need no worker, and the scaling run is ArdiQ's own
                    # (several of its workers on one Redis): they run whenever ArdiQ is selected.
                    pool = args.peers if workload == "clients" else peers
                    turn = [p for p in pool if p.name == REFERENCE]
                for spec in turn:
                    label = f"rep {rep + 1}/{sizes.repetitions} · {workload:<8} · {spec.name}"
                    progress(f"{label} …")
                    run: dict[str, Any] = {"rep": rep + 1, "workload": workload, "peer": spec.name}
                    began = time.monotonic()
                    try:
                        if workload == "enqueue":
                            run |= bench.enqueue_rates(spec, batch[spec.name])
                        elif workload == "clients":
                            run |= bench.clients(args.quick)
                        elif workload == "roundtrip":
                            run |= bench.roundtrip(spec, sizes.roundtrip)
                        elif workload == "scaling":
                            run |= bench.scaling(spec)
                        elif workload == "dispatch10":
                            run |= bench.execute(spec, "dispatch", sizes.dispatch, sizes.low_concurrency)
                        else:
                            count = getattr(sizes, workload)
                            run |= bench.execute(spec, workload, count)
                    except (RuntimeError, TimeoutError, OSError, KeyError, ValueError) as error:
                        run["error"] = f"{type(error).__name__}: {error}"
                    runs.append(run)
                    progress(f"{label} done in {time.monotonic() - began:.1f} s: {headline(run)}")
    elapsed = time.monotonic() - started

    order = [p.name for p in PEERS]
    summary = summarize(runs)
    for name, reason in unavailable.items():
        for workload in args.selected:
            if workload not in ("clients", "scaling"):
                summary.setdefault(workload, {})[name] = {"error": reason}
    if "roundtrip" in args.selected:
        for spec in peers:
            if not results[spec.name] and (spec.workloads is None or "roundtrip" in spec.workloads):
                summary.setdefault("roundtrip", {})[spec.name] = {"error": "n/a (no result API)"}
    meta = {
        "machine": machine(),
        "sizes": sizes.__dict__,
        "versions": versions,
        "command": " ".join(["bench/run.py", *argv]),
        "elapsed_s": round(elapsed, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ratio": "peer ÷ ArdiQ",
        "timing": "worker throughput = tasks ÷ (time of the last task body's end − worker start), "
        "both taken inside the worker process; enqueue rates are taken inside the producer process",
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"meta": meta, "summary": summary, "runs": runs}, indent=2) + "\n")
    print(markdown(summary, order, meta))
    progress(f"finished in {elapsed:.0f} s; results in {args.output}, adapter logs in {logs}")
    failed = [f"{r['peer']} {r['workload']}: {r['error']}" for r in runs if "error" in r]
    failed += [f"{name}: {reason}" for name, reason in unavailable.items()]
    if args.strict and failed:
        progress("failed (--strict): " + "; ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""ArdiQ against peer queues, side by side: `make bench` (or `.venv/bin/python bench/run.py`).

This harness owns the run: it starts its own redis-server, installs each peer
into `bench/.venvs/<peer>` from the pins in `bench/requirements/<peer>.txt`,
and drives one adapter per peer (`bench/peers/<peer>.py`, run with the peer's
own interpreter) as subprocesses speaking JSON lines. It measures the worker
process from outside (peak RSS from /proc/<pid>/status VmHWM, CPU seconds from
/proc/<pid>/stat) and Redis commands from `INFO commandstats`, repeats every
measurement with the peer order rotated, and prints medians as Markdown.
Ratios are always "peer ÷ ArdiQ" (ArdiQ = 1.00×). bench/README.md says what
each workload means.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import platform
import queue
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ardiq_testing import RedisServer

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
VENVS = BENCH / ".venvs"
RESULTS = BENCH / "results"

REFERENCE = "ardiq"
WORKLOADS = ("dispatch", "cpu", "io", "enqueue", "latency", "clients")


@dataclass(frozen=True)
class PeerSpec:
    """A queue under test: its adapter, its lock file, the Python it needs."""

    name: str
    adapter: str
    python: tuple[int, int] | None  # None: the harness's own venv (ArdiQ from this checkout)

    @property
    def requirements(self) -> Path:
        return BENCH / "requirements" / f"{self.adapter}.txt"


PEERS = (
    PeerSpec("ardiq", "ardiq_local", None),
    PeerSpec("ardiq-pypi", "ardiq_pypi", (3, 12)),
    PeerSpec("arq", "arq", (3, 11)),
    PeerSpec("streaq", "streaq", (3, 11)),
    PeerSpec("taskiq", "taskiq", (3, 11)),
    PeerSpec("saq", "saq", (3, 11)),
)


@dataclass(frozen=True)
class Sizes:
    """How much work each measurement does."""

    dispatch: int = 20_000
    cpu: int = 1_000
    io: int = 1_000
    enqueue: int = 20_000
    latency: int = 1_000
    latency_interval_ms: float = 2.0
    batch_size: int = 1_000
    concurrency: int = 100
    repetitions: int = 3


QUICK = Sizes(dispatch=300, cpu=50, io=200, enqueue=300, latency=50, repetitions=1)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- Redis


class RedisProbe:
    """The few commands the harness itself sends, over a plain RESP connection."""

    def __init__(self, url: str) -> None:
        address = url.split("://", 1)[1].split("/", 1)[0]
        host, _, port = address.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.reader = self.sock.makefile("rb")

    def call(self, *args: str) -> Any:
        request = f"*{len(args)}\r\n" + "".join(f"${len(a.encode())}\r\n{a}\r\n" for a in args)
        self.sock.sendall(request.encode())
        return self._reply()

    def _reply(self) -> Any:
        line = self.reader.readline()[:-2]
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(f"redis: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            size = int(rest)
            return None if size < 0 else self.reader.read(size + 2)[:-2].decode()
        if kind == b"*":
            return [self._reply() for _ in range(int(rest))]
        raise RuntimeError(f"unexpected RESP reply {line!r}")

    def reset(self) -> None:
        """An empty Redis with zeroed command counters."""
        self.call("FLUSHALL", "SYNC")
        self.call("SCRIPT", "FLUSH", "SYNC")
        self.call("FUNCTION", "FLUSH", "SYNC")
        self.call("CONFIG", "RESETSTAT")

    def command_calls(self) -> dict[str, int]:
        """Calls per command since the last reset, without the harness's own CONFIG and INFO."""
        calls: dict[str, int] = {}
        for line in str(self.call("INFO", "commandstats")).splitlines():
            if not line.startswith("cmdstat_"):
                continue
            name, _, stats = line[len("cmdstat_") :].partition(":")
            if name.startswith("config") or name == "info":
                continue
            calls[name] = int(stats.split(",")[0].split("=")[1])
        return calls

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


# --------------------------------------------------------------------------- environments


def _python_version(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return int(out[0]), int(out[1])


def find_python(wanted: tuple[int, int]) -> str | None:
    """An interpreter of exactly `wanted`, else the nearest newer one (PATH, then pyenv)."""
    candidates: list[str] = [getattr(sys, "_base_executable", sys.executable)]
    for minor in range(wanted[1], wanted[1] + 3):
        found = shutil.which(f"python{wanted[0]}.{minor}")
        if found:
            candidates.append(found)
    pyenv = shutil.which("pyenv")
    pyenv_root = (
        os.environ.get("PYENV_ROOT")
        or (subprocess.run([pyenv, "root"], capture_output=True, text=True).stdout.strip() if pyenv else "")
        or str(Path.home() / ".pyenv")
    )
    versions = Path(pyenv_root) / "versions"
    if versions.is_dir():
        candidates += [str(p / "bin" / "python3") for p in sorted(versions.iterdir()) if p.name[:1].isdigit()]
    best: tuple[tuple[int, int], str] | None = None
    for candidate in candidates:
        version = _python_version(candidate)
        if version is None or version < wanted:
            continue
        if version == wanted:
            return candidate
        if best is None or version < best[0]:
            best = (version, candidate)
    return best[1] if best else None


def ensure_venv(spec: PeerSpec) -> Path:
    """The adapter's interpreter, installing the peer's pinned packages when the lock changed."""
    if spec.python is None:
        return Path(sys.executable)
    venv = VENVS / spec.adapter
    python = venv / "bin" / "python"
    interpreter = find_python(spec.python)
    if interpreter is None:
        raise RuntimeError(f"needs Python >= {spec.python[0]}.{spec.python[1]} (python3.x on PATH or pyenv)")
    stamp = hashlib.sha256(spec.requirements.read_bytes() + interpreter.encode()).hexdigest()
    marker = venv / ".installed"
    if marker.exists() and marker.read_text() == stamp and python.exists():
        return python
    lock = spec.requirements.relative_to(ROOT)
    progress(f"installing {spec.name} into {venv.relative_to(ROOT)} from {lock}")
    shutil.rmtree(venv, ignore_errors=True)
    subprocess.run([interpreter, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "-r",
            str(spec.requirements),
        ],
        check=True,
    )
    marker.write_text(stamp)
    return python


# --------------------------------------------------------------------------- adapter processes


class Adapter:
    """One adapter subprocess; its stdout carries one JSON object per line."""

    def __init__(
        self, python: Path, spec: PeerSpec, role: str, options: list[str], url: str, log: Path
    ) -> None:
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [str(python), str(BENCH / "peers" / f"{spec.adapter}.py"), role, "--url", url, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=ROOT,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
        )
        self.pid = self.process.pid
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            with contextlib.suppress(ValueError):
                self.lines.put(json.loads(raw))
        self.lines.put(None)

    def next_event(self, name: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {name!r} within {timeout_s:.0f} s")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.process.wait()
                raise RuntimeError(f"adapter exited with code {code} before {name!r} (log: {self.log.name})")
            if line.get("event") == name:
                return line

    def finish(self, timeout_s: float = 30) -> None:
        """Lets a worker exit (it waits for stdin to close), or ends the adapter's process group."""
        with contextlib.suppress(OSError):
            if self.process.stdin is not None:
                self.process.stdin.close()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
        self.log.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, 9)
            self.process.wait()


def process_usage(pid: int) -> tuple[float, float]:
    """(peak RSS in MiB, user+system CPU seconds) of a live process, all its threads included."""
    peak_kib = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            peak_kib = int(line.split()[1])
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime: fields 14 and 15 of proc(5)
    return peak_kib / 1024, ticks / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- measurements


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

    def execute(self, spec: PeerSpec, workload: str, count: int) -> dict[str, Any]:
        """One worker over `count` tasks: pre-enqueued, or (latency) enqueued while it idles."""
        probe = RedisProbe(self.url)
        try:
            probe.reset()
            concurrency = self.sizes.concurrency
            bound_s = {
                "dispatch": count / 50,
                "cpu": count * 0.05,
                "io": count * 0.05,
                "latency": count * 0.05,
            }
            timeout_s = 60 + bound_s[workload]
            if workload != "latency":
                self.enqueue(spec, workload, count, "setup", timeout_s)
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
                peak_mib, cpu_s = process_usage(worker.pid)
                worker.finish()
            finally:
                worker.kill()
            calls = probe.command_calls()
        finally:
            probe.close()
        seconds = done["seconds"]
        result: dict[str, Any] = {
            "tasks": done["tasks"],
            "seconds": seconds,
            "tasks_per_s": done["tasks"] / seconds if seconds else None,
            "worker_peak_rss_mib": peak_mib,
            "worker_cpu_s": cpu_s,
            "redis_commands": calls,
            "redis_commands_per_task": sum(calls.values()) / count,
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


# --------------------------------------------------------------------------- report


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
            keys = {k for r in mine for k in r} - {"workload", "peer", "rep", "redis_commands", "error"}
            peers[peer] = {k: median_of(mine, k) for k in sorted(keys)} or {"error": median_of(mine, "error")}
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


COLUMNS: dict[str, list[tuple[str, str, int, bool]]] = {
    # workload: (heading, key, decimals, with a ratio column)
    "dispatch": [
        ("tasks/s", "tasks_per_s", 0, True),
        ("worker CPU s", "worker_cpu_s", 2, True),
        ("peak RSS MiB", "worker_peak_rss_mib", 1, True),
        ("Redis cmds/task", "redis_commands_per_task", 2, True),
    ],
    "cpu": [
        ("tasks/s", "tasks_per_s", 0, True),
        ("task body ms", "cpu_body_ms", 2, False),
        ("worker CPU s", "worker_cpu_s", 2, True),
        ("peak RSS MiB", "worker_peak_rss_mib", 1, True),
        ("Redis cmds/task", "redis_commands_per_task", 2, True),
    ],
    "io": [
        ("tasks/s", "tasks_per_s", 0, True),
        ("% of ideal", "percent_of_ideal", 1, False),
        ("worker CPU s", "worker_cpu_s", 2, True),
        ("peak RSS MiB", "worker_peak_rss_mib", 1, True),
        ("Redis cmds/task", "redis_commands_per_task", 2, True),
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
    "clients": [
        ("Python jobs/s", "python", 0, False),
        ("TypeScript jobs/s", "typescript", 0, False),
        ("Rust jobs/s", "rust", 0, False),
    ],
}

TITLES = {
    "dispatch": "Dispatch: no-op async tasks, pre-enqueued",
    "cpu": "CPU-bound: about 2 ms of pure-Python work per task",
    "io": "I/O-bound: each task awaits a 100 ms sleep",
    "enqueue": "Enqueue: single awaited enqueues, and batches where the queue offers them",
    "latency": "Latency: enqueue to start, idle worker, jobs spaced apart",
    "clients": "ArdiQ clients' own batch-enqueue scripts",
}


def markdown(summary: dict[str, dict[str, dict[str, Any]]], order: list[str], meta: dict[str, Any]) -> str:
    sizes = meta["sizes"]
    counts = {
        "dispatch": sizes["dispatch"],
        "cpu": sizes["cpu"],
        "io": sizes["io"],
        "enqueue": sizes["enqueue"],
        "latency": sizes["latency"],
        "clients": sizes["enqueue"],
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
        out += [f"### {TITLES[workload]} ({counts[workload]:,})", ""]
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
    return "\n".join(out)


# --------------------------------------------------------------------------- main


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
    unavailable: dict[str, str] = {}
    peers: list[PeerSpec] = []
    for spec in args.peers:
        try:
            pythons[spec.name] = ensure_venv(spec)
            info = subprocess.run(
                [str(pythons[spec.name]), str(BENCH / "peers" / f"{spec.adapter}.py"), "info"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=120,
            )
            if info.returncode != 0:
                last = (info.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(last)
            described = json.loads(info.stdout.strip().splitlines()[-1])
            versions[spec.name] = f"{described['version']} (py {described['python']})"
            batch[spec.name] = bool(described["batch"])
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
                turn = rotated(peers, rep)
                if workload == "clients":
                    # The clients' scripts need no worker: they run whenever ArdiQ is selected.
                    turn = [p for p in args.peers if p.name == REFERENCE]
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
            if workload != "clients":
                summary.setdefault(workload, {})[name] = {"error": reason}
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


def headline(run: dict[str, Any]) -> str:
    if "error" in run:
        return str(run["error"])
    for key, unit in (
        ("latency_p50_ms", "ms p50"),
        ("tasks_per_s", "tasks/s"),
        ("single_jobs_per_s", "jobs/s single"),
        ("python", "jobs/s (Python client)"),
    ):
        if key in run:
            return f"{cell(run[key], 1)} {unit}"
    return ""


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""The queues under test: their specs, their virtualenvs (`bench/.venvs/<peer>`, from the pins
in `bench/requirements/`), and their adapter processes (`bench/peers/<peer>.py`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import BENCH, ROOT, progress

VENVS = BENCH / ".venvs"


@dataclass(frozen=True)
class PeerSpec:
    """A queue under test: its adapter, its lock file, the Python it needs."""

    name: str
    adapter: str
    python: tuple[int, int] | None  # None: the harness's own venv (ArdiQ from this checkout)
    workloads: tuple[str, ...] | None = None  # None: every workload

    @property
    def requirements(self) -> Path:
        return BENCH / "requirements" / f"{self.adapter}.txt"


PEERS = (
    PeerSpec("ardiq", "ardiq_local", None),
    # What one no-op middleware costs: dispatch only, beside plain ArdiQ.
    PeerSpec("ardiq+middleware", "ardiq_middleware", None, ("dispatch",)),
    # What Prometheus metrics cost (every job counted in the engine): dispatch only.
    PeerSpec("ardiq+metrics", "ardiq_metrics", None, ("dispatch",)),
    PeerSpec("ardiq-pypi", "ardiq_pypi", (3, 12)),
    PeerSpec("arq", "arq", (3, 11)),
    PeerSpec("streaq", "streaq", (3, 11)),
    PeerSpec("taskiq", "taskiq", (3, 11)),
    PeerSpec("saq", "saq", (3, 11)),
)


def adapter_command(python: Path, spec: PeerSpec) -> list[str]:
    """How an adapter is started, from `bench/`: as a module, so that an adapter named like its
    library (`peers/arq.py`) never shadows it, and `peers.workload` imports without path edits."""
    return [str(python), "-m", f"peers.{spec.adapter}"]


def describe(spec: PeerSpec, python: Path) -> dict[str, Any]:
    """The adapter's `info`: version, Python and whether it has a batch enqueue; RuntimeError when
    the peer cannot be imported."""
    info = subprocess.run(
        [*adapter_command(python, spec), "info"], cwd=BENCH, capture_output=True, text=True, timeout=120
    )
    if info.returncode != 0:
        raise RuntimeError((info.stderr.strip().splitlines() or ["no output"])[-1])
    described: dict[str, Any] = json.loads(info.stdout.strip().splitlines()[-1])
    return described


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


class Adapter:
    """One adapter subprocess; its stdout carries one JSON object per line."""

    def __init__(
        self, python: Path, spec: PeerSpec, role: str, options: list[str], url: str, log: Path
    ) -> None:
        self.log = log.open("ab")
        self.process = subprocess.Popen(
            [*adapter_command(python, spec), role, "--url", url, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            cwd=BENCH,
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

    def tell(self, line: str) -> None:
        """Writes one line to the adapter's stdin: a waiting producer starts, a worker stops."""
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        self.process.stdin.flush()

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

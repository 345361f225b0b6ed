"""The harness behind `bench/run.py`, by concern: `peers` (the queues under test, their
virtualenvs and adapter processes), `workloads` (what is measured and how), `reporting` (medians,
ratios and the Markdown tables)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
REFERENCE = "ardiq"  # every ratio is peer ÷ this queue


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)

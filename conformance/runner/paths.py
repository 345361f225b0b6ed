"""Where the runner finds the repository's parts."""

from __future__ import annotations

from pathlib import Path

CONFORMANCE = Path(__file__).resolve().parents[1]
ROOT = CONFORMANCE.parent
PYTHON = str(ROOT / ".venv" / "bin" / "python")
RUST_TESTEE = ROOT / "target" / "release" / "ardiq-conformance-testee"
APPS = CONFORMANCE / "apps"
FAILURES = CONFORMANCE / "failures"

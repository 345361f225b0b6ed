"""Writes `v1/*.json` from the cases the area modules list, or checks that they match.

Expected bytes come from the suite's own reference encoders (`typed.py`:
the `msgpack` package; `records.py`: the `protobuf` runtime over a descriptor
written by hand), never from an implementation under test. Bytes that
SPEC.md states outright are asserted against the spec's text (`builders`).

    .venv/bin/python -m conformance.vectors.generate           # write the files
    .venv/bin/python -m conformance.vectors.generate --check   # exit 1 naming each file that differs

Run it after changing a case and review the diff of the JSON files: the JSON
files are the contract. One module per area (`values`, `records`, `enqueue`,
`scripts/`), each with a `DESCRIPTION` and `build()`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

from conformance.vectors import enqueue, records, scripts, values
from conformance.vectors.builders import render

OUT = Path(__file__).resolve().parent / "v1"
ROOT = OUT.parents[2]
AREAS: dict[str, ModuleType] = {"values": values, "records": records, "enqueue": enqueue, "scripts": scripts}


def documents() -> dict[Path, str]:
    """Every vector file's path and the text the generator writes for it."""
    return {
        OUT / f"{name}.json": render(name, area.DESCRIPTION, area.build()) for name, area in AREAS.items()
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 when a committed file differs"
    )
    args = parser.parse_args(argv)
    texts = documents()
    if args.check:
        stale = [path for path, text in texts.items() if not path.exists() or path.read_text("utf-8") != text]
        for path in stale:
            print(f"{path.relative_to(ROOT)} differs from what the generator writes", file=sys.stderr)
        if stale:
            print(
                "run `.venv/bin/python -m conformance.vectors.generate` and review the diff", file=sys.stderr
            )
        return 1 if stale else 0
    OUT.mkdir(parents=True, exist_ok=True)
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

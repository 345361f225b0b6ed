"""What every vector area's cases are built from: the fixed clock, the spec's bounds, typed-value
shorthands, and the document a case list becomes."""

from __future__ import annotations

import json
from typing import Any

from conformance import records

Case = dict[str, Any]

NOW = 1_700_000_000_000  # the fixed clock of every case (ms)
# SPEC.md section 5.
MAX_DURATION_MS = 3_155_760_000_000
MAX_SCHEDULE_MS = 253_402_300_799_999
MAX_RETRIES = 1_000

# SPEC.md section 6 states these bytes; the generator must agree with the spec's text.
QUEUED = bytes.fromhex("0a03312e301001")
SCHEDULED = bytes.fromhex("0a03312e301002")
assert records.encode("Status", {"spec_version": "1.0", "state": 1}) == QUEUED
assert records.encode("Status", {"spec_version": "1.0", "state": 2}) == SCHEDULED


def i(n: int) -> dict[str, str]:
    """A typed int."""
    return {"int": str(n)}


def s(text: str) -> dict[str, str]:
    """A typed str."""
    return {"str": text}


def job_fields(**fields: Any) -> dict[str, Any]:
    """A `Job` record's fields with the spec version first."""
    out: dict[str, Any] = {"spec_version": "1.0"}
    out.update(fields)
    return out


def render(area: str, description: str, cases: list[Case]) -> str:
    """The text of `v1/<area>.json` for these cases (names must be unique)."""
    names = [case["name"] for case in cases]
    duplicates = {name for name in names if names.count(name) > 1}
    assert not duplicates, duplicates
    document = {"area": area, "spec_version": "1.0", "description": description, "cases": cases}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"

"""The `scripts` area: every script of `spec/scripts/` against a real Redis (database before,
KEYS and ARGV, reply, database after), by script group."""

from __future__ import annotations

from conformance.vectors.builders import Case
from conformance.vectors.scripts import cron, ending, holding, inspecting, queueing

DESCRIPTION = "Every spec script against a real Redis: keys before, KEYS and ARGV, reply, keys after."


def build() -> list[Case]:
    return [*queueing.build(), *ending.build(), *holding.build(), *inspecting.build(), *cron.build()]

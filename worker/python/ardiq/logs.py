"""Logs worth reading. A line per job on the logger ``ardiq.job``:
``started`` and ``completed in 12.3 ms`` (and ``aborted``) at INFO; a
failure that will be retried at WARNING without a traceback (``retry 2 of 3
in 4.1 s``); the final failure at ERROR with the run's traceback. Every line
carries its fields in the record (`extra`): ``job_id``, ``task``,
``queue``, ``attempt``, ``event``, ``duration_ms`` and ``error_type``.
Setting ``ardiq.job`` to WARNING turns the INFO lines off at their source:
the core then makes none. `JsonFormatter` writes one JSON object per line
(``ardiq run --log-format json``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ardiq._core import JobEvent

JOB_LOGGER = logging.getLogger("ardiq.job")

#: The record attributes a job line adds.
JOB_FIELDS = ("job_id", "task", "queue", "attempt", "event", "duration_ms", "error_type")

_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def log_job_events(events: list[JobEvent]) -> None:
    """Emits the core's lines about jobs."""
    logger = JOB_LOGGER
    for level, event, job_id, task, queue, attempt, duration_ms, error_type, message, traceback in events:
        if not logger.isEnabledFor(level):
            continue
        fields = {
            "job_id": job_id,
            "task": task,
            "queue": queue,
            "attempt": attempt,
            "event": event,
            "duration_ms": None if duration_ms is None else round(duration_ms, 3),
            "error_type": error_type or None,
        }
        record = logger.makeRecord(logger.name, level, "(ardiq core)", 0, message, (), None, extra=fields)
        if traceback:
            # The run's own traceback (from any language), shown where a
            # formatter shows an exception's.
            record.exc_text = traceback.rstrip("\n")
        logger.handle(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the
    record's extra fields, and the traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in record.__dict__.items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, default=str)


def configure(level: str, log_format: str) -> None:
    """The `ardiq` command's logging: `text` or `json` lines on stderr."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)

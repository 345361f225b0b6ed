"""How the dashboard writes values for people: times (UTC, and how long
ago), durations, sizes, job arguments and results cut to a size a page can
hold, a Redis URL without its password, and the throughput chart as the
bars of an inline SVG."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def when(ms: int | None) -> str:
    """A time in ms since the epoch as UTC ISO 8601 to the second; `-` for none."""
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def duration(ms: float | None) -> str:
    """`850 ms`, `12.3 s`, `4 min 5 s`, `2 h 10 min`; `-` for none."""
    if ms is None:
        return "-"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} d {hours % 24} h"


def ago(ms: int | None, at_ms: int) -> str:
    """How long before `at_ms` the time `ms` was (`in ...` when later)."""
    if not ms:
        return "-"
    if ms > at_ms:
        return f"in {duration(ms - at_ms)}"
    return f"{duration(at_ms - ms)} ago"


def size(count: int) -> str:
    """A byte count for people: `512 B`, `4.0 KiB`, `1.2 MiB`."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _plain(value: Any) -> Any:
    """JSON's `default`: bytes (a value of the spec's type table JSON has
    no type for) as their length and first bytes in hex."""
    if isinstance(value, bytes | bytearray):
        head = bytes(value[:32]).hex()
        return f"<{len(value)} bytes: {head}{'…' if len(value) > 32 else ''}>"
    return repr(value)


@dataclass(frozen=True, slots=True)
class Shown:
    """A value as text for a page: `text` is at most the limit; `total` is
    the length of the whole text in characters, `truncated` whether `text`
    is only its beginning."""

    text: str
    total: int
    truncated: bool

    @property
    def total_size(self) -> str:
        return size(self.total)


def clipped(text: str, limit: int) -> Shown:
    """`text` cut to `limit` characters."""
    if len(text) <= limit:
        return Shown(text, len(text), False)
    return Shown(text[:limit], len(text), True)


def shown(value: Any, limit: int) -> Shown:
    """`value` (decoded from MessagePack: numbers, text, bytes, booleans,
    nil, arrays, maps) as JSON (indented when longer than a line), cut to
    `limit` characters."""
    text = json.dumps(value, ensure_ascii=False, default=_plain)
    if len(text) > 80:  # one line reads best while it fits one
        text = json.dumps(value, indent=2, ensure_ascii=False, default=_plain)
    return clipped(text, limit)


def redacted(url: str) -> str:
    """The Redis URL without its password (to show on a page)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}:***@{host}" if user else f":***@{host}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True, slots=True)
class Bar:
    """One bucket of the chart: its box in the SVG and what it stands for."""

    x: float
    y: float
    width: float
    height: float
    rate: float
    start_ms: int


@dataclass(frozen=True, slots=True)
class Chart:
    """The throughput series as bars in a `width` × `height` SVG, the
    scale's top (`peak`, jobs per second), and figures for the caption."""

    width: int
    height: int
    bars: list[Bar]
    peak: float
    latest: float | None
    average: float | None
    span_s: int


def scale_top(top: float) -> float:
    """The smallest of 1, 2 and 5 times a power of ten (1 at least) that is
    not below `top`: a round top for the chart's scale."""
    if top <= 1:
        return 1.0
    power = 10.0 ** math.floor(math.log10(top))
    return next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= top)


def chart(series: Sequence[tuple[int, float]], bucket_ms: int, span_ms: int, end_ms: int) -> Chart:
    """Bars for the `(bucket start ms, jobs per second)` buckets of the last
    `span_ms` before `end_ms`."""
    width, height = 600, 120
    start_ms = end_ms - span_ms
    shown = [(ms, value) for ms, value in series if ms >= start_ms]
    peak = scale_top(max((value for _, value in shown), default=0.0))
    bar_width = bucket_ms / span_ms * width
    bars = []
    for ms, value in shown:
        bar_height = min(value, peak) / peak * height
        bars.append(
            Bar(
                x=round((ms - start_ms) / span_ms * width, 2),
                y=round(height - bar_height, 2),
                width=round(bar_width, 2),
                height=round(bar_height, 2),
                rate=value,
                start_ms=ms,
            )
        )
    rates = [value for _, value in shown]
    return Chart(
        width=width,
        height=height,
        bars=bars,
        peak=peak,
        latest=rates[-1] if rates else None,
        average=sum(rates) / len(rates) if rates else None,
        span_s=span_ms // 1000,
    )


def rate(value: float | None) -> str:
    """Jobs per second for people."""
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}/s"
    return f"{value:.1f}/s"

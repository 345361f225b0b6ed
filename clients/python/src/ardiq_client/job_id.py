"""Job ids: UUID version 7 (RFC 9562) in canonical lowercase text.

The 48-bit millisecond timestamp leads, so ids sort by creation time; the
74 random bits are incremented within one millisecond so ids made by this
process stay in order even when many share a millisecond.
"""

from __future__ import annotations

import os
import threading
import time

_RANDOM_BITS = 74
_RANDOM_MASK = (1 << _RANDOM_BITS) - 1
_LOW_BITS = 62
_LOW_MASK = (1 << _LOW_BITS) - 1

_lock = threading.Lock()
_last_ms = 0
_last_random = 0


def _random74() -> int:
    return int.from_bytes(os.urandom(10), "big") & _RANDOM_MASK


def new_job_id() -> str:
    """A new UUID v7 as lowercase text, e.g. ``0190e3a4-5b6c-7d8e-9f01-23456789abcd``."""
    global _last_ms, _last_random
    now_ms = time.time_ns() // 1_000_000
    with _lock:
        if now_ms > _last_ms:
            random = _random74()
        else:
            # Same millisecond (or the clock stepped back): keep order by counting up.
            now_ms = _last_ms
            random = _last_random + 1
            if random > _RANDOM_MASK:
                now_ms += 1
                random = _random74()
        _last_ms, _last_random = now_ms, random
    value = (
        (now_ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (random >> _LOW_BITS) << 64
        | 0b10 << 62
        | (random & _LOW_MASK)
    )
    text = value.to_bytes(16, "big").hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"

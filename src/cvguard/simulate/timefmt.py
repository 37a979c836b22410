"""Event time as integer milliseconds since the Unix epoch, and its ISO 8601 UTC spelling."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def iso(ms: int) -> str:
    """``2026-11-24T08:00:00.123Z`` for ``ms`` milliseconds since the epoch."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def to_ms(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError("start must carry a timezone")
    return int(value.astimezone(UTC).timestamp() * 1000)

"""The scale-out event bus: a Redis stream read through a consumer group.

    bus = RedisStreamBus(redis.Redis.from_url(url))
    bus.publish(events)                              # producers (the platform, a loader, the API)
    bus.ensure_group("workers")
    for entry in bus.read("workers", "w1", count=500, block_ms=1000): ...   # new entries
    bus.claim("workers", "w2", min_idle_ms=30_000, count=500)              # a dead worker's
    bus.ack("workers", [entry.entry_id ...])         # only after the durable write

Each stream entry holds one event as JSON (field ``e``). Delivery is at least once: an entry read but
not acknowledged stays in the group's pending list until its consumer acknowledges it or another
consumer claims it (XAUTOCLAIM) after ``min_idle_ms``. Writes keyed by ``event_id`` make the
redelivery harmless. An entry that is not a valid event goes to the dead-letter stream
(``<stream>:dead``) with the reason, and is acknowledged: reported, never silently dropped.

The stream is capped (``MAXLEN ~``) so that Redis memory stays bounded; the cap must stay above the
backlog the workers may fall behind by. ``publish(..., max_backlog=N)`` waits while any group has
more than N entries not yet acknowledged (back-pressure instead of trimming unread entries).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from pydantic import ValidationError

from cvguard.errors import CvguardError
from cvguard.events import Event

log = logging.getLogger(__name__)

DEFAULT_STREAM = "cvguard:events"
DEFAULT_GROUP = "cvguard-workers"
DEFAULT_MAXLEN = 1_000_000
FIELD = b"e"
StreamId = tuple[int, int]  # a stream entry id, ``<ms>-<n>``, as a comparable pair


class BacklogFull(CvguardError):
    """``publish`` waited longer than its timeout for the workers to catch up."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One delivered stream entry: the event, or why it is not one."""

    entry_id: str
    event: Event | None
    error: str | None = None
    raw: bytes = b""


class RedisStreamBus:
    """Publish events to, and consume them from, one Redis stream."""

    def __init__(
        self, client: redis.Redis, *, stream: str = DEFAULT_STREAM, maxlen: int | None = DEFAULT_MAXLEN
    ) -> None:
        self.redis = client
        self.stream = stream
        self.dead_letter = f"{stream}:dead"
        self.maxlen = maxlen

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> RedisStreamBus:
        return cls(redis.Redis.from_url(url), **kwargs)

    # -- producing ------------------------------------------------------------------------------

    def publish(
        self,
        events: Sequence[Event],
        *,
        max_backlog: int | None = None,
        timeout_s: float = 60.0,
    ) -> list[str]:
        """Append ``events`` in order (one round trip); returns their entry ids."""
        if max_backlog is not None:
            self.wait_for_room(max_backlog, timeout_s=timeout_s)
        pipe = self.redis.pipeline(transaction=False)
        for event in events:
            fields: dict[Any, Any] = {FIELD: event.model_dump_json()}
            if self.maxlen is None:
                pipe.xadd(self.stream, fields)
            else:
                pipe.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)
        return [_text(i) for i in pipe.execute()]

    def backlog(self) -> int:
        """The most entries any group has not acknowledged yet (undelivered lag + pending)."""
        try:
            groups = self.redis.xinfo_groups(self.stream)
        except redis.ResponseError:  # no stream yet
            return 0
        worst = 0
        for g in groups:
            lag = g.get("lag")
            worst = max(worst, int(g.get("pending", 0)) + (int(lag) if lag is not None else 0))
        return worst

    def wait_for_room(self, max_backlog: int, *, timeout_s: float = 60.0, poll_s: float = 0.05) -> None:
        deadline = time.monotonic() + timeout_s
        while self.backlog() > max_backlog:
            if time.monotonic() > deadline:
                raise BacklogFull(f"{self.stream}: workers more than {max_backlog} entries behind")
            time.sleep(poll_s)

    # -- consuming ------------------------------------------------------------------------------

    def ensure_group(self, group: str) -> None:
        """Create the consumer group (and the stream) if missing; a new group starts at the beginning."""
        try:
            self.redis.xgroup_create(self.stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def read(self, group: str, consumer: str, *, count: int, block_ms: int | None = None,
             pending: bool = False) -> list[Entry]:
        """New entries for ``consumer`` (or, with ``pending``, the ones it was given and never acked)."""
        reply: Any = self.redis.xreadgroup(
            group, consumer, {self.stream: "0" if pending else ">"}, count=count, block=block_ms
        )
        if not reply:
            return []
        _, rows = reply[0]
        gone = [_text(i) for i, f in rows if not f]
        if gone:  # pending entries the MAXLEN cap trimmed away: lost, so say so and stop tracking them
            log.error("%s: %d pending entries trimmed before processing: %s", self.stream, len(gone), gone)
            self.ack(group, gone)
        return [_entry(i, f) for i, f in rows if f]

    def claim(self, group: str, consumer: str, *, min_idle_ms: int, count: int) -> list[Entry]:
        """Entries other consumers were given more than ``min_idle_ms`` ago and never acknowledged."""
        out: list[Entry] = []
        start = "0-0"
        while len(out) < count:
            reply: Any = self.redis.xautoclaim(
                self.stream, group, consumer, min_idle_time=min_idle_ms, start_id=start, count=count
            )
            start, rows = _text(reply[0]), reply[1]
            out.extend(_entry(i, f) for i, f in rows if f)
            if start == "0-0":
                break
        return out

    def ack(self, group: str, entry_ids: Sequence[str]) -> int:
        if not entry_ids:
            return 0
        return int(self.redis.xack(self.stream, group, *entry_ids))

    def dead(self, group: str, entries: Sequence[Entry]) -> None:
        """Record bad entries on the dead-letter stream with their reason, then acknowledge them."""
        if not entries:
            return
        pipe = self.redis.pipeline(transaction=True)
        for e in entries:
            pipe.xadd(self.dead_letter, {"entry_id": e.entry_id, "error": e.error or "", "raw": e.raw})
        pipe.xack(self.stream, group, *[e.entry_id for e in entries])
        pipe.execute()

    def oldest_in_flight(self, group: str, *, max_idle_ms: int) -> StreamId | None:
        """The oldest entry a consumer of ``group`` holds unacknowledged, if it was delivered less
        than ``max_idle_ms`` ago (older ones belong to a dead or stuck consumer: not waited for)."""
        try:
            rows: Any = self.redis.xpending_range(self.stream, group, min="-", max="+", count=1)
        except redis.ResponseError:
            return None
        if not rows or int(rows[0]["time_since_delivered"]) > max_idle_ms:
            return None
        return stream_id(rows[0]["message_id"])

    def pending_count(self, group: str) -> int:
        try:
            info = self.redis.xpending(self.stream, group)
        except redis.ResponseError:
            return 0
        return int(info["pending"])


def stream_id(raw: bytes | str) -> StreamId | None:
    """``b"1700000000000-3"`` as a comparable pair; None for an empty mark."""
    text = _text(raw)
    if not text:
        return None
    ms, _, n = text.partition("-")
    return int(ms), int(n or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _entry(entry_id: bytes | str, fields: dict[Any, Any]) -> Entry:
    eid = _text(entry_id)
    raw = fields.get(FIELD)
    if raw is None:
        return Entry(eid, None, f"no {FIELD.decode()!r} field in the entry")
    try:
        return Entry(eid, Event.model_validate_json(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "(event)"
        return Entry(eid, None, f"{where}: {err['msg']}", raw)

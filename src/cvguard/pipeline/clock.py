"""The event-time clock: "now" is the newest event time the pipeline has seen, never the wall clock.

Decisions (windows, alert episodes) take event time from the events themselves; this clock answers
the questions asked *between* events — "what is this target's state now?" from the API, "how far
has the replay got?" — so that replaying last month's stream gives last month's answers. It only
moves forward: a late event (delivered after newer ones) does not move it back.
"""

from __future__ import annotations

from datetime import UTC, datetime

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EventClock:
    """The newest event time seen; ``now()`` is ``start`` until the first event arrives."""

    __slots__ = ("_newest", "_start")

    def __init__(self, start: datetime = EPOCH) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be timezone-aware")
        self._start = start.astimezone(UTC)
        self._newest: datetime | None = None

    def advance(self, at: datetime) -> datetime:
        """Move to ``at`` if it is newer; returns the clock's time afterwards."""
        if at.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        if self._newest is None or at > self._newest:
            self._newest = at.astimezone(UTC)
        return self._newest

    def now(self) -> datetime:
        return self._start if self._newest is None else self._newest

    @property
    def started(self) -> bool:
        """Whether any event has moved the clock yet."""
        return self._newest is not None

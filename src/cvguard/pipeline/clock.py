"""The event-time clock: "now" is the newest event time the pipeline has seen, never the wall clock.

Decisions (windows, alert episodes) take event time from the events themselves; this clock answers
the questions asked *between* events — "what is this target's state now?" from the API, "how far
has the replay got?" — so that replaying last month's stream gives last month's answers. It only
moves forward: a late event (delivered after newer ones) does not move it back.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cvguard.events import Event

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


# -- what may move the clock ---------------------------------------------------------------------
#
# One event dated 2099 must not drag "now" (and with it every window and the text retention) into
# the future. Two gates decide, before anything is stored, which events may:
#
# - online (the API, workers) the wall clock is the authority: an event more than ``skew`` ahead
#   of it is refused, per event, with the reason (``WallGate``);
# - offline (``cvguard replay`` of a historical or simulated file) the wall clock means nothing, so
#   the stream's own watermark is: an event more than ``horizon`` ahead of the newest time admitted
#   so far waits until ``quorum`` events arriving after it vouch for the jump (they are no more than
#   ``horizon`` before it: the stream has really moved on, as after a quiet night). Events nobody
#   vouches for by the end of the stream are set aside and reported, never applied
#   (``WatermarkGate``). The watermark is the stream's (the file's) own, and its first events wait
#   for their quorum the same way, so a lone outlier on line 1 cannot set it either.

WallClock = Callable[[], datetime]


def wall_clock() -> datetime:
    """The receiving machine's time (UTC); injected wherever a decision needs it, so tests pin it."""
    return datetime.now(UTC)


class WallGate:
    """Online: an event more than ``skew_s`` ahead of ``wall()`` is refused."""

    def __init__(self, skew_s: float, wall: WallClock = wall_clock) -> None:
        if skew_s < 0:
            raise ValueError("the clock skew must not be negative")
        self.skew = timedelta(seconds=skew_s)
        self.wall = wall

    def limit(self) -> datetime:
        """The newest ``occurred_at`` accepted now."""
        return self.wall() + self.skew

    def refusal(self, at: datetime, limit: datetime | None = None) -> str | None:
        """Why an event at ``at`` is refused, or None when it is not ahead of the limit."""
        limit = self.limit() if limit is None else limit
        if at <= limit:
            return None
        ahead = (at - limit + self.skew).total_seconds()
        return (
            f"is {ahead:.0f} s ahead of the server's clock (at most {self.skew.total_seconds():.0f} s "
            "allowed): send events when they happen, with the platform's clock in sync"
        )


@dataclass(slots=True)
class _Waiting:
    t: float
    order: int  # arrival order
    event: Event
    vouched: int = 1  # events (itself included) that arrived with it or after, at most horizon before it


class WatermarkGate:
    """Offline: events far ahead of the stream's watermark wait for a quorum, or are set aside."""

    def __init__(self, horizon_s: float, quorum: int) -> None:
        if horizon_s <= 0 or quorum < 1:
            raise ValueError("the horizon must be positive and the quorum at least 1")
        self.horizon = horizon_s
        self.quorum = quorum
        self.mark: float | None = None  # the newest time admitted
        self._waiting: list[_Waiting] = []  # sorted by time
        self._arrivals = 0

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def admit(self, events: Sequence[Event]) -> list[Event]:
        """The events that may go on now (some may be earlier ones that waited), in arrival order."""
        out: list[tuple[int, Event]] = []
        for event in events:
            t = event.occurred_at.timestamp()
            self._arrivals += 1
            crossed = False
            if self._waiting:
                # it vouches for every waiting event at most ``horizon`` ahead of it
                upto = bisect_right(self._waiting, t + self.horizon, key=lambda w: w.t)
                for w in self._waiting[:upto]:
                    w.vouched += 1
                    crossed = crossed or w.vouched >= self.quorum
            if self.mark is not None and t <= self.mark + self.horizon:
                self.mark = max(self.mark, t)
                out.append((self._arrivals, event))
            else:
                insort(self._waiting, _Waiting(t, self._arrivals, event), key=lambda w: w.t)
                crossed = crossed or self.quorum <= 1
            if crossed:
                out.extend(self._release())
        out.sort(key=lambda pair: pair[0])
        return [event for _, event in out]

    def _release(self) -> list[tuple[int, Event]]:
        """Move the mark to the earliest vouched-for waiting event; let go of what it now covers
        (in time order, each within ``horizon`` of the newest let go before it)."""
        first = min((w for w in self._waiting if w.vouched >= self.quorum), key=lambda w: w.t)
        mark = first.t if self.mark is None else max(self.mark, first.t)
        released: list[tuple[int, Event]] = []
        keep: list[_Waiting] = []
        for w in self._waiting:  # sorted by time
            if w.t <= mark + self.horizon:
                mark = max(mark, w.t)
                released.append((w.order, w.event))
            else:
                keep.append(w)
        self.mark, self._waiting = mark, keep
        if any(w.vouched >= self.quorum for w in keep):
            released.extend(self._release())
        return released

    def flush(self) -> tuple[list[Event], list[Event]]:
        """The end of the stream: (admitted, set aside), each in arrival order.

        What still waits was vouched for by too few events and is set aside; except in a stream
        too short ever to reach the quorum (nothing admitted yet), where the waiting events around
        their median time are admitted (the mark moves to the newest of them) and only the
        outliers set aside.
        """
        waiting, self._waiting = self._waiting, []
        admitted: list[_Waiting] = []
        if self.mark is None and waiting:
            # from the lower median (one outlier of two loses), out to each side while each next
            # event is within the horizon of the last one taken
            lo = hi = (len(waiting) - 1) // 2
            while hi + 1 < len(waiting) and waiting[hi + 1].t <= waiting[hi].t + self.horizon:
                hi += 1
            while lo > 0 and waiting[lo - 1].t >= waiting[lo].t - self.horizon:
                lo -= 1
            admitted = waiting[lo : hi + 1]
            self.mark = waiting[hi].t
        kept = {id(w) for w in admitted}
        aside = [w for w in waiting if id(w) not in kept]
        return (
            [w.event for w in sorted(admitted, key=lambda w: w.order)],
            [w.event for w in sorted(aside, key=lambda w: w.order)],
        )

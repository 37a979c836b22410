"""Event-time windows: bucketed sliding counters, distinct keys, and a long-run hourly baseline.

Time is event time in float epoch seconds (UTC) everywhere in ``cvguard.behavior``; the engine
converts ``Event.occurred_at`` once. Nothing here reads a clock.

Windows evict by the newest event time a structure has seen, never by arrival order: a bucket is
kept while it can still fall inside its window at the newest time, and an event whose bucket is
already out of reach is ignored (it would have been evicted anyway). So the state after a set of
events is the same whatever order they came in, as long as each came within the lateness horizon
the detectors enforce.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Window:
    """A sliding window of ``seconds`` counted in buckets of ``bucket`` seconds."""

    name: str
    seconds: int
    bucket: int

    @property
    def size(self) -> int:
        return self.seconds // self.bucket


# The four windows. A count "in the last minute" covers 55-60 s (bucket granularity).
WINDOWS: tuple[Window, ...] = (
    Window("1m", 60, 5),
    Window("10m", 600, 60),
    Window("1h", 3600, 300),
    Window("1d", 86400, 3600),
)
HOUR = 3600


def iso(t: float) -> str:
    """Event time as an ISO 8601 UTC string (for evidence and API output)."""
    return datetime.fromtimestamp(t, UTC).isoformat()


def to_datetime(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def seconds(at: datetime | float) -> float:
    """Event time in epoch seconds; a datetime must be timezone-aware."""
    if isinstance(at, datetime):
        if at.tzinfo is None:
            raise ValueError("event time must be timezone-aware")
        return at.timestamp()
    return float(at)


def _newest(value: Any) -> float:
    return -math.inf if value is None else float(value)


_NEVER = -(2**62)  # a bucket index before any real one


class SlidingCounts:
    """``width`` integer fields per bucket, for every window at once."""

    __slots__ = ("_buckets", "_edge", "_spec", "_tops", "newest", "width", "windows")

    def __init__(self, width: int, windows: tuple[Window, ...] = WINDOWS) -> None:
        self.width = width
        self.windows = windows
        self.newest = -math.inf
        self._spec = tuple((w.bucket, w.size) for w in windows)
        self._buckets: list[dict[int, list[int]]] = [{} for _ in windows]
        self._tops: list[int] = [_NEVER for _ in windows]
        self._edge = -math.inf  # the next time at which some window's top bucket changes

    def add(self, t: float, values: Sequence[int]) -> None:
        if t > self.newest:
            self._advance(t)
        tops = self._tops
        for wi, (width, size) in enumerate(self._spec):
            i = int(t // width)
            if i <= tops[wi] - size:
                continue  # already outside this window at the newest time
            buckets = self._buckets[wi]
            row = buckets.get(i)
            if row is None:
                buckets[i] = list(values)
            else:
                for k, v in enumerate(values):
                    if v:
                        row[k] += v

    def _advance(self, t: float) -> None:
        self.newest = t
        if t < self._edge:
            return
        edge = math.inf
        tops = self._tops
        for wi, (width, size) in enumerate(self._spec):
            top = int(t // width)
            edge = min(edge, (top + 1) * width)
            if top != tops[wi]:
                tops[wi] = top
                lo = top - size + 1
                buckets = self._buckets[wi]
                if buckets:
                    for i in [i for i in buckets if i < lo]:
                        del buckets[i]
        self._edge = edge

    def totals(self, wi: int, t: float) -> list[int]:
        """Field sums over window ``wi`` ending at ``t``."""
        w = self.windows[wi]
        top = int(t // w.bucket)
        lo = top - w.size + 1
        out = [0] * self.width
        for i, row in self._buckets[wi].items():
            if lo <= i <= top:
                for k, v in enumerate(row):
                    out[k] += v
        return out

    def bucket(self, wi: int, i: int) -> list[int] | None:
        return self._buckets[wi].get(i)

    def nonempty_indices(self, wi: int) -> list[int]:
        return sorted(self._buckets[wi])

    def series(self, wi: int, t: float, field: int) -> list[list[Any]]:
        """``[[iso start, value], ...]`` for every bucket of window ``wi`` ending at ``t``."""
        w = self.windows[wi]
        top = int(t // w.bucket)
        buckets = self._buckets[wi]
        out: list[list[Any]] = []
        for i in range(top - w.size + 1, top + 1):
            row = buckets.get(i)
            out.append([iso(i * w.bucket), row[field] if row else 0])
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "newest": None if self.newest == -math.inf else self.newest,
            "buckets": [[[i, list(b[i])] for i in sorted(b)] for b in self._buckets],
        }

    @classmethod
    def from_dict(
        cls, data: dict[str, Any], width: int, windows: tuple[Window, ...] = WINDOWS
    ) -> SlidingCounts:
        out = cls(width, windows)
        out.newest = _newest(data["newest"])
        # Rows saved by a narrower version (fewer fields) are padded with zeros.
        pad = [0] * width
        out._buckets = [
            {int(i): [int(v) for v in row] + pad[len(row) :] for i, row in b} for b in data["buckets"]
        ]
        if out.newest != -math.inf:
            out._tops = [int(out.newest // w.bucket) for w in windows]
            out._edge = min((top + 1) * w.bucket for top, w in zip(out._tops, windows, strict=True))
        return out


class LatestSeen:
    """Distinct keys (senders, targets) per window; each key counts at its latest event time.

    A histogram of latest times per window makes a distinct count a sum over a few buckets rather
    than a scan of every key. Queried at a time before the newest, a key seen again later counts
    only at its later time (good enough: queries are made at the newest time).
    """

    __slots__ = ("_edge", "_hist", "_tops", "latest", "newest", "windows")

    def __init__(self, windows: tuple[Window, ...] = WINDOWS) -> None:
        self.windows = windows
        self.newest = -math.inf
        self.latest: dict[str, float] = {}
        self._hist: list[dict[int, int]] = [{} for _ in windows]
        self._tops: list[int | None] = [None for _ in windows]
        self._edge = -math.inf

    def add(self, key: str, t: float) -> None:
        if t > self.newest:
            self._advance(t)
        prev = self.latest.get(key)
        if prev is not None and prev >= t:
            return
        last = self.windows[-1]
        top_last = self._tops[-1]
        if top_last is not None and int(t // last.bucket) <= top_last - last.size:
            return
        self.latest[key] = t
        for wi, w in enumerate(self.windows):
            hist = self._hist[wi]
            if prev is not None:
                pi = int(prev // w.bucket)
                n = hist.get(pi)
                if n is not None:
                    if n <= 1:
                        del hist[pi]
                    else:
                        hist[pi] = n - 1
            ni = int(t // w.bucket)
            top = self._tops[wi]
            if top is None or ni > top - w.size:
                hist[ni] = hist.get(ni, 0) + 1

    def _advance(self, t: float) -> None:
        self.newest = t
        if t < self._edge:
            return
        edge = math.inf
        for wi, w in enumerate(self.windows):
            top = int(t // w.bucket)
            edge = min(edge, (top + 1) * w.bucket)
            if top != self._tops[wi]:
                self._tops[wi] = top
                lo = top - w.size + 1
                hist = self._hist[wi]
                for i in [i for i in hist if i < lo]:
                    del hist[i]
                if wi == len(self.windows) - 1:
                    stale = [k for k, v in self.latest.items() if int(v // w.bucket) < lo]
                    for k in stale:
                        del self.latest[k]
        self._edge = edge

    def distinct(self, wi: int, t: float) -> int:
        w = self.windows[wi]
        top = int(t // w.bucket)
        lo = top - w.size + 1
        return sum(n for i, n in self._hist[wi].items() if lo <= i <= top)

    def to_dict(self) -> dict[str, Any]:
        return {
            "newest": None if self.newest == -math.inf else self.newest,
            "latest": [[k, self.latest[k]] for k in sorted(self.latest)],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], windows: tuple[Window, ...] = WINDOWS) -> LatestSeen:
        out = cls(windows)
        newest = _newest(data["newest"])
        if newest != -math.inf:
            out._advance(newest)
        for key, t in data["latest"]:
            out.add(str(key), float(t))
        return out


class HourlyBaseline:
    """Exponentially weighted sums over closed hours: ``a`` abusive, ``n`` total, ``h`` hours seen.

    An hour is folded in once it is older than the lateness horizon, so a late event never misses
    its hour. Empty hours count as observed hours (that is what makes a quiet person's rate low).
    """

    __slots__ = ("a", "decay", "h", "n", "next_hour")

    def __init__(self, half_life_hours: float) -> None:
        self.decay = 0.5 ** (1.0 / half_life_hours)
        self.next_hour: int | None = None
        self.a = 0.0
        self.n = 0.0
        self.h = 0.0

    def observe(self, t: float) -> None:
        hour = int(t // HOUR)
        if self.next_hour is None or hour < self.next_hour:
            self.next_hour = hour

    def due(self, horizon: float) -> bool:
        """Whether some hour ends at or before ``horizon`` and is not folded yet."""
        return self.next_hour is not None and self.next_hour < int(horizon // HOUR)

    def fold_until(
        self, horizon: float, hourly: Callable[[int], tuple[int, int]], nonempty: list[int]
    ) -> None:
        """Fold every hour that ends at or before ``horizon``; ``hourly(h)`` gives (abusive, total)."""
        if self.next_hour is None:
            return
        end = int(horizon // HOUR)
        h = self.next_hour
        decay = self.decay
        pending = [i for i in nonempty if h <= i < end]
        for i in [*pending, end]:
            k = i - h  # a run of empty hours first
            if k > 0:
                d = decay**k
                self.a *= d
                self.n *= d
                self.h = self.h * d + (1.0 - d) / (1.0 - decay)
                h = i
            if i < end:
                a, n = hourly(i)
                self.a = self.a * decay + a
                self.n = self.n * decay + n
                self.h = self.h * decay + 1.0
                h = i + 1
        self.next_hour = max(h, self.next_hour)

    def to_dict(self) -> dict[str, Any]:
        return {"next_hour": self.next_hour, "a": self.a, "n": self.n, "h": self.h}

    @classmethod
    def from_dict(cls, data: dict[str, Any], half_life_hours: float) -> HourlyBaseline:
        out = cls(half_life_hours)
        out.next_hour = None if data["next_hour"] is None else int(data["next_hour"])
        out.a, out.n, out.h = float(data["a"]), float(data["n"]), float(data["h"])
        return out


def top_k_insert(items: list[tuple[float, str]], item: tuple[float, str], k: int) -> None:
    """Keep ``items`` the ``k`` largest (time, id) pairs, sorted; order-independent by design."""
    if item in items:
        return
    if len(items) >= k and item <= items[0]:
        return
    lo, hi = 0, len(items)
    while lo < hi:
        mid = (lo + hi) // 2
        if items[mid] < item:
            lo = mid + 1
        else:
            hi = mid
    items.insert(lo, item)
    if len(items) > k:
        del items[0]

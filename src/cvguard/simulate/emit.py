"""Emitting simulated events: one Event-shaped dict per message, and the arrival-time helpers.

An item is ``(t_ms, event)``; generators yield items in time order so that the writer can merge
them. Event ids are random 64-bit hex from the scenario's own generator, so an id says nothing
about which scenario wrote it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from random import Random
from typing import Any

from cvguard.simulate.population import Account, Population
from cvguard.simulate.timefmt import iso

Item = tuple[int, dict[str, Any]]
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
_SEGMENT_MS = 10 * MINUTE_MS

# Relative activity by hour of day in Beijing time (UTC+8): quiet before dawn, peak in the evening.
_DIURNAL_RAW = (
    0.55, 0.35, 0.22, 0.15, 0.12, 0.15, 0.30, 0.60, 0.85, 0.95, 1.00, 1.05,
    1.20, 1.05, 0.95, 0.95, 1.00, 1.05, 1.15, 1.35, 1.55, 1.65, 1.45, 0.95,
)
_MEAN = sum(_DIURNAL_RAW) / 24
DIURNAL = tuple(v / _MEAN for v in _DIURNAL_RAW)
DIURNAL_PEAK = max(DIURNAL)


def diurnal(t_ms: int) -> float:
    """Activity at ``t_ms`` relative to the daily mean (linear between hourly values)."""
    hour = (t_ms / HOUR_MS + 8.0) % 24.0
    low = int(hour)
    frac = hour - low
    return DIURNAL[low] * (1.0 - frac) + DIURNAL[(low + 1) % 24] * frac


def arrivals(rng: Random, start: int, end: int, mean_per_ms: float, *, boost: Any = None) -> Iterator[int]:
    """Times of a Poisson process whose rate follows the diurnal curve (thinning).

    ``boost(t) -> float`` (at most 2) multiplies the rate, e.g. during a live stream. The bound used
    for thinning is taken per 10-minute segment, so quiet night hours cost no wasted draws.
    """
    if mean_per_ms <= 0:
        return
    most = 2.0 if boost is not None else 1.0
    for a in range(start, end, _SEGMENT_MS):
        b = min(end, a + _SEGMENT_MS)
        knot = (a // HOUR_MS + 1) * HOUR_MS  # the curve is linear between whole hours
        top = max(diurnal(a), diurnal(b), diurnal(knot) if knot < b else 0.0)
        peak = mean_per_ms * top * most
        t = float(a)
        while True:
            t += rng.expovariate(peak)
            if t >= b:
                break
            ti = int(t)
            rate = mean_per_ms * diurnal(ti) * (boost(ti) if boost is not None else 1.0)
            if rng.random() * peak < rate:
                yield ti


def ramp(rng: Random, start: int, length: float) -> int:
    """A time in ``[start, start + length]`` with linearly rising density (a surge building up)."""
    return start + int(length * math.sqrt(rng.random()))


class EventMaker:
    """Makes Event dicts; the relationship hints come from the population's follow graph."""

    def __init__(self, rng: Random, population: Population) -> None:
        self.rng = rng
        self.population = population

    def new_id(self) -> str:
        return f"ev_{self.rng.getrandbits(64):016x}"

    def make(
        self,
        t: int,
        surface: str,
        author: Account,
        text: str,
        *,
        target: Account | None = None,
        thread: str | None = None,
        topic: str | None = None,
        reply_to: str | None = None,
        follows: tuple[bool, bool] | None = None,
    ) -> Item:
        """``follows`` = (target follows author, author follows target); default: the follow graph."""
        event: dict[str, Any] = {
            "event_id": self.new_id(),
            "surface": surface,
            "occurred_at": iso(t),
            "author": author.author,
            "text": text,
        }
        if target is not None:
            event["target_ids"] = [target.id]
        if thread is not None:
            event["thread_id"] = thread
        if topic is not None:
            event["topic_ids"] = [topic]
        if reply_to is not None:
            event["reply_to"] = reply_to
        if target is not None:
            if follows is None:
                pop = self.population
                follows = (pop.follows(target, author), pop.follows(author, target))
            event["relationship"] = {"target_follows_author": follows[0], "author_follows_target": follows[1]}
        return t, event


def thread_of(account: Account, k: int) -> str:
    return f"th_{account.id}_{k}"

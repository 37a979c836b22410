"""The priority of a report and the time it is due, decided from what the report is about.

Three priorities, highest first (the staff queue is ordered by priority, then by due time):

    urgent  a minor is involved (the reporter, or a person the reported content is aimed at), or
            the category is a threat or doxxing (``threat``, ``privacy``): harm that can leave the
            screen, and a child
    high    any other category of the illegal tier (defamation, hate incitement, pile-on incitement)
    normal  the rest (insult, ridicule, discrimination, sexual harassment, ...)

A report is raised one level (never above urgent) when ``promote_at`` or more *independent*
reporters report the same account (``rings``: a ring of related accounts counts once), so a crowd
of real people moves a report up and a false-report ring does not.

Each priority has its SLA (``ReportRules.sla``); ``due_at`` is the filing time plus the SLA of the
report's priority now. Reports are handled by people, so SLA time is wall-clock time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from cvguard.reports.rings import RingRule
from cvguard.taxonomy import Taxonomy

__all__ = [
    "FIRST_CATEGORIES",
    "PRIORITY_NAMES",
    "Priority",
    "ReportRules",
    "base_priority",
    "queue_priority",
    "response_figures",
]


class Priority(IntEnum):
    URGENT = 1
    HIGH = 2
    NORMAL = 3

    @property
    def label(self) -> str:
        return self.name.lower()


PRIORITY_NAMES: dict[str, Priority] = {p.label: p for p in Priority}
# threats and doxxing (personal data exposed) come first, with minors
FIRST_CATEGORIES = frozenset({"threat", "privacy"})


@dataclass(frozen=True, slots=True)
class ReportRules:
    """The tunable part: SLA per priority, when a crowd raises a report, and the ring rule."""

    sla_urgent: timedelta = timedelta(hours=1)
    sla_high: timedelta = timedelta(hours=4)
    sla_normal: timedelta = timedelta(hours=24)
    promote_at: int = 5  # independent reporters of one account that raise a report one level
    crowd_window: timedelta = timedelta(days=7)  # reports against an account counted together
    ring: RingRule = field(default_factory=RingRule)

    def __post_init__(self) -> None:
        for name in ("sla_urgent", "sla_high", "sla_normal", "crowd_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        if self.promote_at < 2:
            raise ValueError("promote_at must be at least 2")

    def sla(self, priority: Priority) -> timedelta:
        return {Priority.URGENT: self.sla_urgent, Priority.HIGH: self.sla_high}.get(priority, self.sla_normal)

    def due(self, filed_at: datetime, priority: Priority) -> datetime:
        return filed_at + self.sla(priority)


def base_priority(category: str, taxonomy: Taxonomy, *, minor: bool) -> tuple[Priority, tuple[str, ...]]:
    """The priority of a report from its category and whether a minor is involved, and why."""
    reasons: list[str] = []
    if minor:
        reasons.append("a minor is involved")
    if category in FIRST_CATEGORIES:
        reasons.append(f"category {category} (threats and doxxing come first)")
    if reasons:
        return Priority.URGENT, tuple(reasons)
    found = taxonomy.get(category)
    if found is not None and found.severity == "illegal":
        return Priority.HIGH, (f"category {category} is of the illegal tier",)
    return Priority.NORMAL, (f"category {category}",)


def queue_priority(
    base: Priority, independent_reporters: int, promote_at: int
) -> tuple[Priority, str | None]:
    """``base`` raised one level when enough independent reporters report the same account."""
    if independent_reporters >= promote_at and base > Priority.URGENT:
        return Priority(base - 1), f"{independent_reporters} independent reporters (raised at {promote_at})"
    return base, None


@dataclass(frozen=True, slots=True)
class Timing:
    """One report's times, for the response figures."""

    priority: Priority
    filed_at: datetime
    first_action_at: datetime | None
    decided_at: datetime | None


def _summary(seconds: list[float]) -> dict[str, Any]:
    if not seconds:
        return {"count": 0, "median_s": None, "p90_s": None, "max_s": None}
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]

    return {"count": len(ordered), "median_s": at(0.5), "p90_s": at(0.9), "max_s": ordered[-1]}


def response_figures(timings: Iterable[Timing], now: datetime) -> dict[str, dict[str, Any]]:
    """Per priority: reports filed, still waiting for a first action or a decision, and the time to
    the first action (assigned or decided) and to the decision (median, 90th percentile, max, in
    seconds; nearest-rank percentiles)."""
    first: dict[Priority, list[float]] = {p: [] for p in Priority}
    decided: dict[Priority, list[float]] = {p: [] for p in Priority}
    filed = dict.fromkeys(Priority, 0)
    waiting = dict.fromkeys(Priority, 0)
    undecided = dict.fromkeys(Priority, 0)
    oldest_waiting: dict[Priority, float] = {}
    for t in timings:
        filed[t.priority] += 1
        if t.first_action_at is None:
            waiting[t.priority] += 1
            age = (now - t.filed_at).total_seconds()
            oldest_waiting[t.priority] = max(oldest_waiting.get(t.priority, 0.0), age)
        else:
            first[t.priority].append((t.first_action_at - t.filed_at).total_seconds())
        if t.decided_at is None:
            undecided[t.priority] += 1
        else:
            decided[t.priority].append((t.decided_at - t.filed_at).total_seconds())
    return {
        p.label: {
            "filed": filed[p],
            "awaiting_first_action": waiting[p],
            "undecided": undecided[p],
            "oldest_awaiting_s": oldest_waiting.get(p),
            "to_first_action": _summary(first[p]),
            "to_decision": _summary(decided[p]),
        }
        for p in Priority
    }

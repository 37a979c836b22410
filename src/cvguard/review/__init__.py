"""The staff review queue, pure: what enters it, in what order, by when, and the response figures.

One queue for five kinds of item, each referring to the record it is about (``ref_id``):

    held        content a policy decided ``hold_for_review`` (the event id): shown only once approved
    report      a report a person filed (the report id; ``store.reports`` keeps it)
    alert       an alert at warning or above (the alert id; the alert store keeps it)
    escalation  repeated abusive private messages to one person (the escalation id; ``store.dm``)
    appeal      an account's appeal against a sanction (the appeal id; ``store.review``)

Priority is the reports' three levels (``reports.priority.Priority``: urgent, high, normal), decided
the same way: a minor involved, a threat or doxxing (``threat``, ``privacy``) first; the illegal
tier next. The queue is ordered by priority, then due time, then id. Each kind has its SLA (the
data file ``review/data/review.yaml``); an urgent item is due within ``urgent_sla_hours`` whatever
its kind; a report keeps the due time the report desk gave it. People handle the queue, so its
times are wall-clock times.

The outcomes a decision may have, per kind, are :data:`OUTCOMES`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Protocol, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from cvguard.errors import DataError
from cvguard.reports.priority import FIRST_CATEGORIES, Priority

__all__ = [
    "CATEGORY_AT",
    "ITEM_KINDS",
    "OUTCOMES",
    "ItemKind",
    "NewItem",
    "ReviewRules",
    "Timing",
    "alert_item",
    "appeal_deadline",
    "appeal_item",
    "content_priority",
    "escalation_item",
    "held_item",
    "load_rules",
    "report_item",
    "review_figures",
]

ItemKind = Literal["held", "report", "alert", "escalation", "appeal"]
ITEM_KINDS: tuple[ItemKind, ...] = get_args(ItemKind)

# What a person may decide, per kind (the first of each pair lets the thing stand or acts on it).
OUTCOMES: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "held": ("approve", "remove"),  # approve: the content is shown (feed ``restore``); remove: ``remove``
    "report": ("upheld", "rejected"),
    "alert": ("confirmed", "false_positive"),
    "escalation": ("confirmed", "dismissed"),
    "appeal": ("upheld", "rejected"),  # upheld: the sanction is reversed
})

CATEGORY_AT = 0.5  # a verdict's category counts for priority from this score
RULES_FILE = Path(__file__).with_name("data") / "review.yaml"


class ReviewRules(BaseModel):
    """The queue's timers: SLA per kind, the urgent cap, the default appeal window."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(min_length=1, max_length=64)
    sla_hours: dict[ItemKind, float]
    urgent_sla_hours: float = Field(gt=0)
    appeal_window_days: float = Field(gt=0)

    @model_validator(mode="after")
    def _every_kind(self) -> ReviewRules:
        missing = [k for k in ITEM_KINDS if k not in self.sla_hours]
        if missing:
            raise ValueError(f"sla_hours names no SLA for {', '.join(missing)}")
        bad = [k for k, h in self.sla_hours.items() if not h > 0]
        if bad:
            raise ValueError(f"sla_hours must be positive ({', '.join(bad)})")
        return self

    def sla(self, kind: str, priority: Priority) -> timedelta:
        hours = self.sla_hours[kind]  # type: ignore[index]
        if priority == Priority.URGENT:
            hours = min(hours, self.urgent_sla_hours)
        return timedelta(hours=hours)

    def due(self, kind: str, priority: Priority, created_at: datetime) -> datetime:
        return created_at + self.sla(kind, priority)

    @property
    def appeal_window(self) -> timedelta:
        return timedelta(days=self.appeal_window_days)


def load_rules(path: Path | None = None) -> ReviewRules:
    """The rules in ``path`` (default: the packaged ``review/data/review.yaml``); DataError naming
    the file and every problem found."""
    path = path if path is not None else RULES_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return ReviewRules.model_validate(raw)
    except OSError as exc:
        raise DataError(f"{path}: cannot read the review rules ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise DataError(f"{path}: not YAML ({exc})") from None
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in exc.errors()
        )
        raise DataError(f"{path}: {problems} (see review/data/review.yaml for the shape)") from None


@dataclass(frozen=True, slots=True)
class NewItem:
    """An item for the queue (``store.review.ReviewStore.enqueue``); ``context`` is what staff see
    at a glance (surface, level, category...), never a text."""

    kind: ItemKind
    ref_id: str
    priority: Priority
    reasons: tuple[str, ...]
    created_at: datetime
    due_at: datetime
    context: Mapping[str, Any] = field(default_factory=dict)


def content_priority(
    categories: Iterable[str], severity: str | None, *, minor: bool
) -> tuple[Priority, tuple[str, ...]]:
    """Content's priority from its verdict's categories and severity, and whether a minor is
    involved (as ``reports.priority.base_priority``: minors, threats and doxxing first)."""
    reasons: list[str] = []
    if minor:
        reasons.append("a minor is involved")
    first = sorted(set(categories) & FIRST_CATEGORIES)
    if first:
        reasons.append(f"category {', '.join(first)} (threats and doxxing come first)")
    if reasons:
        return Priority.URGENT, tuple(reasons)
    if severity == "illegal":
        return Priority.HIGH, ("severity illegal",)
    return Priority.NORMAL, (f"severity {severity or 'none'}",)


class HeldLike(Protocol):
    """What a held item needs of a decision (``policy.Decision`` has it)."""

    @property
    def event_id(self) -> str: ...
    @property
    def surface(self) -> str: ...
    @property
    def rule_id(self) -> str | None: ...
    @property
    def severity(self) -> str | None: ...
    @property
    def categories(self) -> Mapping[str, float]: ...


def held_item(decision: HeldLike, *, minor: bool, now: datetime, rules: ReviewRules) -> NewItem:
    """The queue item of content a policy held for review."""
    categories = [c for c, s in decision.categories.items() if s >= CATEGORY_AT]
    priority, reasons = content_priority(categories, decision.severity, minor=minor)
    return NewItem(
        "held", decision.event_id, priority, (f"held by rule {decision.rule_id}", *reasons), now,
        rules.due("held", priority, now),
        {"surface": decision.surface, "rule_id": decision.rule_id, "categories": sorted(categories),
         "severity": decision.severity},
    )


class AlertLike(Protocol):
    @property
    def alert_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def subject_type(self) -> str: ...
    @property
    def subject_id(self) -> str: ...
    @property
    def level(self) -> str: ...


def alert_item(alert: AlertLike, *, now: datetime, rules: ReviewRules) -> NewItem | None:
    """The queue item of an alert at warning or above (None below: a watch is for the dashboards)."""
    if alert.level == "critical":
        priority, why = Priority.URGENT, "a critical alert"
    elif alert.level == "warning":
        priority, why = Priority.HIGH, "an alert at warning"
    else:
        return None
    return NewItem(
        "alert", alert.alert_id, priority, (f"{why}: {alert.kind} on {alert.subject_type}",), now,
        rules.due("alert", priority, now),
        {"kind": alert.kind, "level": alert.level, "subject_type": alert.subject_type,
         "subject_id": alert.subject_id},
    )


def escalation_item(
    escalation_id: str, *, sender_id: str, recipient_id: str, count: int, minor: bool, now: datetime,
    rules: ReviewRules,
) -> NewItem:
    """The queue item of repeated abusive private messages to one person (urgent for a minor)."""
    reasons: tuple[str, ...] = (f"{count} abusive private messages from one sender",)
    priority = Priority.HIGH
    if minor:
        priority, reasons = Priority.URGENT, ("a minor is involved", *reasons)
    return NewItem(
        "escalation", escalation_id, priority, reasons, now, rules.due("escalation", priority, now),
        {"sender_id": sender_id, "recipient_id": recipient_id, "count": count},
    )


def report_item(
    report_id: str, *, priority: Priority, reasons: Iterable[str], filed_at: datetime, due_at: datetime,
    category: str, account_id: str | None,
) -> NewItem:
    """The queue item of a report: its priority and due time are the report desk's."""
    return NewItem(
        "report", report_id, priority, tuple(reasons), filed_at, due_at,
        {"category": category, "account_id": account_id},
    )


_SEVERE = frozenset({"suspension", "permanent_ban"})


def appeal_item(
    appeal_id: str, *, sanction_id: str, sanction_kind: str, account_id: str, now: datetime,
    rules: ReviewRules,
) -> NewItem:
    """The queue item of an appeal: high against a suspension or a ban (the account cannot speak
    while it waits), normal otherwise."""
    if sanction_kind in _SEVERE:
        priority, why = Priority.HIGH, f"an appeal against a {sanction_kind}"
    else:
        priority, why = Priority.NORMAL, f"an appeal against a {sanction_kind}"
    return NewItem(
        "appeal", appeal_id, priority, (why,), now, rules.due("appeal", priority, now),
        {"sanction_id": sanction_id, "sanction_kind": sanction_kind, "account_id": account_id},
    )


def appeal_deadline(statement: Mapping[str, Any], starts_at: datetime, rules: ReviewRules) -> datetime:
    """Until when a sanction may be appealed: the statement's ``appeal_by`` (ISO 8601; a time
    without a zone is UTC), else ``appeal_window_days`` from the sanction's start."""
    named = statement.get("appeal_by")
    if named is None:
        return starts_at + rules.appeal_window
    if isinstance(named, datetime):
        at = named
    else:
        try:
            at = datetime.fromisoformat(str(named))
        except ValueError:
            raise DataError(f"the sanction's appeal_by {named!r} is not an ISO 8601 time") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# -- response-time figures -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Timing:
    """One item's times, for :func:`review_figures`."""

    kind: str
    created_at: datetime
    due_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    assignee: str | None


def _nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _figures(items: list[Timing], now: datetime) -> dict[str, Any]:
    waits = sorted(
        (t.decided_at - t.created_at).total_seconds() for t in items if t.decided_at is not None
    )
    in_time = sum(1 for t in items if t.decided_at is not None and t.decided_at <= t.due_at)
    overdue = sum(1 for t in items if t.decided_at is None and t.due_at < now)
    return {
        "decided": len(waits),
        "median_s": _nearest_rank(waits, 0.5) if waits else None,
        "p90_s": _nearest_rank(waits, 0.9) if waits else None,
        "within_sla": round(in_time / len(waits), 4) if waits else None,
        "overdue_now": overdue,
    }


def review_figures(timings: Iterable[Timing], now: datetime) -> dict[str, dict[str, dict[str, Any]]]:
    """Per kind (every kind named) and per staff member: items decided, the median and 90th
    percentile time from entering the queue to the decision (seconds, nearest rank), the share
    decided within the SLA, and how many are past due and undecided now (a staff member's: the
    undecided assigned to them)."""
    by_kind: dict[str, list[Timing]] = {k: [] for k in ITEM_KINDS}
    by_staff: dict[str, list[Timing]] = {}
    for t in timings:
        by_kind.setdefault(t.kind, []).append(t)
        who = t.decided_by if t.decided_at is not None else t.assignee
        if who is not None:
            by_staff.setdefault(who, []).append(t)
    return {
        "kinds": {k: _figures(v, now) for k, v in by_kind.items()},
        "staff": {k: _figures(v, now) for k, v in sorted(by_staff.items())},
    }

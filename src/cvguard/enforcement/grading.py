"""Grading, pure: an account's role in a violation, its strike points, and the sanction they reach.

    roles = roles_of(history, at=event_time, attack_role="copycat", ladder=ladder)
    g = grade(history, violation, ladder, now=event_time, active_step=-1)
    g.kind, g.expires_at, g.why          # None: the account stays on the step it stood on

**Roles.** History: ``first_time`` when no other violation of the account counts (not reversed,
within ``strike_days`` before it); ``frequent`` when, with it, ``frequent.violations`` incidents fall
within ``frequent.days``; neither in between (a repeat). Attack: ``initiator`` (behaviour's
incitement initiator) or ``copycat`` (joined a pile-on already under way), from the decision input's
``author_role``.

**Incidents.** Several violations in one attack (the same alert), or each within the ladder's
``incident_minutes`` of the one before, are one incident: they count once for strikes (the highest
of their points) and once towards ``frequent``; a copycat writing five replies in one pile-on, some
before the alert named it, is not a frequent offender.

**Points.** ``frequent`` scores ``points.frequent``; ``first_time`` scores ``points.first_time``, a
first-time copycat ``points.first_time_copycat`` (slower); a repeat ``points.repeat``; an initiator
at least ``points.initiator`` (faster), whatever the history.

**A sanction** is due when the new violation adds points and the total reaches a step higher than
the account stood on before it, or than its active sanctions (one that expired is issued again).
It starts at ``now`` and lasts the step's ``days`` (a permanent ban: no ``expires_at``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cvguard.enforcement import AccountRole, SanctionKind, Violation
from cvguard.enforcement.ladder import Ladder

__all__ = ["Grade", "attack_role", "counting", "grade", "history_role", "incidents", "points_of",
           "roles_of", "strike_points"]

_PROBE = "\x00probe"  # the violation being graded, before it exists


def incidents(violations: Iterable[Violation], ladder: Ladder) -> list[list[Violation]]:
    """The violations grouped into incidents: the same alert, or each within ``incident_minutes``
    of the one before (an account's burst of replies in one attack, before any alert named it)."""
    window = timedelta(minutes=ladder.incident_minutes)
    groups: list[list[Violation]] = []
    by_alert: dict[str, list[Violation]] = {}
    for v in sorted(violations, key=lambda x: (x.at, x.violation_id)):
        group = by_alert.get(v.alert_id) if v.alert_id is not None else None
        if group is None and groups and v.at - groups[-1][-1].at <= window:
            group = groups[-1]
        if group is None:
            group = []
            groups.append(group)
        group.append(v)
        if v.alert_id is not None:
            by_alert.setdefault(v.alert_id, group)
    return groups


def counting(history: Iterable[Violation], at: datetime, ladder: Ladder) -> list[Violation]:
    """The violations whose strikes count at ``at``: not reversed, within ``strike_days`` up to it."""
    since = at - ladder.strike_window
    return [v for v in history if v.status == "active" and since < v.at <= at]


def attack_role(author_role: str | None) -> AccountRole | None:
    """The decision input's ``author_role`` (behaviour's incitement roles) as an account role."""
    if author_role == "initiator":
        return "initiator"
    if author_role == "copycat":
        return "copycat"
    return None


def history_role(
    history: Iterable[Violation], *, at: datetime, alert_id: str | None, ladder: Ladder
) -> AccountRole | None:
    """``first_time``, ``frequent`` or None (a repeat) for a violation at ``at`` (of ``alert_id``)."""
    counted = counting(history, at, ladder)
    if not counted:  # most accounts that violate have nothing else that counts
        return "first_time"
    probe = Violation(_PROBE, "", at, "", (), alert_id=alert_id)
    groups = incidents([*counted, probe], ladder)
    others = [g for g in groups if not any(v is probe for v in g)]
    if not others:
        return "first_time"
    since = at - timedelta(days=ladder.frequent.days)
    recent = [g for g in others if any(v.at > since for v in g)]
    return "frequent" if len(recent) + 1 >= ladder.frequent.violations else None


def roles_of(
    history: Iterable[Violation],
    *,
    at: datetime,
    author_role: str | None,
    ladder: Ladder,
    alert_id: str | None = None,
) -> tuple[AccountRole, ...]:
    """The account's roles in a violation at ``at`` (history role first, then the attack role)."""
    roles: list[AccountRole] = []
    h = history_role(history, at=at, alert_id=alert_id, ladder=ladder)
    if h is not None:
        roles.append(h)
    a = attack_role(author_role)
    if a is not None:
        roles.append(a)
    return tuple(roles)


def points_of(roles: Sequence[str], ladder: Ladder) -> float:
    """The strike points of one violation with these roles (module docstring)."""
    p = ladder.points
    if "frequent" in roles:
        base = p.frequent
    elif "first_time" in roles:
        base = p.first_time_copycat if "copycat" in roles else p.first_time
    else:
        base = p.repeat
    if "initiator" in roles:
        base = max(base, p.initiator)
    return base


def strike_points(history: Iterable[Violation], at: datetime, ladder: Ladder) -> float:
    """The account's strike points at ``at``: per incident counting, the highest of its points."""
    groups = incidents(counting(history, at, ladder), ladder)
    return sum(max(points_of(v.roles, ladder) for v in g) for g in groups)


@dataclass(frozen=True, slots=True)
class Grade:
    """Where a violation puts the account on the ladder, and the sanction it calls for (if any)."""

    kind: SanctionKind | None  # None: no new sanction
    step: int  # the step the account stands on after it (-1: below the first)
    step_before: int
    points: float
    points_before: float
    starts_at: datetime
    expires_at: datetime | None
    counted: tuple[str, ...]  # the violations whose strikes count, this one included
    why: str


def grade(
    history: Sequence[Violation],
    new: Violation,
    ladder: Ladder,
    now: datetime,
    *,
    active_step: int = -1,
) -> Grade:
    """Grade ``new`` against the account's other violations (``history``, any status) at ``now``;
    ``active_step``: the highest ladder step among the account's sanctions active at ``now``."""
    others = [v for v in history if v.violation_id != new.violation_id]
    counted_before = counting(others, new.at, ladder)
    before = sum(max(points_of(v.roles, ladder) for v in g) for g in incidents(counted_before, ladder))
    counting_now = counting([*others, new], new.at, ladder)
    groups = incidents(counting_now, ladder) if counted_before else [[new]] if counting_now else []
    after = sum(max(points_of(v.roles, ladder) for v in g) for g in groups)  # strike_points, grouped once
    step_before, step = ladder.step_at(before), ladder.step_at(after)
    counted = tuple(v.violation_id for v in counting_now)
    due = after > before and step >= 0 and (step > step_before or step > active_step)
    roles = ", ".join(new.roles) or "no role"
    n = len(groups)
    tally = (
        f"{points_of(new.roles, ladder):g} strike points for this violation ({roles}); "
        f"{after:g} in all from {n} incident{'s' if n != 1 else ''} within {ladder.strike_days} days"
    )
    if not due:
        why = tally + (
            "; no step reached" if step < 0
            else f"; the account already stands on step {step + 1} ({ladder.steps[step].label()})"
        )
        return Grade(None, step, step_before, after, before, now, None, counted, why)
    s = ladder.steps[step]
    why = f"{tally}; step {step + 1} of {len(ladder.steps)}, {s.label()}, applies from {s.points:g}"
    expires = None if s.duration is None else now + s.duration
    return Grade(s.sanction_kind, step, step_before, after, before, now, expires, counted, why)


def _days(n: int) -> timedelta:
    return timedelta(days=n)

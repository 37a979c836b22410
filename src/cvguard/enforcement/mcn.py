"""MCN joint handling, pure: an organisation's figures, the measures its thresholds call for, and
which measures still hold once a violation is reversed.

    figures = aggregate("m1", members, violations, since=t - window, until=t)
    plan = assess(thresholds, "m1", members, violations, measures, now=t)
    plan.take     # [McnMeasure]: new measures, each with its statement of reasons
    drop = recheck(thresholds, violations, measures, now=t)   # [(measure, why)]: no longer hold

Counting. A member counts for the rate when they had not left before the window began; an account
whose violation was put on the MCN (the violation's ``mcn_id``) counts as a member. Violations
count when active (not reversed) and dated in the window (event time). An inciter is a member
with a violation whose roles include ``initiator``.

Measures. Each threshold crossed takes its measure unless one of the same kind is in force (a
person's included: automation adds nothing to it), within ``cooldown`` of the end of the
threshold's last measure, or, when a person lifted that measure, with no violation newer than
the lift (a person's decision beats an automatic one). ``after`` needs an earlier measure of that
kind, not lifted, started in the window. A measure rests on the violations it counted and the
members it applied to; ``recheck`` asks of every automatic measure in force whether it would
still be taken on that basis without the violations since reversed (and with the earlier
measures its ``after`` needs still standing): one that would not is lifted, exactly.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any, Literal

from cvguard.enforcement import McnMeasureKind
from cvguard.enforcement.mcn_thresholds import McnThreshold, McnThresholds

__all__ = [
    "Assessment",
    "McnFigures",
    "McnMeasure",
    "McnViolation",
    "Member",
    "MemberFigures",
    "aggregate",
    "assess",
    "by_hand",
    "recheck",
    "report",
]

MemberSource = Literal["event", "platform"]
MeasureState = Literal["active", "lifted", "expired"]
LISTED = 100  # ids named in a statement of reasons, at most (the count is always given)
AUTOMATIC = "cvguard"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Member:
    account_id: str
    since: datetime | None
    source: MemberSource
    left_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class McnViolation:
    """A violation put on an MCN: its member, roles and time (event time), active or reversed."""

    violation_id: str
    account_id: str
    roles: tuple[str, ...]
    at: datetime
    status: Literal["active", "reversed"] = "active"

    @property
    def inciter(self) -> bool:
        return "initiator" in self.roles


@dataclass(frozen=True, slots=True)
class McnMeasure:
    """A measure against an MCN, applied to ``accounts`` (its members then), from ``starts_at``
    until ``expires_at`` (None: until lifted). ``threshold_id`` None: taken by a person."""

    measure_id: str
    mcn_id: str
    kind: McnMeasureKind
    starts_at: datetime
    expires_at: datetime | None
    reason: str
    statement: Mapping[str, Any]
    decided_by: str  # ``thresholds:<version>:<id>`` or ``person:<actor>``
    threshold_id: str | None = None
    violation_ids: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    status: Literal["active", "lifted"] = "active"
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    lift_reason: str | None = None

    @property
    def by_person(self) -> bool:
        return self.threshold_id is None

    def state_at(self, now: datetime) -> MeasureState:
        if self.status == "lifted":
            return "lifted"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def ended_at(self) -> datetime | None:
        return self.lifted_at if self.status == "lifted" else self.expires_at

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {
            "measure_id": self.measure_id, "mcn_id": self.mcn_id, "kind": self.kind,
            "state": self.state_at(now), "starts_at": self.starts_at.isoformat(),
            "expires_at": None if self.expires_at is None else self.expires_at.isoformat(),
            "reason": self.reason, "statement": dict(self.statement), "decided_by": self.decided_by,
            "threshold_id": self.threshold_id, "violation_ids": list(self.violation_ids),
            "accounts": len(self.accounts),
            "lifted_at": None if self.lifted_at is None else self.lifted_at.isoformat(),
            "lifted_by": self.lifted_by, "lift_reason": self.lift_reason,
        }


@dataclass(frozen=True, slots=True)
class MemberFigures:
    violations: int
    inciter: bool
    violation_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class McnFigures:
    """An MCN's figures over ``(since, until]`` (event time)."""

    mcn_id: str
    since: datetime
    until: datetime
    members: int
    violations: int
    members_with_violations: int
    inciters: tuple[str, ...]
    per_member: Mapping[str, MemberFigures] = field(default_factory=lambda: _EMPTY)
    violation_ids: tuple[str, ...] = ()

    @property
    def violations_per_member(self) -> float:
        return self.violations / self.members if self.members else 0.0

    def values(self) -> dict[str, float]:
        """The figures a threshold's ``when`` is read against, by condition name."""
        return {
            "inciters_at_least": len(self.inciters), "violations_at_least": self.violations,
            "members_with_violations_at_least": self.members_with_violations,
            "violations_per_member_at_least": self.violations_per_member,
            "members_at_least": self.members,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(), "until": self.until.isoformat(), "members": self.members,
            "violations": self.violations, "members_with_violations": self.members_with_violations,
            "violations_per_member": round(self.violations_per_member, 4),
            "inciters": len(self.inciters),
        }


def aggregate(
    mcn_id: str,
    members: Iterable[Member],
    violations: Iterable[McnViolation],
    *,
    since: datetime,
    until: datetime,
) -> McnFigures:
    """The MCN's figures over ``(since, until]`` (see the module docstring for what counts)."""
    counted = sorted(
        (v for v in violations if v.status == "active" and since < v.at <= until),
        key=lambda v: (v.at, v.violation_id),
    )
    accounts = {m.account_id for m in members if m.left_at is None or m.left_at > since}
    mine: dict[str, list[McnViolation]] = {}
    for v in counted:
        mine.setdefault(v.account_id, []).append(v)
    accounts.update(mine)
    per_member = {
        a: MemberFigures(len(vs), any(v.inciter for v in vs), tuple(v.violation_id for v in vs))
        for a, vs in sorted(mine.items())
    }
    return McnFigures(
        mcn_id=mcn_id, since=since, until=until, members=len(accounts), violations=len(counted),
        members_with_violations=len(mine),
        inciters=tuple(a for a, f in per_member.items() if f.inciter),
        per_member=MappingProxyType(per_member), violation_ids=tuple(v.violation_id for v in counted),
    )


def crossed(threshold: McnThreshold, figures: McnFigures) -> bool:
    values = figures.values()
    return all(values[k] >= v for k, v in threshold.when.conditions().items())


def shortfall(threshold: McnThreshold, figures: McnFigures) -> str:
    """The conditions that do not hold, in words (``inciters 2 < 3``)."""
    values = figures.values()
    out = [
        f"{k.removesuffix('_at_least').replace('_', ' ')} {values[k]:g} < {v:g}"
        for k, v in threshold.when.conditions().items() if values[k] < v
    ]
    return ", ".join(out)


@dataclass(frozen=True, slots=True)
class Assessment:
    figures: Mapping[str, McnFigures]  # by threshold id: the figures it was read against
    take: tuple[McnMeasure, ...]


def _prior_ok(threshold: McnThreshold, measures: Iterable[McnMeasure], now: datetime) -> bool:
    if threshold.after is None:
        return True
    since = now - threshold.window
    return any(
        m.kind == threshold.after and m.status != "lifted" and since < m.starts_at < now for m in measures
    )


def assess(
    thresholds: McnThresholds,
    mcn_id: str,
    members: Sequence[Member],
    violations: Sequence[McnViolation],
    measures: Sequence[McnMeasure],
    *,
    now: datetime,
) -> Assessment:
    """The measures the thresholds call for now (see the module docstring), in threshold order."""
    figures: dict[str, McnFigures] = {}
    take: list[McnMeasure] = []
    in_force = [m for m in measures if m.state_at(now) == "active"]
    current = [m.account_id for m in members if m.left_at is None or m.left_at > now]
    by_window: dict[timedelta, McnFigures] = {}
    for t in thresholds.thresholds:
        f = by_window.get(t.window)
        if f is None:
            f = by_window[t.window] = aggregate(mcn_id, members, violations, since=now - t.window, until=now)
        figures[t.id] = f
        if not crossed(t, f) or not _prior_ok(t, measures, now):
            continue
        mine = [m for m in measures if m.threshold_id == t.id]
        if _held_back(t, mine, violations, f, [*in_force, *take], now):
            continue
        accounts = tuple(sorted({*current, *f.per_member}))
        measure_id = f"{mcn_id}:{t.id}:{len(mine) + 1}"
        expires = None if t.duration is None else now + t.duration
        take.append(McnMeasure(
            measure_id=measure_id, mcn_id=mcn_id, kind=t.measure, starts_at=now, expires_at=expires,
            reason=f"threshold {t.id!r}: {t.says()}",
            statement=statement(mcn_id, t.measure, f, expires, threshold=t),
            decided_by=f"thresholds:{thresholds.version}:{t.id}", threshold_id=t.id,
            violation_ids=f.violation_ids, accounts=accounts,
        ))
    return Assessment(MappingProxyType(figures), tuple(take))


def _held_back(threshold: McnThreshold, mine: Sequence[McnMeasure], violations: Sequence[McnViolation],
               figures: McnFigures, in_force: Iterable[McnMeasure], now: datetime) -> bool:
    """In force already, cooling down, or lifted by a person with no violation since."""
    if any(m.kind == threshold.measure for m in in_force):
        return True
    if not mine:
        return False
    last = max(mine, key=lambda m: (m.starts_at, m.measure_id))
    if last.status == "lifted" and last.lifted_by == AUTOMATIC:
        return False  # lifted because it no longer held: nothing to cool down from
    ended = last.ended_at()
    if ended is None:
        return False
    if now < ended + threshold.cooldown:
        return True
    if last.status == "lifted":  # a person lifted it: only something newer brings it back
        counted = set(figures.violation_ids)
        return not any(v.at > ended for v in violations if v.violation_id in counted)
    return False


def recheck(
    thresholds: McnThresholds,
    violations: Sequence[McnViolation],
    measures: Sequence[McnMeasure],
    *,
    now: datetime,
) -> list[tuple[McnMeasure, str]]:
    """The automatic measures in force that no longer hold, each with why, oldest first; those
    taken by a person, or under a threshold no longer in the file, stay."""
    status = {v.violation_id: v for v in violations}
    standing = list(measures)
    out: list[tuple[McnMeasure, str]] = []
    for m in sorted(measures, key=lambda m: (m.starts_at, m.measure_id)):
        if m.by_person or m.state_at(now) != "active" or m.threshold_id is None:
            continue
        t = thresholds.get(m.threshold_id)
        if t is None:
            continue
        basis = [status[i] for i in m.violation_ids if i in status]
        gone = sorted(v.violation_id for v in basis if v.status == "reversed")
        members = [Member(a, None, "event") for a in m.accounts]
        f = aggregate(m.mcn_id, members, basis, since=m.starts_at - t.window, until=m.starts_at)
        why = ""
        if not crossed(t, f):
            why = f"no longer crosses {t.id!r} ({shortfall(t, f)})"
        elif not _prior_ok(t, [s for s in standing if s.measure_id != m.measure_id], m.starts_at):
            why = f"the {t.after} it came after was lifted"
        if why:
            if gone:
                why += f": violations reversed: {', '.join(gone[:LISTED])}"
            out.append((m, f"MCN counts corrected: {why}"))
            standing = [replace(s, status="lifted", lifted_by=AUTOMATIC) if s.measure_id == m.measure_id
                        else s for s in standing]
    return out


def by_hand(
    mcn_id: str,
    kind: McnMeasureKind,
    *,
    n: int,
    now: datetime,
    duration: timedelta | None,
    reason: str,
    actor: str,
    figures: McnFigures,
    accounts: Sequence[str],
) -> McnMeasure:
    """A measure a person takes (the ``n``-th by hand for this MCN)."""
    expires = None if duration is None else now + duration
    return McnMeasure(
        measure_id=f"{mcn_id}:person:{n}", mcn_id=mcn_id, kind=kind, starts_at=now, expires_at=expires,
        reason=reason, statement=statement(mcn_id, kind, figures, expires, reason=reason),
        decided_by=f"person:{actor}", violation_ids=figures.violation_ids,
        accounts=tuple(sorted(set(accounts))),
    )


def statement(
    mcn_id: str,
    kind: McnMeasureKind,
    figures: McnFigures,
    expires_at: datetime | None,
    *,
    threshold: McnThreshold | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """The statement of reasons for the MCN and its members: what, on which rule, resting on which
    violations of which members, until when, and how to contest it."""
    members = [
        {"account_id": a, "violations": f.violations, "inciter": f.inciter,
         "violation_ids": list(f.violation_ids[:LISTED])}
        for a, f in list(figures.per_member.items())[:LISTED]
    ]
    return {
        "mcn_id": mcn_id,
        "measure": kind,
        "decided": "automatically" if threshold is not None else "by a person",
        "rule": None if threshold is None else {
            "threshold": threshold.id, "says": threshold.says(), "description": threshold.description,
        },
        "reason": reason,
        "figures": figures.to_dict(),
        "violations": list(figures.violation_ids[:LISTED]),
        "members": members,
        "inciters": list(figures.inciters[:LISTED]),
        "listed_at_most": LISTED,
        "expires_at": None if expires_at is None else expires_at.isoformat(),
        "contest": "The MCN may ask for a review; a violation reversed on appeal is taken out of the "
                   "counts and a measure that no longer holds is lifted.",
    }


def report(
    mcn_id: str,
    members: Sequence[Member],
    violations: Sequence[McnViolation],
    measures: Sequence[McnMeasure],
    *,
    since: datetime,
    until: datetime,
) -> dict[str, Any]:
    """The MCN report for ``(since, until]``: members, violations per member, inciters, the
    measures of the period (started in it, or in force during it) with their reasons."""
    f = aggregate(mcn_id, members, violations, since=since, until=until)
    reversed_ = sorted(v.violation_id for v in violations if v.status == "reversed" and since < v.at <= until)
    listed = sorted({m.account_id for m in members} | set(f.per_member))
    by_account = {m.account_id: m for m in members}
    rows = []
    for a in listed:
        m = by_account.get(a)
        mf = f.per_member.get(a)
        rows.append({
            "account_id": a, "source": None if m is None else m.source,
            "since": None if m is None or m.since is None else m.since.isoformat(),
            "left_at": None if m is None or m.left_at is None else m.left_at.isoformat(),
            "violations": 0 if mf is None else mf.violations,
            "inciter": False if mf is None else mf.inciter,
            "violation_ids": [] if mf is None else list(mf.violation_ids),
        })
    period = [
        m for m in sorted(measures, key=lambda m: (m.starts_at, m.measure_id))
        if m.starts_at <= until and ((m.ended_at() or until) > since)
    ]
    return {
        "mcn_id": mcn_id,
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "figures": f.to_dict(),
        "members": rows,
        "inciters": list(f.inciters),
        "violations_reversed": reversed_,
        "measures": [m.to_dict(until) for m in period],
    }

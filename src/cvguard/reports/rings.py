"""False-report rings: many reports against one account from accounts that act as one.

A crowd of independent people reporting the same account is a signal; twenty accounts made on one
afternoon that report within minutes of each other are one voice. Reporters are linked, pair by
pair, by a rule anyone can check:

    created together and in sync  their accounts were created within ``created_within`` of each
                                  other AND they reported the account within ``reported_within``
                                  of each other (either signal alone is common: a platform's launch
                                  cohort, a viral post everyone reports at once)
    follow each other             each follows the other (one-way following is not a link: fans
                                  follow the same star without knowing each other)

Linked reporters form clusters (connected components). Every cluster counts once:
``independent_reporters`` is the number of clusters. A cluster of ``min_ring`` or more reporters
is a *suspected ring*, shown with its members and the links that joined them. Nothing here
rejects a report: a ring's reports are still read by a person, they just do not count as a crowd.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

__all__ = ["MAX_REASONS", "CrowdAssessment", "Link", "ReporterFacts", "Ring", "RingRule", "assess_crowd"]

MAX_REASONS = 20  # links named per ring (the count of all is given too)


@dataclass(frozen=True, slots=True)
class RingRule:
    created_within: timedelta = timedelta(hours=72)
    reported_within: timedelta = timedelta(minutes=30)
    min_ring: int = 3

    def __post_init__(self) -> None:
        if self.created_within < timedelta(0) or self.reported_within < timedelta(0):
            raise ValueError("ring windows must not be negative")
        if self.min_ring < 2:
            raise ValueError("a ring has at least 2 members")


@dataclass(frozen=True, slots=True)
class ReporterFacts:
    """What is known of one reporter of an account: when they (first) reported it, when their
    account was created (None: unknown), and whom they follow (as far as known)."""

    reporter_id: str
    reported_at: datetime
    created_at: datetime | None = None
    follows: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Link:
    a: str
    b: str
    kind: str  # created_together_in_sync / follow_each_other
    detail: str


@dataclass(frozen=True, slots=True)
class Ring:
    members: tuple[str, ...]
    reasons: tuple[str, ...]  # the links that joined its members (at most MAX_REASONS), in words
    links: int  # pairs linked among the members, in all

    def to_dict(self) -> dict[str, object]:
        return {"members": list(self.members), "reasons": list(self.reasons), "links": self.links}


@dataclass(frozen=True, slots=True)
class CrowdAssessment:
    reporters: int
    independent_reporters: int
    clusters: tuple[tuple[str, ...], ...]  # every cluster of 2 or more, members sorted
    rings: tuple[Ring, ...]

    by_member: dict[str, Ring] = field(default_factory=dict, compare=False, repr=False)

    def ring_of(self, reporter_id: str) -> Ring | None:
        return self.by_member.get(reporter_id)


def _span(seconds: float) -> str:
    s = abs(seconds)
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


class _Forest:
    """Union-find over reporter ids; remembers the links that joined two clusters (a spanning
    forest: what a ring's reasons show) and counts every link."""

    def __init__(self, ids: Iterable[str]) -> None:
        self.parent = {x: x for x in ids}
        self.joining: list[Link] = []
        self.linked: Counter[str] = Counter()  # links per reporter (counted at the smaller id)

    def root(self, x: str) -> str:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def link(self, a: str, b: str, kind: str, made_apart: float = 0.0, apart: float = 0.0) -> None:
        """Link ``a`` and ``b`` (``a < b``); the words are written only for a joining link."""
        self.linked[a] += 1
        ra, rb = self.root(a), self.root(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)
            if kind == "follow_each_other":
                detail = f"{a} and {b} follow each other"
            else:
                detail = (
                    f"{a} and {b}: accounts created {_span(made_apart)} apart, reported {_span(apart)} apart"
                )
            self.joining.append(Link(a, b, kind=kind, detail=detail))


def _in_sync(
    a: tuple[float, float | None], b: tuple[float, float | None], within_s: float, created_s: float
) -> bool:
    return (
        a[1] is not None
        and b[1] is not None
        and abs(a[0] - b[0]) <= within_s
        and abs(a[1] - b[1]) <= created_s
    )


def _link_all(people: Sequence[ReporterFacts], rule: RingRule) -> _Forest:
    """Apply the rule to every pair (each pair counted once, by the first kind that links it)."""
    forest = _Forest(p.reporter_id for p in people)
    within_s = rule.reported_within.total_seconds()
    created_s = rule.created_within.total_seconds()
    times = {
        p.reporter_id: (p.reported_at.timestamp(), p.created_at.timestamp() if p.created_at else None)
        for p in people
    }
    # sorted by report time: a reporter is compared with those reporting after it, while in sync
    # (vectorised: a crowd of hundreds in one half hour is a hundred thousand pairs)
    timed = sorted((at, who, made) for who, (at, made) in times.items())
    ids = [who for _, who, _ in timed]
    at = np.array([t for t, _, _ in timed], dtype=np.float64)
    made = np.array([np.nan if m is None else m for _, _, m in timed], dtype=np.float64)
    ends = np.searchsorted(at, at + within_s, side="right")
    label = np.arange(len(ids))  # the cluster of each reporter, as an index, kept with the forest
    for i in range(len(ids)):
        start, stop = i + 1, int(ends[i])
        if stop <= start or np.isnan(made[i]):
            continue
        hits = np.nonzero(np.abs(made[start:stop] - made[i]) <= created_s)[0] + start
        if not len(hits):
            continue
        joined = 0
        for j in hits[label[hits] != label[i]]:
            if label[j] == label[i]:  # joined through an earlier hit of this round
                continue
            a, b = (ids[i], ids[j]) if ids[i] < ids[j] else (ids[j], ids[i])
            forest.link(a, b, "created_together_in_sync", float(made[j] - made[i]), float(at[j] - at[i]))
            label[label == label[j]] = label[i]
            joined += 1
        forest.linked[ids[i]] += len(hits) - joined
    follows = {p.reporter_id: p.follows for p in people}
    for a, a_follows in sorted(follows.items()):
        for b in sorted(a_follows):
            if (
                a < b
                and b in follows
                and a in follows[b]
                and not _in_sync(times[a], times[b], within_s, created_s)
            ):
                forest.link(a, b, "follow_each_other")
    return forest


def assess_crowd(facts: Iterable[ReporterFacts], rule: RingRule | None = None) -> CrowdAssessment:
    """Cluster the reporters of one account (one ``ReporterFacts`` per reporter; a reporter given
    twice keeps the first) and count each cluster once.

    Every pair the rule links is counted (``Ring.links``); the reasons shown are the links that
    joined two clusters, in the order found, which is enough to see why each member is there."""
    rule = rule if rule is not None else RingRule()
    unique: dict[str, ReporterFacts] = {}
    for f in facts:
        unique.setdefault(f.reporter_id, f)
    people = list(unique.values())
    forest = _link_all(people, rule)
    groups: dict[str, list[str]] = {}
    for p in people:
        groups.setdefault(forest.root(p.reporter_id), []).append(p.reporter_id)
    clusters = tuple(
        sorted((tuple(sorted(g)) for g in groups.values() if len(g) > 1), key=lambda c: (-len(c), c))
    )
    rings: list[Ring] = []
    for members in clusters:
        if len(members) < rule.min_ring:
            continue
        inside = set(members)
        mine = [link for link in forest.joining if link.a in inside]
        links = sum(forest.linked[who] for who in members)
        rings.append(Ring(members=members, reasons=tuple(x.detail for x in mine[:MAX_REASONS]), links=links))
    return CrowdAssessment(
        reporters=len(people),
        independent_reporters=len(groups),
        clusters=clusters,
        rings=tuple(rings),
        by_member={who: ring for ring in rings for who in ring.members},
    )

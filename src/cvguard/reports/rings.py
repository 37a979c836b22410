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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

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
    reasons: tuple[str, ...]  # at most MAX_REASONS links, in words
    links: int  # how many links joined the members in all

    def to_dict(self) -> dict[str, object]:
        return {"members": list(self.members), "reasons": list(self.reasons), "links": self.links}


@dataclass(frozen=True, slots=True)
class CrowdAssessment:
    reporters: int
    independent_reporters: int
    clusters: tuple[tuple[str, ...], ...]  # every cluster of 2 or more, members sorted
    rings: tuple[Ring, ...]

    def ring_of(self, reporter_id: str) -> Ring | None:
        return next((r for r in self.rings if reporter_id in r.members), None)


def _hours(delta: timedelta) -> str:
    s = abs(delta.total_seconds())
    return f"{s / 3600:.1f} h" if s >= 3600 else f"{s / 60:.0f} min"


def find_links(facts: Sequence[ReporterFacts], rule: RingRule) -> list[Link]:
    """Every pair of reporters the rule links, each pair once (the first kind that links them)."""
    links: list[Link] = []
    seen: set[tuple[str, str]] = set()
    by_time = sorted(facts, key=lambda f: (f.reported_at, f.reporter_id))
    for i, a in enumerate(by_time):
        for b in by_time[i + 1 :]:
            apart = b.reported_at - a.reported_at
            if apart > rule.reported_within:
                break
            if a.created_at is None or b.created_at is None:
                continue
            created_apart = abs(b.created_at - a.created_at)
            if created_apart <= rule.created_within:
                pair = (min(a.reporter_id, b.reporter_id), max(a.reporter_id, b.reporter_id))
                seen.add(pair)
                links.append(
                    Link(
                        *pair,
                        kind="created_together_in_sync",
                        detail=f"{pair[0]} and {pair[1]}: accounts created {_hours(created_apart)} apart, "
                        f"reported {_hours(apart)} apart",
                    )
                )
    follows = {f.reporter_id: f.follows for f in facts}
    for a_id, a_follows in sorted(follows.items()):
        for b_id in sorted(a_follows):
            if a_id < b_id and b_id in follows and a_id in follows[b_id] and (a_id, b_id) not in seen:
                seen.add((a_id, b_id))
                links.append(Link(a_id, b_id, "follow_each_other", f"{a_id} and {b_id} follow each other"))
    return links


def assess_crowd(facts: Iterable[ReporterFacts], rule: RingRule | None = None) -> CrowdAssessment:
    """Cluster the reporters of one account (one ``ReporterFacts`` per reporter; a reporter given
    twice keeps the first) and count each cluster once."""
    rule = rule if rule is not None else RingRule()
    unique: dict[str, ReporterFacts] = {}
    for f in facts:
        unique.setdefault(f.reporter_id, f)
    people = list(unique.values())
    parent = {p.reporter_id: p.reporter_id for p in people}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    links = find_links(people, rule)
    for link in links:
        ra, rb = root(link.a), root(link.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for p in people:
        groups.setdefault(root(p.reporter_id), []).append(p.reporter_id)
    clusters = tuple(
        sorted((tuple(sorted(g)) for g in groups.values() if len(g) > 1), key=lambda c: (-len(c), c))
    )
    rings: list[Ring] = []
    for members in clusters:
        if len(members) < rule.min_ring:
            continue
        inside = set(members)
        mine = [link for link in links if link.a in inside]
        rings.append(
            Ring(members=members, reasons=tuple(x.detail for x in mine[:MAX_REASONS]), links=len(mine))
        )
    return CrowdAssessment(
        reporters=len(people), independent_reporters=len(groups), clusters=clusters, rings=tuple(rings)
    )

"""Alerts, and the book that de-duplicates and escalates them.

An alert is about one subject (a user, a thread, a topic) and one kind of behaviour. Within an
*episode* (activity with no quiet gap longer than the kind's quiet period) the book emits the
alert once when it is raised and again only when its level rises, or when its headline count has
grown ``refresh_factor`` times since the last emission; every other offer silently refreshes the
evidence the book holds. All emissions of one episode share an ``alert_id``, so a store upserts.

An episode ends when its subject has been quiet (no offer at watch level or above) for the kind's
quiet period, in event time. The book then emits the alert once more, with ``resolved_at`` (the
end of the quiet period: last activity + quiet, whatever the time the book noticed it) and a
``resolution`` saying why, and forgets the episode; the next offer about the subject opens a new
episode with a new ``alert_id``. Closings are noticed by ``sweep(t)`` as event time advances (the
engine calls it), or by an offer that finds its subject's episode past its quiet period; either
way they wait in the book until ``drain_closed()`` hands them out, so none is lost or sent twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cvguard.behavior.windows import iso, to_datetime
from cvguard.vocabulary import LEVEL_RANK, Kind, Level, SubjectType
from cvguard.vocabulary import LEVELS as LEVELS  # re-exported: the alert words are defined once

# A closing alert's final evidence and event ids, or None to keep the last emitted ones.
Final = Callable[["Alert"], tuple[dict[str, Any], tuple[str, ...]] | None]
RANK = LEVEL_RANK


def max_level(*levels: Level | None) -> Level | None:
    best: Level | None = None
    for level in levels:
        if RANK[level] > RANK[best]:
            best = level
    return best


@dataclass(frozen=True, slots=True)
class Assessment:
    """What a detector says about one subject now; ``headline`` is the count the level rests on."""

    kind: Kind
    subject_type: SubjectType
    subject_id: str
    level: Level | None
    score: float
    headline: int
    evidence: dict[str, Any]
    event_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    alert_id: str
    kind: Kind
    subject_type: SubjectType
    subject_id: str
    level: Level
    raised_at: datetime
    updated_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)
    event_ids: tuple[str, ...] = ()
    # Set on the one emission that closes an episode because the behaviour subsided: when (event
    # time) and why. A store marks such an alert resolved unless a person has set its status.
    resolved_at: datetime | None = None
    resolution: str | None = None

    @property
    def episode(self) -> int:
        return int(self.alert_id.rsplit(":", 1)[1])

    def to_dict(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "kind": self.kind,
            "subject_type": self.subject_type,
            "subject_id": self.subject_id,
            "level": self.level,
            "raised_at": self.raised_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "evidence": self.evidence,
            "event_ids": list(self.event_ids),
            "resolved_at": None if self.resolved_at is None else self.resolved_at.isoformat(),
            "resolution": self.resolution,
        }


@dataclass(slots=True)
class _Episode:
    episode: int
    level: Level
    raised_at: float
    emitted_at: float
    last_active: float
    emitted_headline: int
    alert: Alert  # the latest evidence, emitted or not


# Quiet gap (seconds of event time) that ends an episode, per kind.
DEFAULT_QUIET: dict[str, float] = {
    "pile_on": 6 * 3600,
    "incitement": 6 * 3600,
    "brigade": 3600,
    "topic": 6 * 3600,
}


class AlertBook:
    """Open episodes per (kind, subject); ``offer`` returns an alert only when one is due."""

    def __init__(self, quiet: dict[str, float] | None = None, refresh_factor: float = 10.0) -> None:
        self.quiet = {**DEFAULT_QUIET, **(quiet or {})}
        self.refresh_factor = refresh_factor
        self._open: dict[tuple[str, str, str], _Episode] = {}
        self._episodes: dict[tuple[str, str, str], int] = {}  # last episode number per subject
        self._closed: list[Alert] = []  # closing emissions not yet handed out (drain_closed)

    def _episode(self, a: Assessment, t: float) -> _Episode | None:
        ep = self._open.get((a.kind, a.subject_type, a.subject_id))
        if ep is not None and t - ep.last_active > self.quiet[a.kind]:
            return None
        return ep

    def _close(self, key: tuple[str, str, str], final: Final | None = None) -> None:
        ep = self._open.pop(key)
        quiet = self.quiet[key[0]]
        end = ep.last_active + quiet
        alert = ep.alert
        if final is not None:
            fresh = final(alert)
            if fresh is not None:
                alert = replace(alert, evidence=fresh[0], event_ids=fresh[1])
        self._closed.append(
            replace(
                alert,
                updated_at=to_datetime(end),
                resolved_at=to_datetime(end),
                resolution=f"quiet for {_span(quiet)}: {_QUIET_WHAT.get(key[0], 'no activity')}"
                f" since {iso(ep.last_active)}",
            )
        )

    def sweep(self, t: float, final: Final | None = None) -> None:
        """Close every episode whose quiet period has passed by event time ``t`` (see the module
        docstring); the closing alerts wait for ``drain_closed``. ``final``, when given, may
        replace a closing alert's evidence and event ids with the episode's final account (roles
        complete, say), or keep them (None)."""
        for key in [k for k, ep in self._open.items() if t - ep.last_active > self.quiet[k[0]]]:
            self._close(key, final)

    def drain_closed(self) -> list[Alert]:
        """The closing emissions noticed since the last call, in the order they were noticed."""
        out, self._closed = self._closed, []
        return out

    def due(self, a: Assessment, t: float) -> bool:
        """Whether ``offer(a, t)`` would emit: lets a caller build evidence only when it is needed."""
        if a.level is None:
            return False
        ep = self._episode(a, t)
        if ep is None:
            return True
        # "Materially more": refresh_factor times the last headline, and never for small counts.
        grew = a.headline >= self.refresh_factor * max(ep.emitted_headline, 10)
        return RANK[a.level] > RANK[ep.level] or grew

    def touch(self, a: Assessment, t: float) -> None:
        """Keep an open episode alive without emitting (activity at or below its level)."""
        if a.level is None:
            return
        ep = self._episode(a, t)
        if ep is not None:
            ep.last_active = max(ep.last_active, t)

    def offer(self, a: Assessment, t: float) -> Alert | None:
        """The alert to emit for this assessment, or None (a duplicate just keeps the episode open)."""
        if not self.due(a, t):
            self.touch(a, t)
            return None
        assert a.level is not None
        key = (a.kind, a.subject_type, a.subject_id)
        ep = self._episode(a, t)
        if ep is None and key in self._open:
            self._close(key)  # the old episode ended before this one began
        if ep is None:
            number = self._episodes.get(key, 0) + 1
            self._episodes[key] = number
            alert = Alert(
                alert_id=f"{a.kind}:{a.subject_type}:{a.subject_id}:{number}",
                kind=a.kind,
                subject_type=a.subject_type,
                subject_id=a.subject_id,
                level=a.level,
                raised_at=to_datetime(t),
                updated_at=to_datetime(t),
                evidence=a.evidence,
                event_ids=a.event_ids,
            )
            self._open[key] = _Episode(number, a.level, t, t, t, a.headline, alert)
            return alert
        ep.last_active = max(ep.last_active, t)
        ep.level = a.level if RANK[a.level] > RANK[ep.level] else ep.level
        ep.emitted_at = max(t, ep.emitted_at)
        ep.emitted_headline = a.headline
        ep.alert = replace(
            ep.alert,
            level=ep.level,
            updated_at=to_datetime(ep.emitted_at),
            evidence=a.evidence,
            event_ids=a.event_ids,
        )
        return ep.alert

    def current(self, kind: str, subject_type: str, subject_id: str, t: float | None = None) -> Alert | None:
        """The open episode's alert as last emitted (None once quiet past the period)."""
        ep = self._open.get((kind, subject_type, subject_id))
        if ep is None or (t is not None and t - ep.last_active > self.quiet[kind]):
            return None
        return ep.alert

    def open_alerts(self, t: float | None = None) -> list[Alert]:
        return [
            ep.alert
            for (kind, _, _), ep in sorted(self._open.items())
            if t is None or t - ep.last_active <= self.quiet[kind]
        ]

    def prune(self, t: float) -> None:
        """``sweep``: closed episodes are forgotten once closed (their numbers are kept so ids stay
        unique)."""
        self.sweep(t)

    def save(self) -> dict[str, Any]:
        return {
            "episodes": [[*k, n] for k, n in sorted(self._episodes.items())],
            "open": [
                {
                    "key": list(k),
                    "episode": ep.episode,
                    "level": ep.level,
                    "raised_at": ep.raised_at,
                    "emitted_at": ep.emitted_at,
                    "last_active": ep.last_active,
                    "emitted_headline": ep.emitted_headline,
                    "alert": {**ep.alert.to_dict(), "updated_at": ep.alert.updated_at.timestamp()},
                }
                for k, ep in sorted(self._open.items())
            ],
            "closed": [_alert_json(a) for a in self._closed],
        }

    def restore(self, data: dict[str, Any]) -> None:
        self._episodes = {(k, s, i): int(n) for k, s, i, n in data["episodes"]}
        self._closed = [_alert_from_json(a) for a in data.get("closed", ())]
        self._open = {}
        for row in data["open"]:
            a = row["alert"]
            alert = Alert(
                alert_id=a["alert_id"],
                kind=a["kind"],
                subject_type=a["subject_type"],
                subject_id=a["subject_id"],
                level=a["level"],
                raised_at=to_datetime(float(row["raised_at"])),
                updated_at=to_datetime(float(a["updated_at"])),
                evidence=a["evidence"],
                event_ids=tuple(a["event_ids"]),
            )
            k = row["key"]
            self._open[(k[0], k[1], k[2])] = _Episode(
                int(row["episode"]),
                row["level"],
                float(row["raised_at"]),
                float(row["emitted_at"]),
                float(row["last_active"]),
                int(row["emitted_headline"]),
                alert,
            )


_QUIET_WHAT = {
    "pile_on": "no abusive message to the target at watch level or above",
    "incitement": "no new call or abuse following it",
    "brigade": "no near-identical message from the cluster",
    "topic": "no abusive rise or piled-on target on the topic",
}


def _span(seconds: float) -> str:
    if seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds % 60 == 0:
        return f"{int(seconds // 60)}min"
    return f"{seconds:g}s"


def _alert_json(a: Alert) -> dict[str, Any]:
    return {
        **a.to_dict(),
        "raised_at": a.raised_at.timestamp(),
        "updated_at": a.updated_at.timestamp(),
        "resolved_at": None if a.resolved_at is None else a.resolved_at.timestamp(),
    }


def _alert_from_json(a: dict[str, Any]) -> Alert:
    return Alert(
        alert_id=a["alert_id"],
        kind=a["kind"],
        subject_type=a["subject_type"],
        subject_id=a["subject_id"],
        level=a["level"],
        raised_at=to_datetime(float(a["raised_at"])),
        updated_at=to_datetime(float(a["updated_at"])),
        evidence=a["evidence"],
        event_ids=tuple(a["event_ids"]),
        resolved_at=None if a["resolved_at"] is None else to_datetime(float(a["resolved_at"])),
        resolution=a["resolution"],
    )

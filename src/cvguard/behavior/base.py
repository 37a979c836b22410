"""What every behaviour detector shares: the detector protocol, "abusive", and the watermark."""

from __future__ import annotations

import math
from typing import Any, Protocol

from cvguard.behavior.alerts import Assessment
from cvguard.events import Event
from cvguard.verdict import Verdict


class BehaviourDetector(Protocol):
    """A stateful detector fed one event at a time, in event time (float epoch seconds).

    ``update`` returns the subjects whose assessment may have risen, so a caller re-assesses only
    those. State lives in small per-subject records that serialise to plain dicts.
    """

    def update(self, event: Event, verdict: Verdict, t: float) -> tuple[str, ...]: ...

    def score(self, subject: str, t: float) -> float: ...

    def assess(self, subject: str, t: float) -> Assessment: ...

    def subjects(self) -> list[str]: ...

    def prune(self, t: float) -> None: ...

    def save(self) -> dict[str, Any]: ...

    def restore(self, data: dict[str, Any]) -> None: ...


def is_abusive(verdict: Verdict, threshold: float) -> bool:
    return verdict.violation or verdict.score >= threshold


def is_new_account(event: Event, days: float) -> bool:
    age = event.account_age_days()
    return age is not None and age < days


def is_stranger(event: Event) -> bool:
    """Unknown counts as a stranger: the platform tells us only when the target follows the author."""
    return event.relationship.target_follows_author is not True


class Watermark:
    """The newest event time seen; an event more than ``lateness`` seconds behind it is too late."""

    __slots__ = ("late", "lateness", "newest")

    def __init__(self, lateness: float) -> None:
        self.lateness = lateness
        self.newest = -math.inf
        self.late = 0  # events refused as too late (a metric, not state)

    def accept(self, t: float) -> bool:
        if t < self.newest - self.lateness:
            self.late += 1
            return False
        if t > self.newest:
            self.newest = t
        return True

    def to_json(self) -> float | None:
        return None if self.newest == -math.inf else self.newest

    def load(self, value: float | None) -> None:
        self.newest = -math.inf if value is None else float(value)

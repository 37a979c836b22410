"""What behaviour answers about one user or one topic now: typed, frozen views.

The API, the scale-out view and (later) decisions read fields by name; ``to_dict()`` gives the JSON
shape the API has always served, key for key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cvguard.vocabulary import Level


@dataclass(frozen=True, slots=True)
class TargetState:
    """One user as of an event time: risk in [0, 1], level, per-window evidence and a timeline."""

    target_id: str
    risk: float
    level: Level | None  # the highest of the detectors' levels and the open alerts about the user
    pile_on: dict[str, Any]  # {"level", "score", **the pile-on detector's evidence}
    incitement: dict[str, Any]  # {"level", **the incitement detector's evidence}
    timeline: list[list[Any]]  # abusive messages per time bucket
    alerts: list[dict[str, Any]] = field(default_factory=list)  # open alerts about the user (Alert.to_dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target_id": self.target_id,
            "risk": self.risk,
            "level": self.level,
            "pile_on": self.pile_on,
            "incitement": self.incitement,
            "timeline": self.timeline,
            "alerts": self.alerts,
        }


@dataclass(frozen=True, slots=True)
class TopicState:
    """One topic as of an event time: risk, level, the topic detector's evidence and its open alert."""

    topic_id: str
    risk: float
    level: Level | None
    behaviour: dict[str, Any]  # the topic detector's evidence: windows, baseline, piled-on targets...
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "topic_id": self.topic_id,
            "risk": self.risk,
            "level": self.level,
            **self.behaviour,
            "alerts": self.alerts,
        }

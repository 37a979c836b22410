"""Behaviour: stateful detectors over the event stream, in event time, and the alerts they raise.

    BehaviourEngine.process(event, verdict) -> list[Alert]    new or escalated alerts only
    PileOnDetector      many people abusing one target, vs the target's own baseline
    IncitementDetector  calls to attack or expose a person; initiators and copycats
    BrigadeDetector     near-identical messages from many accounts (MinHash/LSH)
    TopicDetector       a topic turning violent, vs its own baseline
    AlertBook           one alert per (kind, subject, episode), re-emitted only on escalation

Every detector has ``update(event, verdict, t) -> subjects touched``, ``score(subject, t)``,
``assess(subject, t) -> Assessment``, ``save() -> dict`` and ``restore(dict)``; ``t`` is event
time in float epoch seconds (UTC). Pure: no I/O, no clock.
"""

from __future__ import annotations

from cvguard.behavior.alerts import Alert, AlertBook, Assessment
from cvguard.behavior.base import BehaviourDetector, is_abusive
from cvguard.behavior.brigade import BrigadeConfig, BrigadeDetector, MinHasher
from cvguard.behavior.engine import BehaviourConfig, BehaviourEngine
from cvguard.behavior.incitement import IncitementConfig, IncitementDetector, Role, classify_call
from cvguard.behavior.pileon import LevelRule, PileOnConfig, PileOnDetector
from cvguard.behavior.state import TargetState, TopicState
from cvguard.behavior.topics import TopicConfig, TopicDetector, TopicRule
from cvguard.behavior.windows import WINDOWS, Window, seconds
from cvguard.vocabulary import LEVELS, Kind, Level, SubjectType

__all__ = [
    "LEVELS",
    "WINDOWS",
    "Alert",
    "AlertBook",
    "Assessment",
    "BehaviourConfig",
    "BehaviourDetector",
    "BehaviourEngine",
    "BrigadeConfig",
    "BrigadeDetector",
    "IncitementConfig",
    "IncitementDetector",
    "Kind",
    "Level",
    "LevelRule",
    "MinHasher",
    "PileOnConfig",
    "PileOnDetector",
    "Role",
    "SubjectType",
    "TargetState",
    "TopicConfig",
    "TopicDetector",
    "TopicRule",
    "TopicState",
    "Window",
    "classify_call",
    "is_abusive",
    "seconds",
]

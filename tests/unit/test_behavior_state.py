"""Behaviour answers typed, frozen views (TargetState, TopicState) whose ``to_dict()`` is exactly the
JSON the API served when these views were plain dicts."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from behaviour_events import comment

from cvguard.behavior import BehaviourEngine, TargetState, TopicState
from cvguard.behavior.alerts import max_level
from cvguard.behavior.windows import seconds
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
CLEAN = Verdict(False, 0.05, None, {}, (), {})


def _legacy_target(engine: BehaviourEngine, target_id: str, t: datetime) -> dict[str, Any]:
    """The dict ``target_state`` returned before it was typed (the code of that version)."""
    ts = seconds(t)
    pile = engine.pile_on.assess(target_id, ts)
    inc = engine.incitement.assess(f"user:{target_id}", ts)
    alerts = [a for kind in ("pile_on", "incitement", "brigade")
              if (a := engine.book.current(kind, "user", target_id, ts)) is not None]
    return {
        "target_id": target_id,
        "risk": round(max(pile.score, inc.score), 4),
        "level": max_level(pile.level, inc.level, *(a.level for a in alerts)),
        "pile_on": {"level": pile.level, "score": pile.score, **pile.evidence},
        "incitement": {"level": inc.level, **inc.evidence},
        "timeline": engine.pile_on.timeline(target_id, ts),
        "alerts": [a.to_dict() for a in alerts],
    }


def _legacy_topic(engine: BehaviourEngine, topic_id: str, t: datetime) -> dict[str, Any]:
    ts = seconds(t)
    a = engine.topics.assess(topic_id, ts)
    alert = engine.book.current("topic", "topic", topic_id, ts)
    return {
        "topic_id": topic_id,
        "risk": round(a.score, 4),
        "level": max_level(a.level, alert.level if alert else None),
        **a.evidence,
        "alerts": [alert.to_dict()] if alert else [],
    }


@pytest.fixture(scope="module")
def engine() -> BehaviourEngine:
    """Two hours of chatter, then forty strangers insulting xiaoli under the topic "hot"."""
    engine = BehaviourEngine()
    engine.process_many(
        (comment(f"c{i}", T0 + timedelta(seconds=i * 60.0 - 7200), f"c{i % 9}", "说得有道理",
                 target_ids=(f"other{i % 5}",), topic_ids=("hot",), created_at=T0 - timedelta(days=500)),
         CLEAN)
        for i in range(120)
    )
    for i in range(40):
        e = comment(f"a{i}", T0 + timedelta(seconds=i * 3.0), f"s{i}", "你就是个贱人",
                    target_ids=("xiaoli",), topic_ids=("hot",), created_at=T0 - timedelta(days=500))
        engine.process(e, ABUSE)
    return engine


@pytest.mark.parametrize("after_s", [60, 200, 3600 * 10])
def test_target_state_to_dict_is_the_old_json(engine: BehaviourEngine, after_s: int) -> None:
    t = T0 + timedelta(seconds=after_s)
    state = engine.target_state("xiaoli", t)
    assert isinstance(state, TargetState)
    assert json.dumps(state.to_dict()) == json.dumps(_legacy_target(engine, "xiaoli", t))
    keys = ["target_id", "risk", "level", "pile_on", "incitement", "timeline", "alerts"]
    assert list(state.to_dict()) == keys


def test_the_views_are_frozen_and_typed(engine: BehaviourEngine) -> None:
    state = engine.target_state("xiaoli", T0 + timedelta(seconds=60))
    assert state.level in ("warning", "critical") and state.alerts and state.risk > 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.level = None  # type: ignore[misc]
    quiet = engine.target_state("nobody", T0)
    assert (quiet.risk, quiet.level, quiet.alerts) == (0, None, [])


@pytest.mark.parametrize("after_s", [60, 200, 3600 * 10])
def test_topic_state_to_dict_is_the_old_json(engine: BehaviourEngine, after_s: int) -> None:
    t = T0 + timedelta(seconds=after_s)
    state = engine.topic_state("hot", t)
    assert isinstance(state, TopicState)
    assert json.dumps(state.to_dict()) == json.dumps(_legacy_topic(engine, "hot", t))
    assert state.behaviour and set(state.behaviour) == set(engine.topics.assess("hot", seconds(t)).evidence)

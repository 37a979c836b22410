"""The decision context (pipeline/context.py): an event's DecisionInput from its verdict and the
behaviour state as of its batch: the engine read directly, a twin through target/topic states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from behaviour_events import comment

from cvguard.behavior import BehaviourEngine, TargetState, TopicState
from cvguard.events import Author, Event
from cvguard.pipeline.context import DecisionContext, decision_input
from cvguard.policy import DecisionInput, decide, default_policy
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLEAN = Verdict(False, 0.05, None, {}, (), {})
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
CALL = Verdict(True, 0.8, "harmful", {"pile_on_incitement": 0.8}, (), {})


def ev(i: int, t: float, author: str, text: str = "你就是个贱人，去死吧", **kw: Any) -> Event:
    created = T0 - timedelta(days=500)
    return comment(f"e{i}", T0 + timedelta(seconds=t), author, text, created_at=created, **kw)


def piled_on_engine() -> BehaviourEngine:
    engine = BehaviourEngine()
    for i in range(20):
        engine.process(ev(i, 1 + i * 3.0, f"stranger{i % 15}", target_ids=("xiaoli",)), ABUSE)
    return engine


def test_no_behaviour_yet_gives_the_plain_event_context() -> None:
    e = ev(1, 0, "a", target_ids=("t",), topic_ids=("top",))
    inp = DecisionContext(BehaviourEngine(), at=None).input_for(e, ABUSE)
    assert inp.pile_on_level is None and inp.topic_level is None and inp.brigade_alert_id is None
    assert inp.surface == "comment" and inp.event_id == "e1" and inp.relationship == "stranger"
    assert inp.account_age_days is not None and inp.account_age_days >= 499
    assert inp.prior_violations is None and inp.target_groups == frozenset()
    assert inp == DecisionInput.from_event(e, ABUSE)  # built positionally, field for field the same


def test_an_open_pile_on_is_read_from_the_engine_and_hides_a_strangers_abuse() -> None:
    engine = piled_on_engine()
    at = T0 + timedelta(seconds=61)
    ctx = DecisionContext(engine, at)
    stranger = ev(100, 61, "someone", target_ids=("nobody", "xiaoli"))  # the most severe target counts
    inp = ctx.input_for(stranger, ABUSE)
    assert inp.pile_on_level in ("warning", "critical")
    assert inp.pile_on_alert_id == "pile_on:user:xiaoli:1"
    d = decide(default_policy(), inp)
    assert d.action == "hide_from_target" and d.rule_id == "chat-pileon-stranger"
    assert d.alert_ids == ("pile_on:user:xiaoli:1",)
    # a mutual's abuse is graded like any other comment
    friend = comment("e101", at, "f", "你就是个贱人", created_at=T0 - timedelta(days=900),
                     target_ids=("xiaoli",))
    friend = friend.model_copy(update={"relationship": friend.relationship.model_copy(
        update={"target_follows_author": True, "author_follows_target": True})})
    assert decide(default_policy(), ctx.input_for(friend, ABUSE)).action == "fold"
    # each target is read once per context
    assert set(ctx._targets) == {"nobody", "xiaoli"}


def test_the_incitement_initiator_is_named_with_the_incitement_alert() -> None:
    engine = BehaviourEngine()
    engine.process(ev(0, -4000, "early", "你就是个废物", target_ids=("victim",)), ABUSE)
    engine.process(ev(1, 10, "boss", "兄弟们冲，去她评论区骂", target_ids=("victim",)), CALL)
    for i in range(12):
        engine.process(ev(10 + i, 20 + i, f"joiner{i}", "贱人滚出去", target_ids=("victim",)), ABUSE)
    ctx = DecisionContext(engine, T0 + timedelta(seconds=40))
    boss = ctx.input_for(ev(50, 40, "boss", "冲", target_ids=("victim",)), CALL)
    assert boss.author_role == "initiator"
    assert (boss.incitement_alert_id or "").startswith("incitement:user:victim")
    assert ctx.input_for(ev(51, 40, "joiner3", target_ids=("victim",)), ABUSE).author_role == "copycat"
    assert decide(default_policy(), boss).action == "hold_for_review"


def test_relationship_hints_come_from_the_event_and_an_authors_minor_flag_is_not_the_targets() -> None:
    e = Event(
        event_id="m1", surface="dm", occurred_at=T0, text="x",
        author=Author(id="a", minor=True), target_ids=("t",),
        relationship={"target_follows_author": True},
    )
    inp = decision_input(e, CLEAN, BehaviourEngine(), T0)
    assert inp.target_groups == frozenset()  # the author is the minor here, not the target
    assert inp.relationship == "followed"  # the target follows them
    assert inp.surface == "dm" and inp.account_age_days is None
    assert inp == DecisionInput.from_event(e, CLEAN)


class Twin:
    """Behaviour that is not an engine: read through its states."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def target_state(self, target_id: str, t: Any) -> TargetState:
        self.reads.append(target_id)
        alerts = [
            {"alert_id": "pile_on:user:t:1", "kind": "pile_on", "level": "watch"},
            {"alert_id": "incitement:user:t:2", "kind": "incitement", "level": "critical"},
            {"alert_id": "brigade:user:t:1", "kind": "brigade", "level": "warning"},
            {"alert_id": "pile_on:user:t:0", "kind": "pile_on", "level": "critical", "resolved_at": "x"},
        ] if target_id == "t" else []
        return TargetState(target_id, 0.0, None, {}, {}, [], alerts)

    def topic_state(self, topic_id: str, t: Any) -> TopicState:
        return TopicState(topic_id, 0.0, None, {}, [{"alert_id": "topic:topic:x:1", "kind": "topic",
                                                     "level": "warning"}])


def test_a_twin_is_read_through_its_states_once_per_subject() -> None:
    twin = Twin()
    ctx = DecisionContext(twin, T0)
    e = ev(1, 0, "a", target_ids=("t",), topic_ids=("x",))
    inp = ctx.input_for(e, ABUSE)
    ctx.input_for(ev(2, 0, "b", target_ids=("t",)), ABUSE)
    assert twin.reads == ["t"]
    assert (inp.pile_on_level, inp.pile_on_alert_id) == ("critical", "incitement:user:t:2")
    assert inp.brigade_alert_id == "brigade:user:t:1"
    assert (inp.topic_level, inp.topic_alert_id) == ("warning", "topic:topic:x:1")

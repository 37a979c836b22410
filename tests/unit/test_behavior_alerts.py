"""Alert episodes end: one closing emission when behaviour subsides, a new episode when it returns.

Issue 7: an alert never closed (15 hours after an attack the target still showed critical).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from behaviour_events import comment

from cvguard.behavior import Alert, AlertBook, Assessment, BehaviourEngine
from cvguard.events import Event
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLEAN = Verdict(False, 0.05, None, {}, (), {})
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
_ids = iter(range(10**9))


def event(t: float, author: str, text: str = "说得有道理", **kw: Any) -> Event:
    return comment(f"e{next(_ids)}", T0 + timedelta(seconds=t), author, text,
                   created_at=T0 - timedelta(days=500), **kw)


def attack(engine: BehaviourEngine, start: float, *, n: int = 40, who: str = "s") -> list[Alert]:
    """``n`` insults at xiaoli from distinct strangers, three seconds apart."""
    out: list[Alert] = []
    for i in range(n):
        e = event(start + i * 3.0, f"{who}{i}", "你就是个贱人", target_ids=("xiaoli",))
        out += engine.process(e, ABUSE)
    return out


def chatter(engine: BehaviourEngine, start: float, hours: float) -> list[Alert]:
    """Ordinary talk about other people, one message a minute: event time moves on."""
    return engine.process_many(
        (event(start + i * 60.0, f"c{i % 9}", target_ids=(f"other{i % 5}",)), CLEAN)
        for i in range(int(hours * 60))
    )


def test_an_attack_that_ended_is_resolved_once_with_when_and_why() -> None:
    engine = BehaviourEngine()
    chatter(engine, -7200, 2)
    raised = attack(engine, 0)
    pile = [a for a in raised if a.kind == "pile_on"]
    assert pile and pile[-1].level in ("warning", "critical") and all(a.resolved_at is None for a in pile)
    last_abuse = T0 + timedelta(seconds=39 * 3.0)
    later = chatter(engine, 200, 15)  # fifteen quiet hours of other people's talk
    closing = [a for a in later if a.kind == "pile_on" and a.subject_id == "xiaoli"]
    assert len(closing) == 1  # one closing emission, not one per sweep
    done = closing[0]
    assert done.alert_id == pile[0].alert_id and done.level == pile[-1].level
    assert done.resolved_at == last_abuse + timedelta(hours=6)  # the end of the quiet period
    assert done.resolution is not None and done.resolution.startswith("quiet for 6h")
    assert last_abuse.isoformat()[:19] in done.resolution
    state = engine.target_state("xiaoli", T0 + timedelta(hours=15))
    assert state.level is None and state.alerts == []  # no longer critical 15 hours on
    assert engine.open_alerts(T0 + timedelta(hours=15)) == []


def test_a_pile_on_that_comes_back_opens_a_new_episode() -> None:
    engine = BehaviourEngine()
    chatter(engine, -7200, 2)
    first = [a for a in attack(engine, 0) if a.kind == "pile_on"]
    chatter(engine, 200, 8)
    again = [a for a in attack(engine, 8 * 3600 + 300, who="t") if a.kind == "pile_on"]
    assert first[0].alert_id.endswith(":1") and again[0].alert_id.endswith(":2")
    assert all(a.resolved_at is None for a in again)


def test_a_late_offer_closes_the_old_episode_before_opening_the_next() -> None:
    # No sweep in between (the book alone): the closing still comes out, before the new alert.
    book = AlertBook()
    a = Assessment("pile_on", "user", "x", "warning", 0.6, 8, {"n": 1})
    assert book.offer(a, 0.0) is not None
    new = book.offer(a, 7 * 3600.0)
    closed = book.drain_closed()
    assert [c.alert_id for c in closed] == ["pile_on:user:x:1"] and closed[0].resolved_at is not None
    assert new is not None and new.alert_id == "pile_on:user:x:2"
    assert book.drain_closed() == []


def test_closings_survive_save_and_restore_through_json() -> None:
    engine = BehaviourEngine()
    chatter(engine, -7200, 2)
    attack(engine, 0)
    engine.book.sweep(T0.timestamp() + 7 * 3600)  # noticed, not yet handed out
    copy = BehaviourEngine()
    copy.restore(json.loads(json.dumps(engine.save())))
    restored = [a.to_dict() for a in copy.book.drain_closed()]
    assert restored == [a.to_dict() for a in engine.book.drain_closed()] and len(restored) == 1
    assert copy.save() == engine.save()


def test_an_incitement_closes_naming_every_copycat() -> None:
    call = Verdict(True, 0.8, "harmful", {"pile_on_incitement": 0.8}, (), {})
    engine = BehaviourEngine()
    chatter(engine, -7200, 2)
    engine.process(event(0, "boss", "兄弟们冲，去她评论区骂", target_ids=("xiaoli",)), call)
    for i in range(25):
        engine.process(event(10 + i, f"j{i}", "贱人滚出去", target_ids=("xiaoli",)), ABUSE)
    closing = [a for a in chatter(engine, 100, 8) if a.kind == "incitement"]
    assert len(closing) == 1 and closing[0].resolved_at is not None
    assert closing[0].evidence["initiator_ids"] == ["boss"]
    assert sorted(closing[0].evidence["copycat_ids"]) == sorted(f"j{i}" for i in range(25))


def test_a_topic_whose_pile_on_ended_no_longer_reports_its_level() -> None:
    engine = BehaviourEngine()
    chatter(engine, -7200, 2)
    raised: list[Alert] = []
    for i in range(60):
        e = event(i * 3.0, f"s{i}", "你就是个贱人", target_ids=("xiaoli",), topic_ids=("hot",))
        raised += engine.process(e, ABUSE)
    topic = [a for a in raised if a.kind == "topic"]
    assert topic and engine.topic_state("hot", T0 + timedelta(seconds=200)).level is not None
    later = chatter(engine, 300, 10)
    assert [a.resolved_at is not None for a in later if a.kind == "topic"] == [True]
    state = engine.topic_state("hot", T0 + timedelta(hours=10))
    assert state.level is None and state.alerts == []


def test_a_closing_emission_survives_the_scale_out_outbox_encoding() -> None:
    # The worker's outbox stores alerts as JSON; a closing emission must keep when and why.
    from cvguard.pipeline.shared_state import alert_from_json, alert_json

    book = AlertBook()
    book.offer(Assessment("pile_on", "user", "x", "warning", 0.6, 8, {"n": 1}), 0.0)
    book.sweep(7 * 3600.0)
    (closing,) = book.drain_closed()
    assert closing.resolved_at is not None
    assert alert_from_json(alert_json(closing)) == closing

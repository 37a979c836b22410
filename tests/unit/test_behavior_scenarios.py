"""Behaviour scenarios end to end through the engine, with verdicts built by hand (no model)."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from behaviour_events import comment

from cvguard.behavior import Alert, BehaviourEngine, PileOnDetector, classify_call
from cvguard.behavior.incitement import IncitementConfig
from cvguard.events import Event
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLEAN = Verdict(False, 0.05, None, {}, (), {})
HEATED = Verdict(False, 0.42, None, {"ridicule": 0.42}, (), {})  # sharp but under the threshold
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
CALL = Verdict(True, 0.8, "harmful", {"pile_on_incitement": 0.8}, (), {})

_ids = iter(range(10**9))


CIVIL = "说得有道理，我支持你的看法"


def event(t: float, author: str, text: str = CIVIL, *, new: bool = False, **kw: Any) -> Event:
    """A fresh event at ``T0 + t`` seconds; ``new``: an account two days old (else 500 days)."""
    created = T0 - timedelta(days=2 if new else 500)
    return comment(f"e{next(_ids)}", T0 + timedelta(seconds=t), author, text, created_at=created, **kw)


def levels(alerts: list[Alert], kind: str) -> list[str]:
    return [a.level for a in alerts if a.kind == kind]


def said(engine: BehaviourEngine, e: Event, verdict: Verdict, kind: str) -> list[str]:
    """Feed one event; the levels of the ``kind`` alerts it raised."""
    return levels(engine.process(e, verdict), kind)


def test_ordinary_person_pile_on_warns_within_twenty_abusive_messages_and_a_minute() -> None:
    # A private person with no history: 20 insults in a minute from 15 strangers, two friends
    # replying kindly in between. Issue 3: a warning within 60 s or 20 messages.
    engine = BehaviourEngine()
    first_warning: tuple[int, float] | None = None
    engine.process(event(0, "friend1", target_ids=("xiaoli",), follows=True), CLEAN)
    for i in range(20):
        t = 1 + i * 3.0
        alerts = engine.process(
            event(t, f"stranger{i % 15}", "你就是个贱人，去死吧", target_ids=("xiaoli",)), ABUSE
        )
        if i == 10:
            engine.process(event(t + 1, "friend2", target_ids=("xiaoli",), follows=True), CLEAN)
        if first_warning is None and "warning" in levels(alerts, "pile_on"):
            first_warning = (i + 1, t)
    assert first_warning is not None
    n, t = first_warning
    assert n <= 20 and t <= 60, first_warning
    state = engine.target_state("xiaoli", T0 + timedelta(seconds=60))
    assert state.level in ("warning", "critical") and state.risk >= 0.6
    assert state.pile_on["windows"]["1m"]["distinct_senders"] >= 5
    assert state.pile_on["rule"].split(":")[0] == state.pile_on["level"]  # the rule that fired


def test_a_busy_celebritys_normal_hours_raise_no_pile_on_warning() -> None:
    # 2,000 mostly neutral mentions an hour with a steady 2% abusive share, for six hours and
    # from a cold start (no history at all): the share test keeps this from looking like a surge.
    rng = random.Random(5)
    detector = PileOnDetector()
    worst: str | None = None
    t = 0.0
    n = 0
    while t < 6 * 3600:
        t += rng.expovariate(2000 / 3600)
        abusive = rng.random() < 0.02
        e = event(t, f"fan{rng.randrange(50_000)}", target_ids=("star",))
        for target in detector.update(e, ABUSE if abusive else CLEAN, t + T0.timestamp()):
            level = detector.assess(target, t + T0.timestamp(), explain=False).level
            if level in ("warning", "critical"):
                worst = level
        n += 1
    assert n > 10_000
    assert worst is None


def test_a_heated_but_civil_debate_raises_nothing() -> None:
    # 1,500 sharp replies in an hour among 40 people and at one public figure, none abusive.
    rng = random.Random(9)
    engine = BehaviourEngine()
    alerts: list[Alert] = []
    words = "观点数据证据逻辑政策成本效果研究样本结论前提假设反驳论证统计标准"
    for i in range(1500):
        target = "official" if i % 3 == 0 else f"debater{rng.randrange(40)}"
        e = event(
            i * 2.4,
            f"debater{rng.randrange(40)}",
            "你的" + "".join(rng.choice(words) for _ in range(12)) + "站不住脚",
            target_ids=(target,),
            topic_ids=("policy-debate",),
            thread_id="th-debate",
        )
        alerts += engine.process(e, HEATED)
    assert alerts == []
    assert engine.topic_state("policy-debate", T0 + timedelta(hours=1)).level is None


def test_a_celebrity_pile_on_is_still_seen_against_a_high_baseline() -> None:
    # Two quiet hours teach the baseline (2% abusive of 2,000/h); then a third of mentions turn abusive.
    rng = random.Random(2)
    engine = BehaviourEngine()
    t = 0.0
    raised: list[str] = []
    while t < 3 * 3600:
        t += rng.expovariate(2000 / 3600)
        share = 0.02 if t < 2 * 3600 else 0.35
        abusive = rng.random() < share
        alerts = engine.process(
            event(t, f"fan{rng.randrange(50_000)}", target_ids=("star",)), ABUSE if abusive else CLEAN
        )
        raised += [a.level for a in alerts if a.kind == "pile_on" and t < 2 * 3600]
        if t >= 2 * 3600 and "warning" in levels(alerts, "pile_on"):
            assert t - 2 * 3600 < 120  # within two minutes of the turn
            break
    else:
        pytest.fail("no warning")
    assert "warning" not in raised and "critical" not in raised


def watched(engine: BehaviourEngine, hours: float = 1.5, until: float = 0.0) -> None:
    """Ordinary chatter about other people for ``hours`` before ``until``: the detectors' watch starts."""
    start = until - hours * 3600
    for i in range(int(hours * 60)):
        engine.process(event(start + i * 60, f"chat{i % 7}", target_ids=(f"other{i % 5}",)), CLEAN)


def test_incitement_marks_the_initiator_then_copycats() -> None:
    engine = BehaviourEngine()
    watched(engine, until=-4000)
    engine.process(event(-4000, "early", "你就是个废物", target_ids=("victim",)), ABUSE)  # before any call
    alerts = engine.process(event(10, "boss", "兄弟们冲，去她评论区骂", target_ids=("victim",)), CALL)
    assert levels(alerts, "incitement") == []  # an abusive call nobody has followed yet: no alert
    assert engine.role_of("boss", "victim") == "initiator"
    emitted: list[str] = []
    for i in range(12):
        emitted += levels(
            engine.process(event(20 + i, f"joiner{i}", "贱人滚出去", target_ids=("victim",)), ABUSE),
            "incitement",
        )
    # warning with the 3rd follower (one earlier abuser in 1.5 h makes 3 in a minute a surge; watch
    # needs as many), critical with the 10th after an abusive call; nothing in between
    assert emitted == ["warning", "critical"]
    assert engine.role_of("joiner3", "victim") == "copycat"
    assert engine.role_of("early", "victim") is None  # abused before the call: not a copycat
    assert engine.role_of("bystander", "victim") is None
    inc = engine.target_state("victim", T0 + timedelta(seconds=40)).incitement
    assert inc["copycats"] == 12 and inc["initiators"][0]["author_id"] == "boss"
    assert inc["followers_first_hour"] == 12 and inc["followers_p_value"] <= 1e-6


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("兄弟们冲，去她评论区骂", CALL),  # an abusive call to attack
        ("已经开盒了，住在朝阳区 @小王 这种垃圾", ABUSE),  # doxxing plus abuse: the worst lone call
    ],
)
def test_a_lone_call_that_nobody_follows_raises_no_alert(text: str, verdict: Verdict) -> None:
    # The typical false warning before: one doxxing or abusive reply, no copycats, ever. It was a
    # watch alert on its own (69 of 453 alerts on a simulated day); screening flags the message
    # itself, behaviour waits for a crowd.
    engine = BehaviourEngine()
    watched(engine)
    got = said(engine, event(0, "boss", text, target_ids=("victim",)), verdict, "incitement")
    for i in range(30):  # an ordinary hour after it: friendly replies only
        got += said(engine, event(60 + i * 120, f"f{i}", target_ids=("victim",)), CLEAN, "incitement")
    assert got == []
    assert engine.role_of("boss", "victim") == "initiator"  # the role is known all the same


def test_a_doxxing_call_warns_once_two_followers_join() -> None:
    # A day of watching with no abuse of her: two abusers in the minute after the exposure are a
    # surge (p ~ 3e-7); against the prior alone (no watching) they would not be.
    engine = BehaviourEngine()
    watched(engine, hours=24)
    dox = Verdict(True, 0.9, "illegal", {"privacy": 0.9}, (), {})
    got = said(engine, event(0, "boss", "人肉到了，住在朝阳区", target_ids=("victim",)), dox, "incitement")
    for i in range(2):
        got += said(engine, event(30 + i, f"j{i}", "贱人", target_ids=("victim",)), ABUSE, "incitement")
    assert got == ["warning"]  # exposing a person and abuse spreading (2 followers, not 3)


def test_a_call_against_someone_abused_every_hour_needs_more_than_the_usual_abuse() -> None:
    # A public figure with ~20 abusers an hour: a call followed by abuse at the usual pace is not
    # followed (not even watched); the same call followed by 60 abusers in ten minutes is.
    rng = random.Random(3)
    engine = BehaviourEngine()
    t, n = -3 * 3600.0, 0
    got: list[str] = []
    called = False
    while t < 3600:
        t += rng.expovariate(20 / 3600)
        n += 1
        got += said(engine, event(t, f"a{n}", "垃圾", target_ids=("star",)), ABUSE, "incitement")
        if not called and t > 0:
            called = True
            call = event(t, "boss", "兄弟们冲，去她评论区骂", target_ids=("star",))
            got += said(engine, call, CALL, "incitement")
    assert got == []
    for i in range(60):
        got += said(engine, event(t + 1 + i * 10, f"mob{i}", "滚", target_ids=("star",)), ABUSE, "incitement")
    assert got and got[-1] == "critical"  # the ratio test lets it through at once, at the top


def test_a_late_call_still_turns_later_abuse_into_copycats() -> None:
    engine = BehaviourEngine()
    engine.process(event(100, "joiner", "贱人", target_ids=("victim",)), ABUSE)
    engine.process(event(50, "boss", "大家去他评论区看看", target_ids=("victim",)), CLEAN)  # arrives late
    assert engine.role_of("boss", "victim") == "initiator"
    assert engine.role_of("joiner", "victim") == "copycat"


@pytest.mark.parametrize(
    ("text", "verdict", "strong"),
    [
        ("兄弟们冲，去她评论区骂", CALL, True),  # classified incitement
        ("大家去他评论区看看", CLEAN, False),  # pattern only: a weak call
        ("已经开盒了，住在朝阳区", CLEAN, False),  # doxxing words (weak alone, but doxxing)
    ],
)
def test_calls_to_attack_are_recognised(text: str, verdict: Verdict, strong: bool) -> None:
    call = classify_call(event(0, "a", text), verdict, IncitementConfig())
    assert call is not None and call.strong is strong


@pytest.mark.parametrize("text", ["今晚冲浪去", "加油冲冲冲", "这个评论区真热闹"])
def test_ordinary_words_are_not_calls(text: str) -> None:
    assert classify_call(event(0, "a", text), CLEAN, IncitementConfig()) is None


def test_abuse_at_a_handle_is_direct_abuse_not_a_call() -> None:
    # Before, "@handle + abuse" alone made a call: every attacker who named the target became an
    # "initiator" (7-12 names per incitement, 12-20 in pile-ons with no call at all).
    assert classify_call(event(0, "a", "@小王 这种垃圾也配活着"), ABUSE, IncitementConfig()) is None
    call = classify_call(event(0, "a", "@小王 这种垃圾，兄弟们冲"), ABUSE, IncitementConfig())
    assert call is not None and "pointer+abuse" in call.why  # beside a real call it is noted


def test_a_call_made_amid_a_crowd_under_way_is_an_echo_not_an_initiator() -> None:
    # A pile-on with no initiator: 20 strangers abuse her within ten minutes, then one of the
    # crowd posts her phone number and "冲". They joined a crowd; nobody called it.
    engine = BehaviourEngine()
    watched(engine)
    for i in range(20):
        engine.process(event(i * 20.0, f"mob{i}", "贱人滚出去", target_ids=("victim",)), ABUSE)
    dox = Verdict(True, 0.9, "illegal", {"privacy": 0.9}, (), {})
    engine.process(event(420, "loud", "开盒了，电话13800000000，兄弟们冲", target_ids=("victim",)), dox)
    assert engine.role_of("loud", "victim") is None  # no initiator, so nobody is a copycat of one
    assert engine.incitement.assess("user:victim", T0.timestamp() + 430).level is None


def test_a_call_right_after_a_strangers_fresh_abuse_names_no_initiator() -> None:
    # The first minutes of a pile-on with no initiator (simulated, seed 1): one stranger insults
    # her, a second posts a call a minute and a half later, then hundreds follow. Before, the
    # second was named the initiator of an incitement that never happened.
    engine = BehaviourEngine()
    watched(engine)
    engine.process(event(0, "first", "你就是个废物", target_ids=("victim",)), ABUSE)
    engine.process(event(105, "second", "兄弟们冲，去她评论区骂", target_ids=("victim",)), CALL)
    for i in range(30):
        engine.process(event(120 + i * 5, f"m{i}", "贱人滚出去", target_ids=("victim",)), ABUSE)
    assert engine.role_of("second", "victim") is None
    assert engine.role_of("m3", "victim") is None  # no initiator, so no copycats either


def test_a_public_figures_usual_abuse_is_not_a_crowd_under_way() -> None:
    # ~20 abusers an hour for three hours, then a call: the pace before it is the usual one, so the
    # caller is an initiator (and the mob that follows is judged against that pace).
    rng = random.Random(5)
    engine = BehaviourEngine()
    t, n = -3 * 3600.0, 0
    while t < 0:
        t += rng.expovariate(20 / 3600)
        n += 1
        engine.process(event(t, f"a{n}", "垃圾", target_ids=("star",)), ABUSE)
    engine.process(event(t + 1, "boss", "兄弟们冲，去她评论区骂", target_ids=("star",)), CALL)
    assert engine.role_of("boss", "star") == "initiator"


def test_roles_name_the_initiator_and_every_copycat_in_the_evidence() -> None:
    engine = BehaviourEngine()
    watched(engine)
    engine.process(event(0, "boss", "兄弟们冲，去她评论区骂", target_ids=("victim",)), CALL)
    alerts: list[Alert] = []
    for i in range(12):
        alerts += engine.process(event(10 + i, f"j{i}", "贱人滚出去", target_ids=("victim",)), ABUSE)
    ev = [a for a in alerts if a.kind == "incitement"][-1].evidence  # the critical one, at j9
    assert ev["initiator_ids"] == ["boss"] and ev["initiators"][0]["author_id"] == "boss"
    assert ev["copycat_ids"] == [f"j{i}" for i in range(10)] and ev["copycats"] == 10
    now = engine.target_state("victim", T0 + timedelta(seconds=30)).incitement
    assert now["copycat_ids"] == [f"j{i}" for i in range(12)]


def test_brigade_of_near_identical_messages_from_new_accounts_is_flagged() -> None:
    # 30 copies (punctuation and a tag varied) from 30 fresh accounts within 2 minutes.
    engine = BehaviourEngine()
    alerts: list[Alert] = []
    for i in range(30):
        text = f"这个人就是骗子，大家千万别信他的话{'！' * (i % 3)} #{'真相' if i % 2 else '曝光'}"
        alerts += engine.process(event(i * 4.0, f"bot{i}", text, thread_id="th9", new=True), CLEAN)
    got = [a for a in alerts if a.kind == "brigade"]
    assert [a.level for a in got] == ["watch", "warning"]
    ev = got[-1].evidence
    assert got[-1].subject_type == "thread" and got[-1].subject_id == "th9"
    assert ev["distinct_accounts"] >= 20 and ev["new_account_share"] == 1.0 and ev["time_span_s"] <= 120


def test_thirty_different_messages_from_new_accounts_are_not_a_brigade() -> None:
    rng = random.Random(4)
    chars = "今天天气不错我们一起去吃饭吧这个电影真好看大家周末愉快学习工作加油"
    engine = BehaviourEngine()
    alerts: list[Alert] = []
    for i in range(30):
        text = "".join(rng.choice(chars) for _ in range(16))
        alerts += engine.process(event(i * 4.0, f"bot{i}", text, thread_id="th9", new=True), CLEAN)
    assert [a for a in alerts if a.kind == "brigade"] == []


def test_escalation_emits_three_alerts_not_thirty() -> None:
    # 60 insults in 2 minutes from 40 strangers: watch -> warning -> critical, one alert each,
    # all with the same alert_id (an upsert, not a new alert).
    engine = BehaviourEngine()
    alerts: list[Alert] = []
    for i in range(60):
        alerts += engine.process(event(i * 2.0, f"s{i % 40}", "滚吧贱人", target_ids=("v",)), ABUSE)
    pile = [a for a in alerts if a.kind == "pile_on"]
    assert [a.level for a in pile] == ["watch", "warning", "critical"]
    assert len({a.alert_id for a in pile}) == 1 and pile[0].alert_id == "pile_on:user:v:1"
    assert pile[-1].raised_at == pile[0].raised_at < pile[-1].updated_at
    ev = pile[-1].evidence
    assert ev["windows"]["1m"]["distinct_senders"] >= 20 and len(ev["sample_event_ids"]) <= 20
    assert ev["timeline"] and ev["p_value"] <= 1e-14 and ev["rule"].startswith("critical")


def test_a_quiet_period_ends_the_episode() -> None:
    engine = BehaviourEngine()
    ids = []
    for start in (0.0, 86400.0):  # a second wave the next day
        for i in range(10):
            ids += [
                a.alert_id for a in engine.process(event(start + i, f"s{i}", "滚", target_ids=("v",)), ABUSE)
            ]
    assert Counter(i.rsplit(":", 1)[1] for i in ids if i.startswith("pile_on")).keys() == {"1", "2"}


def test_topic_turning_violent_is_flagged_against_its_own_baseline() -> None:
    rng = random.Random(1)
    engine = BehaviourEngine()
    topic_levels: list[str] = []
    for i in range(3000):  # an hour at 2% abusive, then an hour at 40%
        t = i * 2.4
        abusive = rng.random() < (0.02 if t < 3600 else 0.4)
        e = event(t, f"u{rng.randrange(3000)}", topic_ids=("hot-1",), thread_id=f"th{rng.randrange(50)}")
        alerts = engine.process(e, ABUSE if abusive else CLEAN)
        topic_levels += [a.level for a in alerts if a.kind == "topic" and t < 3600]
        if t >= 3600 and "warning" in levels(alerts, "topic"):
            break
    else:
        pytest.fail("no topic warning")
    assert topic_levels == []
    state = engine.topic_state("hot-1", T0 + timedelta(seconds=t))
    assert state.level == "warning" and state.behaviour["windows"]["10m"]["abusive_share"] >= 0.2


def test_engine_save_restore_mid_stream_changes_nothing_downstream() -> None:
    rng = random.Random(8)
    items = []
    for i in range(400):
        abusive = rng.random() < 0.3
        target = rng.choice(["a", "b", "c"])
        items.append(
            (
                event(
                    i * 5.0,
                    f"u{rng.randrange(30)}",
                    "你真是个垃圾" if abusive else "你好",
                    target_ids=(target,),
                    topic_ids=("t",),
                ),
                ABUSE if abusive else CLEAN,
            )
        )
    whole = BehaviourEngine()
    expected = [a.to_dict() for a in whole.process_many(items)]
    first = BehaviourEngine()
    got = [a.to_dict() for a in first.process_many(items[:200])]
    second = BehaviourEngine()
    second.restore(json.loads(json.dumps(first.save())))
    got += [a.to_dict() for a in second.process_many(items[200:])]
    assert got == expected
    assert json.dumps(second.save()) == json.dumps(whole.save())


def test_process_and_process_many_agree() -> None:
    items = [
        (event(i * 3.0, f"b{i}", "同一段文字同一段文字复制粘贴", thread_id="x", new=True), CLEAN)
        for i in range(25)
    ]
    one, many = BehaviourEngine(), BehaviourEngine()
    a = [x.to_dict() for e, v in items for x in one.process(e, v)]
    b = [x.to_dict() for x in many.process_many(items, batch=7)]
    assert a == b and a


BORDERLINE = Verdict(True, 0.52, "harmful", {"insult": 0.52}, (), {})  # abusive, but only just


def hot_person(engine: BehaviourEngine, *, watch_hours: float = 6.0, heat: int = 30) -> None:
    """Two friendly mentions of xiaoli hours ago, then ``heat`` strangers discussing her in 20 min."""
    if watch_hours:  # (a cold start: nothing at all before the crowd)
        watched(engine, hours=watch_hours, until=-1200)
        for i in range(2):
            engine.process(event(-5 * 3600 + i * 600, f"fr{i}", target_ids=("xiaoli",), follows=True), CLEAN)
    for i in range(heat):
        e = event(-1200 + i * 1200 / heat, f"crowd{i}", "这件事处理得不太好", target_ids=("xiaoli",))
        engine.process(e, CLEAN)


def test_a_stranger_crowd_then_a_clear_insult_warns_at_the_first_insult() -> None:
    # The first minute of a pile-on holds one to three insults; what comes before them is the
    # crowd. 30 strangers in 20 minutes on someone mentioned twice in six hours is a surge of
    # hundreds of times her usual rate, and the first clear insult from a stranger is the onset.
    engine = BehaviourEngine()
    hot_person(engine)
    insult = event(10, "troll", "你就是个贱人，去死吧", target_ids=("xiaoli",), new=True)
    alerts = engine.process(insult, ABUSE)
    assert levels(alerts, "pile_on") == ["warning"]
    ev = next(a for a in alerts if a.kind == "pile_on").evidence
    assert ev["rule"].startswith("warning: onset") and ev["trigger_window"] in ("10m", "1h")
    assert ev["attention"]["ratio"] >= 10 and ev["attention"]["p_value"] <= 1e-8


@pytest.mark.parametrize(
    ("setup", "verdict", "follows"),
    [
        ({}, BORDERLINE, None),  # borderline screening (sharp civil debate reads like this): no onset
        ({}, ABUSE, True),  # an insult from someone she follows is not a stranger's
        ({"heat": 0}, ABUSE, None),  # no crowd: one insult is moderation, not a pile-on
        ({"watch_hours": 0}, ABUSE, None),  # a cold start: her usual rate is not known yet
    ],
    ids=["borderline", "friend", "no-crowd", "cold-start"],
)
def test_no_onset_warning_without_all_of_its_evidence(
    setup: dict[str, float], verdict: Verdict, follows: bool | None
) -> None:
    engine = BehaviourEngine()
    hot_person(engine, **setup)  # type: ignore[arg-type]
    insult = event(10, "troll", "你就是个贱人", target_ids=("xiaoli",), follows=follows)
    assert said(engine, insult, verdict, "pile_on") == []


def test_a_celebrity_live_stream_with_routine_insults_is_no_onset() -> None:
    # Three ordinary hours at 1,000 mentions an hour, then a live stream doubles them, with the
    # same 2% of insults throughout: a surge on sheer volume (p ~ 0), but 2x, not 10x, her usual.
    rng = random.Random(6)
    engine = BehaviourEngine()
    t, got = 0.0, []
    while t < 4 * 3600:
        t += rng.expovariate((1000 if t < 3 * 3600 else 2000) / 3600)
        abusive = rng.random() < 0.02
        e = event(t, f"fan{rng.randrange(20_000)}", target_ids=("star",))
        got += levels(engine.process(e, ABUSE if abusive else CLEAN), "pile_on")
    assert "warning" not in got and "critical" not in got

"""Attention is not hostility: real comment threads that are not pile-ons (issue 7).

On replayed Weibo threads nearly all false warnings came from the onset route: a post drawing the
usual burst of stranger comments plus one rude comment. These are the look-alikes: a viral post,
abuse of the people in the news, a fan war, a heated group chat, benign copy-paste. Verdicts are
built by hand (no model); ``direction.aim`` reads the text.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from behaviour_events import comment

from cvguard.behavior import Alert, BehaviourEngine
from cvguard.behavior.direction import aim, is_news
from cvguard.events import Event
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLEAN = Verdict(False, 0.05, None, {}, (), {})
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
GROUP = Verdict(True, 0.9, "harmful", {"discrimination": 0.9}, (), {})
_ids = iter(range(10**9))


def event(t: float, author: str, text: str = "太好看了吧", *, surface: str = "comment", **kw: Any) -> Event:
    e = comment(f"e{next(_ids)}", T0 + timedelta(seconds=t), author, text,
                created_at=T0 - timedelta(days=500), **kw)
    return e.model_copy(update={"surface": surface}) if surface != "comment" else e


def warnings(alerts: list[Alert], kind: str = "pile_on") -> list[Alert]:
    return [a for a in alerts if a.kind == kind and a.level in ("warning", "critical")]


def watched(engine: BehaviourEngine, hours: float = 3.0) -> None:
    engine.process_many(
        (event(-hours * 3600 + i * 60, f"chat{i % 7}", target_ids=(f"other{i % 5}",)), CLEAN)
        for i in range(int(hours * 60))
    )


@pytest.mark.parametrize(
    ("text", "verdict", "surface", "want"),
    [
        ("你就是个贱人", ABUSE, "comment", "target"),  # second person
        ("贱人一个", ABUSE, "dm", "target"),  # a direct message is aimed at its recipient
        ("@小王 这种垃圾也配活着", ABUSE, "comment", "target"),  # names a handle
        ("[傻逼]一个，笑死", ABUSE, "comment", "target"),  # nobody else named: presumed the poster
        ("那个司机真是垃圾，严惩", ABUSE, "comment", "other"),  # a third party in the news
        ("打人的那个男的就是个人渣", ABUSE, "comment", "other"),
        ("你家哥哥就是个垃圾，糊穿地心", ABUSE, "comment", "other"),  # the addressee's idol
        ("河南人都是骗子", GROUP, "comment", "group"),  # an identity group, nobody addressed
        ("你们粉丝都是脑残吧", ABUSE, "comment", "group"),  # a plural
        ("黑粉滚，别在这带节奏", ABUSE, "comment", "group"),  # fan talk
    ],
)
def test_whom_abuse_is_aimed_at(text: str, verdict: Verdict, surface: str, want: str) -> None:
    assert aim(event(0, "a", text, surface=surface, target_ids=("poster",)), verdict)[0] == want


def test_presumed_abuse_under_a_news_report_is_at_the_people_in_the_news() -> None:
    e = event(0, "a", "当事人真不是东西，恶心", target_ids=("outlet",))
    assert aim(e, ABUSE)[0] == "target"
    assert aim(e, ABUSE, news=True)[0] == "other"
    assert aim(event(0, "a", "你真不是东西", target_ids=("outlet",)), ABUSE, news=True)[0] == "target"
    assert is_news("【某地一男子当街殴打外卖员】目前警方已介入调查")
    assert is_news("据本地媒体报道，涉事司机已被控制")
    assert not is_news("今天天气不错，出去走走")


def test_a_viral_post_with_a_rude_comment_or_two_is_no_pile_on() -> None:
    # An ordinary person (quiet for three hours) posts; thousands of strangers answer kindly over
    # two hours, a few swear at the situation, two are rude to her. Before: an onset warning at
    # the first rude comment.
    rng = random.Random(3)
    engine = BehaviourEngine()
    watched(engine)
    engine.process(event(0, "xiaoli", "今天做了个蛋糕", surface="post", thread_id="th_x"), CLEAN)
    alerts: list[Alert] = []
    t = 60.0
    rude = {400, 1500}
    for i in range(3000):
        t += rng.expovariate(3000 / 7200)
        text, v = ("太好看了吧", CLEAN)
        if i in rude:
            text, v = ("你就是个傻逼", ABUSE)
        elif i % 15 == 0:
            text, v = ("卧槽，这也太牛了吧", Verdict(False, 0.3, None, {"insult": 0.3}, (), {}))
        alerts += engine.process(event(t, f"fan{rng.randrange(10**6)}", text, target_ids=("xiaoli",),
                                       thread_id="th_x"), v)
    assert warnings(alerts) == []


def test_a_news_thread_abusing_the_people_in_the_news_warns_no_one() -> None:
    # A news account's report; a third of 600 comments abuse the man in the news, some a group,
    # none the outlet. Before, every one of them counted against the outlet.
    rng = random.Random(4)
    engine = BehaviourEngine()
    watched(engine)
    engine.process(event(0, "outlet", "【某地一男子当街殴打外卖员】目前警方已介入调查",
                         surface="post", thread_id="th_n"), CLEAN)
    texts = [("那个男的就是个人渣", ABUSE), ("打人者人渣，必须严惩", ABUSE), ("河南人都是这样", GROUP),
             ("希望严肃处理", CLEAN), ("等后续", CLEAN), ("太过分了", CLEAN)]
    alerts: list[Alert] = []
    for i in range(600):
        text, v = rng.choice(texts)
        alerts += engine.process(event(60 + i * 6.0, f"r{rng.randrange(10**6)}", text,
                                       target_ids=("outlet",), thread_id="th_n"), v)
    assert warnings(alerts) == [] and warnings(alerts, "incitement") == []
    state = engine.target_state("outlet", T0 + timedelta(hours=1))
    hour = state.pile_on["windows"]["1h"]
    assert state.pile_on["level"] is None and hour["abusive_aimed_at_target"] == 0
    assert hour["abusive_aimed_elsewhere"] > 100


def test_a_fan_war_between_commenters_is_a_brawl_not_a_pile_on() -> None:
    # Two sides of 30 fans trade insults in replies for an hour: each fan abuses rivals and is
    # abused by some. Before: onset and surge warnings on the busiest fans.
    rng = random.Random(5)
    engine = BehaviourEngine()
    watched(engine)
    sides = [[f"a{i}" for i in range(30)], [f"b{i}" for i in range(30)]]
    alerts: list[Alert] = []
    for i in range(900):
        s = rng.randrange(2)
        author, target = rng.choice(sides[s]), rng.choice(sides[1 - s][:8])  # a few loud rivals
        alerts += engine.process(event(i * 4.0, author, "你才傻逼，垃圾", target_ids=(target,),
                                       thread_id="th_f"), ABUSE)
    assert warnings(alerts) == []


def test_a_heated_group_chat_among_friends_warns_no_one() -> None:
    rng = random.Random(6)
    engine = BehaviourEngine()
    watched(engine)
    members = [f"m{i}" for i in range(20)]
    alerts: list[Alert] = []
    for i in range(600):
        a, b = rng.sample(members, 2)
        v = ABUSE if rng.random() < 0.2 else CLEAN
        alerts += engine.process(event(i * 10.0, a, "你这人怎么听不懂人话", target_ids=(b,),
                                       thread_id="grp_1", follows=True), v)
    assert warnings(alerts) == []


def test_benign_copy_paste_by_many_accounts_is_no_alert() -> None:
    # 40 fans paste the same check-in within two minutes. Before: a brigade alert at watch, 351
    # of 493 alerts on a simulated day were such.
    engine = BehaviourEngine()
    alerts: list[Alert] = []
    for i in range(40):
        text = f"小王打卡第{i % 3 + 5}天，今天也要开心鸭，永远支持你"
        alerts += engine.process(event(i * 3.0, f"fan{i}", text, thread_id="th_star"), CLEAN)
    assert [a for a in alerts if a.kind == "brigade"] == []


def test_a_real_pile_on_still_warns_at_its_first_insult() -> None:
    # The simulated shape: strangers' critical talk about her for twenty minutes (a hot event),
    # then the first insult. Early warning holds.
    engine = BehaviourEngine()
    watched(engine)
    for i in range(16):
        engine.process(event(i * 60.0, f"h{i}", "当事人应该出来道个歉", target_ids=("xiaoli",)), CLEAN)
    first = engine.process(event(1000, "x1", "你就是个贱人", target_ids=("xiaoli",)), ABUSE)
    assert [a.level for a in warnings(first)] == ["warning"]
    assert warnings(first)[0].evidence["attention"]["abusive_senders_needed"] == 1

"""The early signal (``protection.early``): abuse converging on one person before a pile-on warning,
in event time: on time, late, duplicated, out of order, early and absurd times; and what it plans
(``plan_early``: an offer, a key-group member's shield, the shared cool-down)."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.events import Author, Event, Relationship
from cvguard.protection import (
    OFFER_COOLDOWN,
    ConvergenceWatch,
    EarlyConfig,
    ProtectionStep,
    new_shield,
    plan_early,
    plan_protection,
)
from cvguard.verdict import Verdict

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
OLD = datetime(2000, 1, 1, tzinfo=UTC)


def verdict(category: str | None = "insult", score: float = 0.95) -> Verdict:
    if category is None:
        return Verdict(False, 0.05, None, {}, (), {})
    severity = "illegal" if category in ("threat", "privacy", "defamation") else "harmful"
    return Verdict(True, score, severity, {category: score}, (), {})


def msg(
    n: int, seconds: float, author: str, *, target: str = "t", follows: bool | None = False,
    text: str = "你就是个废物", surface: str = "comment",
) -> Event:
    return Event(
        event_id=f"e{n}", surface=surface, occurred_at=T0 + timedelta(seconds=seconds),
        author=Author(id=author, created_at=OLD), text=text, target_ids=[target],
        relationship=Relationship(target_follows_author=follows),
    )


def feed(watch: ConvergenceWatch, items: list[tuple[Event, Verdict]]) -> list[tuple[str, float, str]]:
    out = []
    for e, v in items:
        for s in watch.update(e, v, e.occurred_at.timestamp()):
            out.append((s.user_id, (s.at - T0).total_seconds(), s.kind))
    return out


def test_two_strangers_within_the_window_signal_at_the_second() -> None:
    # the second distinct stranger's insult 5 min after the first completes the crowd
    got = feed(ConvergenceWatch(), [(msg(1, 0, "a"), verdict()), (msg(2, 300, "b"), verdict())])
    assert got == [("t", 300.0, "crowd")]


@pytest.mark.parametrize(
    ("items", "why"),
    [
        ([(msg(1, 0, "a"), verdict()), (msg(2, 601, "b"), verdict())], "the second is past the window"),
        ([(msg(1, 0, "a"), verdict()), (msg(2, 60, "a"), verdict())], "one author twice is no crowd"),
        ([(msg(1, 0, "a"), verdict()), (msg(2, 60, "b", follows=True), verdict())], "a followed friend"),
        ([(msg(1, 0, "a"), verdict()), (msg(2, 60, "b"), verdict(None))], "kind words are no abuse"),
        ([(msg(1, 0, "a"), verdict()), (msg(2, 60, "b", target="u"), verdict())], "two people, one each"),
        (
            [(msg(1, 0, "a"), verdict()), (msg(2, 60, "b", text="这个司机就是个废物"), verdict())],
            "abuse of a third party under the person's post is not aimed at them",
        ),
        ([(msg(1, 0, "t"), verdict()), (msg(2, 60, "b"), verdict())], "the person about themself"),
    ],
)
def test_no_signal(items: list[tuple[Event, Verdict]], why: str) -> None:
    assert feed(ConvergenceWatch(), items) == [], why


def test_one_threat_or_doxxing_from_a_stranger_signals_at_once() -> None:
    assert feed(ConvergenceWatch(), [(msg(1, 5, "a", text="我知道你住哪"), verdict("threat"))]) == [
        ("t", 5.0, "severe")
    ]
    assert feed(ConvergenceWatch(), [(msg(1, 5, "a"), verdict("privacy"))]) == [("t", 5.0, "severe")]
    # defamation is unlawful too, but a rumour alone is not a threat to the person's safety
    assert feed(ConvergenceWatch(), [(msg(1, 5, "a"), verdict("defamation"))]) == []
    # a threat from someone the person follows: not a stranger's, no signal
    assert feed(ConvergenceWatch(), [(msg(1, 5, "a", follows=True), verdict("threat"))]) == []
    # the severe rule can be turned off
    assert feed(ConvergenceWatch(EarlyConfig(severe=False)), [(msg(1, 5, "a"), verdict("threat"))]) == []


def test_once_per_person_within_the_quiet_period_then_again() -> None:
    watch = ConvergenceWatch()
    items = [(msg(i, 30 * i, f"a{i}"), verdict()) for i in range(1, 8)]
    assert feed(watch, items) == [("t", 60.0, "crowd")]  # duplicated signals: one
    day = 86400 + 600
    later = [(msg(100 + i, day + 10 * i, f"b{i}"), verdict()) for i in range(3)]
    # a day later (more than a day after the last abuse: the first message far ahead waits for a
    # second to confirm the stream moved on), a new episode
    assert feed(watch, later) == [("t", day + 20.0, "crowd")]


def test_duplicated_event_does_not_make_a_crowd() -> None:
    # the same message delivered twice (same author) is one author
    e = msg(1, 0, "a")
    assert feed(ConvergenceWatch(), [(e, verdict()), (e, verdict())]) == []


def test_out_of_order_within_the_lateness_counts_where_it_belongs() -> None:
    watch = ConvergenceWatch()
    # b at 500 s arrives first, then a at 100 s (400 s late, within the 600 s lateness): the crowd
    # was complete at 500 s, the newest message of the window, not at the arrival
    assert feed(watch, [(msg(2, 500, "b"), verdict()), (msg(1, 100, "a"), verdict())]) == [
        ("t", 500.0, "crowd")
    ]


def test_late_event_is_ignored() -> None:
    watch = ConvergenceWatch()
    other = msg(9, 2000, "x", target="someone-else")
    # the stream moved to 2000 s; an insult at 100 s is more than 600 s late: not fed
    got = feed(watch, [(other, verdict()), (msg(1, 100, "a"), verdict()), (msg(2, 150, "b"), verdict())])
    assert got == []
    assert watch.ignored == 2


def test_absurd_and_early_times() -> None:
    watch = ConvergenceWatch()
    feed(watch, [(msg(1, 0, "a"), verdict())])
    # years ahead: ignored, and the watermark does not move (later ordinary events still count)
    far = msg(2, 10 * 365 * 86400, "b")
    assert watch.update(far, verdict(), far.occurred_at.timestamp()) == []
    assert watch.update(msg(3, 1, "c"), verdict(), math.nan) == []
    assert watch.ignored == 2
    assert feed(watch, [(msg(4, 120, "d"), verdict())]) == [("t", 120.0, "crowd")]
    # one absurd time alone never confirms itself: two far apart are both ignored
    for n, years in ((6, 10), (7, 20)):
        e = msg(n, years * 365 * 86400, "e", target="u")
        assert watch.update(e, verdict("threat"), e.occurred_at.timestamp()) == []
    assert watch.newest == (T0 + timedelta(seconds=120)).timestamp()
    # the very first event may be at any time (events are refused before 2000 when parsed; a replay
    # of an old stream starts there): it starts the watch, and time goes on from it
    first = ConvergenceWatch()
    start = datetime(2000, 1, 2, tzinfo=UTC)
    early = [msg(5 + i, (start - T0).total_seconds() + 60 * i, f"a{i}") for i in range(2)]
    got = feed(first, [(e, verdict()) for e in early])
    assert got == [("t", (start - T0).total_seconds() + 60, "crowd")]
    assert first.newest == start.timestamp() + 60


def test_prune_forgets_quiet_people_and_state_round_trips() -> None:
    watch = ConvergenceWatch()
    first = [(msg(1, 0, "a"), verdict()), (msg(2, 30, "b"), verdict())]
    first.append((msg(3, 40, "c", target="u"), verdict()))
    feed(watch, first)
    copy = ConvergenceWatch()
    copy.restore(watch.save())
    assert copy.save() == watch.save()
    # restored: the signalled person stays quiet, the other completes a crowd
    assert feed(copy, [(msg(4, 50, "d", target="u"), verdict())]) == [("u", 50.0, "crowd")]
    feed(watch, [(msg(5, 5000, "z", target="v"), verdict())])
    watch.prune()
    assert set(watch.save()["recent"]) == {"v"}


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError):
        ConvergenceWatch(EarlyConfig(min_authors=0))
    with pytest.raises(ValueError):
        ConvergenceWatch(EarlyConfig(window_s=0))


def _early(
    at: datetime, *, groups: frozenset[str] = frozenset(), offered_at: datetime | None = None,
    shield_off_by: str | None = None,
) -> ProtectionStep | None:
    shield = None
    if shield_off_by is not None:
        s = new_shield("t", at=at - timedelta(days=2), duration_days=7, scopes=frozenset({"comments"}),
                       audience="strangers", actor="t", reason="r")
        shield = replace(s, off_at=at - timedelta(hours=1), off_by=shield_off_by)
    return plan_early(signal_id="early:user:t:1", user_id="t", at=at, reason="two strangers",
                      groups=groups, shield=shield, offered_at=offered_at)


def test_plan_early_offers_or_shields_a_key_group_member() -> None:
    offer = _early(T0)
    assert offer is not None and offer.kind == "offer" and offer.reason.startswith("early signal")
    auto = _early(T0, groups=frozenset({"minor"}))
    assert auto is not None and auto.kind == "auto" and auto.shield is not None
    assert auto.shield.on_at(T0.timestamp()) and auto.shield.actor == "cvguard"
    assert "minor" in auto.reason
    # the cool-down is the warning's: offered early, not again at the warning, nor early again
    assert _early(T0 + OFFER_COOLDOWN - timedelta(seconds=1), offered_at=T0) is None
    warning = plan_protection(
        alert_id="pile_on:user:t:1", kind="pile_on", subject_type="user", subject_id="t", level="warning",
        at=T0 + timedelta(minutes=5), resolved=False, groups=frozenset(), shield=None, offered_at=T0,
    )
    assert warning is None
    # a person who turned their shield off an hour ago is not shielded again behind their back
    assert _early(T0, groups=frozenset({"minor"}), shield_off_by="t") is None

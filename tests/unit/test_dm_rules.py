"""Private-message rules (``protection.dm``), table-driven: each case is a stream of messages and the
flags each one gets, as the pipeline asks them (the batch observed, then each message judged)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.events import Event
from cvguard.protection.dm import DmGuard, DmLimits

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
LIMITS = DmLimits(per_recipient=3, per_recipient_window_s=60, per_sender=5, per_sender_window_s=600,
                  abuse_threshold=3, abuse_window_s=3600)


@dataclass(frozen=True)
class V:
    violation: bool = False


def dm(eid: str, sender: str, recipient: str, s: float, *, follows: bool | None = None) -> Event:
    rel = {} if follows is None else {"target_follows_author": follows}
    return Event.model_validate({
        "event_id": eid, "surface": "dm", "occurred_at": (T0 + timedelta(seconds=s)).isoformat(),
        "author": {"id": sender}, "text": "hi", "target_ids": [recipient], "relationship": rel,
    })


# A message: (id, sender, recipient, seconds after T0, the platform says the recipient follows the sender)
Msg = tuple[str, str, str, float, bool | None]
# flags per message id: "u" unanswered, "r" over rate, "" neither
CASES: list[tuple[str, list[list[Msg]], dict[str, str]]] = [
    # a stranger's first message is delivered; the second waits for a reply
    ("stranger-once", [[("m1", "s", "r", 0, None)], [("m2", "s", "r", 10, None)]], {"m1": "", "m2": "u"}),
    # both in one batch: judged in event-time order, whatever the arrival order
    ("same-batch", [[("m2", "s", "r", 10, None), ("m1", "s", "r", 0, None)]], {"m1": "", "m2": "u"}),
    # the recipient replies: from then on the pair talks freely, both ways
    ("reply-opens", [[("m1", "s", "r", 0, None)], [("m2", "r", "s", 5, None)],
                     [("m3", "s", "r", 10, None), ("m4", "s", "r", 11, None)]],
     {"m1": "", "m2": "", "m3": "", "m4": ""}),
    # a message before the reply stays unanswered; the one after it is free
    ("before-after-reply", [[("m1", "s", "r", 0, None), ("m2", "s", "r", 3, None),
                             ("m3", "r", "s", 5, None), ("m4", "s", "r", 6, None)]],
     {"m1": "", "m2": "u", "m3": "", "m4": ""}),
    # a follow either way is not a stranger: no limit of one message
    ("follower", [[("m1", "s", "r", 0, True), ("m2", "s", "r", 10, True)]], {"m1": "", "m2": ""}),
    # another recipient is another conversation
    ("other-recipient", [[("m1", "s", "r", 0, None), ("m2", "s", "q", 10, None)]], {"m1": "", "m2": ""}),
    # a late first message: judged against what came before it (nothing), so it is the first
    ("late-first", [[("m2", "s", "r", 100, None)], [("m1", "s", "r", 0, None)]], {"m2": "", "m1": ""}),
    # a duplicate delivered again is judged the same and counts once
    ("duplicate", [[("m1", "s", "r", 0, None)], [("m1", "s", "r", 0, None)], [("m2", "r", "s", 1, None)],
                   [("m3", "s", "r", 2, None)]], {"m1": "", "m2": "", "m3": ""}),
    # rate to one recipient (mutual followers): 3 a minute, the 4th is over; a minute later fine again
    ("rate-one", [[(f"m{i}", "s", "r", i, True) for i in range(4)], [("m9", "s", "r", 70, True)]],
     {"m0": "", "m1": "", "m2": "", "m3": "r", "m9": ""}),
    # rate across recipients: 5 in ten minutes, the 6th is over whoever it goes to
    ("rate-all", [[(f"m{i}", "s", f"r{i}", i * 60, None) for i in range(6)]],
     {"m0": "", "m1": "", "m2": "", "m3": "", "m4": "", "m5": "r"}),
    # a stranger's unanswered message and an over-rate one
    ("both", [[(f"m{i}", "s", "r", i, None) for i in range(4)]],
     {"m0": "", "m1": "u", "m2": "u", "m3": "ur"}),
]


def run(guard: DmGuard, batches: list[list[Msg]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for batch in batches:
        events = [dm(i, s, r, t, follows=f) for i, s, r, t, f in batch]
        guard.observe([(e, V()) for e in events])
        for e in events:
            unanswered, over = guard.flags(e)
            out[e.event_id] = ("u" if unanswered else "") + ("r" if over else "")
    return out


@pytest.mark.parametrize(("name", "batches", "expected"), CASES, ids=[c[0] for c in CASES])
def test_dm_rules(name: str, batches: list[list[Msg]], expected: dict[str, str]) -> None:
    assert run(DmGuard(LIMITS), batches) == expected


@pytest.mark.parametrize(("name", "batches", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_restored_guard_judges_the_same(
    name: str, batches: list[list[Msg]], expected: dict[str, str]
) -> None:
    """Save after each batch, restore into a new guard (a restart): the same flags."""
    guard = DmGuard(LIMITS)
    out: dict[str, str] = {}
    for batch in batches:
        out.update(run(guard, [batch]))
        fresh = DmGuard(LIMITS)
        fresh.restore(json.loads(json.dumps(guard.save())))
        guard = fresh
    assert out == expected


def abusive(eid: str, s: float, sender: str = "s", recipient: str = "r") -> tuple[Event, V]:
    return dm(eid, sender, recipient, s), V(violation=True)


def test_repeated_abuse_escalates_once_per_episode() -> None:
    guard = DmGuard(LIMITS)
    assert guard.observe([abusive("a1", 0), abusive("a2", 60)]) == []
    assert guard.observe([(dm("ok", "s", "r", 70), V())]) == []  # a clean message does not count
    first = guard.observe([abusive("a3", 120)])
    assert [(e.escalation_id, e.count, e.event_ids) for e in first] == [
        ("dm-repeated-abuse:s:r:1", 3, ("a1", "a2", "a3"))]
    assert first[0].raised_at == T0 + timedelta(seconds=120)
    # a fourth within the hour updates the same episode
    assert [(e.escalation_id, e.count) for e in guard.observe([abusive("a4", 600)])] == [
        ("dm-repeated-abuse:s:r:1", 4)]
    # the same event again changes nothing
    assert guard.observe([abusive("a4", 600)]) == []
    # a burst after a quiet hour is a new episode
    later = guard.observe([abusive(f"b{i}", 10_000 + i) for i in range(3)])
    assert [(e.escalation_id, e.count) for e in later] == [("dm-repeated-abuse:s:r:2", 3)]


def test_abuse_spread_thinner_than_the_window_does_not_escalate() -> None:
    guard = DmGuard(LIMITS)
    assert guard.observe([abusive(f"a{i}", i * 2000) for i in range(5)]) == []


def test_abuse_to_different_people_escalates_per_recipient() -> None:
    guard = DmGuard(LIMITS)
    out = guard.observe([abusive(f"a{i}", i, recipient=f"r{i % 2}") for i in range(5)])
    assert [e.escalation_id for e in out] == ["dm-repeated-abuse:s:r0:1"]


def test_a_late_abusive_message_completes_an_episode() -> None:
    guard = DmGuard(LIMITS)
    guard.observe([abusive("a1", 0), abusive("a3", 200)])
    out = guard.observe([abusive("a2", 100)])
    assert [(e.count, e.event_ids) for e in out] == [(3, ("a1", "a2", "a3"))]


def test_windows_are_trimmed_behind_the_clock() -> None:
    guard = DmGuard(DmLimits(per_recipient=1, per_recipient_window_s=60, lateness_s=0))
    guard.observe([(dm("m1", "s", "r", 0, follows=True), V())])
    guard.observe([(dm("m2", "s", "r", 10_000, follows=True), V())], now=T0 + timedelta(seconds=10_000))
    assert guard.save()["to_one"] == [["s", "r", [[(T0 + timedelta(seconds=10_000)).timestamp(), "m2"]]]]


def test_the_conversation_opens_at_the_first_reply() -> None:
    guard = DmGuard(LIMITS)
    guard.observe([(dm("m1", "s", "r", 0), V()), (dm("m2", "r", "s", 30), V())])
    assert not guard.conversation_open("s", "r", T0 + timedelta(seconds=29))
    assert guard.conversation_open("r", "s", T0 + timedelta(seconds=30))

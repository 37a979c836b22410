"""policy.feed: the feed actions an alert emission plans (raised, escalated, resolved), table-driven."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from cvguard.policy import DecisionInput, default_policy
from cvguard.policy.feed import KEY_LENGTH, PlannedAction, action_key, plan_alert, plan_undo
from cvguard.verdict import Span, Verdict

POLICY = default_policy()
T1 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Alert:
    alert_id: str
    kind: str
    subject_type: str
    subject_id: str
    level: str
    resolved_at: datetime | None = None


@dataclass(frozen=True)
class Entry:  # what the feed hands back (store.actions.FeedEntry)
    key: str
    kind: str
    surface: str
    subject_type: str
    subject: str
    params: dict[str, Any] = field(default_factory=dict)
    undoes: str | None = None


def verdict(category: str | None, score: float = 0.9, severity: str | None = "harmful") -> Verdict | None:
    if category is None:
        return None
    violation = score >= 0.5
    return Verdict(
        violation=violation,
        score=score,
        severity=severity if violation else None,
        categories={category: score},
        spans=(Span(0, 2, "傻逼", category, "lexicon"),),
        versions={},
    )


PILE = Alert("pile_on:user:t1:1", "pile_on", "user", "t1", "warning")
TOPIC = Alert("topic:topic:tp1:1", "topic", "topic", "tp1", "warning")
BRIGADE = Alert("brigade:thread:th1:1", "brigade", "thread", "th1", "warning")


def inp(
    event_id: str,
    category: str | None = "ridicule",  # mockery: published with a nudge, so the feed may fold it
    *,
    surface: str = "reply",
    relationship: str = "stranger",
    score: float = 0.9,
    severity: str | None = "inappropriate",
    **context: Any,
) -> DecisionInput:
    return DecisionInput(
        surface=surface,
        event_id=event_id,
        verdict=verdict(category, score, severity),
        relationship=relationship,
        **context,
    )


# (name, alert, previous level, concerned, expected [(kind, subject_type, subject, rule_id)])
CASES: list[tuple[str, Alert, str | None, list[DecisionInput], list[tuple[str, str, str, str | None]]]] = [
    (
        # e1, an insult, was folded when published (chat-harmful): nothing changes for it
        "a warned pile-on folds strangers' earlier abuse not folded yet, not friends' or the harmless",
        PILE,
        None,
        [
            inp("e1", "insult", severity="harmful"),
            inp("e2", relationship="mutual"),
            inp("e3", category=None),
            inp("e4", surface="comment"),
        ],
        [
            ("fold", "event", "e4", "chat-pileon-stranger-earlier"),
        ],
    ),
    (
        "a pile-on at watch changes nothing",
        Alert(PILE.alert_id, "pile_on", "user", "t1", "watch"),
        None,
        [inp("e1")],
        [],
    ),
    (
        "escalating warning → critical adds nothing the warning already did",
        Alert(PILE.alert_id, "pile_on", "user", "t1", "critical"),
        "warning",
        [inp("e1")],
        [],
    ),
    (
        "watch → warning: now it is folded",
        PILE,
        "watch",
        [inp("e1")],
        [("fold", "event", "e1", "chat-pileon-stranger-earlier")],
    ),
    (
        "unlawful content was already blocked at publish time: nothing new",
        PILE,
        None,
        [inp("e1", "threat", severity="illegal")],
        [],
    ),
    (
        "a higher alert already in the context: this one adds nothing",
        PILE,
        None,
        [inp("e1", pile_on_level="critical", pile_on_alert_id="incitement:user:t1:1")],
        [],
    ),
    (
        "an incitement alert on the user counts as a pile-on",
        Alert("incitement:user:t1:1", "incitement", "user", "t1", "warning"),
        None,
        [inp("e1")],
        [("fold", "event", "e1", "chat-pileon-stranger-earlier")],
    ),
    (
        "a topic alert at warning: the topic gets its guidance note",
        TOPIC,
        None,
        [],
        [("guidance_note", "topic", "tp1", "topic-warning")],
    ),
    (
        "the topic turns critical: locked (the note stays until the alert resolves)",
        Alert(TOPIC.alert_id, "topic", "topic", "tp1", "critical"),
        "warning",
        [],
        [("lock_topic", "topic", "tp1", "topic-critical")],
    ),
    (
        "a brigade folds its abusive members' thread, not the clean ones",
        BRIGADE,
        None,
        [inp("e1", "ridicule", severity="inappropriate", surface="comment"), inp("e2", None)],
        [("fold", "event", "e1", "chat-brigade")],
    ),
    (
        "a nudge is for before publishing: never in the feed",
        PILE,
        None,
        [inp("e1", score=0.4, target_groups=frozenset({"minor"}), relationship="mutual")],
        [],
    ),
]


@pytest.mark.parametrize(
    ("alert", "previous", "concerned", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan_alert(
    alert: Alert,
    previous: str | None,
    concerned: list[DecisionInput],
    expected: list[tuple[str, str, str, str | None]],
) -> None:
    planned = plan_alert(POLICY, alert, concerned=concerned, previous_level=previous)
    assert [(p.kind, p.subject_type, p.subject, p.rule_id) for p in planned] == expected
    for p in planned:
        assert p.alert_id == alert.alert_id and p.policy_version == POLICY.version
        assert p.key == action_key(alert.alert_id, p.subject_type, p.subject, p.kind)
        assert p.rule_id in p.matched and p.reason and p.undoes is None
    # planning is pure: the same emission plans the same keys (a replay appends nothing twice)
    again = plan_alert(POLICY, alert, concerned=concerned, previous_level=previous)
    assert [p.key for p in again] == [p.key for p in planned]


def test_an_escalation_planned_without_its_previous_level_repeats_only_known_keys() -> None:
    warned = plan_alert(POLICY, TOPIC)
    critical = Alert(TOPIC.alert_id, "topic", "topic", "tp1", "critical")
    with_previous = plan_alert(POLICY, critical, previous_level="warning")
    without = plan_alert(POLICY, critical)
    assert [p.key for p in without] == [p.key for p in with_previous]  # lock_topic
    raised = plan_alert(POLICY, PILE, concerned=[inp("e1")])
    worse = Alert(PILE.alert_id, "pile_on", "user", "t1", "critical")
    escalated = plan_alert(POLICY, worse, concerned=[inp("e1")])
    assert [p.key for p in escalated] == [p.key for p in raised]  # the feed appends it once
    assert warned[0].kind == "guidance_note"


def test_what_an_action_carries() -> None:
    (fold,) = plan_alert(POLICY, PILE, concerned=[inp("e1")])
    assert (fold.kind, fold.params, fold.surface) == ("fold", {}, "reply")
    (note,) = plan_alert(POLICY, TOPIC)
    assert note.params["note"] and note.surface == "topic"


def test_another_episode_is_another_key() -> None:
    first = plan_alert(POLICY, PILE, concerned=[inp("e1")])
    next_episode = Alert("pile_on:user:t1:2", "pile_on", "user", "t1", "warning")
    second = plan_alert(POLICY, next_episode, concerned=[inp("e1")])
    assert first[0].key != second[0].key


def _entries(planned: list[PlannedAction]) -> list[Entry]:
    return [
        Entry(p.key, p.kind, p.surface, p.subject_type, p.subject, dict(p.params), p.undoes) for p in planned
    ]


@pytest.mark.parametrize(
    ("kind", "undo"),
    [
        ("hide_from_target", "restore"),
        ("fold", "unfold"),
        ("lock_topic", "unlock_topic"),
        ("guidance_note", "remove_guidance_note"),
        ("pull", "restore"),
        ("mute_member", "unmute_member"),
    ],
)
def test_each_action_has_its_undo(kind: str, undo: str) -> None:
    (planned,) = plan_undo("a:user:t:1", [Entry("k1", kind, "reply", "event", "e1")])
    assert (planned.kind, planned.undoes, planned.subject) == (undo, "k1", "e1")


def test_a_resolved_alert_undoes_everything_it_caused_once() -> None:
    raised = plan_alert(POLICY, PILE, concerned=[inp("e1"), inp("e4", surface="comment")])
    caused = _entries(raised)
    closing = Alert(PILE.alert_id, "pile_on", "user", "t1", "warning", resolved_at=T1)
    undos = plan_alert(POLICY, closing, concerned=[inp("e9")], caused=caused)  # concerned: not read
    assert [(u.kind, u.subject, u.undoes) for u in undos] == [
        ("unfold", "e4", raised[1].key),  # the last thing done is undone first
        ("unfold", "e1", raised[0].key),
    ]
    assert all(u.params == {} and u.alert_id == PILE.alert_id for u in undos)
    assert all(u.rule_id is None and "resolved" in u.reason for u in undos)
    # what was undone already (and the undos themselves) is not undone again
    later = plan_alert(POLICY, closing, caused=caused + _entries(undos[:1]))
    assert [u.undoes for u in later] == [raised[0].key]
    assert plan_alert(POLICY, closing, caused=caused + _entries(undos)) == []
    # the same undo keys on a replay
    assert [u.key for u in plan_alert(POLICY, closing, caused=caused)] == [u.key for u in undos]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("x:user:a/b:1", "event", "c", "fold"), ("x:user:a:1", "event", "b/c", "fold")),
        (("x:user:a:1", "event", "c%2F", "fold"), ("x:user:a:1", "event", "c/", "fold")),
    ],
)
def test_keys_are_unambiguous(a: tuple[str, str, str, str], b: tuple[str, str, str, str]) -> None:
    assert action_key(*a) != action_key(*b)


def test_a_long_key_is_hashed_to_fit() -> None:
    key = action_key("pile_on:user:" + "u" * 128 + ":1", "event", "é" * 128, "hide_from_target")
    assert len(key) <= KEY_LENGTH and key.startswith("sha256:")
    assert action_key("pile_on:user:u:1", "event", "e1", "fold") == "pile_on:user:u:1/event:e1/fold"

"""decide(): who wins, what a decision carries, the input built from an event, and the soundness
of the unreachable-rule check against what decide() actually does."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cvguard.events import Event
from cvguard.policy import DecisionInput, Policy, compile_policy, decide, load_policy_text, relationship_of
from cvguard.policy.schema import When
from cvguard.policy.shadowing import implies
from cvguard.policy.vocabulary import FALLBACK, SURFACES
from cvguard.verdict import Span, Verdict

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def verdict(scores: dict[str, float], severity: str | None = "harmful") -> Verdict:
    score = max(scores.values(), default=0.0)
    return Verdict(
        violation=score >= 0.5,
        score=score,
        severity=severity if score >= 0.5 else None,
        categories=scores,
        spans=(Span(3, 5, "傻逼", "insult", "lexicon"),),
        versions={},
    )


def policy(rules: str) -> Any:
    return load_policy_text(f'version: "t1"\nname: t\nrules:\n{rules}')


PRIORITIES = policy(
    """
  - {id: fold, surfaces: [comment], when: {violation: true}, action: fold, reason: r1}
  - {id: nudge, surfaces: [comment], when: {categories: [ridicule]}, action: nudge, reason: r2}
  - {id: block, surfaces: [comment], when: {categories: [threat]}, action: block, priority: 10, reason: r3}
"""
)


@pytest.mark.parametrize(
    ("scores", "action", "rule"),
    [
        ({"insult": 0.1}, "allow", None),  # nothing matches: the surface's fallback
        ({"ridicule": 0.7}, "fold", "fold"),  # two match at priority 0: the one written first wins
        ({"threat": 0.7}, "block", "block"),  # written last, but a higher priority
    ],
)
def test_priority_then_file_order(scores: dict[str, float], action: str, rule: str | None) -> None:
    d = decide(PRIORITIES, DecisionInput("comment", "e", verdict(scores)))
    assert (d.action, d.rule_id) == (action, rule)


def test_matched_rules_are_all_listed_in_file_order() -> None:
    d = decide(PRIORITIES, DecisionInput("comment", "e", verdict({"ridicule": 0.8, "threat": 0.6})))
    assert [m.rule_id for m in d.matched] == ["fold", "nudge", "block"] and d.rule_id == "block"


@pytest.mark.parametrize("surface", SURFACES)
def test_no_rule_means_the_fallback_on_every_surface(surface: str) -> None:
    d = decide(PRIORITIES, DecisionInput(surface, "e"))
    assert d.action == FALLBACK[surface] and d.rule_id is None and d.reason == "no rule matched"
    assert d.action == ("deliver" if surface == "dm" else "allow")


def test_a_decision_is_explainable_and_json() -> None:
    p = policy(
        """
  - id: shield
    surfaces: [reply]
    when: {pile_on_at_least: warning, author_role: [copycat], violation: true}
    action: fold
    params: {scope: thread}
    reason: Shield.
"""
    )
    inp = DecisionInput(
        "reply",
        "e9",
        verdict({"insult": 0.8}),
        pile_on_level="critical",
        pile_on_alert_id="pile_on:user:t:1",
        author_role="copycat",
        incitement_alert_id="incitement:user:t:1",
        topic_alert_id="topic:topic:x:1",  # an alert the rule does not rest on is not named
    )
    d = decide(p, inp)
    assert d.alert_ids == ("pile_on:user:t:1", "incitement:user:t:1")
    assert dict(d.params) == {"scope": "thread"} and d.policy_version == "t1" and d.policy == "t"
    out = json.loads(json.dumps(d.to_dict(), ensure_ascii=False))
    assert (
        out["action"] == "fold" and out["spans"][0]["term"] == "傻逼" and out["categories"] == {"insult": 0.8}
    )
    assert out["matched"] == [{"rule_id": "shield", "action": "fold", "priority": 0, "reason": "Shield."}]


def test_decide_refuses_an_unknown_surface() -> None:
    with pytest.raises(ValueError, match="unknown surface"):
        decide(PRIORITIES, DecisionInput("billboard"))


def test_decide_is_deterministic_and_leaves_the_policy_as_it_was() -> None:
    inp = DecisionInput("comment", "e", verdict({"ridicule": 0.8, "threat": 0.6}))
    assert decide(PRIORITIES, inp) == decide(PRIORITIES, inp)


@pytest.mark.parametrize(
    ("target_follows_author", "author_follows_target", "expected"),
    [
        (True, True, "mutual"),
        (False, True, "follower"),  # the author follows the target
        (True, None, "followed"),  # the target follows the author
        (None, None, "stranger"),  # no hint from the platform counts as no relationship
        (False, False, "stranger"),
    ],
)
def test_relationship_of(
    target_follows_author: bool | None, author_follows_target: bool | None, expected: str
) -> None:
    assert relationship_of(target_follows_author, author_follows_target) == expected


def test_input_from_an_event() -> None:
    event = Event(
        event_id="e1",
        surface="danmaku",
        occurred_at=T0,
        author={"id": "a", "created_at": T0 - timedelta(days=3)},
        text="x",
        target_ids=("t",),
        relationship={"target_follows_author": True, "author_follows_target": True},
    )
    inp = DecisionInput.from_event(event, None, pile_on_level="warning")
    assert (inp.surface, inp.event_id, inp.relationship, inp.pile_on_level) == (
        "danmaku",
        "e1",
        "mutual",
        "warning",
    )
    assert inp.account_age_days == pytest.approx(3.0)
    # the caller may say otherwise (e.g. the platform's own graph)
    assert DecisionInput.from_event(event, None, relationship="stranger").relationship == "stranger"


# -- the unreachable-rule check is sound: implies(b, a) ⇒ every input matching b matches a ----------

SCORES = (0.0, 0.2, 0.5, 0.6, 0.8, 0.9, 1.0)
CATS = ("insult", "threat", "ridicule")
LEVELS = (None, "watch", "warning", "critical")


def random_when(rng: random.Random, p: float) -> When:
    def maybe(value: Any) -> Any:
        return value if rng.random() < p else None

    def some(words: tuple[str, ...]) -> list[str]:
        return rng.sample(words, rng.randint(1, len(words)))

    return When(
        violation=maybe(rng.random() < 0.7),
        categories=maybe(some(CATS)),
        min_score=maybe(rng.choice(SCORES)),
        severity_at_least=maybe(rng.choice(("inappropriate", "harmful", "illegal"))),
        pile_on_at_least=maybe(rng.choice(LEVELS[1:])),
        topic_alert_at_least=maybe(rng.choice(LEVELS[1:])),
        brigade=maybe(rng.random() < 0.5),
        author_role=maybe(some(("initiator", "copycat"))),
        target_groups=maybe(some(("minor", "elderly"))),
        target_protected=maybe(rng.random() < 0.5),
        relationship=maybe(some(("stranger", "follower", "mutual"))),
        account_age_days_below=maybe(rng.choice((1.0, 7.0, 30.0))),
        prior_violations_at_least=maybe(rng.choice((1, 2, 5))),
    )


def random_input(rng: random.Random) -> DecisionInput:
    scores = {c: rng.choice(SCORES) for c in rng.sample(CATS, rng.randint(0, 3))}
    top = max(scores.values(), default=0.0)
    # deliberately not always a screener's verdict: violation, severity and score drawn apart
    v = Verdict(
        violation=rng.random() < 0.6,
        score=rng.choice((top, *SCORES)),
        severity=rng.choice((None, "inappropriate", "harmful", "illegal")),
        categories=scores,
        spans=(),
        versions={},
    )
    return DecisionInput(
        "comment",
        verdict=v,
        pile_on_level=rng.choice(LEVELS),
        topic_level=rng.choice(LEVELS),
        brigade_alert_id=rng.choice((None, "b")),
        author_role=rng.choice((None, "initiator", "copycat")),
        target_groups=frozenset(rng.sample(("minor", "elderly"), rng.randint(0, 2))),
        target_protected=rng.random() < 0.5,
        relationship=rng.choice(("stranger", "follower", "mutual", "followed")),
        account_age_days=rng.choice((None, 0.5, 3.0, 10.0, 100.0)),
        prior_violations=rng.choice((None, 0, 1, 2, 3, 10)),
    )


def test_implies_is_sound_against_decide() -> None:
    rng = random.Random(8)
    inputs = [random_input(rng) for _ in range(300)]
    checked = 0
    for _ in range(6000):
        a, b = random_when(rng, 0.2), random_when(rng, 0.6)
        if not implies(b, a):
            continue
        rules = [
            {
                "id": "a",
                "surfaces": ["comment"],
                "when": a.model_dump(exclude_none=True),
                "action": "fold",
                "reason": "a",
            },
            {
                "id": "b",
                "surfaces": ["comment"],
                "when": b.model_dump(exclude_none=True),
                "action": "block",
                "reason": "b",
            },
        ]
        compiled = compile_policy(Policy.model_validate({"version": "1", "name": "p", "rules": rules}))
        for inp in inputs:
            matched = {m.rule_id for m in decide(compiled, inp).matched}
            assert "b" not in matched or "a" in matched, (a, b, inp)
        checked += 1
    assert checked >= 50  # the draw gives the check enough pairs to bite


@pytest.mark.parametrize(
    ("b", "a", "expected"),
    [
        ({"severity_at_least": "illegal"}, {"severity_at_least": "harmful"}, True),  # a higher tier
        ({"severity_at_least": "harmful"}, {"severity_at_least": "illegal"}, False),
        (
            {"categories": ["threat"], "min_score": 0.9},
            {"categories": ["threat", "insult"]},
            True,
        ),  # 0.9 ≥ 0.5
        ({"categories": ["threat"], "min_score": 0.3}, {"categories": ["threat"]}, False),  # 0.3 < 0.5
        (
            {"categories": ["threat"], "min_score": 0.9},
            {"min_score": 0.5},
            False,
        ),  # a category is not the score
        ({"severity_at_least": "illegal"}, {"violation": True}, False),  # a severity is not a violation flag
        ({"relationship": ["stranger"]}, {"relationship": ["stranger", "follower"]}, True),
        ({"account_age_days_below": 3}, {"account_age_days_below": 7}, True),
        ({"prior_violations_at_least": 1}, {"prior_violations_at_least": 2}, False),
        ({"pile_on_at_least": "critical"}, {"pile_on_at_least": "warning"}, True),
        ({}, {}, True),  # no conditions: everything matches both
    ],
)
def test_implies_cases(b: dict[str, Any], a: dict[str, Any], expected: bool) -> None:
    assert implies(When.model_validate(b), When.model_validate(a)) is expected

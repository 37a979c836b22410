"""The default policy, cell by cell: surface × category × score band × context → action and rule.

The table is written as rows (a few surfaces, bands and contexts at a time, each row's comment
saying why) and expanded into one test per cell. A test checks that the rows cover the whole grid
exactly once, and one that every rule of the default policy wins at least one cell.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cvguard.policy import DecisionInput, decide, default_policy
from cvguard.policy.vocabulary import SURFACES
from cvguard.taxonomy import load_taxonomy
from cvguard.verdict import Span, Verdict

TAXONOMY = load_taxonomy()
CATEGORIES = TAXONOMY.codes
# 0.5 is the screening threshold; "near" is under it, over the default policy's 0.35 for minors
BANDS = {"high": 0.9, "borderline": 0.6, "near": 0.4, "clean": 0.2}

# The contexts the table names; the behaviour context as the wiring would fill it.
CONTEXTS: dict[str, dict[str, Any]] = {
    "plain": {},
    "minor": {"target_groups": frozenset({"minor"})},
    "pileon_stranger": {"pile_on_level": "warning", "pile_on_alert_id": "pile_on:user:t1:1"},
    # the feed deciding again about a stranger's reply published before the warning
    "pileon_stranger_published": {
        "pile_on_level": "warning",
        "pile_on_alert_id": "pile_on:user:t1:1",
        "published": True,
    },
    "pileon_mutual": {
        "pile_on_level": "critical",
        "pile_on_alert_id": "pile_on:user:t1:1",
        "relationship": "mutual",
    },
    "pileon_new_follower": {
        "pile_on_level": "warning",
        "pile_on_alert_id": "pile_on:user:t1:1",
        "relationship": "follower",
        "account_age_days": 2.0,
    },
    "brigade": {"brigade_alert_id": "brigade:cluster:b1:1", "relationship": "follower"},
    "initiator": {"author_role": "initiator", "incitement_alert_id": "incitement:user:t1:1"},
    "topic_warning": {
        "topic_level": "warning",
        "topic_alert_id": "topic:topic:x:1",
        "relationship": "mutual",
    },
    "topic_critical": {"topic_level": "critical", "topic_alert_id": "topic:topic:x:1"},
    "repeat_offender": {"prior_violations": 3, "relationship": "mutual"},
    # private messages: a stranger writing again unanswered, a sender over rate (protection.dm)
    "dm_unanswered": {"dm_unanswered": True},
    "dm_over_rate": {"dm_over_rate": True, "relationship": "mutual"},
    # a stranger writing to a person whose shield holds strangers back (a minor's, too)
    "protected": {"target_protected": True},
    "protected_minor": {"target_groups": frozenset({"minor"}), "target_protected": True},
    # the author is under a sanction that restricts this surface (enforcement.RESTRICTS)
    "restricted": {"author_restricted": True},
}
RESTRICTED = frozenset({"restricted"})
ALL = frozenset(CONTEXTS) - RESTRICTED  # a restricted author has rows of their own
PILE_ON = frozenset({"pileon_stranger", "pileon_stranger_published", "pileon_mutual", "pileon_new_follower"})
TOPIC = frozenset({"topic_warning", "topic_critical"})
MINORS = frozenset({"minor", "protected_minor"})
PILE_ON_STRANGER = frozenset({"pileon_stranger", "pileon_stranger_published"})
PROTECTED = frozenset({"protected", "protected_minor"})


def grade(category: str, band: str) -> str:
    """The table's column: a category's tier at a score band."""
    if band in ("clean", "near"):
        return band
    tier = TAXONOMY[category].severity
    return f"illegal_{band}" if tier == "illegal" else tier


ALL_GRADES = frozenset({"illegal_high", "illegal_borderline", "harmful", "inappropriate", "near", "clean"})
CLEAN = frozenset({"near", "clean"})  # no violation
ABUSE = frozenset({"illegal_high", "illegal_borderline", "harmful", "inappropriate"})
HARMFUL_UP = frozenset({"illegal_high", "illegal_borderline", "harmful"})
ILLEGAL = frozenset({"illegal_high", "illegal_borderline"})
BORDERLINE_DOWN = frozenset({"illegal_borderline", "harmful", "inappropriate"})  # all abuse but clear crime
CHAT = ("comment", "reply", "danmaku", "live_chat")
POST = ("post", "repost")

NOT_PRIVACY = frozenset(CATEGORIES) - {"privacy"}
BELOW_ILLEGAL = frozenset({"harmful", "inappropriate"})
NOT_MINOR_NOR_INITIATOR = ALL - MINORS - {"initiator"}
DM_FLAGS = frozenset({"dm_unanswered", "dm_over_rate"})
# no rule of their own on chat
ORDINARY = frozenset({"plain", "pileon_mutual", "repeat_offender"}) | TOPIC | DM_FLAGS


def only(*names: str) -> frozenset[str]:
    return frozenset(names)


# (surfaces, grades, contexts, action, winning rule or None for the surface's fallback[, categories])
Row = tuple[Any, ...]
ROWS: list[Row] = [
    # -- comments, replies, danmaku, live chat
    (CHAT, only("clean"), ALL, "allow", None),  # nothing abusive: published, whoever writes
    (CHAT, only("near"), ALL - MINORS - PROTECTED, "allow", None),
    (CHAT, only("near"), only("minor"), "nudge", "chat-minor-near-miss"),  # a stricter threshold for minors
    # a shield holds back near-misses from its audience too (a stricter threshold under protection)
    (CHAT, only("near"), PROTECTED, "hide_from_target", "chat-protected-near-miss"),
    (CHAT, HARMFUL_UP, MINORS, "block", "chat-minor-harmful"),  # stricter for minors
    (CHAT, only("inappropriate"), only("minor"), "fold", "chat-minor-inappropriate"),
    (CHAT, only("illegal_high"), ALL - MINORS, "block", "chat-illegal"),
    (CHAT, only("illegal_borderline"), ALL - MINORS, "hold_for_review", "chat-illegal-borderline"),
    (CHAT, BELOW_ILLEGAL, only("initiator"), "hold_for_review", "chat-incitement-initiator"),
    # a shield: abuse from the audience it holds back is hidden (into the filtered folder), a
    # minor's mockery too (rather than folded for everyone)
    (CHAT, BELOW_ILLEGAL, only("protected"), "hide_from_target", "chat-protected"),
    (CHAT, only("inappropriate"), only("protected_minor"), "hide_from_target", "chat-protected"),
    # a target under a pile-on: strangers' abuse is hidden from them ...
    (CHAT, BELOW_ILLEGAL, only("pileon_stranger"), "hide_from_target", "chat-pileon-stranger"),
    # ... and what strangers published before the warning is folded (the feed's decision)
    (CHAT, BELOW_ILLEGAL, only("pileon_stranger_published"), "fold", "chat-pileon-stranger-earlier"),
    # ... and new accounts', even following the target
    (CHAT, BELOW_ILLEGAL, only("pileon_new_follower"), "hide_from_target", "chat-pileon-new-account"),
    (CHAT, BELOW_ILLEGAL, only("brigade"), "fold", "chat-brigade"),
    # ordinary tiers; a mutual's words during a pile-on get through to the target, graded as usual
    (CHAT, only("harmful"), ORDINARY, "fold", "chat-harmful"),
    (CHAT, only("inappropriate"), ORDINARY, "nudge", "chat-inappropriate"),
    # -- private messages
    (("dm",), CLEAN, ALL - DM_FLAGS - PROTECTED, "deliver", None),
    # a shield holds back the audience's messages, kind or not, into the filtered folder
    (("dm",), CLEAN, PROTECTED, "filter_folder", "dm-protected"),
    (("dm",), only("illegal_high"), ALL, "block", "dm-illegal"),
    (("dm",), only("illegal_borderline", "harmful"), MINORS, "block", "dm-minor"),
    (("dm",), only("inappropriate"), only("minor"), "filter_folder", "dm-abuse"),
    # a stranger's second message before any reply, and a flood, are not delivered at all
    (("dm",), CLEAN | BORDERLINE_DOWN, only("dm_unanswered"), "block", "dm-unanswered"),
    (("dm",), CLEAN | BORDERLINE_DOWN, only("dm_over_rate"), "block", "dm-over-rate"),
    (("dm",), only("inappropriate"), only("protected_minor"), "filter_folder", "dm-protected"),
    (("dm",), BORDERLINE_DOWN, only("protected"), "filter_folder", "dm-protected"),
    (("dm",), BORDERLINE_DOWN, ALL - MINORS - PROTECTED - DM_FLAGS, "filter_folder", "dm-abuse"),
    # -- posts, reposts, video text
    (POST, only("clean"), ALL, "allow", None),
    (POST, only("near"), ALL - PROTECTED, "allow", None),
    (POST, only("near"), PROTECTED, "hide_from_target", "post-protected-near-miss"),
    (POST, only("illegal_high"), ALL, "remove", "post-illegal"),
    (POST, only("illegal_borderline", "harmful"), MINORS, "remove", "post-minor-harmful"),
    (POST, BORDERLINE_DOWN, only("initiator"), "remove", "post-incitement-initiator"),
    (POST, only("illegal_borderline"), NOT_MINOR_NOR_INITIATOR, "hold_for_review", "post-illegal-borderline"),
    # a post naming (or a repost of) a protected person: hidden from them, into their folder
    (POST, only("harmful"), only("protected"), "hide_from_target", "post-protected"),
    (POST, only("inappropriate"), PROTECTED, "hide_from_target", "post-protected"),
    # a post by a stranger abusing a person under a pile-on: hidden from them (as on chat)
    (POST, BELOW_ILLEGAL, PILE_ON_STRANGER, "hide_from_target", "post-pileon-stranger"),
    (POST, only("harmful"), NOT_MINOR_NOR_INITIATOR - PROTECTED - PILE_ON_STRANGER, "limit_visibility",
     "post-harmful"),
    (POST, only("inappropriate"), ALL - {"initiator"} - PROTECTED - PILE_ON_STRANGER,
     "exclude_from_recommendation", "post-inappropriate"),
    # -- search suggestions: a person under attack paired with abusive words
    (("search_suggestion",), ABUSE, PILE_ON, "suppress", "suggestion-target-under-attack"),
    # ... or a person whose shield covers search
    (("search_suggestion",), ABUSE, PROTECTED, "suppress", "suggestion-protected"),
    (("search_suggestion",), HARMFUL_UP, ALL - PILE_ON - PROTECTED, "suppress", "suggestion-harmful"),
    (("search_suggestion",), only("inappropriate"), ALL - PILE_ON - PROTECTED, "allow", None),
    (("search_suggestion",), CLEAN, ALL, "allow", None),
    # -- search queries: searches for private data, and about a person under attack, are filtered
    (("search_query",), ILLEGAL, ALL, "filter_results", "query-doxxing", {"privacy"}),
    (("search_query",), CLEAN, PILE_ON, "filter_results", "query-target-under-attack", {"privacy"}),
    (("search_query",), ALL_GRADES, PILE_ON, "filter_results", "query-target-under-attack", NOT_PRIVACY),
    (("search_query",), CLEAN, ALL - PILE_ON, "allow", None, {"privacy"}),
    (("search_query",), ALL_GRADES, ALL - PILE_ON, "allow", None, NOT_PRIVACY),
    # -- topics and hot lists: a warning gets a guidance note, a critical alert locks or pulls
    (("topic",), ALL_GRADES, only("topic_critical"), "lock_topic", "topic-critical"),
    (("topic",), ALL_GRADES, only("topic_warning"), "guidance_note", "topic-warning"),
    (("topic",), ALL_GRADES, ALL - TOPIC, "allow", None),
    (("hotlist_item",), ALL_GRADES, only("topic_critical"), "pull", "hotlist-critical"),
    (("hotlist_item",), ILLEGAL, ALL - {"topic_critical"}, "pull", "hotlist-illegal"),
    (("hotlist_item",), BELOW_ILLEGAL | CLEAN, only("topic_warning"), "guidance_note", "topic-warning"),
    (("hotlist_item",), BELOW_ILLEGAL | CLEAN, ALL - TOPIC, "allow", None),
    # -- groups: a repeat offender is muted, a first offence removed
    (("group_message",), HARMFUL_UP, only("repeat_offender"), "mute_member", "group-repeat-offender"),
    (("group_message",), HARMFUL_UP, ALL - {"repeat_offender"}, "remove", "group-abuse"),
    (("group_message",), CLEAN | {"inappropriate"}, ALL, "allow", None),
    # -- recommendation: nothing abusive, by an initiator, or on a topic under an alert is amplified
    (("recommendation",), ABUSE, ALL, "exclude", "rec-violation"),
    (("recommendation",), CLEAN, only("initiator"), "exclude", "rec-incitement-initiator"),
    (("recommendation",), CLEAN, TOPIC, "exclude", "rec-topic-under-alert"),
    (("recommendation",), CLEAN, ALL - TOPIC - {"initiator"}, "allow", None),
    # -- a sanctioned author: nothing is published where the sanction restricts them, kind or not
    (CHAT, ALL_GRADES, RESTRICTED, "block", "restricted-chat"),
    (POST, ALL_GRADES, RESTRICTED, "remove", "restricted-post"),
    (("group_message",), ALL_GRADES, RESTRICTED, "remove", "restricted-group"),
    (("dm",), ALL_GRADES, RESTRICTED, "block", "restricted-dm"),
    # ... elsewhere (asks about search, topics, recommendation) the flag changes nothing
    (("search_suggestion",), HARMFUL_UP, RESTRICTED, "suppress", "suggestion-harmful"),
    (("search_suggestion",), CLEAN | {"inappropriate"}, RESTRICTED, "allow", None),
    (("search_query",), ILLEGAL, RESTRICTED, "filter_results", "query-doxxing", {"privacy"}),
    (("search_query",), CLEAN, RESTRICTED, "allow", None, {"privacy"}),
    (("search_query",), ALL_GRADES, RESTRICTED, "allow", None, NOT_PRIVACY),
    (("topic",), ALL_GRADES, RESTRICTED, "allow", None),
    (("hotlist_item",), ILLEGAL, RESTRICTED, "pull", "hotlist-illegal"),
    (("hotlist_item",), BELOW_ILLEGAL | CLEAN, RESTRICTED, "allow", None),
    (("recommendation",), ABUSE, RESTRICTED, "exclude", "rec-violation"),
    (("recommendation",), CLEAN, RESTRICTED, "allow", None),
]

# the rules whose win is a confirmed violation (the ledger grades it): clear abuse only
CONFIRMING = frozenset({
    "chat-minor-harmful", "chat-illegal", "chat-incitement-initiator", "chat-pileon-stranger",
    "chat-pileon-new-account", "chat-brigade", "chat-harmful", "dm-illegal", "dm-minor", "post-illegal",
    "post-minor-harmful", "post-incitement-initiator", "post-harmful", "group-repeat-offender",
    "group-abuse",
})


@dataclass(frozen=True)
class Cell:
    surface: str
    category: str
    band: str
    context: str
    action: str
    rule: str | None

    @property
    def id(self) -> str:
        return f"{self.surface}-{self.category}-{self.band}-{self.context}"


def expand(rows: list[Row]) -> Iterator[Cell]:
    for surfaces, grades, contexts, action, rule, *only in rows:
        categories = only[0] if only else CATEGORIES
        for surface in surfaces:
            for category in sorted(categories):
                for band in BANDS:
                    if grade(category, band) in grades:
                        for context in sorted(contexts):
                            yield Cell(surface, category, band, context, action, rule)


CELLS = list(expand(ROWS))


def verdict(category: str, band: str) -> Verdict:
    score = BANDS[band]
    violating = score >= 0.5
    return Verdict(
        violation=violating,
        score=score,
        severity=TAXONOMY[category].severity if violating else None,
        categories={category: score},
        spans=(Span(0, 2, "词", category, "lexicon"),) if violating else (),
        versions={},
    )


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: c.id)
def test_default_policy_cell(cell: Cell) -> None:
    inp = DecisionInput(
        surface=cell.surface,
        event_id=cell.id,
        verdict=verdict(cell.category, cell.band),
        **CONTEXTS[cell.context],
    )
    decision = decide(default_policy(), inp)
    assert (decision.action, decision.rule_id) == (cell.action, cell.rule)
    assert decision.policy_version == default_policy().version


def test_the_table_covers_the_whole_grid_exactly_once() -> None:
    keys = [(c.surface, c.category, c.band, c.context) for c in CELLS]
    assert len(keys) == len(set(keys)), "two rows name the same cell"
    grid = {(s, c, b, x) for s in SURFACES for c in CATEGORIES for b in BANDS for x in CONTEXTS}
    assert set(keys) == grid


def test_every_rule_of_the_default_policy_wins_a_cell() -> None:
    winners = {c.rule for c in CELLS}
    assert {r.id for r in default_policy().policy.rules} <= winners


def test_the_rules_that_confirm_violations_are_the_clear_abuse_ones() -> None:
    rules = default_policy().policy.rules
    assert {r.id for r in rules if r.confirms_violation} == CONFIRMING
    # none lets the content through as written
    assert all(r.action not in ("allow", "nudge", "deliver") for r in rules if r.confirms_violation)


def test_the_pile_on_shield_names_its_alert() -> None:
    inp = DecisionInput("reply", "e1", verdict("insult", "high"), **CONTEXTS["pileon_stranger"])
    decision = decide(default_policy(), inp)
    assert decision.action == "hide_from_target" and decision.alert_ids == ("pile_on:user:t1:1",)
    # every rule that matched is listed, in file order, the winner first here
    assert [m.rule_id for m in decision.matched] == [
        "chat-pileon-stranger",
        "chat-harmful",
        "chat-inappropriate",
    ]


def test_a_nudge_carries_its_reason_and_span() -> None:
    decision = decide(default_policy(), DecisionInput("comment", "e2", verdict("ridicule", "high")))
    assert decision.action == "nudge" and decision.nudge is not None
    assert decision.nudge.reason == "This may hurt someone. Publish anyway?"
    assert [(s.start, s.end, s.category) for s in decision.nudge.spans] == [(0, 2, "ridicule")]


def test_docs_policy_md_names_every_rule_of_the_default_policy() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "POLICY.md").read_text(encoding="utf-8")
    missing = [r.id for r in default_policy().policy.rules if f"`{r.id}`" not in doc]
    assert missing == []

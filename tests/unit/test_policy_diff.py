"""Shadow comparison of two policy versions that differ: counts by surface and action, with examples."""

from __future__ import annotations

from cvguard.policy import DecisionInput, default_policy, diff_decisions, format_diff, load_policy_text
from cvguard.policy.validate import default_policy_text
from cvguard.verdict import Verdict


def v(category: str, score: float, severity: str) -> Verdict:
    return Verdict(score >= 0.5, score, severity if score >= 0.5 else None, {category: score}, (), {})


# v2 of the default policy: the pile-on shield also covers followers, and DM abuse is blocked outright
CANDIDATE = load_policy_text(
    default_policy_text()
    .replace('version: "2026.12.4"', 'version: "2026.12.0"')
    .replace(
        "when: {pile_on_at_least: warning, relationship: [stranger], violation: true}",
        "when: {pile_on_at_least: warning, relationship: [stranger, follower], violation: true}",
    )
    .replace("    action: filter_folder\n", "    action: block\n"),
    "candidate.yaml",
)
PILE = {"pile_on_level": "warning", "pile_on_alert_id": "pile_on:user:t:1"}
INPUTS = [
    DecisionInput(
        "comment", "c1", v("insult", 0.8, "harmful"), relationship="follower", **PILE
    ),  # fold → hide
    DecisionInput(
        "reply", "c2", v("ridicule", 0.7, "inappropriate"), relationship="follower", **PILE
    ),  # nudge → hide
    DecisionInput(
        "comment", "c3", v("insult", 0.8, "harmful"), relationship="stranger", **PILE
    ),  # hide either way
    DecisionInput(
        "comment", "c4", v("insult", 0.8, "harmful"), relationship="mutual", **PILE
    ),  # fold either way
    DecisionInput("dm", "d1", v("insult", 0.7, "harmful")),  # filter_folder → block
    DecisionInput("dm", "d2", v("ridicule", 0.6, "inappropriate")),  # filter_folder → block
    DecisionInput("dm", "d3", v("insult", 0.1, "harmful")),  # deliver either way
    DecisionInput("post", "p1", v("threat", 0.9, "illegal")),  # remove either way
]


def test_diff_counts_changes_by_surface_and_action() -> None:
    diff = diff_decisions(default_policy(), CANDIDATE, INPUTS, examples=1)
    assert (diff.total, diff.changed, diff.active_version, diff.candidate_version) == (
        8,
        4,
        "2026.12.4",
        "2026.12.0",
    )
    assert {k: c.count for k, c in diff.changes.items()} == {
        ("comment", "fold", "hide_from_target"): 1,
        ("reply", "nudge", "hide_from_target"): 1,
        ("dm", "filter_folder", "block"): 2,
    }
    dm = diff.changes[("dm", "filter_folder", "block")]
    assert [(e.event_id, e.active_rule, e.candidate_rule) for e in dm.examples] == [
        ("d1", "dm-abuse", "dm-abuse")
    ]
    assert dict(diff.by_surface) == {"comment": 3, "reply": 1, "dm": 3, "post": 1}
    assert diff.changed_by_surface["post"] == 0
    assert diff.to_dict()["by_surface"]["dm"] == {"decisions": 3, "changed": 2}


def test_format_diff() -> None:
    text = format_diff(diff_decisions(default_policy(), CANDIDATE, INPUTS, examples=1))
    assert text.splitlines()[0] == (
        "policy 2026.12.4 → candidate 2026.12.0: 4 of 8 decisions change action"
        " (0 more change only the winning rule)"
    )
    assert "  dm: 2 of 3 change\n    filter_folder → block: 2\n      e.g. d1 (dm-abuse → dm-abuse)" in text


def test_the_same_policy_changes_nothing() -> None:
    diff = diff_decisions(default_policy(), default_policy(), INPUTS)
    assert diff.changed == 0 and diff.changes == {} and diff.total == len(INPUTS)

"""Shadow comparison: how a candidate policy's decisions differ from the active one's.

Pure: the inputs come in, a summary goes out. ``cvguard policy diff`` and shadow mode on live
traffic (candidate decisions recorded, never returned) both build on :func:`diff_decisions`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cvguard.policy.decide import CompiledPolicy, Decision, DecisionInput, decide


@dataclass(frozen=True, slots=True)
class Example:
    event_id: str
    active_rule: str | None
    candidate_rule: str | None


@dataclass(slots=True)
class ActionChange:
    """Decisions on one surface that go from ``active`` to ``candidate``."""

    surface: str
    active: str
    candidate: str
    count: int = 0
    examples: list[Example] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "surface": self.surface,
            "active": self.active,
            "candidate": self.candidate,
            "count": self.count,
            "examples": [
                {"event_id": e.event_id, "active_rule": e.active_rule, "candidate_rule": e.candidate_rule}
                for e in self.examples
            ],
        }


@dataclass(slots=True)
class PolicyDiff:
    active_version: str
    candidate_version: str
    total: int = 0
    changed: int = 0  # decisions whose action changes
    rule_only: int = 0  # same action, another winning rule (the explanation changes)
    by_surface: Counter[str] = field(default_factory=Counter)  # decisions per surface
    changed_by_surface: Counter[str] = field(default_factory=Counter)
    changes: dict[tuple[str, str, str], ActionChange] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "active_version": self.active_version,
            "candidate_version": self.candidate_version,
            "total": self.total,
            "changed": self.changed,
            "rule_only": self.rule_only,
            "by_surface": {
                s: {"decisions": n, "changed": self.changed_by_surface[s]}
                for s, n in sorted(self.by_surface.items())
            },
            "changes": [c.to_dict() for c in self.sorted_changes()],
        }

    def sorted_changes(self) -> list[ActionChange]:
        return sorted(self.changes.values(), key=lambda c: (c.surface, -c.count, c.active, c.candidate))


def diff_decisions(
    active: CompiledPolicy,
    candidate: CompiledPolicy,
    inputs: Iterable[DecisionInput],
    *,
    examples: int = 3,
) -> PolicyDiff:
    """Decide every input under both policies and count what changes, by surface and action."""
    pairs = ((decide(active, inp), decide(candidate, inp)) for inp in inputs)
    return diff_pairs(active.version, candidate.version, pairs, examples=examples)


def diff_pairs(
    active_version: str,
    candidate_version: str,
    pairs: Iterable[tuple[Decision, Decision]],
    *,
    examples: int = 3,
) -> PolicyDiff:
    """``diff_decisions`` over decisions already made: (active, candidate) about the same input
    (shadow mode records both; ``cvguard policy diff`` replays a file deciding with both)."""
    out = PolicyDiff(active_version, candidate_version)
    for a, c in pairs:
        out.total += 1
        out.by_surface[a.surface] += 1
        if a.action == c.action:
            out.rule_only += a.rule_id != c.rule_id
            continue
        out.changed += 1
        out.changed_by_surface[a.surface] += 1
        key = (a.surface, a.action, c.action)
        change = out.changes.get(key)
        if change is None:
            change = out.changes[key] = ActionChange(*key)
        change.count += 1
        if len(change.examples) < examples:
            change.examples.append(Example(a.event_id, a.rule_id, c.rule_id))
    return out


def format_diff(diff: PolicyDiff) -> str:
    """The text ``cvguard policy diff`` prints."""
    lines = [
        f"policy {diff.active_version} → candidate {diff.candidate_version}: {diff.changed} of {diff.total}"
        f" decisions change action ({diff.rule_only} more change only the winning rule)"
    ]
    for surface, n in sorted(diff.by_surface.items()):
        lines.append(f"  {surface}: {diff.changed_by_surface[surface]} of {n} change")
        for ch in diff.sorted_changes():
            if ch.surface != surface:
                continue
            lines.append(f"    {ch.active} → {ch.candidate}: {ch.count}")
            lines.extend(
                f"      e.g. {e.event_id} ({e.active_rule or 'no rule'} → {e.candidate_rule or 'no rule'})"
                for e in ch.examples
            )
    return "\n".join(lines)

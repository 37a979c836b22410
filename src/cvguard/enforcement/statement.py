"""The statement of reasons an account receives with a sanction: what, why, on what, until when,
and how to appeal by when. Plain JSON (the feed action's ``statement`` parameter), pure.

Every statement has the same keys, so a platform can render it as it is: ``measure``, ``what``,
``restricts`` (the surfaces it closes), ``rules`` (id and reason of each rule that confirmed a
violation, or the person), ``content`` (event ids), ``categories``, ``roles``, ``step`` and
``why`` (the ladder's reasoning), ``starts_at``, ``expires_at``, ``appeal`` (until when, how).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cvguard.enforcement import RESTRICTS, Violation
from cvguard.enforcement.grading import Grade
from cvguard.enforcement.ladder import Ladder

__all__ = ["APPEAL_HOW", "describe", "statement_of"]

APPEAL_HOW = (
    "Appeal through the platform, quoting the sanction id; another person reviews it. Upheld, the"
    " sanction is lifted, its strikes removed and the content restored."
)

_WHAT = {
    "warning": "This is a warning: nothing is restricted, but the violation counts towards further measures",
    "comment_restriction": "You cannot comment, reply, send danmaku, chat in live rooms or post in groups",
    "posting_restriction": "You cannot post, repost, create topics, comment or reply",
    "demonetisation": "Your content earns no revenue",
    "suspension": "Your account is suspended: you cannot publish anything or send private messages",
    "permanent_ban": "Your account is permanently banned",
}


def describe(kind: str, expires_at: datetime | str | None) -> str:
    """One sentence: what the measure does and until when (``expires_at`` or its ISO 8601 text)."""
    what = _WHAT.get(kind, kind)
    if kind == "permanent_ban" or expires_at is None:
        return what + "."
    until = expires_at if isinstance(expires_at, str) else expires_at.isoformat()
    return f"{what} until {until}."


def statement_of(
    *,
    sanction_id: str,
    account_id: str,
    kind: str,
    starts_at: datetime,
    expires_at: datetime | None,
    violations: Sequence[Violation],
    ladder: Ladder,
    rule_reasons: Mapping[str, str] | None = None,
    grade: Grade | None = None,
    decided_by: str,
    reason: str | None = None,
) -> dict[str, Any]:
    """The statement for a sanction resting on ``violations`` (the ones it is for); ``grade``: the
    ladder's reasoning (a ladder sanction), ``reason``: a person's words (a manual one)."""
    reasons = rule_reasons or {}
    rules: list[dict[str, str | None]] = []
    for v in violations:
        entry = {"confirmed_by": v.confirmed_by, "reason": None}
        if v.confirmed_by.startswith("policy:"):
            entry["reason"] = reasons.get(v.confirmed_by.removeprefix("policy:"))
        elif v.confirmed_by.startswith("dm:"):
            entry["reason"] = "Repeated abusive private messages to one person."
        if entry not in rules:
            rules.append(entry)
    categories = sorted({c for v in violations for c in v.categories})
    roles = sorted({r for v in violations for r in v.roles})
    step: dict[str, Any] | None = None
    why = reason or ""
    if grade is not None:
        s = ladder.steps[grade.step]
        step = {"number": grade.step + 1, "of": len(ladder.steps), "kind": s.kind, "days": s.days,
                "points_from": s.points, "points": grade.points, "ladder_version": ladder.version}
        why = grade.why if not reason else f"{reason} ({grade.why})"
    expires = None if expires_at is None else expires_at.isoformat()
    return {
        "sanction_id": sanction_id,
        "account_id": account_id,
        "measure": kind,
        "what": describe(kind, expires),
        "restricts": sorted(RESTRICTS.get(kind, frozenset())),
        "rules": rules,
        "content": [v.event_id for v in violations if v.event_id is not None],
        "violations": [v.violation_id for v in violations],
        "categories": categories,
        "roles": roles,
        "step": step,
        "why": why,
        "decided_by": decided_by,
        "starts_at": starts_at.isoformat(),
        "expires_at": expires,
        "appeal": {"until": (starts_at + ladder.appeal_window).isoformat(), "how": APPEAL_HOW},
        "policy_versions": sorted({v.policy_version for v in violations if v.policy_version}),
    }

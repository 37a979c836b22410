"""The action that tells a reporter what became of their report, for the action feed.

The platform reads it from ``GET /v1/actions`` like any other action and shows the person the
outcome. Its key names the report and the decision's number, so a retried decision appends
nothing twice, while a changed decision (upheld after more information) is a new action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KIND = "report_outcome"
SURFACE = "report"
SUBJECT_TYPE = "report"


@dataclass(frozen=True, slots=True)
class OutcomeAction:
    """An ``ActionLike`` (``store.actions``)."""

    key: str
    subject: str
    params: Mapping[str, Any]
    reason: str
    kind: str = KIND
    surface: str = SURFACE
    subject_type: str = SUBJECT_TYPE
    rule_id: str | None = None
    alert_id: str | None = None
    policy_version: str | None = None
    undoes: str | None = field(default=None)


def outcome_action(
    *,
    report_id: str,
    reporter_id: str,
    outcome: str,
    decision_no: int,
    category: str,
    reply: str | None = None,
) -> OutcomeAction:
    """The feed action for decision number ``decision_no`` (1, 2, ...) of a report; ``reply`` is
    the moderator's message to the reporter (null when none)."""
    return OutcomeAction(
        key=f"{KIND}:{report_id}:{decision_no}",
        subject=report_id,
        params={
            "outcome": outcome,
            "reporter_id": reporter_id,
            "category": category,
            "decision_no": decision_no,
            "reply": reply,
        },
        reason=f"a moderator decided the report: {outcome}",
    )

"""The policy file's schema: pydantic models, unknown keys refused.

Vocabulary fields (surfaces, categories, levels ...) are plain strings checked against
:mod:`cvguard.policy.vocabulary` and the taxonomy, so an error names the bad word, says where and
suggests the nearest known one. What needs two fields at once (an action valid on the rule's
surfaces, its params) and what needs several rules (unreachable or conflicting rules) is checked
after this, in :mod:`cvguard.policy.validate`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic_core import PydanticCustomError

from cvguard.policy.vocabulary import (
    ALL_ACTIONS,
    KEY_GROUPS,
    LEVELS,
    RELATIONSHIPS,
    ROLES,
    SEVERITIES,
    SURFACES,
)
from cvguard.taxonomy import load_taxonomy


def suggest(value: str, known: Iterable[str]) -> str:
    """A hint: the closest known word, else the list of known words."""
    known = list(known)
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    if close:
        return f"did you mean {close[0]!r}?"
    return "one of " + ", ".join(known)


def _word(kind: str, known: tuple[str, ...] | None = None) -> AfterValidator:
    def check(value: str) -> str:
        words = known if known is not None else load_taxonomy().codes
        if value not in words:
            raise PydanticCustomError(
                "unknown_word", f"unknown {kind} {value!r}", {"hint": suggest(value, words)}
            )
        return value

    return AfterValidator(check)


SurfaceName = Annotated[str, _word("surface", SURFACES)]
ActionName = Annotated[str, _word("action", ALL_ACTIONS)]
CategoryCode = Annotated[str, _word("category")]
SeverityName = Annotated[str, _word("severity", SEVERITIES)]
LevelName = Annotated[str, _word("alert level", LEVELS)]
RoleName = Annotated[str, _word("incitement role", ROLES)]
RelationshipName = Annotated[str, _word("relationship", RELATIONSHIPS)]
GroupName = Annotated[str, _word("key group", KEY_GROUPS)]

_STRICT = ConfigDict(extra="forbid", frozen=True)


class When(BaseModel):
    """Conditions of a rule; all that are given must hold. Lists are any-of."""

    model_config = _STRICT

    # the verdict
    violation: bool | None = None
    categories: tuple[CategoryCode, ...] | None = Field(default=None, min_length=1)
    # with categories: the best of their scores; without: the verdict's score. Categories alone
    # count from the screening threshold (vocabulary.CATEGORY_THRESHOLD).
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    severity_at_least: SeverityName | None = None
    # the behaviour context
    pile_on_at_least: LevelName | None = None  # an open pile-on (or incitement) alert on the target
    topic_alert_at_least: LevelName | None = None  # the topic is under an alert
    brigade: bool | None = None  # the event belongs to a brigade cluster
    author_role: tuple[RoleName, ...] | None = Field(default=None, min_length=1)
    # the target
    target_groups: tuple[GroupName, ...] | None = Field(default=None, min_length=1)
    target_protected: bool | None = None
    relationship: tuple[RelationshipName, ...] | None = Field(default=None, min_length=1)
    # the author's history
    account_age_days_below: float | None = Field(default=None, gt=0)
    prior_violations_at_least: int | None = Field(default=None, ge=1)
    # when: true for content already published (the feed's decisions, made when an alert changes
    # what should happen to it), false at publish time
    published: bool | None = None
    # private messages (the recipient is the target)
    dm_unanswered: bool | None = None  # a stranger writes again before the recipient has replied
    dm_over_rate: bool | None = None  # the sender is over the per-sender rate to this recipient
    # enforcement: an active sanction of the author restricts this surface (enforcement.RESTRICTS)
    author_restricted: bool | None = None


RuleId = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[a-z0-9][a-z0-9_.-]*$")]


class Rule(BaseModel):
    model_config = _STRICT

    id: RuleId
    surfaces: tuple[SurfaceName, ...] = Field(min_length=1)
    when: When = When()
    action: ActionName
    params: dict[str, Any] = Field(default_factory=dict)
    priority: int = 0  # the highest priority among matching rules wins; then the one written first
    reason: str = Field(min_length=1, max_length=500)
    # when this rule wins at ingest, the author's content is a confirmed violation (the ledger
    # grades it into a sanction): for rules that act on clear abuse
    confirms_violation: bool = False


class Policy(BaseModel):
    model_config = _STRICT

    version: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    rules: tuple[Rule, ...] = Field(min_length=1)


# Parameters per action; an action not listed takes none.
class NudgeParams(BaseModel):
    model_config = _STRICT
    message: str | None = Field(default=None, min_length=1, max_length=500)  # else the rule's reason


class FoldParams(BaseModel):
    model_config = _STRICT
    scope: Literal["item", "thread"] = "item"


class LimitParams(BaseModel):
    model_config = _STRICT
    audience: Literal["followers", "author_only"] = "followers"


class MuteParams(BaseModel):
    model_config = _STRICT
    duration_minutes: int = Field(default=60, ge=1, le=30 * 24 * 60)


class NoteParams(BaseModel):
    model_config = _STRICT
    note: str = Field(min_length=1, max_length=1000)


class NoParams(BaseModel):
    model_config = _STRICT


PARAMS: dict[str, type[BaseModel]] = {
    "nudge": NudgeParams,
    "fold": FoldParams,
    "limit_visibility": LimitParams,
    "mute_member": MuteParams,
    "guidance_note": NoteParams,
}

"""Which rules can never win: a sound, conservative check.

``implies(b, a)`` is True only when every input that satisfies ``b``'s conditions satisfies ``a``'s,
judged condition by condition (a stricter threshold, a smaller any-of set, a higher level). It may
answer False where a cleverer proof exists, never True where it does not: a rule reported
unreachable is unreachable; some unreachable rules may go unreported.
"""

from __future__ import annotations

from cvguard.policy.schema import Rule, When
from cvguard.policy.vocabulary import CATEGORY_THRESHOLD, LEVEL_RANK, SEVERITY_RANK


def _subset(b: tuple[str, ...] | None, a: tuple[str, ...] | None) -> bool:
    """b's any-of set implies a's (a unset: no condition)."""
    return a is None or (b is not None and set(b) <= set(a))


def _at_least(b: float | None, a: float | None) -> bool:
    return a is None or (b is not None and b >= a)


def _score_floor(w: When) -> float | None:
    """The least verdict score ``w`` lets through (a category's score bounds the verdict's)."""
    if w.min_score is not None:
        return w.min_score
    return CATEGORY_THRESHOLD if w.categories is not None else None


def implies(b: When, a: When) -> bool:
    """Whether ``b``'s conditions imply ``a``'s."""
    # No condition is taken to imply another kind (a severity a violation, a category score the
    # verdict's score): true of the screener's verdicts, not of every input decide() may get.
    if a.violation is not None and b.violation != a.violation:
        return False
    if a.categories is not None:
        if not _subset(b.categories, a.categories):
            return False
        if not _at_least(_score_floor(b), _score_floor(a)):
            return False
    elif a.min_score is not None and not (b.categories is None and _at_least(b.min_score, a.min_score)):
        return False
    if a.severity_at_least is not None and not (
        b.severity_at_least is not None
        and SEVERITY_RANK[b.severity_at_least] >= SEVERITY_RANK[a.severity_at_least]
    ):
        return False
    for field in ("pile_on_at_least", "topic_alert_at_least"):
        need, have = getattr(a, field), getattr(b, field)
        if need is not None and not (have is not None and LEVEL_RANK[have] >= LEVEL_RANK[need]):
            return False
    for field in (
        "brigade", "target_protected", "published", "dm_unanswered", "dm_over_rate", "author_restricted"
    ):
        if getattr(a, field) is not None and getattr(b, field) != getattr(a, field):
            return False
    for field in ("author_role", "target_groups", "relationship"):
        if not _subset(getattr(b, field), getattr(a, field)):
            return False
    if a.account_age_days_below is not None and not (
        b.account_age_days_below is not None and b.account_age_days_below <= a.account_age_days_below
    ):
        return False
    return _at_least(b.prior_violations_at_least, a.prior_violations_at_least)


def covers(a: Rule, b: Rule) -> bool:
    """``a`` applies on all of ``b``'s surfaces whenever ``b`` matches."""
    return set(b.surfaces) <= set(a.surfaces) and implies(b.when, a.when)


def beats(a: Rule, a_index: int, b: Rule, b_index: int) -> bool:
    """``a`` wins over ``b`` when both match: a higher priority, or the same and written first."""
    return a.priority > b.priority or (a.priority == b.priority and a_index < b_index)

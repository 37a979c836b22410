"""What a pile-on warning does for its target, and when a shield's reminder is due. Pure.

A pile-on or incitement alert against a user at ``warning`` or ``critical``:

- the target belongs to a key group (a minor, a bystander of a hot event, a group the platform
  configured): their shield turns on by itself (``auto``), for ``AUTO_DAYS`` days, actor
  ``cvguard``, the alert as its reason; unless a shield is on already, or the person turned theirs
  off within ``OFFER_COOLDOWN`` (a person's decision beats an automatic one);
- anyone else is offered one (``offer``): once per alert, and at most once per ``OFFER_COOLDOWN``
  of event time per person (none while a shield is on).

An early signal (``protection.early``: abuse from a few strangers converging on the person, or one
threat or doxxing message, before any warning) calls for the same step (:func:`plan_early`), under
the same cool-down: a person offered a shield early is not offered one again at the warning, and a
key-group member's shield is on before the warning comes.

A shield's reminder (``protection_ending``) is due ``REMINDER_BEFORE`` its end, in event time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from cvguard.protection.shield import DEFAULT_SCOPES, Shield, new_shield

AUTO_DAYS = 7
AUTO_AUDIENCE = "recent_followers"  # who an automatic shield holds back
OFFER_COOLDOWN = timedelta(hours=24)
REMINDER_BEFORE = timedelta(hours=24)
_LEVELS = frozenset({"warning", "critical"})
_KINDS = frozenset({"pile_on", "incitement"})


@dataclass(frozen=True, slots=True)
class ProtectionStep:
    """``auto``: turn ``shield`` on; ``offer``: prompt the person; the reason says why."""

    kind: Literal["auto", "offer"]
    user_id: str
    alert_id: str
    at: datetime
    reason: str
    shield: Shield | None = None


def plan_protection(
    *,
    alert_id: str,
    kind: str,
    subject_type: str,
    subject_id: str,
    level: str,
    at: datetime,
    resolved: bool,
    groups: frozenset[str],
    shield: Shield | None,
    offered_at: datetime | None,
) -> ProtectionStep | None:
    """The step one alert emission calls for (see the module docstring), or None."""
    if resolved or kind not in _KINDS or subject_type != "user" or level not in _LEVELS:
        return None
    what = "a pile-on" if kind == "pile_on" else "an incitement"
    return _step(
        user_id=subject_id, signal_id=alert_id, at=at, groups=groups, shield=shield, offered_at=offered_at,
        auto_reason=f"{what} at {level} against a member of {', '.join(sorted(groups))} (alert {alert_id})",
        offer_reason=f"{what} at {level} (alert {alert_id})",
    )


def plan_early(
    *,
    signal_id: str,
    user_id: str,
    at: datetime,
    reason: str,
    groups: frozenset[str],
    shield: Shield | None,
    offered_at: datetime | None,
) -> ProtectionStep | None:
    """The step an early signal (``protection.early``: abuse converging on the person, before any
    pile-on warning) calls for: the same as a warning's. A key-group member's shield turns on, anyone
    else is offered one, with the same cool-down (an offer here means none at the warning after)."""
    groups_text = ", ".join(sorted(groups))
    return _step(
        user_id=user_id, signal_id=signal_id, at=at, groups=groups, shield=shield, offered_at=offered_at,
        auto_reason=f"early signal against a member of {groups_text}: {reason}",
        offer_reason=f"early signal: {reason}",
    )


def _step(
    *,
    user_id: str,
    signal_id: str,
    at: datetime,
    groups: frozenset[str],
    shield: Shield | None,
    offered_at: datetime | None,
    auto_reason: str,
    offer_reason: str,
) -> ProtectionStep | None:
    t = at.timestamp()
    if shield is not None and shield.on_at(t):
        return None
    if groups:
        if (
            shield is not None
            and shield.off_by not in (None, "cvguard")
            and shield.off_at is not None
            and at - shield.off_at < OFFER_COOLDOWN
        ):
            return None  # turned off by a person lately: not turned on again behind their back
        return ProtectionStep(
            "auto",
            user_id,
            signal_id,
            at,
            auto_reason,
            new_shield(
                user_id,
                at=at,
                duration_days=AUTO_DAYS,
                scopes=DEFAULT_SCOPES,
                audience=AUTO_AUDIENCE,
                actor="cvguard",
                reason=auto_reason,
                alert_id=signal_id,
            ),
        )
    if offered_at is not None and at - offered_at < OFFER_COOLDOWN:
        return None
    return ProtectionStep("offer", user_id, signal_id, at, offer_reason)


def reminder_due(shield: Shield, t: float) -> bool:
    """Whether ``shield``'s end is within ``REMINDER_BEFORE`` of epoch second ``t`` (and not past)."""
    return shield.on_at(t) and shield.ends_at.timestamp() - t <= REMINDER_BEFORE.total_seconds()

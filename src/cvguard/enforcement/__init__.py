"""Accountability: the violation ledger, graded sanctions, MCN joint handling, appeals.

The words and records the enforcement parts share (the ledger and the ladder, MCN handling, the
review queue and appeals); each part's logic lives in its own module of this package (pure) and its
own store module. What an account did is a :class:`Violation`; what the platform does about it is a
:class:`Sanction` (a feed action for the platform, with a statement of reasons); an appeal that
reverses a sanction undoes exactly what it took away (:class:`Reversal`).

Feed action kinds (``store.actions``), each with ``subject_type`` ``account`` unless said:

- ``sanction`` / ``lift_sanction``: a sanction starts (params: ``sanction_id``, ``kind``,
  ``expires_at``, ``statement``) / ends early (appeal, person); expiry needs no action (``expires_at``);
- ``mcn_measure`` / ``lift_mcn_measure`` (``subject_type`` ``mcn``, and one per member account);
- ``restore`` (``subject_type`` ``event``): content a reversal gives back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, Protocol, get_args

__all__ = [
    "ACCOUNT_ROLES",
    "MCN_MEASURES",
    "RESTRICTS",
    "SANCTION_KINDS",
    "AccountRole",
    "Enforcement",
    "McnMeasureKind",
    "Reversal",
    "Sanction",
    "SanctionKind",
    "Violation",
    "ViolationListener",
]

# An account's role in a violation, decided when it is confirmed. History: ``first_time`` (no
# other violation in the ladder's window) or ``frequent`` (N or more in the window); part in an
# attack: ``initiator`` (started or incited it) or ``copycat`` (joined one already under way).
AccountRole = Literal["first_time", "frequent", "initiator", "copycat"]
ACCOUNT_ROLES: tuple[AccountRole, ...] = get_args(AccountRole)

# The ladder's steps, mildest first (their durations and the climb are data: the ladder file).
SanctionKind = Literal[
    "warning",
    "comment_restriction",
    "posting_restriction",
    "demonetisation",
    "suspension",
    "permanent_ban",
]
SANCTION_KINDS: tuple[SanctionKind, ...] = get_args(SanctionKind)

# Where an active sanction stops the account from publishing (policy input ``author_restricted``).
_CHAT = ("comment", "reply", "danmaku", "live_chat", "group_message")
_PUBLISH = ("post", "repost", "topic")
RESTRICTS: Mapping[str, frozenset[str]] = MappingProxyType({
    "warning": frozenset(),
    "comment_restriction": frozenset(_CHAT),
    "posting_restriction": frozenset((*_CHAT, *_PUBLISH)),
    "demonetisation": frozenset(),
    "suspension": frozenset((*_CHAT, *_PUBLISH, "dm")),
    "permanent_ban": frozenset((*_CHAT, *_PUBLISH, "dm")),
})

McnMeasureKind = Literal["warning", "revenue_pause", "no_new_signups", "expulsion"]
MCN_MEASURES: tuple[McnMeasureKind, ...] = get_args(McnMeasureKind)


@dataclass(frozen=True, slots=True)
class Violation:
    """A confirmed violation by one account, with what it rests on.

    ``confirmed_by`` is ``policy:<rule id>`` (a rule that confirms violations), ``dm:<escalation
    id>`` or ``person:<actor>``; ``roles`` the account's roles when it was confirmed (one of
    first_time / frequent, and initiator or copycat when it was part of an attack)."""

    violation_id: str
    account_id: str
    at: datetime  # event time of the content (or of the confirmation, with no content)
    confirmed_by: str
    roles: tuple[AccountRole, ...]
    event_id: str | None = None
    surface: str | None = None
    categories: tuple[str, ...] = ()
    score: float | None = None
    alert_id: str | None = None
    policy_version: str | None = None
    model_version: str | None = None
    mcn_id: str | None = None  # the account's MCN when it was confirmed
    status: Literal["active", "reversed"] = "active"
    action: str | None = None  # what the decision did to the content (a reversal gives it back)


@dataclass(frozen=True, slots=True)
class Sanction:
    """A measure against an account: a step of the ladder, from ``starts_at`` until ``expires_at``
    (None: permanent), resting on ``violation_ids``; ``statement`` is the statement of reasons for
    the account (what, which rule, which content, how to appeal, by when)."""

    sanction_id: str
    account_id: str
    kind: SanctionKind
    starts_at: datetime
    expires_at: datetime | None
    violation_ids: tuple[str, ...]
    statement: Mapping[str, Any]
    decided_by: str  # ``ladder:<ladder version>`` or ``person:<actor>``
    status: Literal["active", "lifted", "expired"] = "active"
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    step: int | None = None  # the ladder step (0-based) of a ladder sanction; None: a person's
    # every violation whose strikes counted towards it (its own included): a reversal of any of
    # them lifts it
    rests_on: tuple[str, ...] = ()

    def active_at(self, at: datetime) -> bool:
        """In force at ``at``: started, not lifted, not expired."""
        return (self.status == "active" and self.starts_at <= at
                and (self.expires_at is None or at < self.expires_at))


@dataclass(frozen=True, slots=True)
class Reversal:
    """What reversing a sanction undid, exactly: the violations struck off, the sanctions lifted
    (the appealed one, and any later one that rested on a struck violation), the content given
    back, and the feed actions that tell the platform."""

    sanction_id: str
    violations_reversed: tuple[str, ...]
    sanctions_lifted: tuple[str, ...]
    content_restored: tuple[str, ...]
    feed_keys: tuple[str, ...] = field(default=())


class ViolationListener(Protocol):
    """Told of every violation confirmed and reversed (MCN handling counts them per organisation)."""

    def on_violations(self, violations: Sequence[Violation], *, now: datetime) -> None: ...

    def on_reversed(self, violations: Sequence[Violation], *, now: datetime) -> None: ...


class Enforcement(Protocol):
    """What the review queue and appeals need of the ledger and the ladder."""

    def sanction(self, sanction_id: str) -> Sanction | None: ...

    def reverse(self, sanction_id: str, *, actor: str, reason: str, now: datetime) -> Reversal: ...

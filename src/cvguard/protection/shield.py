"""A shield: one person's protection, and whether it holds back one message. Pure.

Scopes (what the shield covers) and the surfaces they map to:

    comments      comment            replies       reply
    mentions      post (a post naming the person: they are among its targets)
    dms           dm                 reposts       repost
    danmaku_live  danmaku, live_chat
    search        search_query, search_suggestion (being found by search: suggestions naming them)
    new_followers no event: the platform holds back new follow requests from the audience itself

Audiences (who is held back); the person's close friends always get through:

    strangers              no follow either way (a follower whom the person does not follow back
                           is not a stranger and gets through)
    recent_followers       strangers, and followers whose account is younger than ``RECENT_DAYS``
                           (or of unknown age). The platform sends follow *hints*, not follow
                           dates, so "recent follower" is read from the account's age: an old
                           account that followed yesterday gets through, which is the weak spot.
    all_but_close_friends  everyone but the close-friends list

With ``strangers`` and ``recent_followers``, people the person follows (``followed``) or who follow
each other (``mutual``) always get through.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

SCOPES = ("comments", "replies", "mentions", "dms", "reposts", "danmaku_live", "search", "new_followers")
AUDIENCES = ("strangers", "recent_followers", "all_but_close_friends")
DURATIONS = (3, 7, 30)  # days a shield is turned on or extended by
RECENT_DAYS = 7.0  # "recent follower": an account younger than this
MAX_CLOSE_FRIENDS = 500
# What an automatic shield covers: every way a message reaches the person.
DEFAULT_SCOPES = frozenset({"comments", "replies", "mentions", "dms", "reposts", "danmaku_live"})
# Key groups known to cvguard; a platform adds its own names (``Settings.extra_key_groups``).
BASE_GROUPS = ("minor", "hot_event_bystander")
_GROUP = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

_SURFACE_SCOPE: dict[str, str] = {
    "comment": "comments",
    "reply": "replies",
    "post": "mentions",
    "dm": "dms",
    "repost": "reposts",
    "danmaku": "danmaku_live",
    "live_chat": "danmaku_live",
    "search_query": "search",
    "search_suggestion": "search",
}
_GETS_THROUGH = frozenset({"followed", "mutual"})


def scope_of(surface: str) -> str | None:
    """The scope that covers ``surface`` (None: no shield covers it, e.g. group messages)."""
    return _SURFACE_SCOPE.get(surface)


def valid_group(name: str) -> bool:
    """Whether ``name`` may name a key group (lower-case letters, digits, ``_``; 1 to 32)."""
    return bool(_GROUP.match(name))


@dataclass(frozen=True, slots=True)
class ShieldChange:
    """One line of a shield's history: who changed what, when (event time) and why."""

    change: str  # "on", "update", "extend", "off"
    at: datetime
    actor: str  # the person's id, "role:key_id" for staff, "cvguard" for the automatic shield
    reason: str
    alert_id: str | None = None


@dataclass(frozen=True, slots=True)
class Shield:
    """A person's protection from ``started_at`` until ``ends_at`` (event time), unless turned off."""

    user_id: str
    started_at: datetime
    ends_at: datetime
    scopes: frozenset[str] = DEFAULT_SCOPES
    audience: str = "strangers"
    close_friends: frozenset[str] = frozenset()
    actor: str = "cvguard"  # who turned it on
    reason: str = ""
    alert_id: str | None = None  # the alert an automatic shield answered
    off_at: datetime | None = None  # turned off before its end
    off_by: str | None = None
    _ends_ts: float = field(default=0.0, repr=False, compare=False)
    _start_ts: float = field(default=0.0, repr=False, compare=False)

    def __post_init__(self) -> None:
        end = self.ends_at if self.off_at is None else min(self.ends_at, self.off_at)
        object.__setattr__(self, "_ends_ts", end.timestamp())
        object.__setattr__(self, "_start_ts", self.started_at.timestamp())

    def on_at(self, t: float) -> bool:
        """On at epoch second ``t`` (event time)."""
        return self._start_ts <= t < self._ends_ts

    def to_dict(self, t: float | None = None) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "active": None if t is None else self.on_at(t),
            "started_at": self.started_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "scopes": sorted(self.scopes),
            "audience": self.audience,
            "close_friends": sorted(self.close_friends),
            "actor": self.actor,
            "reason": self.reason,
            "alert_id": self.alert_id,
            "off_at": None if self.off_at is None else self.off_at.isoformat(),
            "off_by": self.off_by,
        }


def _check(duration_days: int, scopes: frozenset[str], audience: str, close_friends: frozenset[str]) -> None:
    if duration_days not in DURATIONS:
        raise ValueError(f"duration_days must be one of {', '.join(map(str, DURATIONS))}")
    unknown = sorted(scopes - set(SCOPES))
    if unknown or not scopes:
        raise ValueError(
            f"scopes must be some of {', '.join(SCOPES)} (unknown: {', '.join(unknown) or 'none given'})"
        )
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}")
    if len(close_friends) > MAX_CLOSE_FRIENDS or any(not f or len(f) > 128 for f in close_friends):
        raise ValueError(f"close_friends: at most {MAX_CLOSE_FRIENDS} user ids of 1 to 128 characters")


def new_shield(
    user_id: str,
    *,
    at: datetime,
    duration_days: int,
    scopes: frozenset[str] = DEFAULT_SCOPES,
    audience: str = "strangers",
    close_friends: frozenset[str] = frozenset(),
    actor: str,
    reason: str,
    alert_id: str | None = None,
    current: Shield | None = None,
) -> Shield:
    """A shield turned on (or its settings changed) at ``at``: ValueError on a bad value. A shield
    still on keeps its start and its end when that is later than ``at + duration_days``."""
    _check(duration_days, scopes, audience, close_friends)
    t = at.timestamp()
    ends = at + timedelta(days=duration_days)
    if current is not None and current.on_at(t):
        return replace(
            current,
            ends_at=max(ends, current.ends_at),
            scopes=scopes,
            audience=audience,
            close_friends=close_friends,
            actor=actor,
            reason=reason,
            alert_id=alert_id or current.alert_id,
        )
    return Shield(user_id, at, ends, scopes, audience, close_friends, actor, reason, alert_id)


def extend_shield(shield: Shield, *, at: datetime, days: int) -> Shield:
    """``shield`` on for ``days`` more, from its end (or from ``at`` when it has ended)."""
    if days not in DURATIONS:
        raise ValueError(f"days must be one of {', '.join(map(str, DURATIONS))}")
    if not shield.on_at(at.timestamp()):
        raise ValueError("the shield is not on: turn it on again instead")
    return replace(shield, ends_at=shield.ends_at + timedelta(days=days))


def holds_back(
    shield: Shield | None,
    *,
    surface: str,
    t: float,
    author_id: str,
    relationship: str,
    account_age_days: float | None,
    recent_days: float = RECENT_DAYS,
    abusive: bool = False,
) -> bool:
    """Whether ``shield`` holds back a message on ``surface`` at epoch second ``t`` from this author
    (``relationship``: the author as the person sees them, see ``policy.vocabulary``).

    The audience decides for any message; an ``abusive`` one (the verdict a violation) is held back
    from anyone the person does not follow, whatever the audience: only the accounts the person
    follows or talks with (and close friends) get abuse through. A follower's age is unknown to
    cvguard (events carry follow hints, not follow dates), so "recent" alone would let an old
    account that followed to attack through."""
    if shield is None or not shield.on_at(t):
        return False
    scope = _SURFACE_SCOPE.get(surface)
    if scope is None or scope not in shield.scopes:
        return False
    if author_id in shield.close_friends or author_id == shield.user_id:
        return False
    audience = shield.audience
    if audience == "all_but_close_friends":
        return True
    if relationship in _GETS_THROUGH:
        return False
    if relationship == "stranger" or abusive:
        return True
    # a follower the person does not follow back
    return audience == "recent_followers" and (account_age_days is None or account_age_days < recent_days)

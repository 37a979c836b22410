"""The protection core: holds_back over surface × audience × relationship × close friends × expiry,
shield changes, and what a pile-on warning plans (auto-shield, offer, cool-down)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.protection import (
    OFFER_COOLDOWN,
    ProtectionStep,
    Shield,
    extend_shield,
    holds_back,
    new_shield,
    plan_protection,
    reminder_due,
    scope_of,
)

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
DAY = 86400.0
ALL = frozenset(
    {"comments", "replies", "mentions", "dms", "reposts", "danmaku_live", "search", "new_followers"}
)


def shield(
    audience: str = "strangers", scopes: frozenset[str] = ALL, friends: frozenset[str] = frozenset()
) -> Shield:
    return new_shield(
        "t",
        at=T0,
        duration_days=7,
        scopes=scopes,
        audience=audience,
        close_friends=friends,
        actor="t",
        reason="r",
    )


# (surface, audience, relationship, account age, author, seconds after start, held back?)
CASES = [
    # strangers: only people with no follow either way
    ("comment", "strangers", "stranger", 400.0, "a", 60, True),  # a stranger's comment
    ("comment", "strangers", "follower", 1.0, "a", 60, False),  # a follower is no stranger
    ("comment", "strangers", "followed", None, "a", 60, False),  # the person follows them
    ("comment", "strangers", "mutual", None, "a", 60, False),  # friends talk
    ("reply", "strangers", "stranger", None, "a", 60, True),
    ("danmaku", "strangers", "stranger", None, "a", 60, True),
    ("live_chat", "strangers", "stranger", None, "a", 60, True),
    ("dm", "strangers", "stranger", None, "a", 60, True),
    ("repost", "strangers", "stranger", None, "a", 60, True),
    ("post", "strangers", "stranger", None, "a", 60, True),  # a post naming them: a mention
    ("search_suggestion", "strangers", "stranger", None, "a", 60, True),
    ("group_message", "strangers", "stranger", None, "a", 60, False),  # no scope covers groups
    # recent followers: strangers, and followers of young (or unknown) accounts
    ("comment", "recent_followers", "follower", 2.0, "a", 60, True),
    ("comment", "recent_followers", "follower", None, "a", 60, True),  # age unknown: held back
    ("comment", "recent_followers", "follower", 30.0, "a", 60, False),
    ("comment", "recent_followers", "stranger", 30.0, "a", 60, True),
    ("comment", "recent_followers", "mutual", 1.0, "a", 60, False),
    ("comment", "recent_followers", "followed", 1.0, "a", 60, False),
    # everyone but close friends
    ("comment", "all_but_close_friends", "mutual", 900.0, "a", 60, True),
    ("comment", "all_but_close_friends", "mutual", 900.0, "friend", 60, False),
    ("comment", "all_but_close_friends", "stranger", None, "friend", 60, False),
    ("comment", "strangers", "stranger", None, "friend", 60, False),  # close friends always pass
    ("comment", "strangers", "stranger", None, "t", 60, False),  # the person themself
    # expiry (event time)
    ("comment", "strangers", "stranger", None, "a", -1, False),  # before it started
    ("comment", "strangers", "stranger", None, "a", 7 * DAY - 1, True),  # its last second
    ("comment", "strangers", "stranger", None, "a", 7 * DAY, False),  # ended
]


# abuse (the verdict a violation) from anyone the person does not follow is held back, whatever
# the audience: an old account that follows to attack is not let through by its age
ABUSE = [
    ("comment", "strangers", "follower", 400.0, "a", 60, True),
    ("comment", "recent_followers", "follower", 400.0, "a", 60, True),
    ("dm", "strangers", "follower", 400.0, "a", 60, True),
    ("comment", "strangers", "followed", 400.0, "a", 60, False),  # the person follows them
    ("comment", "recent_followers", "mutual", 400.0, "a", 60, False),
    ("comment", "strangers", "follower", 400.0, "friend", 60, False),  # a close friend
    ("group_message", "strangers", "follower", 400.0, "a", 60, False),  # no scope covers groups
    ("comment", "strangers", "follower", 400.0, "a", 7 * DAY, False),  # the shield has ended
]


@pytest.mark.parametrize(("surface", "audience", "rel", "age", "author", "dt", "held"), ABUSE)
def test_abuse_from_anyone_the_person_does_not_follow_is_held_back(
    surface: str, audience: str, rel: str, age: float | None, author: str, dt: float, held: bool
) -> None:
    s = shield(audience, friends=frozenset({"friend"}))
    t = T0.timestamp() + dt
    got = holds_back(
        s, surface=surface, t=t, author_id=author, relationship=rel, account_age_days=age, abusive=True
    )
    assert got is held
    # the same message, not abusive: the audience alone decides (an old follower gets through)
    if rel == "follower" and audience in ("strangers", "recent_followers"):
        kind = holds_back(s, surface=surface, t=t, author_id=author, relationship=rel, account_age_days=age)
        assert not kind


@pytest.mark.parametrize(("surface", "audience", "rel", "age", "author", "dt", "held"), CASES)
def test_holds_back(
    surface: str, audience: str, rel: str, age: float | None, author: str, dt: float, held: bool
) -> None:
    s = shield(audience, friends=frozenset({"friend"}))
    got = holds_back(
        s, surface=surface, t=T0.timestamp() + dt, author_id=author, relationship=rel, account_age_days=age
    )
    assert got is held


def test_holds_back_only_its_scopes() -> None:
    s = shield(scopes=frozenset({"dms"}))
    kw = {"t": T0.timestamp() + 60, "author_id": "a", "relationship": "stranger", "account_age_days": None}
    assert holds_back(s, surface="dm", **kw) and not holds_back(s, surface="comment", **kw)  # type: ignore[arg-type]
    assert not holds_back(None, surface="dm", **kw)  # type: ignore[arg-type]


def test_turned_off_shield_holds_nothing_from_then() -> None:
    s = replace(shield(), off_at=T0 + timedelta(hours=1), off_by="t")
    assert s.on_at(T0.timestamp() + 60) and not s.on_at(T0.timestamp() + 3600)


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"duration_days": 5}, "duration_days"),
        ({"scopes": frozenset({"coments"})}, "scopes"),
        ({"scopes": frozenset()}, "scopes"),
        ({"audience": "everyone"}, "audience"),
        ({"close_friends": frozenset({""})}, "close_friends"),
    ],
)
def test_bad_shield_values_are_refused(kwargs: dict[str, object], why: str) -> None:
    args: dict[str, object] = {"at": T0, "duration_days": 7, "actor": "t", "reason": "r", **kwargs}
    with pytest.raises(ValueError, match=why):
        new_shield("t", **args)  # type: ignore[arg-type]


def test_extend_and_update_keep_the_later_end() -> None:
    s = shield()
    longer = extend_shield(s, at=T0 + timedelta(days=1), days=3)
    assert longer.ends_at == T0 + timedelta(days=10)
    changed = new_shield(
        "t", at=T0 + timedelta(days=1), duration_days=3, actor="t", reason="r", current=longer
    )
    assert changed.ends_at == longer.ends_at and changed.started_at == T0  # settings changed, end kept
    with pytest.raises(ValueError, match="not on"):
        extend_shield(s, at=T0 + timedelta(days=8), days=3)


def test_scope_names() -> None:
    assert scope_of("live_chat") == "danmaku_live" and scope_of("topic") is None


def _plan(
    groups: frozenset[str] = frozenset(),
    *,
    level: str = "warning",
    at: datetime = T0,
    current: Shield | None = None,
    offered: datetime | None = None,
    kind: str = "pile_on",
) -> ProtectionStep | None:
    return plan_protection(
        alert_id="pile_on:user:t:1",
        kind=kind,
        subject_type="user",
        subject_id="t",
        level=level,
        at=at,
        resolved=False,
        groups=groups,
        shield=current,
        offered_at=offered,
    )


def test_key_group_member_is_shielded_automatically() -> None:
    step = _plan(frozenset({"minor"}))
    assert step is not None and step.kind == "auto" and step.shield is not None
    assert step.shield.actor == "cvguard" and step.shield.alert_id == "pile_on:user:t:1"
    assert "minor" in step.reason and step.shield.on_at(T0.timestamp())


def test_others_are_offered_once_per_cooldown() -> None:
    step = _plan()
    assert step is not None and step.kind == "offer"
    assert _plan(offered=T0 - OFFER_COOLDOWN + timedelta(seconds=1)) is None
    assert _plan(offered=T0 - OFFER_COOLDOWN) is not None


@pytest.mark.parametrize(
    ("level", "kind"), [("watch", "pile_on"), ("warning", "brigade"), ("warning", "topic")]
)
def test_no_step_below_warning_or_for_other_kinds(level: str, kind: str) -> None:
    assert _plan(frozenset({"minor"}), level=level, kind=kind) is None


def test_an_active_shield_needs_nothing_and_a_persons_off_is_respected() -> None:
    on = shield()
    assert _plan(frozenset({"minor"}), current=on) is None
    off = replace(on, off_at=T0 + timedelta(hours=1), off_by="t")
    assert _plan(frozenset({"minor"}), current=off, at=T0 + timedelta(hours=2)) is None
    assert _plan(frozenset({"minor"}), current=off, at=T0 + timedelta(hours=26)) is not None


def test_reminder_due_a_day_before_the_end() -> None:
    s = shield()
    assert not reminder_due(s, T0.timestamp() + 5 * DAY)
    assert reminder_due(s, T0.timestamp() + 6 * DAY)
    assert not reminder_due(s, T0.timestamp() + 7 * DAY)

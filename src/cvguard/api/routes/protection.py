"""A person's protection (shield), key groups and filtered folder.

    PUT    /v1/users/{id}/protection            turn the shield on, or change the one that is on
    POST   /v1/users/{id}/protection/extend     on for 3, 7 or 30 days more
    GET    /v1/users/{id}/protection            the shield (on or not) and its history
    DELETE /v1/users/{id}/protection            turn it off
    GET    /v1/users/{id}/filtered              what was held back from them (paged, newest first)
    POST   /v1/users/{id}/filtered/{event_id}/restore   they want to see it after all
    PUT    /v1/users/{id}/groups                mark key groups (minor, hot_event_bystander, ...)
    GET    /v1/users/{id}/groups

Who: a shield is the person's own (``api.auth.owner_or_staff``): a platform call made for them
turns it on, changes or ends it, and so may a moderator (read: moderator, auditor too). The
filtered folder is private: only the person (and admin); a moderator gets 403. Key groups are
marked by the platform (an unscoped key: a person does not mark themself) or a moderator; read by
platform, moderator and auditor.

Every change (shield on, changed, extended, off; key groups marked; an item restored) is recorded
in the audit trail (``api.routes.audit.record``) with the state before and after.

Time: a shield runs in event time (``pipeline.clock``, the newest event seen; in scale-out the
shared state's), so it starts "now" in the stream's time; before any event is seen, the wall clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cvguard.api.auth import CurrentPrincipal, owner_or_staff
from cvguard.api.deps import PipelineDep, event_now
from cvguard.api.routes.alerts import NO_NUL
from cvguard.api.routes.audit import record
from cvguard.errors import InputError
from cvguard.pipeline import Pipeline
from cvguard.pipeline.protection import PeopleBook
from cvguard.protection import AUDIENCES, DEFAULT_SCOPES, DURATIONS, SCOPES

router = APIRouter(prefix="/v1", tags=["protection"])

UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL)]
ScopeName = Literal[
    "comments", "replies", "mentions", "dms", "reposts", "danmaku_live", "search", "new_followers"
]
AudienceName = Literal["strangers", "recent_followers", "all_but_close_friends"]
_DEFAULT_SCOPES: list[ScopeName] = [s for s in get_args(ScopeName) if s in DEFAULT_SCOPES]
assert set(get_args(ScopeName)) == set(SCOPES) and set(get_args(AudienceName)) == set(AUDIENCES)


class ProtectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_days: Literal[3, 7, 30] = Field(description="How long it stays on (event time).")
    scopes: list[ScopeName] = Field(
        default_factory=lambda: list(_DEFAULT_SCOPES), min_length=1, max_length=len(SCOPES),
        description="What it covers: comments, replies, mentions, dms, reposts, danmaku_live (danmaku and "
        "live chat), search (being found by search), new_followers (the platform holds back new follows).",
    )
    audience: AudienceName = Field(
        default="strangers",
        description="Who is held back: strangers; recent_followers (strangers and followers whose account "
        "is under 7 days old or of unknown age); all_but_close_friends. People the person follows "
        "or talks with (mutual) get through, except with all_but_close_friends.",
    )
    close_friends: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=500, description="Always get through."
    )
    reason: str = Field(default="", max_length=500)


class ExtendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    days: Literal[3, 7, 30]
    reason: str = Field(default="", max_length=500)


class OffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="", max_length=500)


class ChangeOut(BaseModel):
    change: str = Field(description="on, update, extend, off.")
    at: datetime = Field(description="Event time.")
    actor: str = Field(description="The person, role:key_id for staff, cvguard for the automatic shield.")
    reason: str
    alert_id: str | None


class ProtectionOut(BaseModel):
    user_id: str
    as_of: datetime = Field(description="The event time the answer is at.")
    active: bool
    shield: dict[str, Any] | None = Field(description="The current or last shield; null if never on.")
    history: list[ChangeOut]


class GroupsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: list[Annotated[str, Field(min_length=1, max_length=32)]] = Field(max_length=32)


class GroupsOut(BaseModel):
    user_id: str
    groups: list[str]


class FilteredOut(BaseModel):
    user_id: str
    items: list[dict[str, Any]] = Field(description="Newest first: event_id, surface, action, rule_id, "
                                        "reason, alert_ids, filtered_at (event time), restored.")
    total: int
    offset: int
    limit: int


def _people(pipeline: Pipeline) -> PeopleBook:
    people = pipeline.people
    if people is None:
        raise HTTPException(503, "protection is not available on this pipeline")
    return people


def _answer(people: PeopleBook, user_id: str, at: datetime) -> ProtectionOut:
    shield = people.shield_of(user_id)
    t = at.timestamp()
    return ProtectionOut(
        user_id=user_id, as_of=at, active=shield is not None and shield.on_at(t),
        shield=None if shield is None else shield.to_dict(t),
        history=[ChangeOut.model_validate(h, from_attributes=True) for h in people.history(user_id)],
    )


def _shield(people: PeopleBook, user_id: str, at: datetime) -> dict[str, Any] | None:
    """What the audit trail keeps of a person's shield (on or not) at ``at``."""
    shield = people.shield_of(user_id)
    return None if shield is None else shield.to_dict(at.timestamp())


def _staff_or_owner(request: Request, principal: CurrentPrincipal, user_id: str, write: bool) -> str:
    return owner_or_staff(request, principal, user_id, ("moderator",) if write else ("moderator", "auditor"))


@router.put("/users/{user_id}/protection", response_model=ProtectionOut)
def put_protection(
    user_id: UserId, body: ProtectionIn, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep
) -> ProtectionOut:
    """Turn the person's shield on (or change the one that is on: its end stays when later)."""
    actor = _staff_or_owner(request, principal, user_id, True)
    people, at = _people(pipeline), event_now(request, pipeline)
    before = _shield(people, user_id, at)
    try:
        people.turn_on(
            user_id, at=at, duration_days=body.duration_days, scopes=frozenset(body.scopes),
            audience=body.audience, close_friends=frozenset(body.close_friends), actor=actor,
            reason=body.reason or ("turned on by the person" if actor == user_id else "turned on by staff"),
        )
    except ValueError as exc:
        raise InputError(str(exc)) from exc
    record(request, "shield.put", ("user", user_id), inputs=body.model_dump(mode="json"), before=before,
           after=_shield(people, user_id, at))
    return _answer(people, user_id, at)


@router.post("/users/{user_id}/protection/extend", response_model=ProtectionOut)
def extend_protection(
    user_id: UserId, body: ExtendIn, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep
) -> ProtectionOut:
    """Keep the shield on ``days`` more (3, 7 or 30), from its current end."""
    actor = _staff_or_owner(request, principal, user_id, True)
    people, at = _people(pipeline), event_now(request, pipeline)
    before = _shield(people, user_id, at)
    try:
        people.extend(user_id, at=at, days=body.days, actor=actor, reason=body.reason)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    record(request, "shield.extend", ("user", user_id), inputs=body.model_dump(mode="json"),
           before=before, after=_shield(people, user_id, at))
    return _answer(people, user_id, at)


@router.get("/users/{user_id}/protection", response_model=ProtectionOut)
def get_protection(
    user_id: UserId, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep
) -> ProtectionOut:
    _staff_or_owner(request, principal, user_id, False)
    people = _people(pipeline)
    people.refresh()
    return _answer(people, user_id, event_now(request, pipeline))


@router.delete("/users/{user_id}/protection", response_model=ProtectionOut)
def delete_protection(
    user_id: UserId, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep,
    reason: Annotated[str, Query(max_length=500)] = "",
) -> ProtectionOut:
    """Turn the shield off now (a person's decision: an automatic one does not turn it on again
    within a day). Nothing on: 404."""
    actor = _staff_or_owner(request, principal, user_id, True)
    people, at = _people(pipeline), event_now(request, pipeline)
    before = _shield(people, user_id, at)
    if people.turn_off(user_id, at=at, actor=actor, reason=reason) is None:
        raise HTTPException(404, f"user {user_id!r} has no shield on")
    record(request, "shield.off", ("user", user_id), inputs={"reason": reason}, before=before,
           after=_shield(people, user_id, at))
    return _answer(people, user_id, at)


@router.get("/users/{user_id}/filtered", response_model=FilteredOut)
def get_filtered(
    user_id: UserId, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    restored: Annotated[bool, Query(description="Include restored items.")] = False,
) -> FilteredOut:
    """The person's filtered folder: private (the person, or admin)."""
    owner_or_staff(request, principal, user_id, ())
    items, total = _people(pipeline).store.filtered(user_id, offset=offset, limit=limit, restored=restored)
    return FilteredOut(user_id=user_id, items=[i.to_dict() for i in items], total=total, offset=offset,
                       limit=limit)


@router.post("/users/{user_id}/filtered/{event_id}/restore")
def restore_filtered(
    user_id: UserId, event_id: UserId, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep
) -> dict[str, Any]:
    """The person wants to see it after all (the platform shows it to them); 404 if not in the folder."""
    actor = owner_or_staff(request, principal, user_id, ())
    item = _people(pipeline).store.restore(user_id, event_id, by=actor)
    if item is None:
        raise HTTPException(404, f"event {event_id!r} is not in the filtered folder of {user_id!r}")
    restored = item.to_dict()
    record(request, "filtered.restore", ("user", user_id), inputs={"event_id": event_id},
           before={"event_id": event_id, "restored": False}, after=restored)
    return restored


@router.put("/users/{user_id}/groups", response_model=GroupsOut)
def put_groups(
    user_id: UserId, body: GroupsIn, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep
) -> GroupsOut:
    """Mark the person's key groups (the list replaces the previous one; empty clears them)."""
    if principal.role == "platform" and principal.user_id is not None:
        raise HTTPException(403, "a key scoped to one user may not mark key groups")
    people = _people(pipeline)
    people.refresh()
    before = sorted(people.groups_of(user_id))
    try:
        actor = f"{principal.role}:{principal.key_id}"
        groups = people.set_groups(user_id, frozenset(body.groups), actor=actor)
    except ValueError as exc:
        raise InputError(str(exc), field="groups") from exc
    record(request, "groups.put", ("user", user_id), inputs=body.model_dump(mode="json"),
           before={"groups": before}, after={"groups": sorted(groups)})
    return GroupsOut(user_id=user_id, groups=sorted(groups))


@router.get("/users/{user_id}/groups", response_model=GroupsOut)
def get_groups(user_id: UserId, pipeline: PipelineDep) -> GroupsOut:
    people = _people(pipeline)
    people.refresh()
    return GroupsOut(user_id=user_id, groups=sorted(people.groups_of(user_id)))


__all__ = ["DURATIONS", "router"]

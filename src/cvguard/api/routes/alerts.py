"""``/v1/alerts``: the stored alerts, one alert with its history, and a person's status on it.

    GET   /v1/alerts        filtered by level (at least), kind, status, subject and update time,
                            newest first, in pages: pass ``next_cursor`` back as ``cursor``
    GET   /v1/alerts/{id}   one alert with every status people set on it
    PATCH /v1/alerts/{id}   a moderator's (or admin's) status: acknowledged, resolved,
                            false_positive, or open again; who and when are recorded, and nothing
                            automatic (an escalation, behaviour resolving it) overwrites it later

Reading is for the roles the router is guarded with (``api.app``); changing a status needs a
moderator or an admin, checked here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from cvguard.api.auth import ModeratorDep, Principal
from cvguard.api.deps import PipelineDep
from cvguard.api.routes.audit import draft, trail
from cvguard.api.routes.events import AlertOut
from cvguard.api.schemas import Problem
from cvguard.errors import InputError
from cvguard.pipeline.actions import redo_reopened, undo_false_positive
from cvguard.store import EventStore, StatusChange, StoredAlert
from cvguard.store.audit import Draft
from cvguard.vocabulary import AlertStatus, Kind, Level, SubjectType

router = APIRouter(prefix="/v1", tags=["alerts"])

Status = AlertStatus

# No id holds a NUL character (PostgreSQL text cannot), so one asked for is refused as input
# instead of reaching the database.
NO_NUL = r"^[^\x00]*$"
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    # pydantic would read "0.5" as seconds since 1970: only an ISO 8601 date and time is a time here
    if isinstance(value, str) and not _ISO_TIME.match(value):
        raise ValueError("must be an ISO 8601 date and time with a timezone, e.g. 2026-11-24T08:00:00Z")
    return value


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once converted to UTC") from None


EventTime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_utc)]

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}


class AlertList(BaseModel):
    alerts: list[AlertOut]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


class StatusChangeOut(BaseModel):
    changed_at: datetime = Field(description="Wall-clock time (UTC) of the change.")
    actor: str = Field(description="Who changed it: an API key's name and id.")
    previous_status: str
    status: str
    note: str | None

    @classmethod
    def of(cls, change: StatusChange) -> StatusChangeOut:
        return cls.model_validate(change, from_attributes=True)


class AlertDetail(AlertOut):
    """An alert with every status people set on it, oldest first."""

    status_note: str | None = Field(default=None, description="The note given with the current status.")
    history: list[StatusChangeOut]


class StatusIn(BaseModel):
    """A person's decision on an alert."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "false_positive", "note": "fans chanting, no abuse"}]},
    )

    status: Status = Field(description="acknowledged, resolved, false_positive, or open again.")
    note: str | None = Field(default=None, max_length=2000, description="Why, for whoever reads it later.")

    @field_validator("note")
    @classmethod
    def _encodable(cls, note: str | None) -> str | None:
        if note is not None:
            try:
                note.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("is not valid Unicode text (a lone surrogate?)") from None
        return note


def event_store(pipeline: PipelineDep) -> EventStore:
    store = pipeline.store
    if not isinstance(store, EventStore):  # a pipeline built on a twin store has no reads
        raise InputError("this server's pipeline has no queryable store")
    return store


def encode_cursor(alert: StoredAlert) -> str:
    """Where a page ended, opaque to callers: the last alert's update time and id."""
    raw = json.dumps([alert.updated_at.isoformat(), alert.alert_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at_text, alert_id = json.loads(raw)
        at = datetime.fromisoformat(at_text)
        if at.tzinfo is None or not isinstance(alert_id, str) or "\x00" in alert_id:
            raise ValueError("not a cursor")
        return at.astimezone(UTC), alert_id
    except (ValueError, TypeError, binascii.Error, OverflowError, RecursionError) as exc:
        raise InputError(
            "cursor is not one this API returned: pass next_cursor back unchanged", field="cursor"
        ) from exc


def actor(principal: Principal) -> str:
    """How a caller is named on what they changed: the key's name and its id."""
    return principal.name if principal.name == principal.key_id else f"{principal.name} ({principal.key_id})"


@router.get(
    "/alerts",
    response_model=AlertList,
    responses={422: {**_PROBLEM, "description": "A filter or the cursor is invalid."}},
    summary="List alerts",
)
def list_alerts(
    pipeline: PipelineDep,
    subject_id: Annotated[
        str | None, Query(max_length=128, pattern=NO_NUL, description="A user, thread, topic or cluster id.")
    ] = None,
    subject_type: Annotated[
        SubjectType | None, Query(description="Only alerts about this kind of subject.")
    ] = None,
    kind: Annotated[Kind | None, Query(description="Only alerts of this kind.")] = None,
    level: Annotated[Level | None, Query(description="Only alerts at this level or higher.")] = None,
    status: Annotated[Status | None, Query(description="Only alerts with this status.")] = None,
    updated_from: Annotated[
        EventTime | None,
        Query(description="Only alerts raised, escalated or resolved at or after this event time."),
    ] = None,
    updated_to: Annotated[
        EventTime | None, Query(description="Only alerts last updated before this event time.")
    ] = None,
    since: Annotated[
        EventTime | None, Query(description="Same as updated_from (kept for older clients).", deprecated=True)
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="The next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many alerts a page.")] = 100,
) -> AlertList:
    """Alerts most recently updated first (ties by id); each names its subject and the events
    behind it. Times are ISO 8601 with a timezone. A page ends where ``next_cursor`` says: pass it
    back as ``cursor``, with the same filters, for the next one."""
    if since is not None and updated_from is not None:
        raise InputError("give updated_from or its older name since, not both", field="since")
    found = event_store(pipeline).list_alerts(
        subject_id=subject_id,
        subject_type=subject_type,
        kind=kind,
        level_at_least=level,
        status=status,
        since=updated_from if updated_from is not None else since,
        until=updated_to,
        after=None if cursor is None else decode_cursor(cursor),
        limit=limit + 1,  # one more tells whether there is a next page
    )
    page = found[:limit]
    return AlertList(
        alerts=[AlertOut.of(a) for a in page],
        next_cursor=encode_cursor(page[-1]) if len(found) > limit else None,
    )


AlertId = Annotated[str, Path(min_length=1, max_length=256, pattern=NO_NUL, description="The alert's id.")]


def _detail(store: EventStore, alert: StoredAlert) -> AlertDetail:
    return AlertDetail(
        **AlertOut.of(alert).model_dump(),
        status_note=alert.status_note,
        history=[StatusChangeOut.of(c) for c in store.alert_history(alert.alert_id)],
    )


def _not_found(alert_id: str) -> HTTPException:
    return HTTPException(404, f"there is no alert {alert_id!r}")


@router.get(
    "/alerts/{alert_id:path}",
    response_model=AlertDetail,
    responses={
        404: {**_PROBLEM, "description": "No such alert."},
        422: {**_PROBLEM, "description": "The id is not one an alert can have."},
    },
    summary="One alert with its status history",
)
def get_alert(alert_id: AlertId, pipeline: PipelineDep) -> AlertDetail:
    """The alert, and every status people set on it (who, when, from what, why)."""
    store = event_store(pipeline)
    found = store.get_alert(alert_id)
    if found is None:
        raise _not_found(alert_id)
    return _detail(store, found)


@router.patch(
    "/alerts/{alert_id:path}",
    response_model=AlertDetail,
    responses={
        404: {**_PROBLEM, "description": "No such alert."},
        422: {**_PROBLEM, "description": "The body is not a status (and an optional note)."},
    },
    summary="Set an alert's status",
)
def set_status(
    alert_id: AlertId, change: StatusIn, pipeline: PipelineDep, who: ModeratorDep, request: Request
) -> AlertDetail:
    """A moderator (or admin) acknowledges, resolves, marks false-positive or reopens an alert.
    The caller and the time (UTC) are recorded on the alert and in its history; from then on
    nothing automatic changes the status. A false positive undoes, in the action feed, everything
    the alert caused (and it causes nothing more)."""
    store = event_store(pipeline)
    before = store.get_alert(alert_id)
    version = request.app.state.policy.policy.version
    log = trail(request)
    together = log.shares(store.engine)  # the entry commits with the change

    def entry(changed: StoredAlert) -> Draft:
        return draft(request, "alert.status", ("alert", alert_id), inputs=change.model_dump(mode="json"),
                     before=_state(before), after=_state(changed), policy_version=version)

    changed = store.set_alert_status(
        alert_id, status=change.status, actor=actor(who), note=change.note,
        within=(lambda c, changed: log.append_in(c, [entry(changed)])) if together else None,
    )
    if changed is None:
        raise _not_found(alert_id)
    if not together:
        log.append_many([entry(changed)])
    if change.status == "false_positive":
        undo_false_positive(request.app.state.feed(), alert_id, version, people_decided=_spared(request))
    elif (
        change.status in ("open", "acknowledged")
        and before is not None
        and before.status == "false_positive"
        and changed.resolved_at is None
    ):
        redo_reopened(request.app.state.feed(), alert_id, version, people_decided=_spared(request))
    if change.status in ("resolved", "false_positive"):  # its review item, if any, is settled
        from cvguard.api.routes.review import settled_elsewhere

        settled_elsewhere(request, "alert", alert_id, change.status)
    return _detail(store, changed)


def _spared(request: Request) -> Any:
    """Which events a person decided (the review store): the feed leaves them alone."""
    return request.app.state.review.store.person_decided


def _state(alert: StoredAlert | None) -> dict[str, Any] | None:
    """What the audit trail keeps of an alert's state: its status and the person's note."""
    if alert is None:
        return None
    return {"status": alert.status, "status_note": alert.status_note, "level": alert.level}

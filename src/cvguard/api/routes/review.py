"""``/v1/review``: the one staff queue (held content, reports, alerts, DM escalations, appeals).

    GET  /v1/review/queue                   undecided items by priority, then due time (filters, pages)
    GET  /v1/review/items/{id}              one item
    POST /v1/review/items/{id}/assign       to the caller, or to someone named
    POST /v1/review/items/{id}/decision     one call decides the item and what it refers to
    GET  /v1/review/stats?since=&until=     response times per kind and per staff member

Moderators write, auditors read, admins both (guarded where ``api.app`` includes the router). A
decision does, per kind:

- ``held``: ``approve`` → feed ``restore``; ``remove`` → feed ``remove``; either way the person's
  decision is recorded (``human_decisions``) and nothing automatic acts on that content again;
- ``report``: ``upheld`` / ``rejected`` → the report store's decision and its ``report_outcome``;
- ``alert``: ``confirmed`` → status ``acknowledged``; ``false_positive`` → that status, and what
  the alert caused undone in the feed;
- ``escalation``: ``confirmed`` / ``dismissed`` (recorded on the item);
- ``appeal``: ``upheld`` → the sanction reversed (``Enforcement.reverse``); the account told
  either way (``appeal_outcome``); never by the person who decided what is appealed (403).

Every assignment and decision is in the audit trail (actor, inputs, before, after). The item is
claimed first, then its effects run; the same decision again redoes only the effects (each is
idempotent), so a call that failed half-way is simply retried.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from cvguard.api.auth import ModeratorDep, Principal
from cvguard.api.reviewdesk import ReviewDesk
from cvguard.api.routes.alerts import actor
from cvguard.api.routes.audit import record
from cvguard.api.schemas import Problem
from cvguard.errors import InputError
from cvguard.pipeline.actions import undo_false_positive
from cvguard.reports.outcome import outcome_action
from cvguard.review import ITEM_KINDS, ItemKind, review_figures
from cvguard.store.actions import ActionFeed
from cvguard.store.review import AlreadyDecided, Appeal, ReviewItem

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["review"])

NO_NUL = r"^[^\x00]*$"
MAX_PAGE = 500
MAX_NOTE = 4000
ItemId = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL, description="The item's id.")]
_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {**_PROBLEM, "description": "No such item."}}
_INVALID: dict[int | str, dict[str, Any]] = {422: {**_PROBLEM, "description": "Invalid input."}}
_CONFLICT: dict[int | str, dict[str, Any]] = {409: {**_PROBLEM, "description": "Decided already."}}


def desk_of(request: Request) -> ReviewDesk:
    desk: ReviewDesk = request.app.state.review
    return desk


def _feed(request: Request) -> ActionFeed:
    feed: ActionFeed = request.app.state.feed()
    return feed


# -- shapes ---------------------------------------------------------------------------------------


class ItemOut(BaseModel):
    item_id: str
    kind: str
    ref_id: str = Field(
        description="The record the item is about: event, report, alert, escalation or appeal id."
    )
    priority: str
    reasons: list[str]
    context: dict[str, Any]
    created_at: datetime
    due_at: datetime
    overdue: bool
    assignee: str | None
    assigned_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    outcome: str | None
    note: str | None

    @classmethod
    def of(cls, item: ReviewItem, now: datetime) -> ItemOut:
        return cls.model_validate(item.to_dict(now))


class QueueOut(BaseModel):
    items: list[ItemOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last.")


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    assignee: str | None = Field(
        default=None, min_length=1, max_length=256, pattern=NO_NUL, description="Default: the caller."
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: str = Field(
        min_length=1, max_length=32,
        description="held: approve / remove; report: upheld / rejected; alert: confirmed / "
        "false_positive; escalation: confirmed / dismissed; appeal: upheld / rejected.",
    )
    note: str | None = Field(default=None, max_length=MAX_NOTE, description="For staff (and the trail).")
    reply: str | None = Field(
        default=None, max_length=MAX_NOTE, description="A report's message to its reporter."
    )


class DecisionOut(BaseModel):
    item: ItemOut
    new_decision: bool = Field(description="False: the same decision was made before (effects redone).")
    feed_keys: list[str] = Field(description="The action feed entries the decision appended.")
    appeal: dict[str, Any] | None = None


# -- the queue ------------------------------------------------------------------------------------


def queue_cursor(item: ReviewItem) -> str:
    raw = json.dumps([int(item.priority), item.due_at.isoformat(), item.item_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        p, due, item_id = json.loads(raw)
        at = datetime.fromisoformat(due)
        if not isinstance(p, int) or not isinstance(item_id, str) or at.tzinfo is None:
            raise ValueError("not a cursor")
        return p, at.astimezone(UTC), item_id
    except (ValueError, TypeError, binascii.Error, RecursionError) as exc:
        raise InputError("cursor is not one this API returned: pass next_cursor back unchanged",
                         field="cursor") from exc


@router.get("/review/queue", response_model=QueueOut, responses=_INVALID, summary="The staff review queue")
def review_queue(
    request: Request,
    kind: Annotated[ItemKind | None, Query(description="Only items of this kind.")] = None,
    assignee: Annotated[str | None, Query(max_length=256, pattern=NO_NUL)] = None,
    overdue: Annotated[bool | None, Query(description="Only items past due (true) or not (false).")] = None,
    decided: Annotated[bool, Query(description="The decided items instead of the waiting ones.")] = False,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> QueueOut:
    """Undecided items by priority (urgent, high, normal), then due time, then id."""
    desk = desk_of(request)
    now = desk.now()
    found = desk.store.queue(
        now=now, kind=kind, assignee=assignee, overdue=overdue, decided=decided,
        after=decode_cursor(cursor) if cursor is not None else None, limit=limit + 1,
    )
    page = found[:limit]
    return QueueOut(
        items=[ItemOut.of(i, now) for i in page],
        next_cursor=queue_cursor(page[-1]) if len(found) > limit else None,
    )


def _found(desk: ReviewDesk, item_id: str) -> ReviewItem:
    item = desk.store.get(item_id)
    if item is None:
        raise HTTPException(404, f"no review item {item_id!r}")
    return item


@router.get("/review/items/{item_id}", response_model=ItemOut, responses=_NOT_FOUND, summary="One item")
def get_item(item_id: ItemId, request: Request) -> ItemOut:
    desk = desk_of(request)
    return ItemOut.of(_found(desk, item_id), desk.now())


@router.post(
    "/review/items/{item_id}/assign", response_model=ItemOut, responses={**_NOT_FOUND, **_CONFLICT},
    summary="Assign an item",
)
def assign_item(item_id: ItemId, body: AssignIn, request: Request, who: ModeratorDep) -> ItemOut:
    desk = desk_of(request)
    assignee = body.assignee or who.label
    try:
        changed = desk.store.assign(item_id, assignee=assignee, now=desk.now())
    except AlreadyDecided as exc:
        raise HTTPException(409, str(exc)) from None
    if changed is None:
        raise HTTPException(404, f"no review item {item_id!r}")
    before, after = changed
    record(request, "review.assign", ("review_item", item_id), inputs={"assignee": assignee},
           before={"assignee": before.assignee}, after={"assignee": after.assignee})
    return ItemOut.of(after, desk.now())


# -- decisions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewAction:
    """A feed action a decision appends (an ``ActionLike``, ``store.actions``)."""

    key: str
    kind: str
    surface: str
    subject_type: str
    subject: str
    reason: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    rule_id: str | None = None
    alert_id: str | None = None
    policy_version: str | None = None
    undoes: str | None = None


@router.post(
    "/review/items/{item_id}/decision",
    response_model=DecisionOut,
    responses={**_NOT_FOUND, **_INVALID, **_CONFLICT,
               403: {**_PROBLEM, "description": "An appeal reviewed by its first decider."}},
    summary="Decide an item",
)
def decide_item(item_id: ItemId, body: DecisionIn, request: Request, who: ModeratorDep) -> DecisionOut:
    """Decides the item and what it refers to in one call (see the module docstring)."""
    desk = desk_of(request)
    item = _found(desk, item_id)
    appeal = None
    if item.kind == "appeal":
        from cvguard.api.routes.appeals import check_reviewer  # the appeal rules live there

        appeal = check_reviewer(desk, item.ref_id, who)
    now = desk.now()
    try:
        decided = desk.store.decide(item_id, outcome=body.outcome, actor=who.label, note=body.note, now=now)
    except AlreadyDecided as exc:
        raise HTTPException(409, str(exc)) from None
    if decided is None:
        raise HTTPException(404, f"no review item {item_id!r}")
    before, after, fresh = decided
    keys, appeal_out = _effects(request, desk, after, body, who, now, appeal)
    record(
        request, "review.decision", ("review_item", item_id),
        inputs={"kind": item.kind, "ref_id": item.ref_id, "outcome": body.outcome, "note": body.note},
        before={"outcome": before.outcome, "decided_by": before.decided_by},
        after={"outcome": after.outcome, "decided_by": after.decided_by, "feed_keys": keys},
    )
    log.info("review item %s (%s) decided: %s", item_id, item.kind, body.outcome)
    return DecisionOut(item=ItemOut.of(after, now), new_decision=fresh, feed_keys=keys, appeal=appeal_out)


def _effects(
    request: Request, desk: ReviewDesk, item: ReviewItem, body: DecisionIn, who: Principal, now: datetime,
    appeal: Appeal | None,
) -> tuple[list[str], dict[str, Any] | None]:
    """What the decision does beyond the item: the feed keys appended, and the appeal as decided."""
    if item.kind == "held":
        return _held(request, desk, item, body, who, now), None
    if item.kind == "report":
        return _report(request, item, body, who), None
    if item.kind == "alert":
        return _alert(request, item, body, who), None
    if item.kind == "appeal":
        assert appeal is not None
        from cvguard.api.routes.appeals import decide_appeal

        return decide_appeal(request, desk, appeal, outcome=body.outcome, note=body.note, who=who, now=now)
    return [], None  # escalation: the decision on the item is the record


def _held(
    request: Request, desk: ReviewDesk, item: ReviewItem, body: DecisionIn, who: Principal, now: datetime
) -> list[str]:
    kind = "restore" if body.outcome == "approve" else "remove"
    desk.store.record_person(item.ref_id, action=kind, actor=who.label, at=now, note=body.note,
                             item_id=item.item_id)
    action = ReviewAction(
        key=f"review:{item.item_id}:{kind}", kind=kind, surface=str(item.context.get("surface") or "post"),
        subject_type="event", subject=item.ref_id,
        reason=f"a moderator reviewed the held content: {body.outcome}",
        params=MappingProxyType({"item_id": item.item_id, "outcome": body.outcome}),
        rule_id=item.context.get("rule_id"),
    )
    return [e.key for e in _feed(request).append([action])]


def _report(request: Request, item: ReviewItem, body: DecisionIn, who: Principal) -> list[str]:
    reports = request.app.state.reports.store
    decided = reports.decide(item.ref_id, outcome=body.outcome, note=body.note, reply=body.reply,
                             actor=actor(who))
    if decided is None:
        raise HTTPException(409, f"the item's report {item.ref_id!r} is not in the report store")
    report, _ = decided
    entries = _feed(request).append([
        outcome_action(report_id=report.report_id, reporter_id=report.reporter_id, outcome=body.outcome,
                       decision_no=report.decision_no, category=report.category, reply=report.reply)
    ])
    return [e.key for e in entries]


def _alert(request: Request, item: ReviewItem, body: DecisionIn, who: Principal) -> list[str]:
    store = request.app.state.pipeline().store
    status = "acknowledged" if body.outcome == "confirmed" else "false_positive"
    current = store.get_alert(item.ref_id)
    if current is None:
        raise HTTPException(409, f"the item's alert {item.ref_id!r} is not in the alert store")
    if current.status != status:
        store.set_alert_status(item.ref_id, status=status, actor=actor(who), note=body.note)
    if status != "false_positive":
        return []
    version = request.app.state.policy.policy.version
    undone = undo_false_positive(
        _feed(request), item.ref_id, version, people_decided=desk_of(request).store.person_decided
    )
    return [e.key for e in undone]


# -- what other routes tell the queue -------------------------------------------------------------


def settled_elsewhere(request: Request, kind: str, ref_id: str, outcome: str) -> None:
    """A record decided on its own route (a report's decision, an alert's status) closes its item."""
    desk = desk_of(request)
    who = getattr(request.state, "principal", None)
    desk.store.settle(kind, ref_id, outcome=outcome, actor=who.label if who is not None else "cvguard",
                      now=desk.now())


def queue_report(request: Request, report: Any) -> None:
    """A report filed: its item, with the report desk's priority and due time."""
    from cvguard.review import report_item

    desk = desk_of(request)
    desk.store.enqueue([
        report_item(report.report_id, priority=report.priority, reasons=report.priority_reasons,
                    filed_at=report.filed_at, due_at=report.due_at, category=report.category,
                    account_id=report.account_id)
    ])


# -- response times -------------------------------------------------------------------------------


class StatsOut(BaseModel):
    since: datetime
    until: datetime
    now: datetime
    sla_hours: dict[str, float]
    kinds: dict[str, dict[str, Any]] = Field(
        description="Per kind: decided, median_s, p90_s (time from entering the queue to the decision, "
        "nearest rank), within_sla (share of the decided), overdue_now (undecided past due, any age)."
    )
    staff: dict[str, dict[str, Any]] = Field(
        description="Per staff member (who decided; the assignee while undecided): the same figures."
    )


@router.get("/review/stats", response_model=StatsOut, responses=_INVALID, summary="Response times")
def review_stats(
    request: Request,
    since: Annotated[
        AwareDatetime | None, Query(description="Items that entered from (default: 30 days ago).")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Items that entered before (default: now).")
    ] = None,
) -> StatsOut:
    """Items that entered the queue in [since, until): how fast and how often in time they were decided."""
    desk = desk_of(request)
    now = desk.now()
    until = until.astimezone(UTC) if until is not None else now
    since = since.astimezone(UTC) if since is not None else until - timedelta(days=30)
    if since >= until:
        raise InputError("since must be before until", field="since")
    figures = review_figures(desk.store.timings(since=since, until=until), now)
    overdue = desk.store.overdue_now(now)
    for kind, values in figures["kinds"].items():
        values["overdue_now"] = overdue.get(kind, 0)
    return StatsOut(
        since=since, until=until, now=now,
        sla_hours={k: desk.rules.sla_hours[k] for k in ITEM_KINDS},
        kinds=figures["kinds"], staff=figures["staff"],
    )

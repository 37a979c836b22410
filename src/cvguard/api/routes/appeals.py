"""``/v1/sanctions/{id}/appeal``: an account's appeal against a sanction, and its outcome.

    POST /v1/sanctions/{id}/appeal   filed for the account (a platform call made for it) or by staff
    GET  /v1/sanctions/{id}/appeal   the appeal's status: the account (a call made for it) or staff

One appeal per sanction, filed before the deadline the sanction's statement names (``appeal_by``),
else ``appeal_window_days`` (``review/data/review.yaml``) from its start. It enters the review
queue (kind ``appeal``) and is decided there (``POST /v1/review/items/{id}/decision``) by a
moderator other than the first decider: the person the sanction names (``decided_by``
``person:<actor>``), else the person whose review decision it rests on (the statement's
``review_item_id``, or a person's decision on the content it names). Upheld: the sanction is
reversed (``Enforcement.reverse``) and the reversal's feed keys are kept on the appeal; either way
the account is told by an ``appeal_outcome`` feed action (``subject_type`` ``account``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from cvguard.api.auth import Principal, Role, authenticate, owner_or_staff
from cvguard.api.reviewdesk import ReviewDesk
from cvguard.api.routes.alerts import actor
from cvguard.api.routes.audit import record
from cvguard.api.routes.review import _PROBLEM, NO_NUL, ReviewAction, _feed, desk_of
from cvguard.enforcement import Enforcement, Sanction
from cvguard.errors import DataError
from cvguard.review import appeal_deadline, appeal_item
from cvguard.store.review import AlreadyDecided, Appeal

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["appeals"])

SanctionId = Annotated[
    str, Path(min_length=1, max_length=128, pattern=NO_NUL, description="The sanction's id.")
]
Caller = Annotated[Principal, Depends(authenticate)]
STAFF_WRITE: tuple[Role, ...] = ("moderator",)
STAFF_READ: tuple[Role, ...] = ("moderator", "auditor")
OUTCOME_KIND = "appeal_outcome"
MAX_TEXT = 4000


class AppealIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, max_length=MAX_TEXT, description="The account's reasons.")


class AppealOut(BaseModel):
    appeal_id: str
    sanction_id: str
    account_id: str
    filed_at: datetime
    deadline: datetime
    status: str = Field(description="pending, upheld or rejected.")
    outcome: str | None
    decided_at: datetime | None
    feed_keys: list[str] = Field(description="What the outcome appended to the action feed.")
    item_id: str | None = Field(default=None, description="Its review queue item (staff only).")
    staff: dict[str, Any] | None = Field(default=None, description="Staff only: text, filed_by, deciders.")

    @classmethod
    def of(cls, appeal: Appeal, *, staff: bool, item_id: str | None) -> AppealOut:
        extra = {
            "text": appeal.text, "filed_by": appeal.filed_by, "first_decider": appeal.first_decider,
            "reviewer": appeal.reviewer,
        } if staff else None
        return cls(**appeal.to_dict(), item_id=item_id if staff else None, staff=extra)


def _enforcement(request: Request) -> Enforcement:
    enforcement: Enforcement | None = desk_of(request).enforcement
    if enforcement is None:
        # no ledger here: there is no such sanction (a 4xx: nothing the caller can retry into)
        raise HTTPException(404, "sanctions are not kept by this deployment: there is nothing to appeal")
    return enforcement


def _sanction(request: Request, sanction_id: str) -> Sanction:
    found = _enforcement(request).sanction(sanction_id)
    if found is None:
        raise HTTPException(404, f"no sanction {sanction_id!r}")
    return found


def _is_staff(principal: Principal, roles: tuple[Role, ...]) -> bool:
    return principal.role == "admin" or principal.role in roles


# -- who decided first ----------------------------------------------------------------------------


def _names(principal: Principal) -> set[str]:
    """Every way a decider may be named in a record (the trail's label, role:key, key, name)."""
    return {principal.label, f"{principal.role}:{principal.key_id}", principal.key_id, principal.name,
            actor(principal)}


def same_person(principal: Principal, decider: str | None) -> bool:
    if not decider:
        return False
    decider = decider.removeprefix("person:")
    return decider in _names(principal)


def _content(statement: Mapping[str, Any]) -> Iterator[str]:
    """The event ids a statement of reasons names (``event_ids``, or ``content`` as ids or objects)."""
    for key in ("event_ids", "content"):
        value = statement.get(key)
        if isinstance(value, str):
            yield value
        elif isinstance(value, list | tuple):
            for x in value:
                if isinstance(x, str):
                    yield x
                elif isinstance(x, Mapping) and isinstance(x.get("event_id"), str):
                    yield x["event_id"]


def first_decider(desk: ReviewDesk, sanction: Sanction) -> str | None:
    """Who decided what is appealed: the person the sanction names, else the person whose review
    decision it rests on; None when no person did (the ladder alone)."""
    if sanction.decided_by.startswith("person:"):
        return sanction.decided_by.removeprefix("person:")
    item_id = sanction.statement.get("review_item_id")
    if isinstance(item_id, str):
        item = desk.store.get(item_id)
        if item is not None and item.decided_by:
            return item.decided_by
    for event_id in _content(sanction.statement):
        decision = desk.store.person_decision(event_id)
        if decision is not None:
            return decision.actor
    return None


def check_reviewer(desk: ReviewDesk, appeal_id: str, who: Principal) -> Appeal:
    """The appeal, when ``who`` may decide it (403 for its first decider)."""
    appeal = desk.store.get_appeal(appeal_id)
    if appeal is None:
        raise HTTPException(409, f"the item's appeal {appeal_id!r} is not in the review store")
    if same_person(who, appeal.first_decider):
        raise HTTPException(
            403, f"{appeal.first_decider} decided what is appealed: another moderator reviews the appeal"
        )
    return appeal


# -- routes ---------------------------------------------------------------------------------------


@router.post(
    "/sanctions/{sanction_id}/appeal",
    response_model=AppealOut,
    status_code=201,
    responses={
        404: {**_PROBLEM, "description": "No such sanction (or no sanctions kept here)."},
        409: {**_PROBLEM, "description": "Appealed already, or the appeal window closed."},
    },
    summary="Appeal a sanction (for the sanctioned account)",
)
def file_appeal(sanction_id: SanctionId, body: AppealIn, request: Request, principal: Caller) -> AppealOut:
    """The platform files for the sanctioned account (a key scoped to it, or `X-On-Behalf-Of`), or a
    moderator files for it. One appeal per sanction, before its deadline."""
    sanction = _sanction(request, sanction_id)
    owner_or_staff(request, principal, sanction.account_id, STAFF_WRITE)
    if principal.role == "auditor":
        raise HTTPException(403, "the auditor role may not do this (allowed: platform, moderator, admin)")
    desk = desk_of(request)
    now = desk.now()
    try:
        deadline = appeal_deadline(sanction.statement, sanction.starts_at, desk.rules)
    except DataError as exc:
        raise HTTPException(409, str(exc)) from None
    if now > deadline:
        raise HTTPException(
            409, f"the appeal window of sanction {sanction_id} closed at {deadline.isoformat()}"
        )
    try:
        appeal = desk.store.file_appeal(
            sanction_id=sanction_id, account_id=sanction.account_id, filed_by=principal.label,
            deadline=deadline, text=body.text, first_decider=first_decider(desk, sanction), now=now,
        )
    except AlreadyDecided as exc:
        raise HTTPException(409, str(exc)) from None
    desk.store.enqueue([
        appeal_item(appeal.appeal_id, sanction_id=sanction_id, sanction_kind=sanction.kind,
                    account_id=sanction.account_id, now=now, rules=desk.rules)
    ])
    item = desk.store.by_ref("appeal", appeal.appeal_id)
    record(request, "appeal.filed", ("appeal", appeal.appeal_id),
           inputs={"sanction_id": sanction_id, "text_chars": len(body.text or "")},
           after={"status": appeal.status, "deadline": deadline.isoformat(),
                  "first_decider": appeal.first_decider})
    log.info("appeal %s filed against sanction %s", appeal.appeal_id, sanction_id)
    return AppealOut.of(appeal, staff=_is_staff(principal, STAFF_WRITE),
                        item_id=item.item_id if item else None)


@router.get(
    "/sanctions/{sanction_id}/appeal",
    response_model=AppealOut,
    responses={404: {**_PROBLEM, "description": "No such sanction, or no appeal against it."}},
    summary="The appeal against a sanction",
)
def get_appeal(sanction_id: SanctionId, request: Request, principal: Caller) -> AppealOut:
    sanction = _sanction(request, sanction_id)
    owner_or_staff(request, principal, sanction.account_id, STAFF_READ)
    desk = desk_of(request)
    appeal = desk.store.appeal_of(sanction_id)
    if appeal is None:
        raise HTTPException(404, f"sanction {sanction_id} has not been appealed")
    item = desk.store.by_ref("appeal", appeal.appeal_id)
    staff = _is_staff(principal, STAFF_READ)
    return AppealOut.of(appeal, staff=staff, item_id=item.item_id if item else None)


# -- the outcome (called by the review decision) --------------------------------------------------


def decide_appeal(
    request: Request, desk: ReviewDesk, appeal: Appeal, *, outcome: str, note: str | None, who: Principal,
    now: datetime,
) -> tuple[list[str], dict[str, Any]]:
    """Reverse the sanction when upheld, tell the account either way, record the outcome (once)."""
    keys: list[str] = list(appeal.feed_keys)
    reversal: dict[str, Any] | None = None
    if appeal.status == "pending":
        if outcome == "upheld":
            done = _enforcement(request).reverse(
                appeal.sanction_id, actor=who.label, now=now,
                reason=note or f"appeal {appeal.appeal_id} upheld",
            )
            reversal = {
                "violations_reversed": list(done.violations_reversed),
                "sanctions_lifted": list(done.sanctions_lifted),
                "content_restored": list(done.content_restored),
                "feed_keys": list(done.feed_keys),
            }
            keys = list(done.feed_keys)
        told = ReviewAction(
            key=f"{OUTCOME_KIND}:{appeal.appeal_id}", kind=OUTCOME_KIND, surface="account",
            subject_type="account", subject=appeal.account_id,
            reason=f"the appeal against sanction {appeal.sanction_id} was {outcome}",
            params=MappingProxyType({"appeal_id": appeal.appeal_id, "sanction_id": appeal.sanction_id,
                                     "outcome": outcome, "reversal": reversal}),
        )
        keys += [e.key for e in _feed(request).append([told])]
        before = appeal
        appeal = desk.store.decide_appeal(appeal.appeal_id, outcome=outcome, reviewer=who.label, now=now,
                                          feed_keys=keys)
        record(request, "appeal.outcome", ("appeal", appeal.appeal_id),
               inputs={"outcome": outcome, "note": note, "sanction_id": appeal.sanction_id},
               before={"status": before.status}, after={"status": appeal.status, "reversal": reversal,
                                                        "feed_keys": keys})
    return keys, {**appeal.to_dict(), "reviewer": appeal.reviewer}

"""``GET /v1/escalations``: repeated abusive private messages from one sender to one person.

When a sender's abusive messages to one recipient reach ``CVGUARD_DM_ABUSE_ESCALATE_AFTER`` within
``CVGUARD_DM_ABUSE_WINDOW_S`` of event time, the pipeline records an escalation (``store.dm``): the
sender, the recipient, the rule, the count, the event ids and the event times; it is updated while
the episode goes on. Staff read them (moderator, auditor, admin), never a platform key: they are
the record later accountability work starts from.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from cvguard.api.deps import PipelineDep
from cvguard.api.routes.alerts import NO_NUL, EventTime, event_store
from cvguard.api.schemas import Problem
from cvguard.store.dm import EscalationStore, StoredEscalation

router = APIRouter(prefix="/v1", tags=["escalations"])

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
UserId = Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)]


class EscalationOut(BaseModel):
    escalation_id: str = Field(description="dm-repeated-abuse:SENDER:RECIPIENT:EPISODE")
    sender_id: str
    recipient_id: str
    rule: str = Field(description="The escalation rule: dm-repeated-abuse.")
    count: int = Field(description="Abusive messages in the episode so far.")
    threshold: int = Field(description="Abusive messages within the window that escalate.")
    window_s: float
    event_ids: list[str] = Field(description="The messages, in event-time order (at most 100).")
    first_at: datetime = Field(description="Event time of the episode's first abusive message.")
    last_at: datetime = Field(description="Event time of its latest.")
    raised_at: datetime = Field(description="Event time the threshold was reached.")
    recorded_at: datetime = Field(description="Wall-clock time of the last write.")

    @classmethod
    def of(cls, stored: StoredEscalation) -> EscalationOut:
        return cls.model_validate(stored.to_dict())


class EscalationsOut(BaseModel):
    escalations: list[EscalationOut] = Field(description="Newest first (by the latest message).")


@router.get(
    "/escalations",
    response_model=EscalationsOut,
    responses={422: {**_PROBLEM, "description": "A bad filter."}},
    summary="Escalations of repeated abusive private messages",
)
def list_escalations(
    pipeline: PipelineDep,
    sender_id: UserId = None,
    recipient_id: UserId = None,
    since: Annotated[
        EventTime | None, Query(alias="from", description="Latest message at or after this event time.")
    ] = None,
    until: Annotated[
        EventTime | None, Query(alias="to", description="Latest message before this event time.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EscalationsOut:
    found = EscalationStore(event_store(pipeline).engine).list(
        sender_id=sender_id, recipient_id=recipient_id, since=since, until=until, limit=limit
    )
    return EscalationsOut(escalations=[EscalationOut.of(e) for e in found])


@router.get(
    "/escalations/{escalation_id:path}",
    response_model=EscalationOut,
    responses={404: {**_PROBLEM, "description": "No such escalation."}},
    summary="One escalation",
)
def get_escalation(
    escalation_id: Annotated[str, Path(min_length=1, max_length=256, pattern=NO_NUL)], pipeline: PipelineDep
) -> EscalationOut:
    found = EscalationStore(event_store(pipeline).engine).get(escalation_id)
    if found is None:
        raise HTTPException(404, f"there is no escalation {escalation_id!r}")
    return EscalationOut.of(found)

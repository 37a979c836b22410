"""``GET /v1/decisions/{event_id}``: what the policy decided about a published event, and why.

Every event ingested is decided once, at ingest, by the policy active then (``POST /v1/events``
answers the decision; in scale-out mode the API node decides before queueing). The stored decision
names the action and its params, the winning rule and its reason, every rule that matched, the
verdict's score, severity, categories and spans, the alert ids behind it and the policy name and
version. A shadow candidate's decisions (shadow mode) are recorded beside it, never served here.
A moderator's later decision on the content (the review queue) is ``person``: it beats the policy's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, Field

from cvguard.api.deps import PipelineDep
from cvguard.api.routes.alerts import NO_NUL, event_store
from cvguard.api.schemas import EventDecision, Problem, SpanOut

router = APIRouter(prefix="/v1", tags=["decisions"])

EventId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL)]
_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}


class PersonDecisionOut(BaseModel):
    action: str = Field(description="restore or remove: a moderator's decision, which beats the policy's.")
    at: datetime = Field(description="When the moderator decided (wall clock).")


class StoredDecisionOut(EventDecision):
    surface: str
    policy: str
    score: float
    severity: str | None
    categories: dict[str, float]
    spans: list[SpanOut]
    decided_at: datetime = Field(description="The event's time (decisions are made at ingest).")
    person: PersonDecisionOut | None = Field(
        default=None, description="A moderator's decision on the content since (the review queue), if any."
    )


@router.get(
    "/decisions/{event_id:path}",
    response_model=StoredDecisionOut,
    responses={
        404: {**_PROBLEM, "description": "No decision recorded for this event."},
        422: {**_PROBLEM, "description": "The id is not one an event can have."},
    },
    summary="The decision made about one event",
)
def get_decision(event_id: EventId, pipeline: PipelineDep, request: Request) -> StoredDecisionOut:
    """The active policy's decision about the event, as recorded at ingest."""
    found = event_store(pipeline).get_decision(event_id)
    if found is None:
        raise HTTPException(404, f"there is no decision about event {event_id!r}")
    data = {**found.decision, "decided_at": found.decided_at}
    shown = {k: data.get(k) for k in StoredDecisionOut.model_fields}
    nudge = shown.get("nudge")
    if isinstance(nudge, dict):  # a nudge is known by its decision's event id
        shown["nudge"] = {**nudge, "id": found.event_id}
    person = request.app.state.review.store.person_decision(event_id)
    if person is not None:
        shown["person"] = {"action": person.action, "at": person.at}
    return StoredDecisionOut.model_validate(shown)

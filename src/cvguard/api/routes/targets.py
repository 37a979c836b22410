"""``GET /v1/targets/{id}`` and ``GET /v1/topics/{id}``: risk, level and history of one subject.

"Now" is the pipeline's event clock (the newest event time it has seen), so the answer after a
replay of last month's stream is last month's state. Behaviour state gives the live windows (the
embedded pipeline's, or in scale-out mode the state the workers share); the store gives the
abusive events in the window and the alerts.

The abusive events carry their text and the spans the verdict found only for roles that may read
texts (moderator, auditor, admin; ``api.auth.can_read_texts``), never for platform keys.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from cvguard.api.auth import can_read_texts, current_principal
from cvguard.api.deps import BehaviourDep, PipelineDep
from cvguard.api.routes.alerts import NO_NUL, event_store
from cvguard.api.routes.events import AlertOut
from cvguard.api.schemas import SpanOut
from cvguard.store import EventText, TimelineEntry

router = APIRouter(prefix="/v1", tags=["targets and topics"])

SubjectId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL)]


class AbusiveEvent(BaseModel):
    event_id: str
    occurred_at: datetime
    author_id: str
    surface: str
    thread_id: str | None
    score: float
    severity: str | None
    category: str | None
    text: str | None = Field(
        default=None,
        description="The message, for roles that may read texts; null otherwise, and once retention "
        "purged it (then text_purged is true).",
    )
    text_purged: bool | None = Field(
        default=None,
        description="True when retention dropped the text (null for roles that may not read it).",
    )
    spans: list[SpanOut] | None = Field(
        default=None, description="Where the verdict found abuse in the text (for roles that may read it)."
    )

    @classmethod
    def of(cls, entry: TimelineEntry, shown: EventText | None = None) -> AbusiveEvent:
        """The event; with ``shown``, its text (or that it was purged) and spans too."""
        out = cls.model_validate(entry, from_attributes=True)
        if shown is not None:
            out.text = shown.text
            out.text_purged = shown.text is None
            out.spans = [SpanOut.model_validate(s, from_attributes=True) for s in shown.spans]
        return out


class TargetOut(BaseModel):
    target_id: str
    as_of: datetime = Field(description="The event time this state is at (the newest event seen).")
    risk: float = Field(ge=0.0, le=1.0, description="How likely this user is being piled on now.")
    level: str | None = Field(description="The highest open alert level: watch, warning, critical.")
    pile_on: dict[str, Any] = Field(description="Windowed counts, senders, strangers, new accounts, surge.")
    incitement: dict[str, Any]
    timeline: list[list[Any]] = Field(description="Abusive messages per time bucket (behaviour windows).")
    abusive_events: list[AbusiveEvent] = Field(
        description="Stored abusive events aimed at the user (with their text for roles that may read it)."
    )
    alerts: list[AlertOut] = Field(description="Stored alerts about this user, newest first.")


class TopicOut(BaseModel):
    topic_id: str
    as_of: datetime
    risk: float = Field(ge=0.0, le=1.0)
    level: str | None
    behaviour: dict[str, Any] = Field(description="The topic detector's evidence now.")
    events: int = Field(description="Stored events in the topic.")
    abusive_events: int
    abusive_share: float
    authors: int
    abusive_authors: int
    first_at: datetime | None
    last_at: datetime | None
    categories: dict[str, int] = Field(description="Abusive events by top category.")
    alerts: list[AlertOut]


@router.get("/targets/{target_id}", response_model=TargetOut, summary="A user's pile-on risk and timeline")
def get_target(
    target_id: SubjectId,
    request: Request,
    pipeline: PipelineDep,
    view: BehaviourDep,
    hours: Annotated[float, Query(gt=0, le=24 * 30, description="How far back abusive events go.")] = 24,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many abusive events.")] = 200,
) -> TargetOut:
    """Risk and level from the live behaviour windows, with the abusive events and alerts stored;
    moderators, auditors and admins also see each abusive event's text and spans."""
    at, state = view.target_state(target_id)
    store = event_store(pipeline)
    entries = store.target_timeline(
        target_id, since=at - timedelta(hours=hours), until=at + timedelta(microseconds=1), limit=limit
    )
    stored = store.list_alerts(subject_id=target_id, subject_type="user", limit=100)
    readable = can_read_texts(current_principal(request))
    texts = store.event_texts([e.event_id for e in entries]) if readable else None
    return TargetOut(
        target_id=target_id,
        as_of=at,
        risk=state.risk,
        level=state.level,
        pile_on=state.pile_on,
        incitement=state.incitement,
        timeline=state.timeline,
        abusive_events=[
            AbusiveEvent.of(e, None if texts is None else texts.get(e.event_id, EventText(None, ())))
            for e in entries
        ],
        alerts=[AlertOut.of(a) for a in stored],
    )


@router.get("/topics/{topic_id}", response_model=TopicOut, summary="A topic's tendency towards violence")
def get_topic(topic_id: SubjectId, pipeline: PipelineDep, view: BehaviourDep) -> TopicOut:
    """The topic detector's live view with the stored volume, abusive share and alerts."""
    at, state = view.topic_state(topic_id)
    store = event_store(pipeline)
    summary = store.topic_summary(topic_id)
    stored = store.list_alerts(subject_id=topic_id, subject_type="topic", limit=100)
    return TopicOut(
        topic_id=topic_id,
        as_of=at,
        risk=state.risk,
        level=state.level,
        behaviour=state.behaviour,
        events=summary.events,
        abusive_events=summary.abusive_events,
        abusive_share=round(summary.abusive_share, 4),
        authors=summary.authors,
        abusive_authors=summary.abusive_authors,
        first_at=summary.first_at,
        last_at=summary.last_at,
        categories=summary.categories,
        alerts=[AlertOut.of(a) for a in stored],
    )

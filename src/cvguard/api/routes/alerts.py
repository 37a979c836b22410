"""``GET /v1/alerts``: stored alerts, filtered by subject, kind, minimum level and recency."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from cvguard.api.deps import PipelineDep
from cvguard.api.routes.events import AlertOut
from cvguard.api.schemas import IsoDateTime, Problem
from cvguard.errors import InputError
from cvguard.store import EventStore

router = APIRouter(prefix="/v1", tags=["alerts"])

Kind = Literal["pile_on", "incitement", "brigade", "topic"]
Level = Literal["watch", "warning", "critical"]


class AlertList(BaseModel):
    alerts: list[AlertOut]


def event_store(pipeline: PipelineDep) -> EventStore:
    store = pipeline.store
    if not isinstance(store, EventStore):  # a pipeline built on a twin store has no reads
        raise InputError("this server's pipeline has no queryable store")
    return store


@router.get(
    "/alerts",
    response_model=AlertList,
    responses={422: {"model": Problem, "content": {"application/problem+json": {}}}},
    summary="List alerts",
)
def list_alerts(
    pipeline: PipelineDep,
    subject_id: Annotated[
        str | None, Query(max_length=128, description="A user, thread or topic id.")
    ] = None,
    kind: Annotated[Kind | None, Query(description="Only alerts of this kind.")] = None,
    level: Annotated[Level | None, Query(description="Only alerts at this level or higher.")] = None,
    since: Annotated[
        IsoDateTime | None,
        Query(description="Only alerts raised or escalated at or after this event time (with a timezone)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlertList:
    """Alerts most recently escalated first; each names its subject and the events behind it."""
    if since is not None and since.tzinfo is None:
        raise InputError("since must carry a timezone (e.g. 2026-11-24T08:00:00Z)", field="since")
    found = event_store(pipeline).list_alerts(
        subject_id=subject_id, kind=kind, level_at_least=level, since=since, limit=limit
    )
    return AlertList(alerts=[AlertOut.of(a) for a in found])

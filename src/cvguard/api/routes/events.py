"""``POST /v1/events``: one event or a batch into the pipeline; every bad event is named, none dropped.

One event (the Event object itself): 200 with the counts and the alerts it raised, or a problem
document — 422 naming the field and why, 413 for a text over the limit. A batch
(``{"events": [...]}``): the good events are ingested and the bad ones listed with their index,
``event_id`` and per-field errors; 200 when all were good, 207 when some were not. Ingestion is
idempotent by ``event_id``: a repost counts as a duplicate and changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request, Response
from pydantic import BaseModel, Field

from cvguard.api.deps import IngestDep, SettingsDep
from cvguard.api.problems import PayloadTooLarge
from cvguard.api.schemas import Problem
from cvguard.config import Settings
from cvguard.errors import InputError, TextTooLarge
from cvguard.events import Event, parse_events
from cvguard.pipeline import Pipeline
from cvguard.store import AlertLike

router = APIRouter(prefix="/v1", tags=["events"])


class FieldError(BaseModel):
    field: str = Field(description='The field at fault, e.g. "author.id" or "occurred_at".')
    error: str


class RejectedEvent(BaseModel):
    index: int = Field(description="Position of the event in the batch.")
    event_id: str | None
    errors: list[FieldError]


class AlertOut(BaseModel):
    """An alert: its subject, kind and level, when it was raised and last escalated, and why; once
    stored, its status (who set it, when), and when and why behaviour resolved it."""

    alert_id: str = Field(description="Stable per episode: an escalation keeps the id.")
    kind: str = Field(description="pile_on, incitement, brigade or topic.")
    subject_type: str = Field(description="user, thread, topic (or cluster for a brigade without one).")
    subject_id: str
    level: str = Field(description="watch, warning or critical.")
    raised_at: datetime = Field(description="Event time the episode was first raised.")
    updated_at: datetime = Field(description="Event time of the latest escalation or refresh.")
    evidence: dict[str, Any] = Field(description="Counts, distinct senders, timeline, ...")
    event_ids: list[str] = Field(description="Events behind the alert (a sample).")
    status: str | None = Field(
        default=None,
        description="open, acknowledged, resolved or false_positive (stored alerts): resolved by "
        "behaviour when the episode subsides, unless a person set it (status_by), which nothing "
        "automatic overwrites.",
    )
    resolved_at: datetime | None = Field(
        default=None, description="Event time the behaviour subsided (null while it goes on)."
    )
    resolution: str | None = Field(default=None, description="Why behaviour considers the episode over.")
    status_by: str | None = Field(
        default=None, description="Who set the status (an API key's name and id); null: automation."
    )
    status_at: datetime | None = Field(default=None, description="Wall-clock time (UTC) they set it.")

    @classmethod
    def of(cls, alert: AlertLike) -> AlertOut:
        """From a fresh behaviour alert or a stored one (which also carries its status)."""
        return cls(
            alert_id=alert.alert_id,
            kind=alert.kind,
            subject_type=alert.subject_type,
            subject_id=alert.subject_id,
            level=alert.level,
            raised_at=alert.raised_at,
            updated_at=alert.updated_at,
            evidence=dict(alert.evidence),
            event_ids=list(alert.event_ids),
            status=getattr(alert, "status", None),
            resolved_at=getattr(alert, "resolved_at", None),
            resolution=getattr(alert, "resolution", None),
            status_by=getattr(alert, "status_by", None),
            status_at=getattr(alert, "status_at", None),
        )


class IngestOut(BaseModel):
    """What happened to the events sent: ``accepted + duplicates + len(errors)`` is how many came."""

    accepted: int = Field(description="New events stored and processed.")
    duplicates: int = Field(description="Events whose event_id was already stored (nothing changed).")
    errors: list[RejectedEvent] = Field(description="Every event refused, with why.")
    event_ids: list[str] = Field(description="The ids of the accepted (or, when queued, the queued) events.")
    alerts: list[AlertOut] = Field(description="Alerts these events raised or escalated.")
    queued: int = Field(
        default=0,
        description="Scale-out mode (202): events handed to the workers' stream, to be screened and "
        "stored shortly; accepted, duplicates and alerts are then not known yet (see GET /v1/alerts).",
    )


class EventBatch(BaseModel):
    """A batch of events (documentation model: events are validated one by one)."""

    events: list[Event]


_PROBLEMS: dict[int | str, dict[str, Any]] = {
    202: {"model": IngestOut, "description": "Scale-out mode: the good events are queued for the workers."},
    207: {"model": IngestOut, "description": "A batch in which some events were refused (see `errors`)."},
    **{
        status: {"model": Problem, "content": {"application/problem+json": {}}, "description": why}
        for status, why in (
            (400, "The body is not valid JSON."),
            (413, "The body, the batch or a single event's text is over its limit."),
            (422, "A single event is invalid: `errors` names the field and why."),
            (503, "The event store or stream is unavailable, or the workers are far behind; retry "
                  "(reposting is safe)."),
        )
    },
}

_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Event"},
                        {"$ref": "#/components/schemas/EventBatch"},
                    ]
                },
                "examples": {
                    "single": {
                        "value": {
                            "event_id": "ev-1",
                            "surface": "comment",
                            "occurred_at": "2026-11-24T08:00:00Z",
                            "author": {"id": "u1", "created_at": "2026-11-20T00:00:00Z"},
                            "text": "大家去他评论区骂他",
                            "target_ids": ["u2"],
                            "thread_id": "t1",
                        }
                    }
                },
            }
        },
    }
}


@router.post(
    "/events",
    response_model=IngestOut,
    responses=_PROBLEMS,
    summary="Ingest one event or a batch",
    openapi_extra=_BODY_DOC,
)
def post_events(
    payload: Annotated[Any, Body()],
    response: Response,
    settings: SettingsDep,
    request: Request,
    queue: IngestDep,
) -> IngestOut:
    """Send one Event object, or `{"events": [...]}`. Good events are stored, screened and fed to
    the behaviour detectors (or, in scale-out mode, queued for the workers: 202); bad ones are
    refused with the field and the reason, never dropped."""
    good, bad = _received(payload, settings)
    if queue is not None:
        queue.publish(good)
        response.status_code = 202
        return IngestOut(
            accepted=0,
            duplicates=0,
            errors=[RejectedEvent.model_validate(b) for b in bad],
            event_ids=[e.event_id for e in good],
            alerts=[],
            queued=len(good),
        )
    pipeline: Pipeline = request.app.state.pipeline()
    result = pipeline.ingest(good)
    if bad:
        response.status_code = 207
    return IngestOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        errors=[RejectedEvent.model_validate(b) for b in bad],
        event_ids=result.new_ids,
        alerts=[AlertOut.of(a) for a in result.alerts],
    )


def _received(payload: Any, settings: Settings) -> tuple[list[Event], list[dict[str, Any]]]:
    """The good events of a body, and the refused ones of a batch; a bad single event raises."""
    if isinstance(payload, dict) and "events" in payload and "event_id" not in payload:
        raws = payload["events"]
        if not isinstance(raws, list):
            raise InputError('"events" must be a list of event objects', field="events")
        if len(raws) > settings.max_batch:
            raise PayloadTooLarge(f"the batch has {len(raws)} events; the limit is {settings.max_batch}")
        return _validate_batch(raws, settings.max_text_chars)
    if not isinstance(payload, dict):
        raise InputError('send one event object or {"events": [...]}', field="body")
    events, refused = parse_events([payload])
    if refused:
        first = refused[0]["errors"][0]
        error = first["error"].removeprefix("Value error, ")
        raise InputError(f"{first['field']}: {error}", field=first["field"])
    _check_text(events[0], settings.max_text_chars)
    return events, []


def _check_text(event: Event, limit: int) -> None:
    if len(event.text) > limit:
        raise TextTooLarge(f"text has {len(event.text)} characters; the limit is {limit}", field="text")


def _validate_batch(raws: list[Any], limit: int) -> tuple[list[Event], list[dict[str, Any]]]:
    """The good events, and every bad one with its index, id and all its field errors."""
    good: list[Event] = []
    bad: list[dict[str, Any]] = []
    for i, raw in enumerate(raws):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        shown = {"index": i, "event_id": event_id if isinstance(event_id, str) else None}
        ok, refused = parse_events([raw])
        if refused:
            errors = [{**e, "error": e["error"].removeprefix("Value error, ")} for e in refused[0]["errors"]]
            bad.append({**shown, "errors": errors})
        elif len(ok[0].text) > limit:
            error = f"has {len(ok[0].text)} characters; the limit is {limit}"
            bad.append({**shown, "errors": [{"field": "text", "error": error}]})
        else:
            good.append(ok[0])
    return good, bad


def document(app: FastAPI) -> None:
    """Put the Event and EventBatch schemas into the OpenAPI components the request body refers to."""
    schema = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    components = {**schema.pop("$defs", {}), "EventBatch": schema}
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]

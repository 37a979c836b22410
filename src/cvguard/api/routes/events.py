"""``POST /v1/events``: one event or a batch into the pipeline; every bad event is named, none dropped.

One event (the Event object itself): 200 with the counts and the alerts it raised, or a problem
document — 422 naming the field and why, 413 for a text over the limit. A batch
(``{"events": [...]}``): the good events are ingested and the bad ones listed with their index,
``event_id`` and per-field errors; 200 when all were good, 207 when some were not. Ingestion is
idempotent by ``event_id``: a repost counts as a duplicate and changes nothing; the same id with a
different text is a conflict (``conflicts``), and the stored version stays.

Time: an event dated more than ``CVGUARD_MAX_CLOCK_SKEW_S`` (300 s) ahead of the server's clock is
refused like any invalid field (``occurred_at``), so no event can drag the event clock into the
future. One more than the detectors' lateness (10 minutes) behind the newest event is stored and
screened, its verdict kept, but not fed to the behaviour windows: it is listed in ``late``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Request, Response
from pydantic import BaseModel, Field

from cvguard.api.deps import IngestDep, SettingsDep
from cvguard.api.problems import PayloadTooLarge, document_errors
from cvguard.api.scaleout import SharedView
from cvguard.api.schemas import EventDecision, Problem
from cvguard.config import Settings
from cvguard.errors import InputError, TextTooLarge
from cvguard.events import Event, parse_events
from cvguard.pipeline import Pipeline
from cvguard.pipeline.clock import WallGate
from cvguard.policy import Decision
from cvguard.store import AlertLike, EventStore
from cvguard.store.dm import EscalationStore
from cvguard.store.port import DecisionStore

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
    """What happened to the events sent: ``accepted + duplicates + len(conflicts) + len(errors)`` is
    how many came (``late`` ones are among the accepted)."""

    accepted: int = Field(description="New events stored and processed.")
    duplicates: int = Field(description="Events whose event_id was already stored (nothing changed).")
    conflicts: list[str] = Field(
        default_factory=list,
        description="Ids already stored with a different text: not stored again, the first version stays.",
    )
    late: int = Field(
        default=0,
        description="Accepted events more than the behaviour lateness (10 min) behind the newest event: "
        "stored and screened, their verdicts kept, but not fed to the behaviour windows.",
    )
    late_ids: list[str] = Field(default_factory=list, description="The ids of the late events.")
    errors: list[RejectedEvent] = Field(description="Every event refused, with why.")
    event_ids: list[str] = Field(description="The ids of the accepted (or, when queued, the queued) events.")
    alerts: list[AlertOut] = Field(description="Alerts these events raised or escalated.")
    decisions: list[EventDecision] = Field(
        default_factory=list,
        description="What to do with each accepted (or, when queued, each queued) event, in the order "
        "of event_ids: the action on its surface, the rule and reason, the alerts behind it and the "
        "policy version (docs/POLICY.md). Also served later by GET /v1/decisions/{event_id}.",
    )
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
    indexed, bad = _received(payload, settings)
    pipeline: Pipeline | None = request.app.state.pipeline() if queue is None else None
    # the pipeline's own gate in embedded mode (its wall clock can be injected); else the settings'
    gate = pipeline.gate if pipeline is not None and isinstance(pipeline.gate, WallGate) else None
    good = _refuse_future(indexed, bad, gate or WallGate(settings.max_clock_skew_s), single=_single(payload))
    errors = [RejectedEvent.model_validate(b) for b in sorted(bad, key=lambda b: int(b["index"]))]
    if queue is not None:
        decided = _decide_queued(request, good)
        queue.publish(good)
        response.status_code = 202
        return IngestOut(
            accepted=0,
            duplicates=0,
            errors=errors,
            event_ids=[e.event_id for e in good],
            alerts=[],
            queued=len(good),
            decisions=[EventDecision.of(d) for d in decided],
        )
    assert pipeline is not None
    result = pipeline.ingest(good)
    if bad:
        response.status_code = 207
    return IngestOut(
        accepted=result.accepted,
        duplicates=result.duplicates,
        conflicts=result.conflicts,
        late=len(result.late),
        late_ids=result.late,
        errors=errors,
        event_ids=result.new_ids,
        alerts=[AlertOut.of(a) for a in result.alerts],
        decisions=[EventDecision.of(d) for d in result.decisions],
    )


def _decide_queued(request: Request, good: list[Event]) -> list[Decision]:
    """Scale-out: screen the events here, decide them against the shared behaviour state, record
    the decisions (``api.scaleout``); the workers screen and store the events themselves."""
    if not good:
        return []
    state = request.app.state
    view = state.behaviour()
    if not isinstance(view, SharedView):
        return []
    verdicts = state.screener().screen_many([e.text for e in good])
    first: dict[str, int] = {}
    for i, e in enumerate(good):
        first.setdefault(e.event_id, i)
    items = [(good[i], verdicts[i]) for i in first.values()]
    pipeline = state.pipeline()
    people = pipeline.people  # protection (pipeline.protection): shields and key groups
    if people is not None:
        people.refresh()
    decided = view.decide(items, state.policy, getattr(state, "shadow_policy", None), people)
    store = pipeline.store
    if isinstance(store, DecisionStore):
        store.add_decisions(decided.records)
    if decided.escalations and isinstance(store, EventStore):  # repeated abusive DMs (store.dm)
        EscalationStore(store.engine).upsert(decided.escalations)
    if people is not None:
        people.file(items, decided.decisions)  # held back: into the targets' filtered folders
    review = getattr(pipeline, "review", None)  # the staff review queue (pipeline.review)
    if review is not None:
        review.held(items, decided.decisions)
        review.escalations(decided.escalations)
    return decided.decisions


def _single(payload: Any) -> bool:
    return not (isinstance(payload, dict) and "events" in payload and "event_id" not in payload)


def _refuse_future(
    indexed: list[tuple[int, Event]], bad: list[dict[str, Any]], gate: WallGate, *, single: bool
) -> list[Event]:
    """The events not ahead of the server's clock by more than the skew; the others join ``bad``
    (a single event: raises, as for any invalid field)."""
    limit = gate.limit()
    good: list[Event] = []
    for i, event in indexed:
        why = gate.refusal(event.occurred_at, limit)
        if why is None:
            good.append(event)
        elif single:
            raise InputError(f"occurred_at: {why}", field="occurred_at")
        else:
            bad.append({"index": i, "event_id": event.event_id,
                        "errors": [{"field": "occurred_at", "error": why}]})
    return good


def _received(payload: Any, settings: Settings) -> tuple[list[tuple[int, Event]], list[dict[str, Any]]]:
    """The good events of a body (with their index), and the refused ones of a batch; a bad single
    event raises."""
    if not _single(payload):
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
    return [(0, events[0])], []


def _check_text(event: Event, limit: int) -> None:
    if len(event.text) > limit:
        raise TextTooLarge(f"text has {len(event.text)} characters; the limit is {limit}", field="text")


def _validate_batch(raws: list[Any], limit: int) -> tuple[list[tuple[int, Event]], list[dict[str, Any]]]:
    """The good events (with their index), and every bad one with its index, id and all its field
    errors."""
    good: list[tuple[int, Event]] = []
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
            good.append((i, ok[0]))
    return good, bad


def document(app: FastAPI) -> None:
    """Put the Event and EventBatch schemas into the OpenAPI components the request body refers to,
    and declare every error response as what the API sends (``problems.document_errors``)."""
    schema = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
    components = {**schema.pop("$defs", {}), "EventBatch": schema}
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
            document_errors(spec)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]

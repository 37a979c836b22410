"""Request and response bodies of the HTTP API; these models are what ``/openapi.json`` documents."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator

from cvguard.policy import Decision
from cvguard.verdict import Verdict


def _iso_datetime(value: object) -> datetime:
    """An ISO 8601 date-time with a timezone, and nothing else (no epoch numbers, no bare dates)."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be an ISO 8601 date-time, e.g. 2026-11-24T08:00:00Z") from None
        if "T" not in value.upper() and " " not in value:
            raise ValueError("must be a date-time, not a date, e.g. 2026-11-24T08:00:00Z")
    else:
        raise ValueError("must be an ISO 8601 date-time, e.g. 2026-11-24T08:00:00Z")
    if parsed.tzinfo is None:
        raise ValueError("must carry a timezone (e.g. 2026-11-24T08:00:00Z)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


# A query parameter (or field) that takes a timezone-aware ISO 8601 date-time, as the schema says.
IsoDateTime = Annotated[
    datetime,
    PlainValidator(_iso_datetime),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ScreenItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int = Field(description="The caller's id for this text, echoed back in the result.")
    text: str


class ScreenRequest(BaseModel):
    """Either one text (``{"text": ...}``) or a batch (``{"items": [{"id", "text"}, ...]}``)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "你这种人就该去死"},
                {"items": [{"id": "c1", "text": "说得好"}, {"id": "c2", "text": "大家去他评论区骂他"}]},
            ]
        },
    )

    text: str | None = Field(default=None, description="A single text to screen.")
    items: list[ScreenItem] | None = Field(default=None, description="A batch of texts to screen.")

    @model_validator(mode="after")
    def _one_of(self) -> ScreenRequest:
        if (self.text is None) == (self.items is None):
            raise ValueError('send exactly one of "text" or "items"')
        return self


class SpanOut(BaseModel):
    start: int = Field(description="Code-point offset into the original text.")
    end: int
    term: str
    category: str
    source: Literal["lexicon", "pii", "model", "context"]
    severity: str
    match: str
    weight: float


class VerdictOut(BaseModel):
    violation: bool
    score: float = Field(ge=0.0, le=1.0)
    severity: str | None
    categories: dict[str, float]
    spans: list[SpanOut]
    versions: dict[str, str]
    notes: list[str]
    decided_by: str = Field(
        default="builtin",
        description='Which model decided: "builtin", or the name of the platform\'s own model when the '
        "built-in model was uncertain and the model port's plug-in scored the text.",
    )
    model_scores: dict[str, float] = Field(
        default_factory=dict,
        description="Each model's score when the plug-in was consulted (built-in and plug-in); "
        "empty otherwise. A plug-in that failed has no score here and a note says why.",
    )

    @classmethod
    def of(cls, verdict: Verdict) -> VerdictOut:
        return cls.model_validate(verdict.to_dict())


class BatchResultOut(VerdictOut):
    id: str | int

    @classmethod
    def of_item(cls, item_id: str | int, verdict: Verdict) -> BatchResultOut:
        data: dict[str, Any] = verdict.to_dict()
        data["id"] = item_id
        return cls.model_validate(data)


class BatchOut(BaseModel):
    results: list[BatchResultOut]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str


class ProblemError(BaseModel):
    loc: str = Field(description='Where in the request, e.g. "items[3].text".')
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document (``application/problem+json``)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[ProblemError] | None = None


# Decisions about published events (POST /v1/events, GET /v1/decisions/{event_id}).


class MatchOut(BaseModel):
    rule_id: str
    action: str
    priority: int
    reason: str


class NudgeOut(BaseModel):
    id: str | None = Field(
        default=None,
        description="The nudge's id: the event id of the decision. Report what the writer did with "
        "POST /v1/nudges/{id}/outcome.",
    )
    reason: str = Field(description="The pre-publish pop-up's text.")
    spans: list[SpanOut] = Field(description="The words to highlight.")


class EventDecision(BaseModel):
    """What the platform does with one event it published, and why (docs/POLICY.md)."""

    event_id: str
    action: str = Field(description="The surface's action: allow, nudge, fold, hide_from_target, ...")
    params: dict[str, Any]
    rule_id: str | None = Field(description="The winning rule; null: none matched (the surface's fallback).")
    reason: str
    matched: list[MatchOut] = Field(description="Every rule that matched, in the policy's order.")
    alert_ids: list[str] = Field(description="The alerts the winning rule rests on.")
    policy_version: str
    nudge: NudgeOut | None = Field(default=None, description="For a nudge: the pop-up's reason and spans.")

    @classmethod
    def of(cls, decision: Decision | dict[str, Any]) -> EventDecision:
        data = decision.to_dict() if isinstance(decision, Decision) else decision
        shown = {k: data.get(k) for k in cls.model_fields}
        nudge = shown.get("nudge")
        if isinstance(nudge, dict):  # a nudge is known by its decision's event id
            shown["nudge"] = {**nudge, "id": data.get("event_id")}
        return cls.model_validate(shown)

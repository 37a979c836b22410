"""Nudges (the pop-up to a writer before publishing) and what the writers did.

A decision whose action is ``nudge`` carries the pop-up's reason and the words to highlight; its
id is the event id of the decision (``nudge.id`` in ``POST /v1/events``' answer). The platform
reports what the writer then did, once:

- ``POST /v1/nudges/{id}/outcome`` (platform) with ``{"outcome": "edited" | "cancelled" |
  "posted_anyway", "at": TIME}``: 201 with the outcome recorded; the same outcome again is 200 (a
  retry), a different one 409; 404 when no decision was recorded about the event or it is not a
  nudge; 422 for a bad body or a time before the nudge (or ahead of the server's clock).
- ``GET /v1/nudges/stats?from=&to=`` (platform, moderator, auditor): over the nudges decided in the
  period (event time), how many, how many answered, how many with no outcome, and each outcome's
  count and share of those answered, in all, by rule and by surface, with the published reference
  figure beside them (not a measured one).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from cvguard.api.auth import CurrentPrincipal
from cvguard.api.deps import PipelineDep, SettingsDep
from cvguard.api.routes.alerts import NO_NUL, EventTime, event_store
from cvguard.api.schemas import Problem
from cvguard.errors import InputError
from cvguard.pipeline.clock import WallGate
from cvguard.store.nudges import NudgeOutcomes, Outcome, OutcomeConflict, Tally

router = APIRouter(prefix="/v1", tags=["nudges"])

NudgeId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL, description="The nudge's id: "
                              "the event id of the decision.")]
_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
# Published experience of platforms that prompt writers before they post abusive text: about a
# third revise or cancel. A reference to compare with, not something cvguard measured.
REFERENCE = (
    "Reference, not a measurement: platforms that prompt writers before posting report that about "
    "a third of those prompted revise or cancel."
)


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome = Field(description="What the writer did: edited, cancelled or posted_anyway.")
    at: EventTime = Field(description="When they did it (ISO 8601 with a timezone).")


class OutcomeOut(BaseModel):
    nudge_id: str
    outcome: str
    at: datetime = Field(description="When the writer acted, as reported.")
    recorded_at: datetime = Field(description="Wall-clock time (UTC) the outcome was recorded.")
    recorded_by: str = Field(description="The API key that reported it (name and id).")
    rule_id: str | None = Field(description="The rule that nudged.")
    surface: str


class TallyOut(BaseModel):
    nudges: int = Field(description="Nudges decided in the period.")
    answered: int = Field(description="Nudges with an outcome reported.")
    no_outcome: int = Field(description="Nudges with no outcome reported (yet).")
    counts: dict[str, int] = Field(description="Nudges per outcome.")
    shares: dict[str, float | None] = Field(
        description="Each outcome's share of the nudges answered (null when none was answered)."
    )
    revised_or_cancelled: float | None = Field(
        description="The share of answered nudges after which the writer edited or cancelled."
    )

    @classmethod
    def of(cls, tally: Tally) -> TallyOut:
        data = tally.to_dict()
        shares = data["shares"]
        both = None if tally.answered == 0 else round(
            (tally.outcomes["edited"] + tally.outcomes["cancelled"]) / tally.answered, 4
        )
        return cls(**data, revised_or_cancelled=both if shares else None)


class RuleTally(TallyOut):
    rule_id: str


class SurfaceTally(TallyOut):
    surface: str


class NudgeStatsOut(BaseModel):
    from_: datetime | None = Field(alias="from", description="The period's start (inclusive), event time.")
    to: datetime | None = Field(description="The period's end (exclusive).")
    total: TallyOut
    by_rule: list[RuleTally]
    by_surface: list[SurfaceTally]
    reference: str = Field(description="A published figure to compare with (not measured by cvguard).")


@router.post(
    "/nudges/{nudge_id:path}/outcome",
    response_model=OutcomeOut,
    status_code=201,
    responses={
        200: {"model": OutcomeOut, "description": "The same outcome was already recorded (a retry)."},
        404: {**_PROBLEM, "description": "No nudge with this id (no decision, or not a nudge)."},
        409: {**_PROBLEM, "description": "The nudge already has another outcome."},
        422: {**_PROBLEM, "description": "A bad body, or a time before the nudge or ahead of the clock."},
    },
    summary="Report what the writer did after a nudge",
)
def post_outcome(
    nudge_id: NudgeId,
    body: Annotated[OutcomeIn, Body()],
    response: Response,
    pipeline: PipelineDep,
    settings: SettingsDep,
    principal: CurrentPrincipal,
) -> OutcomeOut:
    """One outcome per nudge: ``edited``, ``cancelled`` or ``posted_anyway``, with its time."""
    store = event_store(pipeline)
    found = store.get_decision(nudge_id)
    if found is None or found.action != "nudge":
        why = "no decision was recorded about it" if found is None else f"its decision is {found.action!r}"
        raise HTTPException(404, f"there is no nudge {nudge_id!r}: {why}")
    # the pipeline's own gate in embedded mode (its wall clock can be injected); else the settings'
    gate = pipeline.gate if isinstance(pipeline.gate, WallGate) else WallGate(settings.max_clock_skew_s)
    if body.at < found.decided_at - gate.skew:
        when = found.decided_at.isoformat()
        raise InputError(f"at: {body.at.isoformat()} is before the nudge ({when})", field="at")
    ahead = gate.refusal(body.at)
    if ahead is not None:
        raise InputError(f"at: {ahead}", field="at")
    outcomes = NudgeOutcomes(store.engine)
    try:
        stored, created = outcomes.record(
            nudge_id, body.outcome, body.at, by=f"{principal.name}:{principal.key_id}"
        )
    except OutcomeConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    if not created:
        response.status_code = 200
    return OutcomeOut(
        nudge_id=stored.nudge_id, outcome=stored.outcome, at=stored.occurred_at,
        recorded_at=stored.recorded_at, recorded_by=stored.recorded_by, rule_id=found.rule_id,
        surface=found.surface,
    )


@router.get(
    "/nudges/stats",
    response_model=NudgeStatsOut,
    responses={422: {**_PROBLEM, "description": "A time that is not ISO 8601 with a timezone."}},
    summary="What writers did after nudges: each outcome's share, by rule and surface",
)
def nudge_stats(
    pipeline: PipelineDep,
    since: Annotated[
        EventTime | None, Query(alias="from", description="Nudges decided at or after this event time.")
    ] = None,
    until: Annotated[
        EventTime | None, Query(alias="to", description="Nudges decided before this event time.")
    ] = None,
) -> NudgeStatsOut:
    """Counts from the decisions recorded at ingest and the outcomes reported."""
    if since is not None and until is not None and until <= since:
        raise InputError("to: must be after from", field="to")
    stats = NudgeOutcomes(event_store(pipeline).engine).stats(since=since, until=until)
    return NudgeStatsOut.model_validate({
        "from": since,
        "to": until,
        "total": TallyOut.of(stats.total),
        "by_rule": [RuleTally(rule_id=k, **TallyOut.of(v).model_dump()) for k, v in stats.by_rule.items()],
        "by_surface": [
            SurfaceTally(surface=k, **TallyOut.of(v).model_dump()) for k, v in stats.by_surface.items()
        ],
        "reference": REFERENCE,
    })

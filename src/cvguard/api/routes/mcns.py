"""MCNs: the organisations behind accounts, their members, figures, measures and report.

    PUT  /v1/mcns/{id}                                    declare it: name, contact, status, member list
    GET  /v1/mcns                                         every MCN, highest violation rate first
    GET  /v1/mcns/{id}                                    members, figures, measures
    GET  /v1/mcns/{id}/report?since=&until=               the MCN report for a period (JSON)
    POST /v1/mcns/{id}/measures                           a measure taken by a person
    POST /v1/mcns/{id}/measures/{measure_id}/lift         a person lifts a measure in force

Who: the platform declares organisations and their members (it knows them), and so may a
moderator; reads are for moderators and auditors (the platform sees measures as feed actions);
measures by hand and lifts are a moderator's. Every change is in the audit trail.

Time: figures and measures run in event time (the pipeline's clock, the newest event seen; before
any, the wall clock), as automatic measures do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from cvguard.api.auth import CurrentPrincipal, require
from cvguard.api.deps import PipelineDep, event_now
from cvguard.api.routes.alerts import NO_NUL, EventTime
from cvguard.api.routes.audit import record
from cvguard.enforcement import McnMeasureKind
from cvguard.enforcement.mcn import McnMeasure, report
from cvguard.errors import InputError
from cvguard.pipeline import Pipeline
from cvguard.pipeline.mcn import McnDesk
from cvguard.store.mcns import Organisation

router = APIRouter(prefix="/v1", tags=["mcns"])

McnId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL, description="The MCN's id.")]
MeasureId = Annotated[
    str, Path(min_length=1, max_length=256, pattern=NO_NUL, description="The measure's id.")
]
AccountId = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
MAX_MEMBERS = 10_000
REPORT_DAYS = 30


class McnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=200, pattern=NO_NUL)
    contact: str | None = Field(default=None, max_length=500, pattern=NO_NUL)
    status: Literal["active", "closed"] = "active"
    members: list[AccountId] | None = Field(
        default=None, max_length=MAX_MEMBERS,
        description="The member accounts now (the list: members it leaves out have left); omitted: "
        "the members stay as they are.",
    )


class McnSaved(BaseModel):
    mcn_id: str
    name: str | None
    contact: str | None
    status: str
    members: int = Field(description="Members now (not left).")


class MeasureIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: McnMeasureKind
    duration_days: int | None = Field(ge=1, le=3660, description="null: until lifted.")
    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)


class LiftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)


class MeasureOut(BaseModel):
    measure_id: str
    mcn_id: str
    kind: str
    state: str = Field(description="active, lifted or expired (as of the answer's time).")
    starts_at: str
    expires_at: str | None
    reason: str
    statement: dict[str, Any] = Field(description="The statement of reasons (MCN and members).")
    decided_by: str
    threshold_id: str | None
    violation_ids: list[str]
    accounts: int = Field(description="Member accounts it was applied to.")
    lifted_at: str | None
    lifted_by: str | None
    lift_reason: str | None


class MemberOut(BaseModel):
    account_id: str
    source: str
    since: datetime | None
    left_at: datetime | None


class McnOut(BaseModel):
    mcn_id: str
    name: str | None
    contact: str | None
    status: str
    as_of: datetime = Field(description="The event time the figures are at.")
    figures: dict[str, Any] = Field(description="Over the longest threshold window: members, "
                                    "violations, members_with_violations, violations_per_member, inciters.")
    members: list[MemberOut]
    measures: list[MeasureOut]


class McnRow(BaseModel):
    mcn_id: str
    name: str | None
    status: str
    members: int
    violations: int
    members_with_violations: int
    inciters: int
    violations_per_member: float


class McnList(BaseModel):
    as_of: datetime
    since: datetime = Field(description="Violations counted are dated after this (event time).")
    mcns: list[McnRow]
    total: int


def _desk(pipeline: Pipeline) -> McnDesk:
    desk: McnDesk | None = getattr(pipeline, "mcn", None)
    if desk is None:
        raise HTTPException(503, "MCN handling is not available on this pipeline")
    return desk


def _org(desk: McnDesk, mcn_id: str) -> Organisation:
    org = desk.store.get(mcn_id)
    if org is None:
        raise HTTPException(404, f"no MCN {mcn_id!r}")
    return org


def _measure(x: McnMeasure, now: datetime) -> MeasureOut:
    return MeasureOut.model_validate(x.to_dict(now))


def _saved(desk: McnDesk, org: Organisation) -> dict[str, Any]:
    members = sum(1 for x in desk.store.members(org.mcn_id) if x.left_at is None)
    return {"mcn_id": org.mcn_id, "name": org.name, "contact": org.contact, "status": org.status,
            "members": members}


@router.put("/mcns/{mcn_id}", response_model=McnSaved)
def put_mcn(mcn_id: McnId, body: McnIn, request: Request, pipeline: PipelineDep) -> McnSaved:
    """Declare an MCN or change it; ``members`` (when given) replaces its member list."""
    desk = _desk(pipeline)
    now = event_now(request, pipeline)
    old = desk.store.get(mcn_id)
    before = None if old is None else _saved(desk, old)
    org = desk.store.put(mcn_id, name=body.name, contact=body.contact, status=body.status,
                         members=body.members, at=now)
    after = _saved(desk, org)
    record(request, "mcn.put", ("mcn", mcn_id),
           inputs={"name": body.name, "contact": body.contact, "status": body.status,
                   "members": None if body.members is None else len(set(body.members))},
           before=before, after=after)
    return McnSaved.model_validate(after)


@router.get("/mcns", response_model=McnList)
def list_mcns(
    request: Request,
    pipeline: PipelineDep,
    days: Annotated[int | None, Query(ge=1, le=366, description="Count violations of the last N days "
                                      "(default: the longest threshold window).")] = None,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> McnList:
    """Every MCN with its counts, the highest violation rate per member first (ties by id)."""
    desk = _desk(pipeline)
    now = event_now(request, pipeline)
    since = now - (timedelta(days=days) if days is not None else desk.thresholds.longest_window)
    rows = sorted(desk.store.overview(since=since),
                  key=lambda o: (-o.violations_per_member, -o.violations, o.organisation.mcn_id))
    page = rows[offset : offset + limit]
    return McnList(as_of=now, since=since, total=len(rows), mcns=[
        McnRow(mcn_id=o.organisation.mcn_id, name=o.organisation.name, status=o.organisation.status,
               members=o.members, violations=o.violations, members_with_violations=o.members_with_violations,
               inciters=o.inciters, violations_per_member=round(o.violations_per_member, 4))
        for o in page
    ])


@router.get("/mcns/{mcn_id}", response_model=McnOut)
def get_mcn(mcn_id: McnId, request: Request, pipeline: PipelineDep) -> McnOut:
    """The MCN: its members, its figures now and every measure taken against it."""
    desk = _desk(pipeline)
    org = _org(desk, mcn_id)
    now = event_now(request, pipeline)
    return McnOut(
        mcn_id=org.mcn_id, name=org.name, contact=org.contact, status=org.status, as_of=now,
        figures=desk.figures(mcn_id, now=now).to_dict(),
        members=[MemberOut.model_validate(x, from_attributes=True) for x in desk.store.members(mcn_id)],
        measures=[_measure(x, now) for x in desk.store.measures(mcn_id)],
    )


@router.get("/mcns/{mcn_id}/report", response_model=dict[str, Any])
def mcn_report(
    mcn_id: McnId,
    request: Request,
    pipeline: PipelineDep,
    since: Annotated[EventTime | None, Query(description=f"Period start (default: {REPORT_DAYS} days "
                                             "before until).")] = None,
    until: Annotated[EventTime | None, Query(description="Period end (default: now, event time).")] = None,
) -> dict[str, Any]:
    """The MCN report: the period, members with their violations, inciters, violations reversed,
    the measures of the period with their statements of reasons."""
    desk = _desk(pipeline)
    org = _org(desk, mcn_id)
    end = until if until is not None else event_now(request, pipeline)
    start = since if since is not None else end - timedelta(days=REPORT_DAYS)
    if start >= end:
        raise InputError("since must be before until", field="since")
    out = report(mcn_id, desk.store.members(mcn_id), desk.store.violations(mcn_id, since=start),
                 desk.store.measures(mcn_id), since=start, until=end)
    return {"organisation": org.to_dict(), **out}


@router.post("/mcns/{mcn_id}/measures", response_model=MeasureOut, status_code=201,
             dependencies=[Depends(require("moderator"))])
def take_measure(
    mcn_id: McnId, body: MeasureIn, request: Request, principal: CurrentPrincipal, pipeline: PipelineDep
) -> MeasureOut:
    """A measure taken by a person against the MCN, applied to its members (feed actions)."""
    desk = _desk(pipeline)
    _org(desk, mcn_id)
    now = event_now(request, pipeline)
    duration = None if body.duration_days is None else timedelta(days=body.duration_days)
    x = desk.take(mcn_id, body.kind, duration=duration, reason=body.reason, actor=principal.label, now=now)
    return _measure(x, now)


@router.post("/mcns/{mcn_id}/measures/{measure_id}/lift", response_model=MeasureOut,
             dependencies=[Depends(require("moderator"))])
def lift_measure(
    mcn_id: McnId, measure_id: MeasureId, body: LiftIn, request: Request, principal: CurrentPrincipal,
    pipeline: PipelineDep,
) -> MeasureOut:
    """Lift a measure in force (automatic or not): a person's lift stands (the threshold takes it
    again only on a newer violation)."""
    desk = _desk(pipeline)
    _org(desk, mcn_id)
    x = desk.store.measure(measure_id)
    if x is None or x.mcn_id != mcn_id:
        raise HTTPException(404, f"no measure {measure_id!r} on MCN {mcn_id!r}")
    now = event_now(request, pipeline)
    done = desk.lift(measure_id, actor=principal.label, reason=body.reason, now=now)
    if done is None:
        raise HTTPException(409, f"measure {measure_id!r} is not in force ({x.state_at(now)})")
    return _measure(done, now)

"""``/v1/violations``, ``/v1/sanctions``, ``/v1/accounts/{id}/standing``: the violation ledger and
sanctions, for staff (moderators write; auditors and admins read). A platform key reads none of it:
it gets sanctions as feed actions (``GET /v1/actions``, kind ``sanction`` / ``lift_sanction``).

    GET  /v1/violations?account=ID&since=T       the ledger, newest first
    POST /v1/violations                          a person confirms a violation (graded by the ladder)
    GET  /v1/sanctions?account=ID&status=S       sanctions, newest first
    GET  /v1/sanctions/{id}                      one, with its statement of reasons
    POST /v1/sanctions                           a person issues a sanction by hand
    GET  /v1/accounts/{id}/standing              violations counting, active sanctions, strikes
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, field_validator

from cvguard.api.auth import current_principal
from cvguard.api.deps import PipelineDep
from cvguard.api.routes.alerts import NO_NUL, EventTime
from cvguard.api.routes.audit import record
from cvguard.api.schemas import Problem
from cvguard.enforcement import RESTRICTS, SANCTION_KINDS, Sanction, Violation
from cvguard.enforcement.grading import counting
from cvguard.errors import InputError
from cvguard.pipeline import Pipeline
from cvguard.pipeline.enforce import Enforcer
from cvguard.policy.vocabulary import SURFACES
from cvguard.taxonomy import load_taxonomy

router = APIRouter(prefix="/v1", tags=["enforcement"])

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
AccountId = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
AccountQuery = Annotated[str | None, Query(min_length=1, max_length=128, pattern=NO_NUL)]
SanctionKindName = Literal[
    "warning", "comment_restriction", "posting_restriction", "demonetisation", "suspension", "permanent_ban"
]
assert set(SanctionKindName.__args__) == set(SANCTION_KINDS)  # type: ignore[attr-defined]


def _enforcer(pipeline: Pipeline) -> Enforcer:
    enforcer = pipeline.enforcer
    if enforcer is None:
        raise InputError("this server's pipeline keeps no violation ledger")
    enforcer.ledger.refresh()
    return enforcer


def _now(pipeline: Pipeline) -> datetime:
    """Event time when the pipeline has seen events, else the wall clock."""
    return pipeline.now() if pipeline.clock.started else datetime.now(UTC)


def _actor(request: Request) -> str:
    principal = current_principal(request)
    return "anonymous" if principal is None else principal.label


class ViolationOut(BaseModel):
    violation_id: str
    account_id: str
    at: datetime = Field(description="Event time of the content (or of the confirmation).")
    confirmed_by: str = Field(description="policy:<rule id>, dm:<escalation id> or person:<actor>.")
    roles: list[str] = Field(description="first_time / frequent, and initiator / copycat in an attack.")
    event_id: str | None
    surface: str | None
    action: str | None = Field(description="What the decision did to the content.")
    categories: list[str]
    score: float | None
    alert_id: str | None
    policy_version: str | None
    model_version: str | None
    mcn_id: str | None
    status: str = Field(description="active or reversed.")

    @classmethod
    def of(cls, v: Violation) -> ViolationOut:
        return cls(
            violation_id=v.violation_id, account_id=v.account_id, at=v.at, confirmed_by=v.confirmed_by,
            roles=list(v.roles), event_id=v.event_id, surface=v.surface, action=v.action,
            categories=list(v.categories), score=v.score, alert_id=v.alert_id,
            policy_version=v.policy_version, model_version=v.model_version, mcn_id=v.mcn_id, status=v.status,
        )


class SanctionOut(BaseModel):
    sanction_id: str
    account_id: str
    kind: str
    starts_at: datetime
    expires_at: datetime | None = Field(description="None: permanent.")
    violation_ids: list[str] = Field(description="The violations it is for.")
    rests_on: list[str] = Field(description="Every violation whose strikes counted towards it.")
    step: int | None = Field(description="The ladder step (1-based); None: issued by a person.")
    decided_by: str
    status: str = Field(description="active, lifted or expired (as of the server's event clock).")
    lifted_at: datetime | None
    lifted_by: str | None
    statement: dict[str, Any] = Field(description="The statement of reasons the account receives.")

    @classmethod
    def of(cls, s: Sanction, at: datetime) -> SanctionOut:
        state = s.status
        if state == "active" and s.expires_at is not None and s.expires_at <= at:
            state = "expired"
        return cls(
            sanction_id=s.sanction_id, account_id=s.account_id, kind=s.kind, starts_at=s.starts_at,
            expires_at=s.expires_at, violation_ids=list(s.violation_ids), rests_on=list(s.rests_on),
            step=None if s.step is None else s.step + 1, decided_by=s.decided_by, status=state,
            lifted_at=s.lifted_at, lifted_by=s.lifted_by, statement=dict(s.statement),
        )


class ViolationsOut(BaseModel):
    violations: list[ViolationOut]


class SanctionsOut(BaseModel):
    sanctions: list[SanctionOut]


class ConfirmIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: AccountId
    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)
    event_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=NO_NUL)
    surface: str | None = Field(default=None, description="One of the policy surfaces.")
    categories: list[str] = Field(default_factory=list, max_length=9)
    role: Literal["initiator", "copycat"] | None = Field(
        default=None, description="The account's part in an attack, if any."
    )
    mcn_id: str | None = Field(default=None, min_length=1, max_length=128, pattern=NO_NUL)
    at: EventTime | None = Field(default=None, description="Event time; default: the server's clock.")

    @field_validator("surface")
    @classmethod
    def _surface(cls, value: str | None) -> str | None:
        if value is not None and value not in SURFACES:
            raise ValueError(f"unknown surface {value!r}: one of {', '.join(SURFACES)}")
        return value

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str]) -> list[str]:
        codes = load_taxonomy().codes
        bad = [c for c in value if c not in codes]
        if bad:
            raise ValueError(f"unknown category {bad[0]!r}: one of {', '.join(codes)}")
        return value


class ConfirmedOut(BaseModel):
    violation: ViolationOut
    sanction: SanctionOut | None = Field(description="The sanction the ladder issued for it, if any.")


class IssueIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: AccountId
    kind: SanctionKindName
    days: int | None = Field(default=None, ge=1, le=3650, description="Required but for a permanent ban.")
    reason: str = Field(min_length=1, max_length=1000, pattern=NO_NUL)
    violation_ids: list[Annotated[str, Field(min_length=1, max_length=512)]] = Field(
        default_factory=list, max_length=100
    )


class StandingOut(BaseModel):
    account_id: str
    at: datetime = Field(description="The event time the standing is judged at.")
    strikes: float = Field(description="Strike points counting now (the ladder's window).")
    step: int | None = Field(description="The ladder step the strikes reach (1-based); None: below it.")
    restricted_surfaces: list[str]
    violations: list[ViolationOut] = Field(description="The violations whose strikes count.")
    active_sanctions: list[SanctionOut]


@router.get("/violations", response_model=ViolationsOut, summary="The violation ledger",
            responses={422: {**_PROBLEM, "description": "A bad filter."}})
def list_violations(
    pipeline: PipelineDep,
    account: AccountQuery = None,
    since: Annotated[EventTime | None, Query(description="At or after this event time.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ViolationsOut:
    found = _enforcer(pipeline).store.violations(account_id=account, since=since, limit=limit)
    return ViolationsOut(violations=[ViolationOut.of(v) for v in found])


@router.post("/violations", response_model=ConfirmedOut, status_code=status.HTTP_201_CREATED,
             summary="A person confirms a violation",
             responses={422: {**_PROBLEM, "description": "A bad body."}})
def confirm_violation(body: ConfirmIn, pipeline: PipelineDep, request: Request) -> ConfirmedOut:
    enforcer = _enforcer(pipeline)
    at = body.at or _now(pipeline)
    actor = _actor(request)
    v, issued = enforcer.confirm(
        account_id=body.account_id, actor=actor, at=at, reason=body.reason, event_id=body.event_id,
        surface=body.surface, categories=body.categories, attack_role=body.role, mcn_id=body.mcn_id,
    )
    record(request, "violation.confirm", ("account", body.account_id),
           inputs=body.model_dump(mode="json"), after={"violation_id": v.violation_id, "roles": list(v.roles),
                                                      "sanction_id": None if issued is None
                                                      else issued.sanction.sanction_id})
    return ConfirmedOut(violation=ViolationOut.of(v),
                        sanction=None if issued is None else SanctionOut.of(issued.sanction, at))


@router.get("/sanctions", response_model=SanctionsOut, summary="Sanctions",
            responses={422: {**_PROBLEM, "description": "A bad filter."}})
def list_sanctions(
    pipeline: PipelineDep,
    account: AccountQuery = None,
    status_: Annotated[Literal["active", "lifted"] | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> SanctionsOut:
    found = _enforcer(pipeline).store.sanctions(account_id=account, status=status_, limit=limit)
    at = _now(pipeline)
    return SanctionsOut(sanctions=[SanctionOut.of(s, at) for s in found])


@router.get("/sanctions/{sanction_id:path}", response_model=SanctionOut, summary="One sanction",
            responses={404: {**_PROBLEM, "description": "No such sanction."}})
def get_sanction(
    sanction_id: Annotated[str, Path(min_length=1, max_length=512, pattern=NO_NUL)], pipeline: PipelineDep
) -> SanctionOut:
    found = _enforcer(pipeline).sanction(sanction_id)
    if found is None:
        raise HTTPException(404, f"there is no sanction {sanction_id!r}")
    return SanctionOut.of(found, _now(pipeline))


@router.post("/sanctions", response_model=SanctionOut, status_code=status.HTTP_201_CREATED,
             summary="A person issues a sanction",
             responses={422: {**_PROBLEM, "description": "A bad body."}})
def issue_sanction(body: IssueIn, pipeline: PipelineDep, request: Request) -> SanctionOut:
    enforcer = _enforcer(pipeline)
    at = _now(pipeline)
    try:
        s = enforcer.issue(account_id=body.account_id, kind=body.kind, days=body.days, actor=_actor(request),
                           reason=body.reason, at=at, violation_ids=body.violation_ids)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return SanctionOut.of(s, at)


@router.get("/accounts/{account_id}/standing", response_model=StandingOut, summary="An account's standing",
            responses={422: {**_PROBLEM, "description": "A bad account id."}})
def standing(
    account_id: Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL)], pipeline: PipelineDep
) -> StandingOut:
    enforcer = _enforcer(pipeline)
    at = _now(pipeline)
    ledger = enforcer.ledger
    st = ledger.of(account_id)
    strikes = ledger.strikes(account_id, at)
    step = ledger.ladder.step_at(strikes)
    active = [] if st is None else st.active_sanctions(at)
    counted = counting(ledger.history(account_id), at, ledger.ladder)
    return StandingOut(
        account_id=account_id, at=at, strikes=strikes, step=None if step < 0 else step + 1,
        restricted_surfaces=sorted({x for s in active for x in RESTRICTS.get(s.kind, ())}),
        violations=[ViolationOut.of(v) for v in sorted(counted, key=lambda v: v.at, reverse=True)],
        active_sanctions=[SanctionOut.of(s, at) for s in sorted(active, key=lambda s: s.starts_at)],
    )

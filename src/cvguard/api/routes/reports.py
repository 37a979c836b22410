"""``/v1/reports``: the fast reporting channel, from a person's report to the outcome they are told.

    POST /v1/reports                   a report, filed by a platform call made for the reporter
    GET  /v1/reports/{id}              the reporter (a call made for them), or staff (moderator, auditor)
    GET  /v1/users/{id}/reports        the reports a person filed (that person, or staff)
    GET  /v1/reports                   the staff queue: priority, then due time (moderator, auditor)
    GET  /v1/reports/stats             response times per priority (moderator, auditor)
    POST /v1/reports/{id}/assign       a moderator takes a report, or gives it to someone
    POST /v1/reports/{id}/decision     upheld / rejected / needs_more_info, with a note (moderator);
                                       the reporter is told through the action feed (``report_outcome``)
    POST /v1/reports/{id}/info         the reporter answers needs_more_info: text and evidence, and
                                       the report is open again (its SLA counted from the answer)

A reporter sees their report and its status and outcome; staff see the priority and why, the
due time, the crowd against the reported account (independent reporters, a suspected ring) and
the history. The report's free text is stored and shown to the reporter and staff, never logged.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from cvguard.api.auth import ON_BEHALF_OF, Principal, acting_for, authenticate, owner_or_staff, require
from cvguard.api.reportdesk import ReportDesk
from cvguard.api.routes.alerts import actor
from cvguard.api.routes.audit import record
from cvguard.api.routes.review import queue_report, settled_elsewhere
from cvguard.api.schemas import Problem
from cvguard.errors import InputError
from cvguard.events import CREATED_FROM, OCCURRED_BEFORE
from cvguard.reports.groups import any_minor
from cvguard.reports.outcome import outcome_action
from cvguard.reports.priority import Priority, base_priority, response_figures
from cvguard.store.actions import ActionFeed
from cvguard.store.reports import (
    MAX_PAGE,
    NewReport,
    StoredReport,
    decode_queue_cursor,
    decode_reporter_cursor,
    queue_cursor,
    reporter_cursor,
)
from cvguard.taxonomy import load_taxonomy

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["reports"])

STAFF: tuple[Literal["moderator", "auditor"], ...] = ("moderator", "auditor")
NO_NUL = r"^[^\x00]*$"
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=NO_NUL, strip_whitespace=True)]
ReportId = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL, description="The report's id.")]
UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL, description="The person's id.")]
Status = Literal["open", "assigned", "needs_more_info", "upheld", "rejected"]
Outcome = Literal["upheld", "rejected", "needs_more_info"]
MAX_NOTE = 4000
MAX_MINOR_CHECKS = 200  # people asked about per report (the reporter first): bounds the reader's calls

_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {**_PROBLEM, "description": "No such report."}}
_INVALID: dict[int | str, dict[str, Any]] = {422: {**_PROBLEM, "description": "Invalid input."}}


class ReporterFactsIn(BaseModel):
    """What the platform knows of the reporter (optional): lets related reporters be told apart."""

    model_config = ConfigDict(extra="forbid")

    created_at: AwareDatetime | None = Field(
        default=None, description="When the reporter's account was created (1970 to 2100)."
    )

    @field_validator("created_at")
    @classmethod
    def _plausible(cls, value: datetime | None) -> datetime | None:
        if value is not None and not CREATED_FROM <= value < OCCURRED_BEFORE:
            raise ValueError(f"must be between {CREATED_FROM:%Y-%m-%d} and {OCCURRED_BEFORE:%Y-%m-%d}")
        return value

    follows: list[Id] = Field(
        default_factory=list, max_length=5000, description="The ids the reporter follows."
    )


class ReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: str = Field(
        max_length=64, description="A taxonomy category code (e.g. threat, privacy, insult)."
    )
    account_id: Id | None = Field(default=None, description="The reported account.")
    event_ids: list[Id] = Field(default_factory=list, max_length=100, description="The reported content.")
    evidence_event_ids: list[Id] = Field(default_factory=list, max_length=100)
    evidence_case_ids: list[Id] = Field(
        default_factory=list, max_length=50, description="Evidence cases (opaque references)."
    )
    text: str | None = Field(
        default=None, max_length=100_000, description="What happened, in the reporter's words (any script)."
    )
    reporter: ReporterFactsIn | None = None
    client_key: Id | None = Field(
        default=None,
        description="The platform's idempotency key: the same key from one reporter is one report.",
    )


class RingOut(BaseModel):
    members: list[str] = Field(description="The reporters who act as one.")
    reasons: list[str] = Field(description="The links that joined them, in words (the first 20).")
    links: int


class HistoryOut(BaseModel):
    at: datetime
    actor: str
    action: str = Field(description="filed, assigned, decided or reprioritised.")
    previous_status: str | None
    status: str
    outcome: str | None
    note: str | None


class StaffView(BaseModel):
    reporter_id: str
    priority: str = Field(description="urgent, high or normal.")
    priority_reasons: list[str]
    sla_from: datetime = Field(description="The filing, or the reporter's answer to needs_more_info.")
    due_at: datetime
    overdue: bool = Field(description="Past due while waiting for staff (open or assigned).")
    minor: bool = Field(description="A minor is involved (the reporter or a person the content is aimed at).")
    assigned_to: str | None
    decision_no: int
    decided_by: str | None
    decision_note: str | None
    first_action_at: datetime | None
    first_decided_at: datetime | None
    reporters: int = Field(description="Distinct reporters of the account in the crowd window.")
    independent_reporters: int = Field(
        description="Reporters of the account, each cluster of related ones once."
    )
    suspected_ring: RingOut | None = Field(description="The suspected false-report ring this reporter is in.")
    history: list[HistoryOut] | None = Field(default=None, description="On a single report only.")


class ReportOut(BaseModel):
    report_id: str
    category: str
    account_id: str | None
    event_ids: list[str]
    evidence_event_ids: list[str]
    evidence_case_ids: list[str]
    text: str | None
    status: str
    outcome: str | None
    reply: str | None = Field(description="The decision's message to the reporter.")
    filed_at: datetime
    decided_at: datetime | None
    client_key: str | None
    staff: StaffView | None = Field(default=None, description="What staff see (null for the reporter).")

    @classmethod
    def of(cls, r: StoredReport, *, staff: bool, now: datetime, history: bool = False) -> ReportOut:
        view = None
        if staff:
            view = StaffView(
                reporter_id=r.reporter_id,
                priority=r.priority.label,
                priority_reasons=list(r.priority_reasons),
                sla_from=r.sla_from,
                due_at=r.due_at,
                overdue=r.overdue(now),
                minor=r.minor,
                assigned_to=r.assigned_to,
                decision_no=r.decision_no,
                decided_by=r.decided_by,
                decision_note=r.decision_note,
                first_action_at=r.first_action_at,
                first_decided_at=r.first_decided_at,
                reporters=r.reporters,
                independent_reporters=r.independent_reporters,
                suspected_ring=RingOut.model_validate(r.ring) if r.ring else None,
                history=[HistoryOut.model_validate(h, from_attributes=True) for h in r.history]
                if history
                else None,
            )
        return cls(
            report_id=r.report_id,
            category=r.category,
            account_id=r.account_id,
            event_ids=list(r.event_ids),
            evidence_event_ids=list(r.evidence_event_ids),
            evidence_case_ids=list(r.evidence_case_ids),
            text=r.text,
            status=r.status,
            outcome=r.outcome,
            reply=r.reply,
            filed_at=r.filed_at,
            decided_at=r.decided_at,
            client_key=r.client_key,
            staff=view,
        )


class ReportList(BaseModel):
    reports: list[ReportOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class InfoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(
        default=None, max_length=100_000, description="The reporter's answer (any script)."
    )
    evidence_event_ids: list[Id] = Field(default_factory=list, max_length=100)
    evidence_case_ids: list[Id] = Field(default_factory=list, max_length=50)


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=NO_NUL)] | None = Field(
        default=None, description="Who handles it (default: the caller)."
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    note: str | None = Field(
        default=None, max_length=MAX_NOTE, description="Why, for staff (kept with the decision)."
    )
    reply: str | None = Field(
        default=None,
        max_length=MAX_NOTE,
        description="For the reporter: what more is needed, or why (shown to them, in the outcome action).",
    )


class DecisionOut(BaseModel):
    report: ReportOut
    new_decision: bool = Field(description="False when this repeated the current decision (nothing changed).")
    action_key: str = Field(description="The report_outcome action's key in the action feed.")
    action_seq: int = Field(description="Its place in the action feed.")


def _desk(request: Request) -> ReportDesk:
    desk: ReportDesk = request.app.state.reports
    return desk


Desk = Annotated[ReportDesk, Depends(_desk)]
Caller = Annotated[Principal, Depends(authenticate)]


def _is_staff(principal: Principal) -> bool:
    return principal.role == "admin" or principal.role in STAFF


def _found(desk: ReportDesk, report_id: str) -> StoredReport:
    report = desk.store.get(report_id)
    if report is None:
        raise HTTPException(404, f"no report {report_id!r}")
    return report


@router.post(
    "/reports",
    response_model=ReportOut,
    status_code=201,
    responses=_INVALID,
    summary="File a report (a platform call made for the reporter)",
)
def file_report(body: ReportIn, request: Request, principal: Caller, desk: Desk) -> ReportOut:
    """A person reports content or an account. The call is made for them (a key scoped to them, or
    `X-On-Behalf-Of`); the same `client_key` again returns the report already filed."""
    reporter = acting_for(request, principal)
    if reporter is None:
        raise HTTPException(
            403,
            f"a report is filed by a platform call made for the reporter ({ON_BEHALF_OF} or a scoped key)",
        )
    taxonomy = load_taxonomy()
    if taxonomy.get(body.category) is None:
        raise InputError(
            f"unknown category {body.category!r}: use one of {', '.join(taxonomy.codes)}", field="category"
        )
    if body.account_id is None and not body.event_ids:
        raise InputError("a report names the reported account_id, event_ids, or both", field="account_id")
    if body.text is not None and len(body.text) > desk.max_text:
        raise InputError(f"text is at most {desk.max_text} characters", field="text")
    store = desk.store
    authors, aimed_at = store.event_people(body.event_ids)
    account = body.account_id
    if account is None and len(set(authors.values())) == 1:
        account = next(iter(authors.values()))  # the reported content's one author
    # the reporter and the people the reported content is aimed at (not the reported account)
    aimed = sorted(aimed_at - {account, reporter})[: MAX_MINOR_CHECKS - 1]
    minor = any_minor(desk.groups, [reporter, *aimed]) is not None
    priority, reasons = base_priority(body.category, taxonomy, minor=minor)
    facts = body.reporter or ReporterFactsIn()
    filed = store.file(
        NewReport(
            reporter_id=reporter,
            category=body.category,
            account_id=account,
            event_ids=tuple(dict.fromkeys(body.event_ids)),
            evidence_event_ids=tuple(dict.fromkeys(body.evidence_event_ids)),
            evidence_case_ids=tuple(dict.fromkeys(body.evidence_case_ids)),
            text=body.text,
            reporter_created_at=facts.created_at,
            reporter_follows=tuple(facts.follows),
            client_key=body.client_key,
        ),
        rules=desk.rules,
        base_priority=priority,
        priority_reasons=reasons,
        minor=minor,
    )
    log.info(
        "report %s filed: category %s, priority %s", filed.report_id, filed.category, filed.priority.label
    )
    queue_report(request, filed)  # the staff review queue (api.routes.review)
    return ReportOut.of(filed, staff=False, now=desk.now())


@router.get(
    "/reports",
    response_model=ReportList,
    responses=_INVALID,
    dependencies=[Depends(require(*STAFF))],
    summary="The staff queue of reports",
)
def report_queue(
    desk: Desk,
    status: Annotated[
        Status | None, Query(description="Only this status (default: every pending one).")
    ] = None,
    overdue: Annotated[bool | None, Query(description="Only reports past due (true) or not (false).")] = None,
    category: Annotated[str | None, Query(max_length=64, pattern=NO_NUL)] = None,
    cursor: Annotated[
        str | None, Query(max_length=1024, description="The next_cursor of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> ReportList:
    """Pending reports (open, assigned, needs_more_info) by priority (urgent, high, normal), then
    due time, then id; `status` picks one status, decided ones included."""
    now = desk.now()
    found = desk.store.queue(
        now=now,
        statuses=[status] if status is not None else None,
        overdue=overdue,
        category=category,
        after=decode_queue_cursor(cursor) if cursor is not None else None,
        limit=limit + 1,
    )
    page = found[:limit]
    return ReportList(
        reports=[ReportOut.of(r, staff=True, now=now) for r in page],
        next_cursor=queue_cursor(page[-1]) if len(found) > limit else None,
    )


class StatsOut(BaseModel):
    since: datetime
    now: datetime
    sla_s: dict[str, float] = Field(description="The SLA of each priority, in seconds.")
    overdue_now: dict[str, int]
    priorities: dict[str, dict[str, Any]] = Field(
        description="Per priority: filed, awaiting_first_action, undecided, oldest_awaiting_s, and "
        "to_first_action / to_decision: count, median_s, p90_s, max_s (nearest rank)."
    )


@router.get(
    "/reports/stats",
    response_model=StatsOut,
    responses=_INVALID,
    dependencies=[Depends(require(*STAFF))],
    summary="Response times per priority",
)
def report_stats(
    desk: Desk,
    days: Annotated[float, Query(gt=0, le=366, description="Reports filed in the last this many days.")] = 30,
) -> StatsOut:
    """Time to the first action (assigned or decided) and to the decision (upheld or rejected)."""
    now = desk.now()
    since = now - timedelta(days=days)
    figures = response_figures(desk.store.timings(since=since), now)
    overdue = desk.store.overdue_counts(now)
    return StatsOut(
        since=since,
        now=now,
        sla_s={p.label: desk.rules.sla(p).total_seconds() for p in Priority},
        overdue_now={p.label: n for p, n in overdue.items()},
        priorities=figures,
    )


@router.get("/reports/{report_id}", response_model=ReportOut, responses=_NOT_FOUND, summary="One report")
def get_report(report_id: ReportId, request: Request, principal: Caller, desk: Desk) -> ReportOut:
    """The reporter (a call made for them) sees their report; staff also see priority, crowd and history."""
    report = _found(desk, report_id)
    owner_or_staff(request, principal, report.reporter_id, STAFF)
    return ReportOut.of(report, staff=_is_staff(principal), now=desk.now(), history=True)


@router.get(
    "/users/{user_id}/reports",
    response_model=ReportList,
    responses=_INVALID,
    summary="The reports a person filed",
)
def user_reports(
    user_id: UserId,
    request: Request,
    principal: Caller,
    desk: Desk,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> ReportList:
    """Newest first; the person themself (a call made for them) or staff."""
    owner_or_staff(request, principal, user_id, STAFF)
    found = desk.store.for_reporter(
        user_id, after=decode_reporter_cursor(cursor) if cursor is not None else None, limit=limit + 1
    )
    page = found[:limit]
    now = desk.now()
    return ReportList(
        reports=[ReportOut.of(r, staff=_is_staff(principal), now=now) for r in page],
        next_cursor=reporter_cursor(page[-1]) if len(found) > limit else None,
    )


@router.post(
    "/reports/{report_id}/assign",
    response_model=ReportOut,
    responses=_NOT_FOUND,
    summary="Assign a report",
)
def assign_report(
    report_id: ReportId,
    body: AssignIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("moderator"))],
    desk: Desk,
) -> ReportOut:
    who = actor(principal)
    before = desk.store.get(report_id, history=False)
    report = desk.store.assign(report_id, assignee=body.assignee or who, actor=who)
    if report is None:
        raise HTTPException(404, f"no report {report_id!r}")
    record(request, "report.assign", ("report", report_id), inputs=body.model_dump(mode="json"),
           before=_audited(before), after=_audited(report))
    return ReportOut.of(report, staff=True, now=desk.now(), history=True)


def _audited(report: StoredReport | None) -> dict[str, Any] | None:
    """What the audit trail keeps of a report's state (its handling, not its text)."""
    if report is None:
        return None
    return {"status": report.status, "outcome": report.outcome, "decision_no": report.decision_no,
            "assigned_to": report.assigned_to, "decided_by": report.decided_by,
            "priority": report.priority.label}


def _feed(request: Request) -> ActionFeed:
    feed: ActionFeed = request.app.state.feed()
    return feed


@router.post(
    "/reports/{report_id}/decision",
    response_model=DecisionOut,
    responses={**_NOT_FOUND, **_INVALID},
    summary="Decide a report",
)
def decide_report(
    report_id: ReportId,
    body: DecisionIn,
    request: Request,
    principal: Annotated[Principal, Depends(require("moderator"))],
    desk: Desk,
) -> DecisionOut:
    """upheld, rejected or needs_more_info, with a note; recorded with actor and time, and the
    reporter told through the action feed (kind `report_outcome`, one action per decision)."""
    before = desk.store.get(report_id, history=False)
    decided = desk.store.decide(
        report_id, outcome=body.outcome, note=body.note, reply=body.reply, actor=actor(principal)
    )
    if decided is None:
        raise HTTPException(404, f"no report {report_id!r}")
    report, fresh = decided
    if body.outcome != "needs_more_info":
        settled_elsewhere(request, "report", report.report_id, body.outcome)  # its review item
    # appended after the decision commits; a retry of the same decision appends it under the same key
    (entry,) = _feed(request).append(
        [
            outcome_action(
                report_id=report.report_id,
                reporter_id=report.reporter_id,
                outcome=body.outcome,
                decision_no=report.decision_no,
                category=report.category,
                reply=report.reply,
            )
        ]
    )
    log.info("report %s decided: %s (decision %d)", report.report_id, body.outcome, report.decision_no)
    if fresh:  # the same decision again changes nothing
        record(request, "report.decide", ("report", report_id), inputs=body.model_dump(mode="json"),
               before=_audited(before), after={**(_audited(report) or {}), "action_seq": entry.seq})
    return DecisionOut(
        report=ReportOut.of(report, staff=True, now=desk.now(), history=True),
        new_decision=fresh,
        action_key=entry.key,
        action_seq=entry.seq,
    )


@router.post(
    "/reports/{report_id}/info",
    response_model=ReportOut,
    responses={**_NOT_FOUND, **_INVALID, 409: {**_PROBLEM, "description": "Not waiting for information."}},
    summary="Answer a request for more information (the reporter)",
)
def add_info(report_id: ReportId, body: InfoIn, request: Request, principal: Caller, desk: Desk) -> ReportOut:
    """Only the reporter (a call made for them) answers; the report must be `needs_more_info`."""
    report = _found(desk, report_id)
    if acting_for(request, principal) != report.reporter_id:
        raise HTTPException(
            403, "only the reporter answers a request for more information (a call made for them)"
        )
    if report.status != "needs_more_info":
        raise HTTPException(409, f"report {report_id} is {report.status}: it is not waiting for information")
    if body.text is not None and len(body.text) > desk.max_text:
        raise InputError(f"text is at most {desk.max_text} characters", field="text")
    if body.text is None and not body.evidence_event_ids and not body.evidence_case_ids:
        raise InputError("an answer carries text, evidence, or both", field="text")
    answered = desk.store.add_info(
        report_id,
        text=body.text,
        evidence_event_ids=body.evidence_event_ids,
        evidence_case_ids=body.evidence_case_ids,
        rules=desk.rules,
    )
    if answered is None:
        raise HTTPException(404, f"no report {report_id!r}")
    log.info("report %s: the reporter added information", report_id)
    return ReportOut.of(answered, staff=False, now=desk.now())

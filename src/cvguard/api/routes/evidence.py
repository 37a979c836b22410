"""One-click evidence: preserve content in the vault, read a case, export it as a package.

    POST /v1/evidence                   preserve by event ids, by a time range (the events aimed at
                                        the person in it) or by an alert (the events behind it)
    GET  /v1/evidence/vault             verify the whole vault (moderator, auditor, admin)
    GET  /v1/evidence/{case_id}         a case: header, items (text included), digests
    GET  /v1/evidence/{case_id}/export  the package (application/zip): PDF report, JSON lines,
                                        manifest; `cvguard evidence verify` checks it
    GET  /v1/users/{user_id}/evidence   the cases preserved for a person

A case belongs to the person it was preserved for: a platform call made for them (a key scoped to
them, or ``X-On-Behalf-Of``) preserves, reads and exports their cases; so do moderators, auditors
read and export, admins do everything; anyone else gets 403 (``api.auth.owner_or_staff``). A
person preserves only what concerns them: events aimed at them or written by them, and alerts
about them. Every preservation records its actor and reason in the case header (hashed); every
preservation and export is also in the audit trail (``evidence.preserve``, ``evidence.export``
with the package's SHA-256).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from cvguard.api.auth import Principal, Role, acting_for, authenticate, owner_or_staff, require
from cvguard.api.routes.alerts import NO_NUL
from cvguard.api.routes.audit import record
from cvguard.api.schemas import Problem
from cvguard.config import Settings
from cvguard.evidence import package, pdf
from cvguard.evidence.chain import genesis
from cvguard.store.evidence import MAX_ITEMS, Case, CaseSummary, EvidenceVault

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1", tags=["evidence"])

READERS: tuple[Role, ...] = ("moderator", "auditor")  # staff who read and export cases (admin too)
PRESERVERS: tuple[Role, ...] = ("moderator",)  # staff who preserve (admin too)
CaseId = Annotated[str, Path(pattern=r"^ev_[0-9a-f]{24}$", description="A case id (ev_ + 24 hex).")]
UserId = Annotated[str, Path(min_length=1, max_length=128, pattern=NO_NUL)]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=NO_NUL)]
_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}


class VaultHolder:
    """Opens the vault on ``settings.database_url`` (migrated) on first use, once."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.database_url
        self._vault: EvidenceVault | None = None
        self._lock = threading.Lock()

    def __call__(self) -> EvidenceVault:
        if self._vault is None:
            with self._lock:
                if self._vault is None:
                    self._vault = EvidenceVault.open(self._url)
        return self._vault

    def close(self) -> None:
        with self._lock:
            if self._vault is not None:
                self._vault.close()
                self._vault = None


def _vault(request: Request) -> EvidenceVault:
    vault: EvidenceVault = request.app.state.vault()
    return vault


VaultDep = Annotated[EvidenceVault, Depends(_vault)]
PrincipalDep = Annotated[Principal, Depends(authenticate)]


class PreserveIn(BaseModel):
    """What to preserve: exactly one of ``event_ids``, ``since``/``until`` or ``alert_id``."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="Why this is preserved (recorded).")
    event_ids: list[Id] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS)
    since: AwareDatetime | None = Field(default=None, description="Range start (inclusive).")
    until: AwareDatetime | None = Field(default=None, description="Range end (exclusive).")
    alert_id: str | None = Field(default=None, min_length=1, max_length=256, pattern=NO_NUL)
    user_id: Id | None = Field(
        default=None,
        description="The person the case is for (the range's target). A platform call made for a "
        "person may leave it out; staff preserving by ids or range name it.",
    )

    @model_validator(mode="after")
    def _one_selection(self) -> PreserveIn:
        ranged = self.since is not None or self.until is not None
        chosen = sum((self.event_ids is not None, ranged, self.alert_id is not None))
        if chosen != 1:
            raise ValueError("give exactly one of event_ids, since and until, or alert_id")
        if ranged and (self.since is None or self.until is None or self.since >= self.until):
            raise ValueError("a range needs since < until, both with a time zone")
        return self


class ItemOut(BaseModel):
    position: int
    digest: str = Field(description="SHA-256 of the previous digest and this record's canonical JSON.")
    prev: str
    record: dict[str, Any] = Field(
        description="What was preserved: event id, text, text_sha256, author, occurred_at, surface, "
        "target_ids, context (thread, topics, reply), verdict, decision, preserved_at."
    )


class CaseSummaryOut(BaseModel):
    case_id: str
    owner_id: str | None
    actor: str = Field(description="Who preserved it.")
    reason: str
    created_at: datetime
    count: int
    head: str = Field(description="The chain head: compare with a package's manifest.")

    @classmethod
    def of(cls, summary: CaseSummary) -> CaseSummaryOut:
        return cls.model_validate(summary.to_dict())


class CaseOut(CaseSummaryOut):
    genesis: str = Field(description="SHA-256 of the case header (case.json), where the chain starts.")
    selection: dict[str, Any]
    items: list[ItemOut]

    @classmethod
    def of_case(cls, case: Case) -> CaseOut:
        return cls.model_validate(
            {**case.summary.to_dict(), "genesis": genesis(case.header),
             "selection": case.header.get("selection") or {}, "items": case.items()}
        )


class CasesOut(BaseModel):
    user_id: str
    cases: list[CaseSummaryOut]


class VaultCheckOut(BaseModel):
    ok: bool
    problem: str | None = Field(description="The first case or item that no longer holds (null: none).")
    cases: int
    items: int
    head: str = Field(description="The vault chain's head after the cases that hold.")


def _actor(principal: Principal, owner: str | None) -> str:
    if principal.role == "platform":
        return f"platform:{principal.key_id} for {owner}"
    return principal.label


def _select(
    body: PreserveIn, vault: EvidenceVault, person: str | None
) -> tuple[str | None, list[str], dict[str, Any], bool]:
    """The case's owner, the event ids, the selection as recorded, and whether the events must be
    checked to concern the owner (ids chosen by the caller)."""
    if body.event_ids is not None:
        return body.user_id or person, list(body.event_ids), {"by": "ids", "event_ids": body.event_ids}, True
    if body.alert_id is not None:
        found = vault.alert_subject(body.alert_id)
        if found is None:
            raise HTTPException(404, f"there is no alert {body.alert_id!r}")
        subject_type, subject_id, ids = found
        about_person = subject_type == "user"
        owner = subject_id if about_person else body.user_id or person
        stored = vault.targets_of(ids)  # content deleted since the alert cannot be preserved
        missing = [i for i in ids if i not in stored]
        selection = {"by": "alert", "alert_id": body.alert_id, "not_stored": missing}
        # an alert about a thread or topic holds others' messages: a person keeps what concerns them
        return owner, [i for i in ids if i in stored], selection, not about_person
    owner = body.user_id or person
    if owner is None:
        raise HTTPException(422, "a range is preserved for a person: give user_id")
    assert body.since is not None and body.until is not None  # the validator saw to it
    ids = vault.aimed_at(owner, since=body.since, until=body.until)
    selection = {"by": "range", "since": body.since.isoformat(), "until": body.until.isoformat()}
    return owner, ids, selection, False


@router.post(
    "/evidence",
    status_code=201,
    response_model=CaseOut,
    responses={
        404: {**_PROBLEM, "description": "No such alert."},
        422: {**_PROBLEM, "description": "Nothing to preserve, an event not stored, or a bad request."},
    },
    summary="Preserve content as evidence",
)
def preserve(body: PreserveIn, request: Request, principal: PrincipalDep, vault: VaultDep) -> CaseOut:
    """Copy the selected events (text, author, time, surface, context, verdict, decision) into the
    append-only vault as one hash-chained case; returns the case id and its items."""
    person = acting_for(request, principal) if principal.role == "platform" else None
    if principal.role == "platform" and person is None:
        owner_or_staff(request, principal, "", PRESERVERS)  # the platform acting for nobody: 403
    owner, ids, selection, chosen = _select(body, vault, person)
    actor_id = owner_or_staff(request, principal, owner or "", PRESERVERS)
    if actor_id == owner and chosen:
        # a person preserves what concerns them, not anyone's messages
        concerned = vault.targets_of(ids)
        for event_id in ids:
            author, targets = concerned.get(event_id, (None, set()))
            if event_id in concerned and owner != author and owner not in targets:
                raise HTTPException(403, f"event {event_id!r} is neither aimed at nor written by {owner!r}")
    case = vault.preserve(
        ids, owner_id=owner, actor=_actor(principal, owner), reason=body.reason, selection=selection
    )
    log.info("evidence case %s: %d items preserved by %s", case.case_id, len(case.links), actor_id)
    record(request, "evidence.preserve", ("evidence_case", case.case_id),
           inputs={"reason": body.reason, "selection": selection, "user_id": owner},
           after={"owner_id": owner, "items": len(case.links), "head": case.summary.head})
    return CaseOut.of_case(case)


@router.get(
    "/evidence/vault",
    response_model=VaultCheckOut,
    dependencies=[Depends(require(*READERS))],
    summary="Verify the whole evidence vault",
)
def verify_vault(vault: VaultDep) -> VaultCheckOut:
    """Walk every case and item: the first whose stored row no longer chains is named."""
    return VaultCheckOut.model_validate(vault.verify().to_dict())


def _case(case_id: str, request: Request, principal: Principal, vault: EvidenceVault) -> Case:
    case = vault.case(case_id)
    if case is None:  # case ids are random (96 bits): a 404 tells nobody anything
        raise HTTPException(404, f"there is no evidence case {case_id}")
    owner_or_staff(request, principal, case.summary.owner_id or "", READERS)
    return case


@router.get(
    "/evidence/{case_id}",
    response_model=CaseOut,
    responses={404: {**_PROBLEM, "description": "No such case."}},
    summary="One evidence case",
)
def get_case(case_id: CaseId, request: Request, principal: PrincipalDep, vault: VaultDep) -> CaseOut:
    """The case's header, items and digests (the owner, moderators, auditors, admins)."""
    return CaseOut.of_case(_case(case_id, request, principal, vault))


@router.get(
    "/evidence/{case_id}/export",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "The package (zip)."},
        404: {**_PROBLEM, "description": "No such case."},
    },
    summary="Export a case as a package",
)
def export_case(case_id: CaseId, request: Request, principal: PrincipalDep, vault: VaultDep) -> Response:
    """The case as a package: report.pdf, items.jsonl, case.json and manifest.json in one zip."""
    case = _case(case_id, request, principal, vault)
    data = package.build(case.header, case.links, pdf.render(case.header, case.links))
    log.info("evidence case %s exported by %s:%s", case_id, principal.role, principal.key_id)
    record(request, "evidence.export", ("evidence_case", case_id),
           after={"items": len(case.links), "head": case.summary.head,
                  "package_sha256": hashlib.sha256(data).hexdigest()})
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{case_id}.zip"'},
    )


@router.get(
    "/users/{user_id}/evidence",
    response_model=CasesOut,
    summary="The evidence cases preserved for a person",
)
def user_cases(user_id: UserId, request: Request, principal: PrincipalDep, vault: VaultDep) -> CasesOut:
    owner_or_staff(request, principal, user_id, READERS)
    return CasesOut(user_id=user_id, cases=[CaseSummaryOut.of(s) for s in vault.cases_of(user_id)])



"""``/v1/audit``: the audit trail (``store.audit``), for auditors and admins only.

    GET /v1/audit?after=SEQ&limit=N   entries with seq > after, oldest first
    GET /v1/audit/verify              walk the whole chain; the first entry that no longer holds
    GET /v1/audit/export?since=&until=   an inspection period: a zip of audit.jsonl and
                                      manifest.json (``audit.export``; ``cvguard audit verify-export``)

Routes that change something record it with :func:`record` (one call: who, what, on what, the
inputs and the state before and after), never with a secret; a route whose store shares the
trail's database may write the entry in the change's own transaction instead (:func:`draft` and
``AuditLog.append_in``: ``PATCH /v1/alerts/{id}`` does).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from cvguard.api.auth import Principal, acting_for, current_principal
from cvguard.audit.export import bundle, to_zip
from cvguard.config import Settings
from cvguard.store.audit import AuditLog, Draft

router = APIRouter(prefix="/v1", tags=["audit"])


class AuditHolder:
    """Opens the audit log on ``settings.database_url`` (migrated) on first use, once."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.database_url
        self._log: AuditLog | None = None
        self._lock = threading.Lock()

    def __call__(self) -> AuditLog:
        if self._log is None:
            with self._lock:
                if self._log is None:
                    self._log = AuditLog.open(self._url)
        return self._log

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None


def who(principal: Principal | None) -> str:
    """How a caller is named in the trail: role, key id and the key's name."""
    if principal is None:
        return "anonymous"
    return principal.label


def actor_of(request: Request) -> str:
    """The caller of ``request`` as the trail names it; a platform call made for a person says so
    (``platform:KEY (name) for USER``)."""
    principal = current_principal(request)
    person = acting_for(request, principal) if principal is not None else None
    return who(principal) if person is None else f"{who(principal)} for {person}"


def trail(request: Request) -> AuditLog:
    """The app's audit trail."""
    log: AuditLog = request.app.state.audit()
    return log


def draft(
    request: Request,
    action: str,
    subject: tuple[str, str],
    *,
    inputs: Any = None,
    before: Any = None,
    after: Any = None,
    policy_version: str | None = None,
) -> Draft:
    """The entry for what the caller of ``request`` did (for ``AuditLog.append_in``)."""
    return Draft(
        actor=actor_of(request), action=action, subject_type=subject[0],
        subject_id=subject[1], inputs=inputs, before=before, after=after, policy_version=policy_version,
    )


def record(
    request: Request,
    action: str,
    subject: tuple[str, str],
    *,
    inputs: Any = None,
    before: Any = None,
    after: Any = None,
    policy_version: str | None = None,
) -> None:
    """Append what the caller of ``request`` just did to the audit trail."""
    trail(request).append_many([
        draft(request, action, subject, inputs=inputs, before=before, after=after,
              policy_version=policy_version)
    ])


class AuditEntryOut(BaseModel):
    seq: int
    at: str = Field(description="Wall-clock time (UTC, ISO 8601) of the change.")
    actor: str
    action: str
    subject: dict[str, str]
    inputs: Any
    before: Any
    after: Any
    policy_version: str | None
    model_version: str | None
    prev: str
    digest: str


class AuditPage(BaseModel):
    entries: list[AuditEntryOut]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last.")


class AuditVerifyOut(BaseModel):
    ok: bool
    problem: str | None = Field(description="The first entry that does not hold, and why.")
    entries: int = Field(description="Entries that hold, from the first.")
    head: str = Field(description="The digest of the last entry that holds.")


@router.get("/audit", response_model=AuditPage, summary="The audit trail, oldest first")
def list_audit(
    request: Request,
    after: Annotated[int, Query(ge=0, description="Only entries with a larger seq.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many entries.")] = 100,
) -> AuditPage:
    log: AuditLog = request.app.state.audit()
    found = log.entries(after=after, limit=limit + 1)
    page = found[:limit]
    return AuditPage(
        entries=[AuditEntryOut.model_validate(e.to_dict()) for e in page],
        next_after=page[-1].seq if len(found) > limit else None,
    )


@router.get("/audit/verify", response_model=AuditVerifyOut, summary="Verify the audit trail's chain")
def verify_audit(request: Request) -> AuditVerifyOut:
    log: AuditLog = request.app.state.audit()
    return AuditVerifyOut.model_validate(log.verify().to_dict())


@router.get(
    "/audit/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}},
                     "description": "audit.jsonl and manifest.json in one zip (see docs/AUDIT.md)."}},
    summary="Export the audit trail for an inspection period",
)
def export_audit(
    request: Request,
    since: Annotated[AwareDatetime, Query(description="Start of the period (inclusive, with a zone).")],
    until: Annotated[AwareDatetime, Query(description="End of the period (exclusive, with a zone).")],
) -> Response:
    """The entries from the first stamped at or after ``since`` to the last before ``until``, one a
    line as stored (prev and digest included), and a manifest of the period's digests."""
    stored, prev = trail(request).period(since, until)
    files = bundle(stored, since=since, until=until, exported_at=datetime.now(UTC), prev=prev)
    return Response(
        to_zip(files),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="audit-{since.astimezone(UTC):%Y%m%d}.zip"'},
    )

"""``/v1/audit``: the audit trail (``store.audit``), for auditors and admins only.

    GET /v1/audit?after=SEQ&limit=N   entries with seq > after, oldest first
    GET /v1/audit/verify              walk the whole chain; the first entry that no longer holds

Routes that change something record it with :func:`record` (one call: who, what, on what, the
inputs and the state before and after), never with a secret.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from cvguard.api.auth import Principal, current_principal
from cvguard.config import Settings
from cvguard.store.audit import AuditLog

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
    log: AuditLog = request.app.state.audit()
    log.append(
        actor=who(current_principal(request)), action=action, subject_type=subject[0],
        subject_id=subject[1], inputs=inputs, before=before, after=after, policy_version=policy_version,
    )


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

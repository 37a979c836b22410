"""``/v1/keys`` and ``/v1/settings``: the admin's routes (``api.app`` guards the router: admin
writes, auditor and admin read).

The same as ``cvguard keys create / list / revoke``: a key is shown once, in the answer to the POST
that creates it; lists never carry a secret. ``GET /v1/settings`` shows the settings in force,
database and Redis passwords masked.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from cvguard.api.auth import Authenticator
from cvguard.api.deps import SettingsDep
from cvguard.api.routes.audit import record
from cvguard.config import redact_url
from cvguard.store.keys import ApiKey, Role

router = APIRouter(prefix="/v1", tags=["administration"])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(default="", max_length=128, description="Who or what the key is for.")
    expires_days: float | None = Field(default=None, gt=0, le=36_500, description="Days until it expires.")
    user_id: str | None = Field(
        default=None, min_length=1, max_length=128, pattern=r"^[^\x00]*$",
        description="A platform key that acts for this one person only.",
    )


class KeyOut(BaseModel):
    key_id: str
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    user_id: str | None = None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls.model_validate(key, from_attributes=True)


class IssuedKeyOut(KeyOut):
    key: str = Field(description="The key itself: shown this once, never again.")


class KeyList(BaseModel):
    keys: list[KeyOut]


def _auth(request: Request) -> Authenticator:
    auth: Authenticator = request.app.state.auth
    return auth


def _state(key: ApiKey) -> dict[str, Any]:
    """What the audit trail keeps of a key: never its secret (there is none on ``ApiKey``)."""
    return KeyOut.of(key).model_dump(mode="json", exclude={"last_used_at"})


@router.get("/keys", response_model=KeyList, summary="List API keys (no secrets)")
def list_keys(request: Request) -> KeyList:
    return KeyList(keys=[KeyOut.of(k) for k in _auth(request).keys.list()])


@router.post("/keys", response_model=IssuedKeyOut, status_code=201, summary="Create an API key")
def create_key(body: KeyIn, request: Request) -> IssuedKeyOut:
    """The answer holds the key, once; only its hash is stored."""
    expires = timedelta(days=body.expires_days) if body.expires_days is not None else None
    issued = _auth(request).keys.create(
        role=body.role, name=body.name, expires_in=expires, user_id=body.user_id
    )
    record(request, "key.create", ("key", issued.key_id), inputs=body.model_dump(mode="json"),
           after=_state(issued.info))
    return IssuedKeyOut(**KeyOut.of(issued.info).model_dump(), key=issued.key)


@router.delete("/keys/{key_id}", response_model=KeyOut, summary="Revoke an API key")
def revoke_key(key_id: Annotated[str, Path(min_length=1, max_length=32)], request: Request) -> KeyOut:
    """It stops working at once; its record stays."""
    keys = _auth(request).keys
    before = keys.get(key_id)
    if before is None:
        raise HTTPException(404, f"no API key with id {key_id!r}")
    after = keys.revoke(key_id)
    record(request, "key.revoke", ("key", key_id), before=_state(before), after=_state(after))
    return KeyOut.of(after)


@router.get("/settings", summary="The settings in force (passwords masked)")
def get_settings(settings: SettingsDep) -> dict[str, Any]:
    shown = settings.model_dump(mode="json")
    for name in ("database_url", "redis_url"):
        if isinstance(shown.get(name), str):
            shown[name] = redact_url(shown[name])
    return shown

"""API keys: created with a role, shown once, stored hashed, revocable, optionally expiring.

A key reads ``cvg_<key_id>_<secret>``: ``key_id`` (public, 12 hex characters) finds the row and
names the key in lists and logs; ``secret`` (32 random bytes, URL-safe base64) is never stored,
only its SHA-256, compared in constant time. A high-entropy secret needs no slow password hash.

    keys = KeyStore.open(settings.database_url)
    issued = keys.create(role="moderator", name="alice")   # issued.key: show it once
    keys.verify(issued.key)                                # -> ApiKey, or None
    keys.revoke(issued.key_id)

A platform key may be scoped to one person (``user_id``): it then acts for that person only (their
protection, filtered folder, evidence and reports), never for anyone else.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import Engine, RowMapping, insert, select, update

from cvguard.errors import InputError
from cvguard.store import models as m
from cvguard.store.base import StoreBase, _utcnow

Role = Literal["platform", "moderator", "auditor", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
PREFIX = "cvg_"
_ID_BYTES = 6  # 12 hex characters
_SECRET_BYTES = 32
# last_used_at is written at most this often per key (not a write per request)
LAST_USED_RESOLUTION = timedelta(minutes=1)



def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse_role(value: str) -> Role:
    """``value`` as a role, or InputError naming the roles there are."""
    for role in ROLES:
        if value == role:
            return role
    raise InputError(f"unknown role {value!r}: use one of {', '.join(ROLES)}", field="role")


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A key as stored (no secret)."""

    key_id: str
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    user_id: str | None = None  # a platform key scoped to this one person

    def active(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key just created: ``key`` is the only copy of the secret there will ever be."""

    key: str
    info: ApiKey

    @property
    def key_id(self) -> str:
        return self.info.key_id


class KeyStore(StoreBase):
    """API keys in the store's database (SQLite or PostgreSQL)."""

    _failure = "the key store failed"

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        super().__init__(engine, clock=clock)
        self._written_use: dict[str, datetime] = {}

    def create(
        self,
        *,
        role: str,
        name: str = "",
        expires_in: timedelta | None = None,
        user_id: str | None = None,
    ) -> IssuedKey:
        checked = parse_role(role)
        if user_id is not None:
            user_id = user_id.strip()
            if checked != "platform":
                raise InputError("only a platform key can be scoped to one user", field="user_id")
            if not user_id or len(user_id) > m.ID or "\x00" in user_id:
                raise InputError(f"a user id is 1 to {m.ID} characters", field="user_id")
        if expires_in is not None and expires_in <= timedelta(0):
            raise InputError("a key's lifetime must be positive", field="expires")
        name = name.strip() or checked
        if len(name) > 128:
            raise InputError("a key's name is at most 128 characters", field="name")
        now = self._clock()
        key_id = secrets.token_hex(_ID_BYTES)
        secret = secrets.token_urlsafe(_SECRET_BYTES)
        info = ApiKey(
            key_id=key_id,
            name=name,
            role=checked,
            created_at=now,
            expires_at=now + expires_in if expires_in is not None else None,
            revoked_at=None,
            last_used_at=None,
            user_id=user_id,
        )
        with self._tx() as c:
            c.execute(
                insert(m.api_keys).values(
                    key_id=key_id,
                    name=info.name,
                    role=info.role,
                    secret_sha256=_digest(secret),
                    created_at=info.created_at,
                    expires_at=info.expires_at,
                    user_id=user_id,
                )
            )
        return IssuedKey(key=f"{PREFIX}{key_id}_{secret}", info=info)

    def verify(self, key: str) -> ApiKey | None:
        """The active key ``key`` is, or None (malformed, unknown, wrong secret, revoked, expired)."""
        if not key.startswith(PREFIX):
            return None
        key_id, sep, secret = key[len(PREFIX) :].partition("_")
        if not sep or len(key_id) != 2 * _ID_BYTES or not secret:
            return None
        with self._tx() as c:
            row = c.execute(select(m.api_keys).where(m.api_keys.c.key_id == key_id)).mappings().first()
        if row is None:
            _digest(secret)  # the same work as a known id
            return None
        if not hmac.compare_digest(_digest(secret), row["secret_sha256"]):
            return None
        now = self._clock()
        found = _key(row)
        if not found.active(now):
            return None
        self._note_use(key_id, now)
        return found

    def _note_use(self, key_id: str, now: datetime) -> None:
        last = self._written_use.get(key_id)
        if last is not None and now - last < LAST_USED_RESOLUTION:
            return
        self._written_use[key_id] = now
        with self._tx() as c:
            c.execute(update(m.api_keys).where(m.api_keys.c.key_id == key_id).values(last_used_at=now))

    def list(self) -> list[ApiKey]:
        """Every key, oldest first (revoked and expired ones included)."""
        with self._tx() as c:
            rows = c.execute(select(m.api_keys).order_by(m.api_keys.c.created_at, m.api_keys.c.key_id))
            return [_key(r) for r in rows.mappings()]

    def get(self, key_id: str) -> ApiKey | None:
        with self._tx() as c:
            row = c.execute(select(m.api_keys).where(m.api_keys.c.key_id == key_id)).mappings().first()
        return _key(row) if row is not None else None

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke ``key_id`` (again is a no-op); InputError when there is no such key."""
        with self._tx() as c:
            c.execute(
                update(m.api_keys)
                .where(m.api_keys.c.key_id == key_id, m.api_keys.c.revoked_at.is_(None))
                .values(revoked_at=self._clock())
            )
        found = self.get(key_id)
        if found is None:
            raise InputError(f"no API key with id {key_id!r} (see `cvguard keys list`)", field="key_id")
        return found

    def any_active(self, role: Role | None = None) -> bool:
        now = self._clock()
        return any(k.active(now) and (role is None or k.role == role) for k in self.list())


def _key(row: RowMapping) -> ApiKey:
    return ApiKey(
        key_id=row["key_id"],
        name=row["name"],
        role=parse_role(row["role"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        last_used_at=row["last_used_at"],
        user_id=row["user_id"],
    )

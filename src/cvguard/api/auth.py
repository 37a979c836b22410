"""Who may call what: API keys (``Authorization: Bearer KEY``) of four roles, checked per router.

    platform   send events, screen texts (and, later, read its decisions and actions)
    moderator  read alerts, targets, topics and the texts behind them; change an alert's status
    auditor    read everything (GET), change nothing
    admin      everything, keys and settings included (passes every check)

What belongs to one person (their protection, filtered folder, evidence, reports) is theirs: a
platform call made *for* them reaches it, staff of the roles a route names reach it, nobody else
(:func:`owner_or_staff`). A platform call is made for a person by a key scoped to them (``cvguard
keys create --role platform --user ID``) or, with an unscoped platform key, by naming them in the
``X-On-Behalf-Of`` header (the platform vouches for its signed-in user). A scoped key cannot name
anyone else.

The routers under ``/v1`` are guarded where ``api.app`` includes them, with :func:`guard` (one role
set for reads, GET/HEAD, and one for writes), so route files carry no access code; a route that
needs its own rule adds ``Depends(require(...))`` or one of the aliases below. ``/healthz``,
``/docs``, ``/openapi.json`` and ``/metrics`` (counts only, no ids or texts; a Prometheus scrape
carries no key) stay open.

No key, or one that is malformed, unknown, revoked or expired: 401 with ``WWW-Authenticate:
Bearer``; a key whose role may not do this: 403; a key over its rate: 429 with ``Retry-After``.
All three are problem documents (``api.problems``). The caller, once known, is on
``request.state.principal`` (:func:`current_principal`).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from cvguard.api.schemas import Problem
from cvguard.config import Settings
from cvguard.store.keys import ROLES, KeyStore, Role

__all__ = [
    "AUTH_RESPONSES",
    "ROLES",
    "AdminDep",
    "Authenticator",
    "CurrentPrincipal",
    "ModeratorDep",
    "Principal",
    "RateLimiter",
    "Role",
    "acting_for",
    "authenticate",
    "can_read_texts",
    "current_principal",
    "guard",
    "owner_or_staff",
    "require",
]

ON_BEHALF_OF = "X-On-Behalf-Of"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
TEXT_READERS: frozenset[Role] = frozenset({"moderator", "auditor", "admin"})

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key: `cvguard keys create --role ROLE` prints one (roles: "
    + ", ".join(ROLES)
    + ").",
)


@dataclass(frozen=True)
class Principal:
    """The caller a valid key stands for."""

    key_id: str
    name: str
    role: Role
    user_id: str | None = None  # a platform key scoped to this one person

    @property
    def label(self) -> str:
        """How the caller is named in the records they leave (audit trail, evidence cases)."""
        return f"{self.role}:{self.key_id} ({self.name})"


class RateLimiter:
    """A token bucket per key: ``burst`` requests at once, refilled at ``per_s`` a second."""

    def __init__(self, per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_s = per_s
        self.burst = burst
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, key_id: str) -> float:
        """Spend one token of ``key_id``: 0 when allowed, else the seconds until one is there."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.get(key_id, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self.per_s)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self.per_s


class Authenticator:
    """The app's keys (opened on first use, on ``settings.database_url``) and rate limiter."""

    def __init__(self, settings: Settings) -> None:
        self._url = settings.database_url
        self._store: KeyStore | None = None
        self._lock = threading.Lock()
        per_s = settings.rate_limit_per_s
        self.limiter = RateLimiter(per_s, settings.rate_limit_burst) if per_s is not None else None

    @property
    def keys(self) -> KeyStore:
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = KeyStore.open(self._url)
        return self._store

    def principal(self, key: str) -> Principal | None:
        found = self.keys.verify(key)
        if found is None:
            return None
        return Principal(key_id=found.key_id, name=found.name, role=found.role, user_id=found.user_id)

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of this request (401 when there is no valid key, 429 over its rate)."""
    known = current_principal(request)
    if known is not None:
        return known
    if credentials is None:
        raise _unauthorized("this route needs an API key: send Authorization: Bearer KEY")
    auth: Authenticator = request.app.state.auth
    principal = auth.principal(credentials.credentials)
    if principal is None:
        raise _unauthorized("the API key is not valid (unknown, revoked or expired)")
    if auth.limiter is not None:
        wait = auth.limiter.take(principal.key_id)
        if wait > 0:
            raise HTTPException(
                429,
                f"key {principal.key_id} is over its rate of {auth.limiter.per_s:g} requests a second",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
    request.state.principal = principal
    return principal


def current_principal(request: Request) -> Principal | None:
    """The caller the auth dependency found for this request (None on open routes)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    return principal


def can_read_texts(principal: Principal | None) -> bool:
    """Whether this caller may read the raw texts of events (moderator, auditor, admin)."""
    return principal is not None and principal.role in TEXT_READERS


def acting_for(request: Request, principal: Principal) -> str | None:
    """The person a platform call is made for (see the module docstring), or None. 403 when a key
    scoped to one person names another in ``X-On-Behalf-Of``; the header means nothing on a staff
    key (staff act as themselves)."""
    named = request.headers.get(ON_BEHALF_OF)
    named = named.strip() if named is not None else None
    if principal.user_id is not None:
        if named and named != principal.user_id:
            raise HTTPException(403, f"key {principal.key_id} acts for one user only, not for {named!r}")
        return principal.user_id
    if principal.role != "platform" or not named:
        return None
    if len(named) > 128 or "\x00" in named:
        raise HTTPException(400, f"{ON_BEHALF_OF} is not a user id (1 to 128 characters)")
    return named


def owner_or_staff(request: Request, principal: Principal, owner: str, staff: tuple[Role, ...]) -> str:
    """Let through a platform call made for ``owner`` or a caller of one of the ``staff`` roles
    (admin always); 403 otherwise. Returns who is acting: the owner's id, or ``role:key_id``."""
    if principal.role == "admin" or principal.role in staff:
        return f"{principal.role}:{principal.key_id}"
    if acting_for(request, principal) == owner:
        return owner
    if principal.role == "platform":
        who = acting_for(request, principal)
        detail = (
            f"this call is made for user {who!r}, not for {owner!r}" if who is not None
            else f"a platform call reaches a person's own records only when made for them ({ON_BEHALF_OF})"
        )
        raise HTTPException(403, detail)
    raise _forbidden(principal, frozenset((*staff, "admin")))


def _forbidden(principal: Principal, allowed: frozenset[Role]) -> HTTPException:
    shown = ", ".join(r for r in ROLES if r in allowed)
    return HTTPException(403, f"the {principal.role} role may not do this (allowed: {shown})")


def require(*roles: Role) -> Callable[..., Principal]:
    """A dependency that lets through a caller of one of ``roles`` (admin always)."""
    allowed: frozenset[Role] = frozenset((*roles, "admin"))

    def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            raise _forbidden(principal, allowed)
        return principal

    return check


def guard(*, read: tuple[Role, ...], write: tuple[Role, ...] = ()) -> Callable[..., Principal]:
    """A router-wide dependency: ``read`` roles for GET/HEAD, ``write`` roles for anything else."""
    readers: frozenset[Role] = frozenset((*read, "admin"))
    writers: frozenset[Role] = frozenset((*write, "admin"))

    def check(request: Request, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        allowed = readers if request.method in SAFE_METHODS else writers
        if principal.role not in allowed:
            raise _forbidden(principal, allowed)
        return principal

    return check


_PROBLEM: dict[str, Any] = {"model": Problem, "content": {"application/problem+json": {}}}
# documented on every guarded route (added where api.app includes the routers)
AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {**_PROBLEM, "description": "No valid API key (missing, unknown, revoked or expired)."},
    403: {**_PROBLEM, "description": "The key's role may not do this."},
    429: {**_PROBLEM, "description": "The key is over its rate limit; see Retry-After."},
}

CurrentPrincipal = Annotated[Principal, Depends(authenticate)]
ModeratorDep = Annotated[Principal, Depends(require("moderator"))]
AdminDep = Annotated[Principal, Depends(require("admin"))]

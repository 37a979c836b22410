"""One way for tests to call the API as a caller with a role.

    with api_client(create_app(settings, Screener.default()), role="moderator") as client:
        client.get("/v1/alerts")

Every test that talks to the HTTP API goes through this, so the way a caller proves who it is
lives in one place: a real API key of ``role`` is created in the app's own database (the key store
the app checks keys against, migrated on first use) and sent as ``Authorization: Bearer KEY``.
``role=None`` gives a client without a key. The key is on ``client.api_key``.

A person's own records are reached by a platform call made for them: ``user="u1"`` gives a
platform client whose key is scoped to that user; ``on_behalf_of="u1"`` an unscoped platform key
that names the user in ``X-On-Behalf-Of`` on every request (``api.auth.owner_or_staff``).
"""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

from cvguard.api.auth import Authenticator

ROLES = ("platform", "moderator", "auditor", "admin")


def api_key(app: FastAPI, role: str, name: str = "", *, user: str | None = None) -> str:
    """A new key of ``role`` in ``app``'s database (``user``: a platform key scoped to that user)."""
    auth: Authenticator = app.state.auth
    return auth.keys.create(role=role, name=name or f"test-{role}", user_id=user).key


class ApiClient(TestClient):
    """A TestClient that knows the key it sends (``api_key``; None without one)."""

    api_key: str | None = None


def api_client(
    app: FastAPI,
    *,
    role: str | None = "admin",
    user: str | None = None,
    on_behalf_of: str | None = None,
    **kwargs: Any,
) -> ApiClient:
    """A test client acting with ``role`` (one of ``ROLES``; None: no key); ``user`` /
    ``on_behalf_of``: a platform call made for that person (see the module docstring)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    client = ApiClient(app, **kwargs)
    if role is not None:
        client.api_key = api_key(app, role, user=user)
        client.headers["Authorization"] = f"Bearer {client.api_key}"
    if on_behalf_of is not None:
        client.headers["X-On-Behalf-Of"] = on_behalf_of
    return client

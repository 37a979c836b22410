"""One way for tests to call the API as a caller with a role.

    with api_client(create_app(settings, Screener.default()), role="moderator") as client:
        client.get("/v1/alerts")

Every test that talks to the HTTP API goes through this, so the way a caller proves who it is
lives in one place: a real API key of ``role`` is created in the app's own database (the key store
the app checks keys against, migrated on first use) and sent as ``Authorization: Bearer KEY``.
``role=None`` gives a client without a key. The key is on ``client.api_key``.
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


def api_key(app: FastAPI, role: str, name: str = "") -> str:
    """A new key of ``role`` in ``app``'s database."""
    auth: Authenticator = app.state.auth
    return auth.keys.create(role=role, name=name or f"test-{role}").key


class ApiClient(TestClient):
    """A TestClient that knows the key it sends (``api_key``; None without one)."""

    api_key: str | None = None


def api_client(app: FastAPI, *, role: str | None = "admin", **kwargs: Any) -> ApiClient:
    """A test client acting with ``role`` (one of ``ROLES``; None: no key)."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    client = ApiClient(app, **kwargs)
    if role is not None:
        client.api_key = api_key(app, role)
        client.headers["Authorization"] = f"Bearer {client.api_key}"
    return client

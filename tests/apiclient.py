"""One way for tests to call the API as a caller with a role.

    with api_client(create_app(settings, Screener.default()), role="moderator") as client:
        client.get("/v1/alerts")

Every test that talks to the HTTP API goes through this, so the way a caller proves who it is
(an API key of a role) lives in one place.
"""

from __future__ import annotations

import warnings
from typing import Any

from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ROLES = ("platform", "moderator", "auditor", "admin")


def api_client(app: FastAPI, *, role: str = "admin", **kwargs: Any) -> TestClient:
    """A test client acting with ``role`` (one of ``ROLES``)."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}")
    return TestClient(app, **kwargs)

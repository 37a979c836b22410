"""Access control: API keys (stored hashed, revocable, expiring) and the role each /v1 route needs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from apiclient import ApiClient, api_client, api_key
from cvguard.api import create_app
from cvguard.api.auth import Principal, RateLimiter, can_read_texts
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import InputError
from cvguard.store import models as m
from cvguard.store.keys import KeyStore

EVENT = {
    "event_id": "ev-1",
    "surface": "comment",
    "occurred_at": "2026-11-24T08:00:00Z",
    "author": {"id": "u1"},
    "text": "说得好",
    "target_ids": ["u2"],
}
# (method, path, body) of every /v1 route there is today, and the roles that may call it
ROUTES: list[tuple[str, str, dict[str, Any] | None, set[str]]] = [
    ("POST", "/v1/screen", {"text": "你好"}, {"platform", "admin"}),
    ("POST", "/v1/events", EVENT, {"platform", "admin"}),
    ("GET", "/v1/alerts", None, {"moderator", "auditor", "admin"}),
    ("GET", "/v1/targets/u2", None, {"moderator", "auditor", "admin"}),
    ("GET", "/v1/topics/t1", None, {"moderator", "auditor", "admin"}),
    ("GET", "/v1/keys", None, {"auditor", "admin"}),
    ("POST", "/v1/keys", {"role": "platform"}, {"admin"}),
    ("GET", "/v1/settings", None, {"auditor", "admin"}),
]
ROLES = ("platform", "moderator", "auditor", "admin")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


# ------------------------------------------------------------------------------ key store


def test_keys_are_stored_hashed_and_verified_in_constant_form(database_url: str) -> None:
    clock = Clock()
    with KeyStore.open(database_url, clock=clock) as keys:
        issued = keys.create(role="moderator", name="alice")
        assert re.fullmatch(r"cvg_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}", issued.key)
        # the secret is nowhere in the database, only its SHA-256 (the secret may itself hold "_":
        # it is everything after the id)
        secret = issued.key.split("_", 2)[2]
        assert len(secret) >= 40
        with keys._engine.connect() as c:
            row = c.execute(select(m.api_keys)).mappings().one()
        assert secret not in str(dict(row)) and len(row["secret_sha256"]) == 64
        found = keys.verify(issued.key)
        assert found is not None
        assert (found.key_id, found.name, found.role) == (issued.key_id, "alice", "moderator")
        # a wrong secret for a real id, an unknown id, garbage: no key
        assert keys.verify(issued.key[:-2] + "xx") is None
        assert keys.verify("cvg_000000000000_" + secret) is None
        assert keys.verify("Bearer nonsense") is None and keys.verify("") is None
        # use is recorded (at most once a minute per key)
        (listed,) = keys.list()
        assert listed.last_used_at == clock.now and listed.created_at == clock.now


def test_a_revoked_or_expired_key_no_longer_works(database_url: str) -> None:
    clock = Clock()
    with KeyStore.open(database_url, clock=clock) as keys:
        doomed = keys.create(role="platform")
        brief = keys.create(role="auditor", expires_in=timedelta(days=1))
        assert keys.verify(doomed.key) is not None
        assert keys.revoke(doomed.key_id).revoked_at == clock.now
        assert keys.verify(doomed.key) is None
        assert keys.revoke(doomed.key_id).revoked_at == clock.now  # again: a no-op
        clock.now += timedelta(hours=23)
        assert keys.verify(brief.key) is not None
        clock.now += timedelta(hours=1)
        assert keys.verify(brief.key) is None
        assert {k.key_id for k in keys.list()} == {doomed.key_id, brief.key_id}
        with pytest.raises(InputError, match="no API key"):
            keys.revoke("nope")


@pytest.mark.parametrize("role", ["root", "Admin", ""])
def test_an_unknown_role_is_refused(tmp_path: Path, role: str) -> None:
    with KeyStore.open(f"sqlite:///{tmp_path / 'k.db'}") as keys, pytest.raises(InputError, match="platform"):
        keys.create(role=role)


# ------------------------------------------------------------------------------- the API


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(Settings(data_dir=tmp_path), Screener.default())
    with api_client(app, role=None):  # runs the lifespan (closes the stores at the end)
        yield app


def _call(client: ApiClient, method: str, path: str, body: dict[str, Any] | None, **kw: Any) -> Any:
    return client.request(method, path, json=body, **kw)


def _assert_problem(response: Any, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == status


@pytest.mark.parametrize(("method", "path", "body", "allowed"), ROUTES)
def test_every_route_checks_its_scope(
    app: FastAPI, method: str, path: str, body: dict[str, Any] | None, allowed: set[str]
) -> None:
    anonymous = api_client(app, role=None)
    missing = _call(anonymous, method, path, body)
    _assert_problem(missing, 401)
    assert missing.headers["www-authenticate"] == "Bearer"
    bad = _call(anonymous, method, path, body, headers={"Authorization": "Bearer cvg_0123456789ab_guess"})
    _assert_problem(bad, 401)
    assert bad.headers["www-authenticate"] == "Bearer"
    for role in ROLES:
        response = _call(api_client(app, role=role), method, path, body)
        if role in allowed:
            assert response.status_code < 400, (role, response.text)
        else:
            _assert_problem(response, 403)
            assert role in response.json()["detail"]


def test_no_v1_route_is_left_open(app: FastAPI) -> None:
    """Every /v1 operation in the schema (today's and any added later) refuses a caller without a key."""
    anonymous = api_client(app, role=None)
    spec = anonymous.get("/openapi.json").json()
    operations = [
        (method.upper(), re.sub(r"\{[^}]+\}", "x", path))
        for path, item in spec["paths"].items()
        if path.startswith("/v1")
        for method in item
    ]
    assert len(operations) >= len(ROUTES)
    for method, path in operations:
        _assert_problem(anonymous.request(method, path, json={}), 401)
    # and the schema says so: a bearer scheme (the Authorize button of /docs) on each of them
    scheme = spec["components"]["securitySchemes"]["ApiKey"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer") and "keys create" in scheme["description"]
    for path, item in spec["paths"].items():
        for operation in item.values():
            secured = "security" in operation
            assert secured == path.startswith("/v1"), path
            if secured:
                assert {"401", "403", "429"} <= set(operation["responses"])


def test_open_routes_need_no_key(app: FastAPI) -> None:
    anonymous = api_client(app, role=None)
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert anonymous.get(path).status_code == 200, path


def test_revoked_and_expired_keys_are_401(app: FastAPI) -> None:
    keys: KeyStore = app.state.auth.keys
    client = api_client(app, role="moderator")
    assert client.get("/v1/alerts").status_code == 200
    assert client.api_key is not None
    keys.revoke(client.api_key.split("_")[1])
    _assert_problem(client.get("/v1/alerts"), 401)
    expired = keys.create(role="moderator", expires_in=timedelta(microseconds=1)).key
    _assert_problem(client.get("/v1/alerts", headers={"Authorization": f"Bearer {expired}"}), 401)
    # another scheme than Bearer is no key at all
    basic = {"Authorization": f"Basic {api_key(app, 'admin')}"}
    _assert_problem(client.get("/v1/alerts", headers=basic), 401)


def test_a_key_over_its_rate_is_429_with_retry_after(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, rate_limit_per_s=0.5, rate_limit_burst=3)
    app = create_app(settings, Screener.default())
    with api_client(app, role="auditor") as client:
        other = api_client(app, role="auditor")
        for _ in range(3):
            assert client.get("/v1/alerts").status_code == 200
        refused = client.get("/v1/alerts")
        _assert_problem(refused, 429)
        assert int(refused.headers["retry-after"]) >= 1
        # per key: another key is not slowed down by this one
        assert other.get("/v1/alerts").status_code == 200


def test_the_token_bucket_refills() -> None:
    now = [0.0]
    limiter = RateLimiter(per_s=2.0, burst=2, clock=lambda: now[0])
    assert limiter.take("k") == 0 and limiter.take("k") == 0
    assert limiter.take("k") == pytest.approx(0.5)
    now[0] += 0.5
    assert limiter.take("k") == 0
    assert limiter.take("other") == 0


@pytest.mark.parametrize(
    ("role", "reads"),
    [(None, False), ("platform", False), ("moderator", True), ("auditor", True), ("admin", True)],
)
def test_who_may_read_texts(role: Any, reads: bool) -> None:
    principal = Principal(key_id="k", name="n", role=role) if role else None
    assert can_read_texts(principal) is reads


def test_an_admin_manages_keys_over_the_api(tmp_path: Path) -> None:
    secret = "pw-not-for-eyes"
    settings = Settings(data_dir=tmp_path, redis_url=None, database_url=f"sqlite:///{tmp_path / 'c.db'}")
    app = create_app(settings, Screener.default())
    with api_client(app, role="admin") as admin:
        made = admin.post("/v1/keys", json={"role": "moderator", "name": "bob", "expires_days": 30})
        assert made.status_code == 201, made.text
        body = made.json()
        assert body["role"] == "moderator" and body["key"].startswith("cvg_") and body["expires_at"]
        bob = api_client(app, role=None)
        bob.headers["Authorization"] = f"Bearer {body['key']}"
        assert bob.get("/v1/alerts").status_code == 200
        listed = admin.get("/v1/keys").json()["keys"]
        assert body["key_id"] in {k["key_id"] for k in listed}
        assert all("key" not in k for k in listed) and body["key"] not in admin.get("/v1/keys").text
        assert admin.delete(f"/v1/keys/{body['key_id']}").json()["revoked_at"]
        _assert_problem(bob.get("/v1/alerts"), 401)
        _assert_problem(admin.delete("/v1/keys/000000000000"), 404)
        _assert_problem(admin.post("/v1/keys", json={"role": "root"}), 422)
        shown = admin.get("/v1/settings").json()
        assert shown["database_url"].startswith("sqlite:///") and shown["rate_limit_per_s"] == 50
    masked = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'c.db'}",
                      redis_url=f"redis://:{secret}@127.0.0.1:1/0")
    with api_client(create_app(masked, Screener.default()), role="admin") as admin:
        text = admin.get("/v1/settings").text
    assert secret not in text and ":***@" in text

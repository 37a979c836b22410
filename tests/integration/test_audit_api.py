"""``GET /v1/audit`` and ``/v1/audit/verify`` (auditors and admins only), and what the API records:
an alert's status change with before and after, a key's creation and revocation without its secret
(SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from apiclient import api_client
from cvguard.api import create_app
from cvguard.behavior.alerts import Alert
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.store import EventStore

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
AID = "pile_on:user:victim:1"


def alert() -> Alert:
    return Alert(alert_id=AID, kind="pile_on", subject_type="user", subject_id="victim", level="warning",
                 raised_at=T0, updated_at=T0, evidence={"abusive": 12}, event_ids=("ev-1",))


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture
def app(tmp_path: Path, database_url: str, screener: Screener) -> FastAPI:
    # what people do only (automated entries: tests/integration/test_audit_recorded.py)
    settings = Settings(data_dir=tmp_path, database_url=database_url, rate_limit_per_s=None,
                        audit_automated=False)
    return create_app(settings, screener)


@pytest.mark.parametrize(("role", "status"), [("auditor", 200), ("admin", 200), ("moderator", 403),
                                               ("platform", 403), (None, 401)])
def test_only_auditors_and_admins_read_the_trail(app: FastAPI, role: str | None, status: int) -> None:
    with api_client(app, role=role) as client:
        assert client.get("/v1/audit").status_code == status
        assert client.get("/v1/audit/verify").status_code == status


def test_a_status_change_is_recorded_with_before_and_after(app: FastAPI) -> None:
    with api_client(app, role="moderator") as moderator, api_client(app, role="auditor") as auditor:
        store = app.state.pipeline().store
        assert isinstance(store, EventStore)
        store.upsert_alert(alert())
        response = moderator.patch(f"/v1/alerts/{AID}", json={"status": "false_positive", "note": "fans"})
        assert response.status_code == 200, response.text
        page = auditor.get("/v1/audit").json()
        assert page["next_after"] is None
        [entry] = page["entries"]
        key_id = moderator.api_key.split("_")[1] if moderator.api_key else ""
        assert entry["action"] == "alert.status" and entry["subject"] == {"type": "alert", "id": AID}
        assert entry["actor"].startswith(f"moderator:{key_id}")
        assert entry["before"]["status"] == "open" and entry["after"]["status"] == "false_positive"
        assert entry["after"]["status_note"] == "fans" and entry["inputs"]["note"] == "fans"
        assert entry["policy_version"] is not None and entry["seq"] == 1
        verified = auditor.get("/v1/audit/verify").json()
        assert verified == {"ok": True, "problem": None, "entries": 1, "head": entry["digest"]}


def test_keys_created_and_revoked_are_recorded_without_their_secret(app: FastAPI) -> None:
    with api_client(app, role="admin") as admin:
        created = admin.post("/v1/keys", json={"role": "platform", "name": "app", "user_id": "u1"})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["key_id"]
        assert admin.delete(f"/v1/keys/{key_id}").status_code == 200
        entries = admin.get("/v1/audit?limit=1").json()
        assert len(entries["entries"]) == 1 and entries["next_after"] == 1
        entries = admin.get("/v1/audit").json()["entries"]
        assert [(e["action"], e["subject"]["id"]) for e in entries] == [
            ("key.create", key_id), ("key.revoke", key_id)
        ]
        made, revoked = entries
        assert made["before"] is None
        after = made["after"]
        assert (after["role"], after["name"], after["user_id"]) == ("platform", "app", "u1")
        assert revoked["before"]["revoked_at"] is None and revoked["after"]["revoked_at"] is not None
        shown = json.dumps(entries)
        assert key not in shown and key.split("_", 2)[2] not in shown  # never the secret
        assert admin.api_key is not None and admin.api_key.split("_", 2)[2] not in shown

"""``/v1/violations``, ``/v1/sanctions``, ``/v1/accounts/{id}/standing``: staff only (moderators
write, auditors read, the platform key nothing), bad input as problems, and a person's violation
graded like any other (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener

T0 = "2026-11-24T08:00:00Z"


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture
def app(tmp_path: Path, database_url: str, screener: Screener) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path, database_url=database_url, rate_limit_per_s=None), screener)


READS = ["/v1/violations", "/v1/sanctions", "/v1/accounts/a1/standing", "/v1/sanctions/nope"]


@pytest.mark.parametrize(
    ("role", "read", "write"),
    [("moderator", True, True), ("admin", True, True), ("auditor", True, False), ("platform", False, False),
     (None, False, False)],
)
def test_staff_only(app: FastAPI, role: str | None, read: bool, write: bool) -> None:
    with api_client(app, role=role) as client:
        for path in READS:
            code = client.get(path).status_code
            want = (404 if path.endswith("nope") else 200) if read else (401 if role is None else 403)
            assert code == want, (path, code)
        body = {"account_id": "a1", "reason": "insults in DMs", "at": T0}
        code = client.post("/v1/violations", json=body).status_code
        assert code == (201 if write else 401 if role is None else 403)
        code = client.post("/v1/sanctions", json={"account_id": "a1", "kind": "warning", "days": 7,
                                                  "reason": "r"}).status_code
        assert code == (201 if write else 401 if role is None else 403)


def test_a_persons_violation_is_graded_and_shows_in_the_standing(app: FastAPI) -> None:
    with api_client(app, role="moderator") as mod, api_client(app, role="auditor") as auditor:
        r = mod.post("/v1/violations", json={"account_id": "a1", "reason": "called for an attack",
                                             "role": "initiator", "categories": ["pile_on_incitement"],
                                             "at": T0})
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["violation"]["roles"] == ["first_time", "initiator"]
        assert out["violation"]["confirmed_by"].startswith("person:moderator:")
        sanction = out["sanction"]
        assert sanction["kind"] == "comment_restriction" and sanction["step"] == 4
        assert sanction["statement"]["why"].startswith("called for an attack")
        got = auditor.get(f"/v1/sanctions/{sanction['sanction_id']}").json()
        assert got["sanction_id"] == sanction["sanction_id"] and got["statement"]["appeal"]["until"]
        standing = auditor.get("/v1/accounts/a1/standing").json()
        assert standing["strikes"] == 6 and standing["step"] == 4
        assert "comment" in standing["restricted_surfaces"]
        assert [v["violation_id"] for v in standing["violations"]] == [out["violation"]["violation_id"]]
        listed_v = auditor.get("/v1/violations?account=a1").json()["violations"]
        assert [v["account_id"] for v in listed_v] == ["a1"]
        assert auditor.get("/v1/violations?account=zz").json()["violations"] == []
        listed = auditor.get("/v1/sanctions?account=a1&status=active").json()["sanctions"]
        assert [s["sanction_id"] for s in listed] == [sanction["sanction_id"]]


def test_a_sanction_by_hand(app: FastAPI) -> None:
    with api_client(app, role="moderator") as mod:
        s = mod.post("/v1/sanctions", json={"account_id": "a2", "kind": "suspension", "days": 3,
                                            "reason": "threats in live chat"}).json()
        assert s["kind"] == "suspension" and s["step"] is None and s["decided_by"].startswith("person:")
        assert s["statement"]["why"] == "threats in live chat" and "dm" in s["statement"]["restricts"]
        starts = datetime.fromisoformat(s["starts_at"])
        assert (datetime.fromisoformat(s["expires_at"]) - starts).days == 3
        assert starts.tzinfo is not None and starts <= datetime.now(UTC)


@pytest.mark.parametrize(
    ("path", "body", "needle"),
    [
        ("/v1/violations", {"account_id": "a", "reason": "r", "surface": "commnet"}, "unknown surface"),
        ("/v1/violations", {"account_id": "a", "reason": "r", "categories": ["insults"]}, "unknown category"),
        ("/v1/violations", {"account_id": "a", "reason": "r", "role": "leader"}, "role"),
        ("/v1/violations", {"account_id": "", "reason": "r"}, "account_id"),
        ("/v1/violations", {"account_id": "a", "reason": "r", "extra": 1}, "extra"),
        ("/v1/sanctions", {"account_id": "a", "kind": "ban", "days": 1, "reason": "r"}, "kind"),
        ("/v1/sanctions", {"account_id": "a", "kind": "warning", "reason": "r"}, "needs days"),
        ("/v1/sanctions", {"account_id": "a", "kind": "warning", "days": 1, "reason": "r",
                           "violation_ids": ["v9"]}, "not one of"),
    ],
)
def test_bad_input_is_a_problem(app: FastAPI, path: str, body: dict[str, object], needle: str) -> None:
    with api_client(app, role="moderator") as mod:
        r = mod.post(path, json=body)
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert needle in r.text


def test_bad_filters_are_problems(app: FastAPI) -> None:
    with api_client(app, role="auditor") as auditor:
        assert auditor.get("/v1/violations?since=yesterday").status_code == 422
        assert auditor.get("/v1/sanctions?status=maybe").status_code == 422
        assert auditor.get("/v1/violations?limit=0").status_code == 422

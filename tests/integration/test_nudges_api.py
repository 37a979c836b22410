"""Nudge outcomes: ``POST /v1/nudges/{id}/outcome`` (platform; one outcome per nudge; 404 / 409 /
422) and ``GET /v1/nudges/stats`` (platform, moderator, auditor), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
MOCKERY = "活该，谁让你自己作"  # inappropriate: chat-inappropriate nudges the writer
HELLO = "你好呀"


def comment(eid: str, s: float, text: str = MOCKERY, surface: str = "comment") -> dict[str, Any]:
    return {"event_id": eid, "surface": surface, "occurred_at": (T0 + timedelta(seconds=s)).isoformat(),
            "author": {"id": f"w-{eid}"}, "text": text, "target_ids": ["li"]}


def at(s: float) -> str:
    return (T0 + timedelta(seconds=s)).isoformat()


@pytest.fixture
def app(tmp_path: Path, database_url: str) -> Any:
    app = create_app(Settings(data_dir=tmp_path, database_url=database_url, rate_limit_per_s=None),
                     Screener.default())
    with api_client(app, role="platform") as c:
        events = [comment(f"n{i}", i) for i in range(5)] + [comment("r1", 10, surface="reply"),
                                                             comment("ok", 11, HELLO)]
        decisions = c.post("/v1/events", json={"events": events}).json()["decisions"]
        nudges = [d for d in decisions if d["action"] == "nudge"]
        assert len(nudges) == 6
        assert all(d["nudge"]["id"] == d["event_id"] for d in nudges)  # a nudge's id: its event's
        assert c.get("/v1/decisions/n0").json()["nudge"]["id"] == "n0"
    return app


def test_an_outcome_is_recorded_once(app: Any) -> None:
    with api_client(app, role="platform") as c:
        first = c.post("/v1/nudges/n0/outcome", json={"outcome": "edited", "at": at(20)})
        assert first.status_code == 201, first.text
        body = first.json()
        assert (body["nudge_id"], body["outcome"], body["rule_id"], body["surface"]) == (
            "n0", "edited", "chat-inappropriate", "comment")
        again = c.post("/v1/nudges/n0/outcome", json={"outcome": "edited", "at": at(20)})
        assert again.status_code == 200  # a retry: the same outcome, nothing changes
        conflict = c.post("/v1/nudges/n0/outcome", json={"outcome": "posted_anyway", "at": at(25)})
        assert conflict.status_code == 409
        assert conflict.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/nudges/unknown/outcome", {"outcome": "edited", "at": at(20)}, 404),  # no decision
        ("/v1/nudges/ok/outcome", {"outcome": "edited", "at": at(20)}, 404),  # decided, not a nudge
        ("/v1/nudges/n1/outcome", {"outcome": "deleted", "at": at(20)}, 422),  # no such outcome
        ("/v1/nudges/n1/outcome", {"outcome": "edited"}, 422),  # no time
        ("/v1/nudges/n1/outcome", {"outcome": "edited", "at": "2026-11-28T08:00:20"}, 422),  # no timezone
        ("/v1/nudges/n1/outcome", {"outcome": "edited", "at": at(-3600)}, 422),  # before the nudge
        ("/v1/nudges/n1/outcome", {"outcome": "edited", "at": "2099-01-01T00:00:00Z"}, 422),  # ahead
        ("/v1/nudges/n1/outcome", {"outcome": "edited", "at": at(20), "by": "x"}, 422),  # unknown field
    ],
)
def test_bad_outcomes_are_problems(app: Any, path: str, body: dict[str, Any], status: int) -> None:
    with api_client(app, role="platform") as c:
        response = c.post(path, json=body)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")


def test_who_may_report_and_read(app: Any) -> None:
    for role in ("moderator", "auditor"):
        with api_client(app, role=role) as c:
            posted = c.post("/v1/nudges/n1/outcome", json={"outcome": "edited", "at": at(20)})
            assert posted.status_code == 403
            assert c.get("/v1/nudges/stats").status_code == 200
    with api_client(app, role=None) as c:
        assert c.get("/v1/nudges/stats").status_code == 401


def test_stats_give_each_outcome_share_by_rule_and_surface(app: Any) -> None:
    with api_client(app, role="platform") as c:
        for nudge, outcome in (("n0", "edited"), ("n1", "cancelled"), ("n2", "posted_anyway"),
                               ("r1", "posted_anyway")):
            posted = c.post(f"/v1/nudges/{nudge}/outcome", json={"outcome": outcome, "at": at(30)})
            assert posted.status_code == 201
    with api_client(app, role="auditor") as c:
        stats = c.get("/v1/nudges/stats").json()
        total = stats["total"]
        assert (total["nudges"], total["answered"], total["no_outcome"]) == (6, 4, 2)
        assert total["counts"] == {"edited": 1, "cancelled": 1, "posted_anyway": 2}
        assert total["shares"] == {"edited": 0.25, "cancelled": 0.25, "posted_anyway": 0.5}
        assert total["revised_or_cancelled"] == 0.5
        assert [(g["rule_id"], g["nudges"]) for g in stats["by_rule"]] == [("chat-inappropriate", 6)]
        by_surface = {g["surface"]: (g["nudges"], g["answered"], g["shares"]["posted_anyway"])
                      for g in stats["by_surface"]}
        assert by_surface == {"comment": (5, 3, pytest.approx(1 / 3, abs=1e-4)), "reply": (1, 1, 1.0)}
        assert "a third" in stats["reference"]
        # a period: the nudges decided in it (event time)
        window = c.get("/v1/nudges/stats", params={"from": at(2), "to": at(11)}).json()["total"]
        assert (window["nudges"], window["answered"]) == (4, 2)
        empty = c.get("/v1/nudges/stats", params={"from": at(100)}).json()["total"]
        assert empty["nudges"] == 0 and empty["shares"]["edited"] is None
        assert c.get("/v1/nudges/stats", params={"from": at(10), "to": at(5)}).status_code == 422
        assert c.get("/v1/nudges/stats", params={"from": "yesterday"}).status_code == 422

"""``/v1/reports`` end to end over HTTP: filing for a person, who may read what, the staff queue
(priority, SLA, overdue, pages), decisions and the outcome in the action feed, rings, minors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import api_client
from cvguard.api import create_app
from cvguard.api.reportdesk import ReportDesk
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.reports import FixedGroups

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def app(tmp_path: Path, screener: Screener, clock: Clock) -> FastAPI:
    made = create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), screener)
    desk: ReportDesk = made.state.reports
    desk.clock = clock
    return made


def _file(app: FastAPI, who: str, **body: Any) -> dict[str, Any]:
    body.setdefault("category", "insult")
    body.setdefault("account_id", "troll")
    with api_client(app, role="platform", on_behalf_of=who) as c:
        response = c.post("/v1/reports", json=body)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def test_a_person_files_and_reads_their_report(app: FastAPI) -> None:
    text = "他说知道我家在哪，要来找我 — I am scared — أنا خائف"
    body = {
        "category": "threat",
        "account_id": "troll",
        "event_ids": ["e1"],
        "text": text,
        "evidence_case_ids": ["case-1"],
    }
    report = _file(app, "u1", **body)
    assert report["status"] == "open" and report["text"] == text
    assert report["staff"] is None  # the reporter does not see priority, crowd or other reporters
    rid = report["report_id"]
    with api_client(app, role="platform", user="u1") as c:  # a key scoped to u1
        mine = c.get(f"/v1/reports/{rid}")
        assert mine.status_code == 200 and mine.json()["staff"] is None
        listed = c.get("/v1/users/u1/reports").json()
        assert [r["report_id"] for r in listed["reports"]] == [rid]
    with api_client(app, role="moderator") as c:
        staff = c.get(f"/v1/reports/{rid}").json()["staff"]
        assert staff["reporter_id"] == "u1" and staff["priority"] == "urgent"
        assert staff["due_at"].startswith("2026-11-20T13:00")
        assert [h["action"] for h in staff["history"]] == ["filed"]
        assert c.get("/v1/users/u1/reports").status_code == 200
    with api_client(app, role="auditor") as c:
        assert c.get(f"/v1/reports/{rid}").json()["staff"]["priority"] == "urgent"


@pytest.mark.parametrize(
    ("client_kwargs", "status"),
    [
        ({"role": "platform", "user": "u2"}, 403),  # another user's key scope
        ({"role": "platform", "on_behalf_of": "u2"}, 403),  # made for someone else
        ({"role": "platform"}, 403),  # the platform itself, for nobody
        ({"role": "platform", "user": "u2", "on_behalf_of": "u1"}, 403),  # a scoped key naming another
        ({"role": None}, 401),
    ],
)
def test_nobody_else_reads_someones_reports(app: FastAPI, client_kwargs: dict[str, Any], status: int) -> None:
    rid = _file(app, "u1", text="secret")["report_id"]
    with api_client(app, **client_kwargs) as c:
        for path in (f"/v1/reports/{rid}", "/v1/users/u1/reports"):
            response = c.get(path)
            assert response.status_code == status, (path, response.text)
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "secret" not in response.text


@pytest.mark.parametrize(
    ("client_kwargs", "queue", "decide"),
    [
        ({"role": "platform"}, 403, 403),  # the platform key acting for nobody
        ({"role": "platform", "on_behalf_of": "u1"}, 403, 403),  # a person does not read the queue
        ({"role": "platform", "user": "u1"}, 403, 403),
        ({"role": "auditor"}, 200, 403),  # auditors read, never decide
        ({"role": "moderator"}, 200, 200),
        ({"role": "admin"}, 200, 200),
        ({"role": None}, 401, 401),
    ],
)
def test_who_reads_the_queue_and_decides(
    app: FastAPI, client_kwargs: dict[str, Any], queue: int, decide: int
) -> None:
    rid = _file(app, "u1")["report_id"]
    with api_client(app, **client_kwargs) as c:
        assert c.get("/v1/reports").status_code == queue
        assert c.get("/v1/reports/stats").status_code == queue
        assert c.post(f"/v1/reports/{rid}/assign", json={}).status_code == decide
        assert c.post(f"/v1/reports/{rid}/decision", json={"outcome": "rejected"}).status_code == decide


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "spam", "account_id": "x"}, "category"),  # not in the taxonomy
        ({"category": "insult"}, "account_id"),  # reports nothing
        ({"category": "insult", "account_id": "x", "text": "字" * 4001}, "text"),  # over the limit
        ({"category": "insult", "account_id": "x", "colour": "red"}, "colour"),  # unknown field
        ({"category": "insult", "account_id": "x\x00"}, "account_id"),
        (
            {"category": "insult", "account_id": "x", "reporter": {"created_at": "2020-01-01T00:00:00"}},
            "created_at",
        ),
        (
            {"category": "insult", "account_id": "x", "reporter": {"created_at": "1900-01-01T00:00:00Z"}},
            "created_at",
        ),
    ],
)
def test_bad_reports_are_422(app: FastAPI, body: dict[str, Any], field: str) -> None:
    with api_client(app, role="platform", on_behalf_of="u1") as c:
        response = c.post("/v1/reports", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in response.text


def test_a_report_is_filed_for_a_person(app: FastAPI) -> None:
    for kwargs in ({"role": "platform"}, {"role": "moderator"}):
        with api_client(app, **kwargs) as c:  # type: ignore[arg-type]
            response = c.post("/v1/reports", json={"category": "insult", "account_id": "x"})
        assert response.status_code == 403


def test_client_key_retry_is_one_report(app: FastAPI) -> None:
    first = _file(app, "u1", client_key="tap-1")
    assert _file(app, "u1", client_key="tap-1")["report_id"] == first["report_id"]
    with api_client(app, role="platform", user="u1") as c:
        assert len(c.get("/v1/users/u1/reports").json()["reports"]) == 1


def test_queue_priority_order_sla_and_overdue(app: FastAPI, clock: Clock) -> None:
    insult = _file(app, "u1", category="insult", account_id="a1")["report_id"]
    clock.advance(minutes=1)
    defamation = _file(app, "u2", category="defamation", account_id="a2")["report_id"]
    clock.advance(minutes=1)
    doxxing = _file(app, "u3", category="privacy", account_id="a3")["report_id"]
    clock.advance(minutes=1)
    threat = _file(app, "u4", category="threat", account_id="a4")["report_id"]
    with api_client(app, role="moderator") as c:
        queue = c.get("/v1/reports").json()["reports"]
        assert [r["report_id"] for r in queue] == [doxxing, threat, defamation, insult]
        assert [r["staff"]["priority"] for r in queue] == ["urgent", "urgent", "high", "normal"]
        assert not any(r["staff"]["overdue"] for r in queue)
        # pages of one, by cursor: the same order
        seen, cursor = [], None
        while True:
            page = c.get("/v1/reports", params={"limit": 1, **({"cursor": cursor} if cursor else {})}).json()
            seen += [r["report_id"] for r in page["reports"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [doxxing, threat, defamation, insult]
        assert c.get("/v1/reports", params={"cursor": "nonsense"}).status_code == 422
        clock.advance(hours=2)  # past the urgent SLA (1 h), inside the high one (4 h)
        overdue = c.get("/v1/reports", params={"overdue": "true"}).json()["reports"]
        assert [r["report_id"] for r in overdue] == [doxxing, threat]
        assert all(r["staff"]["overdue"] for r in overdue)
        c.post(f"/v1/reports/{threat}/assign", json={})
        c.post(f"/v1/reports/{threat}/decision", json={"outcome": "upheld", "note": "credible"})
        assert [
            r["report_id"] for r in c.get("/v1/reports", params={"overdue": "true"}).json()["reports"]
        ] == [doxxing]
        assert [
            r["report_id"] for r in c.get("/v1/reports", params={"category": "insult"}).json()["reports"]
        ] == [insult]
        assert [
            r["report_id"] for r in c.get("/v1/reports", params={"status": "upheld"}).json()["reports"]
        ] == [threat]
        stats = c.get("/v1/reports/stats").json()
    assert stats["sla_s"] == {"urgent": 3600.0, "high": 14400.0, "normal": 86400.0}
    assert stats["overdue_now"]["urgent"] == 1
    urgent = stats["priorities"]["urgent"]
    assert urgent["filed"] == 2 and urgent["awaiting_first_action"] == 1 and urgent["undecided"] == 1
    assert urgent["to_first_action"]["count"] == 1 and urgent["to_first_action"]["median_s"] == 7200.0
    assert urgent["to_decision"]["median_s"] == 7200.0


def test_decision_tells_the_reporter_through_the_action_feed(app: FastAPI, clock: Clock) -> None:
    rid = _file(app, "u1", category="threat")["report_id"]
    clock.advance(minutes=20)
    with api_client(app, role="moderator") as c:
        decided = c.post(f"/v1/reports/{rid}/decision", json={"outcome": "upheld", "note": "已核实 credible"})
        assert decided.status_code == 200, decided.text
        out = decided.json()
        assert out["new_decision"] and out["report"]["status"] == "upheld"
        staff = out["report"]["staff"]
        assert (
            staff["decided_by"].startswith("test-moderator") and staff["decision_note"] == "已核实 credible"
        )
        assert staff["history"][-1]["action"] == "decided" and staff["history"][-1]["at"].startswith(
            "2026-11-20T12:20"
        )
        retry = c.post(
            f"/v1/reports/{rid}/decision", json={"outcome": "upheld", "note": "已核实 credible"}
        ).json()
        assert not retry["new_decision"] and retry["action_key"] == out["action_key"]
        assert c.post("/v1/reports/rep_nope/decision", json={"outcome": "upheld"}).status_code == 404
        assert c.post(f"/v1/reports/{rid}/decision", json={"outcome": "maybe"}).status_code == 422
    with api_client(app, role="platform") as c:
        actions = c.get("/v1/actions").json()["actions"]
    outcome = [a for a in actions if a["kind"] == "report_outcome"]
    assert len(outcome) == 1  # the retry appended nothing
    assert outcome[0]["subject"] == rid and outcome[0]["subject_type"] == "report"
    assert outcome[0]["params"]["outcome"] == "upheld" and outcome[0]["params"]["reporter_id"] == "u1"
    with api_client(app, role="platform", on_behalf_of="u1") as c:
        mine = c.get(f"/v1/reports/{rid}").json()
    assert mine["status"] == "upheld" and mine["outcome"] == "upheld" and mine["staff"] is None


def test_a_false_report_ring_is_one_voice_and_a_real_crowd_is_many(app: FastAPI, clock: Clock) -> None:
    # eight accounts created within hours of each other report "victim" within minutes
    for i in range(8):
        _file(
            app,
            f"ring{i}",
            account_id="victim",
            reporter={"created_at": (T0 - timedelta(days=2, hours=i)).isoformat()},
        )
        clock.advance(minutes=1)
    # six real people, accounts of every age, report "bully" over a day
    for i in range(6):
        _file(
            app,
            f"person{i}",
            account_id="bully",
            reporter={"created_at": (T0 - timedelta(days=200 * (i + 1))).isoformat(), "follows": ["bully"]},
        )
        clock.advance(hours=3)
    with api_client(app, role="moderator") as c:
        queue = c.get("/v1/reports", params={"limit": 100}).json()["reports"]
    ring = [r["staff"] for r in queue if r["account_id"] == "victim"]
    crowd = [r["staff"] for r in queue if r["account_id"] == "bully"]
    assert {(s["reporters"], s["independent_reporters"]) for s in ring} == {(8, 1)}
    assert {s["priority"] for s in ring} == {"normal"}  # 8 reports, one voice: not raised
    assert all(s["suspected_ring"] and len(s["suspected_ring"]["members"]) == 8 for s in ring)
    assert {(s["reporters"], s["independent_reporters"]) for s in crowd} == {(6, 6)}
    assert {s["priority"] for s in crowd} == {"high"}  # a real crowd raises it
    assert all(s["suspected_ring"] is None for s in crowd)
    # the crowd's reports come first now
    assert queue[0]["account_id"] == "bully"


def test_minors_first_from_the_groups_reader(app: FastAPI) -> None:
    app.state.reports.groups = FixedGroups({"kid": {"minor"}})
    report = _file(app, "kid", category="ridicule")
    with api_client(app, role="moderator") as c:
        staff = c.get(f"/v1/reports/{report['report_id']}").json()["staff"]
    assert staff["priority"] == "urgent" and staff["minor"]
    assert "a minor is involved" in staff["priority_reasons"]


def test_minor_target_and_account_from_the_events(app: FastAPI) -> None:
    event = {
        "event_id": "ev-1",
        "surface": "comment",
        "occurred_at": "2026-11-24T08:00:00Z",
        "author": {"id": "adult-troll"},
        "text": "你真丑",
        "target_ids": ["kid2"],
    }
    kid_post = {
        **event,
        "event_id": "ev-0",
        "author": {"id": "kid2", "minor": True},
        "target_ids": [],
        "text": "hi",
    }
    with api_client(app, role="platform") as c:
        for e in (kid_post, event):
            assert c.post("/v1/events", json=e).status_code in (200, 207), e
    # a bystander reports the content: the account is its author, the person it is aimed at a minor
    report = _file(app, "bystander", category="ridicule", account_id=None, event_ids=["ev-1"])
    assert report["account_id"] == "adult-troll"
    with api_client(app, role="moderator") as c:
        staff = c.get(f"/v1/reports/{report['report_id']}").json()["staff"]
    assert staff["priority"] == "urgent" and staff["minor"]


def test_report_text_is_never_logged(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    secret = "我的手机号是13800000000他在到处发"
    with caplog.at_level(logging.DEBUG):
        rid = _file(app, "u1", category="privacy", text=secret)["report_id"]
        with api_client(app, role="moderator") as c:
            c.post(f"/v1/reports/{rid}/decision", json={"outcome": "upheld", "note": secret})
    assert rid in caplog.text
    assert secret not in caplog.text


def test_the_reporter_answers_a_request_for_more_information(app: FastAPI, clock: Clock) -> None:
    rid = _file(app, "u1", category="insult")["report_id"]
    with api_client(app, role="platform", on_behalf_of="u1") as c:
        assert c.post(f"/v1/reports/{rid}/info", json={"text": "x"}).status_code == 409  # nothing was asked
    with api_client(app, role="moderator") as c:
        asked = c.post(
            f"/v1/reports/{rid}/decision",
            json={"outcome": "needs_more_info", "note": "vague", "reply": "请告诉我们是哪一条帖子"},
        ).json()
        assert asked["report"]["reply"] == "请告诉我们是哪一条帖子"
        assert c.post(f"/v1/reports/{rid}/info", json={"text": "x"}).status_code == 403  # staff do not answer
    with api_client(app, role="platform", on_behalf_of="u2") as c:
        assert c.post(f"/v1/reports/{rid}/info", json={"text": "x"}).status_code == 403  # nor anyone else
    clock.advance(hours=30)
    with api_client(app, role="platform", user="u1") as c:
        assert c.post(f"/v1/reports/{rid}/info", json={}).status_code == 422
        answered = c.post(f"/v1/reports/{rid}/info", json={"text": "是这条", "evidence_event_ids": ["e5"]})
    assert answered.status_code == 200, answered.text
    assert answered.json()["status"] == "open" and answered.json()["evidence_event_ids"] == ["e5"]
    assert answered.json()["reply"] == "请告诉我们是哪一条帖子" and answered.json()["staff"] is None
    with api_client(app, role="platform") as c:
        (action,) = [a for a in c.get("/v1/actions").json()["actions"] if a["kind"] == "report_outcome"]
    assert (
        action["params"]["reply"] == "请告诉我们是哪一条帖子"
        and action["params"]["outcome"] == "needs_more_info"
    )
    with api_client(app, role="moderator") as c:
        staff = c.get(f"/v1/reports/{rid}").json()["staff"]
    assert not staff["overdue"] and staff["due_at"].startswith("2026-11-22T18:00")  # 24 h from the answer
    assert staff["history"][-1]["action"] == "info_added" and staff["history"][-1]["note"] == "是这条"

"""One-click evidence through the HTTP API: who may preserve, read and export (the person, through
a platform call made for them; moderators; auditors read; admins), preservation by ids, range and
alert, and end to end: the events of an alert raised by a simulated pile-on, posted through
``POST /v1/events``, preserved and exported as a package that verifies (and fails, naming the
item, once one byte changes)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from pypdf import PdfReader
from typer.testing import CliRunner

from apiclient import api_client
from cvguard.api import create_app
from cvguard.cli import app as cli
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.evidence import package
from cvguard.simulate import SimConfig, generate

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
REASON = "网暴证据保全"


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _event(i: int, target: str, text: str = "你这个垃圾，滚出网络！") -> dict[str, Any]:
    return {
        "event_id": f"api-{target}-{i}",
        "surface": "comment",
        "occurred_at": _iso(T0 + timedelta(minutes=i)),
        "author": {"id": f"troll{i}", "created_at": "2022-01-01T00:00:00Z"},
        "text": text,
        "target_ids": [target],
        "thread_id": f"th-{target}",
    }


@dataclass
class World:
    app: FastAPI
    case_id: str  # a case preserved for u1
    tmp: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("evidence-api")
    app = create_app(Settings(data_dir=tmp, rate_limit_per_s=None), Screener.default())
    with api_client(app, role="platform") as platform:
        batch = [_event(i, "u1") for i in range(4)] + [_event(0, "u2", "你也是个废物")]
        response = platform.post("/v1/events", json={"events": batch})
        assert response.status_code == 200, response.text
    with api_client(app, role="platform", user="u1") as person:
        response = person.post(
            "/v1/evidence", json={"event_ids": ["api-u1-0", "api-u1-1"], "reason": REASON}
        )
        assert response.status_code == 201, response.text
        yield World(app, response.json()["case_id"], tmp)


WHO = [
    ({"role": "platform", "user": "u1"}, 200),  # a key scoped to the person
    ({"role": "platform", "on_behalf_of": "u1"}, 200),  # the platform, for its signed-in user
    ({"role": "platform", "user": "u2"}, 403),  # another user's key scope
    ({"role": "platform", "on_behalf_of": "u2"}, 403),  # made for someone else
    ({"role": "platform"}, 403),  # the platform key acting for nobody
    ({"role": "moderator"}, 200),
    ({"role": "auditor"}, 200),
    ({"role": "admin"}, 200),
    ({"role": None}, 401),
]


@pytest.mark.parametrize(("who", "status"), WHO)
def test_who_reads_and_exports_a_case(world: World, who: dict[str, Any], status: int) -> None:
    with api_client(world.app, **who) as client:
        case = client.get(f"/v1/evidence/{world.case_id}")
        export = client.get(f"/v1/evidence/{world.case_id}/export")
        listed = client.get("/v1/users/u1/evidence")
    assert (case.status_code, export.status_code, listed.status_code) == (status,) * 3, case.text
    if status == 200:
        body = case.json()
        assert body["owner_id"] == "u1" and body["reason"] == REASON and body["count"] == 2
        assert body["items"][0]["record"]["text"] == "你这个垃圾，滚出网络！"
        assert export.headers["content-type"] == "application/zip"
        assert package.verify(export.content).head == body["head"]
        assert [c["case_id"] for c in listed.json()["cases"]] == [world.case_id]
    else:
        assert case.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ({"role": "platform", "user": "u1"}, 201),
        ({"role": "platform", "on_behalf_of": "u1"}, 201),
        ({"role": "platform", "user": "u2"}, 403),  # u1's events, asked for by u2
        ({"role": "platform"}, 403),  # for nobody
        ({"role": "moderator"}, 201),
        ({"role": "auditor"}, 403),  # auditors read, never preserve
        ({"role": "admin"}, 201),
    ],
)
def test_who_preserves_by_range(world: World, who: dict[str, Any], status: int) -> None:
    body = {"since": _iso(T0), "until": _iso(T0 + timedelta(minutes=3)), "reason": "range", "user_id": "u1"}
    if "u1" in (who.get("user"), who.get("on_behalf_of")):
        del body["user_id"]  # a platform call made for a person preserves for that person
    with api_client(world.app, **who) as client:
        response = client.post("/v1/evidence", json=body)
    assert response.status_code == status, response.text
    if status == 201:
        found = response.json()
        assert [i["record"]["event_id"] for i in found["items"]] == ["api-u1-0", "api-u1-1", "api-u1-2"]
        assert found["owner_id"] == "u1" and found["selection"]["by"] == "range"
        assert found["actor"].startswith(who["role"])  # every preservation records its actor


def test_a_person_preserves_only_what_concerns_them(world: World) -> None:
    with api_client(world.app, role="platform", user="u1") as person:
        response = person.post("/v1/evidence", json={"event_ids": ["api-u1-0", "api-u2-0"], "reason": "x"})
        assert response.status_code == 403 and "api-u2-0" in response.json()["detail"]
    with api_client(world.app, role="moderator") as moderator:  # staff name whom the case is for
        response = moderator.post(
            "/v1/evidence", json={"event_ids": ["api-u2-0"], "user_id": "u2", "reason": "for u2"}
        )
        assert response.status_code == 201, response.text
        assert response.json()["items"][0]["record"]["text"] == "你也是个废物"


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "x"},  # nothing selected
        {"reason": "x", "event_ids": ["a"], "alert_id": "b"},  # two selections
        # a time without a zone
        {"reason": "x", "since": "2026-01-01T00:00:00", "until": "2026-01-02T00:00:00Z", "user_id": "u1"},
        {"reason": "x", "since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z", "user_id": "u1"},
        {"reason": "", "event_ids": ["api-u1-0"]},  # no reason
        {"reason": "x", "event_ids": ["never-stored"], "user_id": "u1"},  # not stored
        {"reason": "x", "event_ids": ["api-u1-0"], "extra": 1},
    ],
)
def test_bad_requests_are_problems(world: World, body: dict[str, Any]) -> None:
    with api_client(world.app, role="moderator") as client:
        response = client.post("/v1/evidence", json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_unknown_cases_and_alerts(world: World) -> None:
    with api_client(world.app, role="moderator") as client:
        assert client.get("/v1/evidence/ev_000000000000000000000000").status_code == 404
        assert client.get("/v1/evidence/not-a-case").status_code == 422
        response = client.post("/v1/evidence", json={"alert_id": "pile_on:user:nobody:1", "reason": "x"})
        assert response.status_code == 404


@pytest.mark.parametrize(("role", "status"), [("moderator", 200), ("auditor", 200), ("platform", 403)])
def test_staff_verify_the_vault(world: World, role: str, status: int) -> None:
    with api_client(world.app, role=role) as client:
        response = client.get("/v1/evidence/vault")
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["ok"] is True and response.json()["cases"] >= 1


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_end_to_end_a_simulated_pile_on_preserved_by_its_alert_exports_a_package_that_verifies(
    tmp_path: Path,
) -> None:
    truth, *events = generate(SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",)))
    (labelled,) = truth["incidents"]
    target = labelled["target_id"]
    # the simulation's times, moved to end just now (the API refuses events from the future)
    shift = datetime.now(UTC) - timedelta(minutes=1) - _at(events[-1]["occurred_at"])
    for e in events:
        e["occurred_at"] = _iso(_at(e["occurred_at"]) + shift)
    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), Screener.default())
    alerts: list[dict[str, Any]] = []
    with api_client(app, role="platform") as platform:
        for i in range(0, len(events), 200):
            response = platform.post("/v1/events", json={"events": events[i : i + 200]})
            assert response.status_code == 200, response.text
            alerts += response.json()["alerts"]
    pile_on = next(a for a in alerts if a["kind"] == "pile_on" and a["subject_id"] == target)
    with api_client(app, role="platform", on_behalf_of=target) as person:
        response = person.post("/v1/evidence", json={"alert_id": pile_on["alert_id"], "reason": "一键取证"})
        assert response.status_code == 201, response.text
        case = response.json()
        exported = person.get(f"/v1/evidence/{case['case_id']}/export")
    assert exported.status_code == 200
    assert case["owner_id"] == target and case["count"] >= 5 and case["selection"]["by"] == "alert"
    records = [i["record"] for i in case["items"]]
    assert all(r["text"] for r in records) and any(r["verdict"]["violation"] for r in records)
    assert all(r["decision"] is not None for r in records)  # decided at ingest, preserved with it
    assert sum(target in r["target_ids"] for r in records) >= len(records) // 2
    found = package.verify(exported.content)
    assert found.ok and found.count == case["count"] and found.head == case["head"]
    with zipfile.ZipFile(io.BytesIO(exported.content)) as z:
        report = PdfReader(io.BytesIO(z.read("report.pdf")))
        flat = "".join("".join(p.extract_text() for p in report.pages).split())
    assert "".join(records[0]["text"].split()) in flat  # the Chinese text, verbatim in the PDF
    path = tmp_path / "case.zip"
    path.write_bytes(exported.content)
    runner = CliRunner()
    result = runner.invoke(cli, ["evidence", "verify", str(path)])
    assert result.exit_code == 0 and "intact" in result.output, result.output
    # one byte of the third item's text changed: exit 2, naming that item
    third = records[2]["text"].encode()
    data = exported.content
    at = data.index(b'"text":"' + third) + len('"text":"')
    path.write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :])
    result = runner.invoke(cli, ["evidence", "verify", str(path)])
    flat_out = " ".join(result.output.split())
    assert result.exit_code == 2 and f"item 2 (event {records[2]['event_id']!r})" in flat_out, result.output


@dataclass
class _Alert:
    alert_id: str
    subject_id: str
    event_ids: tuple[str, ...]
    subject_type: str = "user"
    kind: str = "pile_on"
    level: str = "warning"
    raised_at: datetime = T0
    updated_at: datetime = T0
    evidence: dict[str, Any] = field(default_factory=dict)
    resolved_at: datetime | None = None
    resolution: str | None = None


def test_preserving_by_alert_keeps_the_stored_events_behind_it(world: World) -> None:
    store = world.app.state.pipeline().store
    store.upsert_alert(_Alert("pile_on:user:u1:9", "u1", ("api-u1-3", "api-u1-2", "deleted-since")))
    store.upsert_alert(_Alert("brigade:thread:th-u1:9", "th-u1", ("api-u1-3",), subject_type="thread"))
    body = {"alert_id": "pile_on:user:u1:9", "reason": "alert"}
    with api_client(world.app, role="platform", user="u2") as other:
        assert other.post("/v1/evidence", json=body).status_code == 403  # an alert about someone else
    with api_client(world.app, role="platform", user="u1") as person:
        response = person.post("/v1/evidence", json=body)
        assert response.status_code == 201, response.text
        case = response.json()
        # a thread's alert holds others' messages too: the person keeps what concerns them
        thread = person.post("/v1/evidence", json={"alert_id": "brigade:thread:th-u1:9", "reason": "t"})
        assert thread.status_code == 201 and thread.json()["owner_id"] == "u1", thread.text
    assert case["owner_id"] == "u1"
    assert [i["record"]["event_id"] for i in case["items"]] == ["api-u1-2", "api-u1-3"]  # by event time
    assert case["selection"] == {
        "by": "alert", "alert_id": "pile_on:user:u1:9", "not_stored": ["deleted-since"]
    }


def test_the_vault_route_names_a_stored_row_changed_by_sql(tmp_path: Path) -> None:
    from sqlalchemy import update

    from cvguard.store import models as m

    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), Screener.default())
    with api_client(app, role="platform") as platform:
        batch = [_event(i, "u3") for i in range(3)]
        assert platform.post("/v1/events", json={"events": batch}).status_code == 200
    with api_client(app, role="moderator") as moderator:
        case = moderator.post("/v1/evidence", json={"since": _iso(T0), "until": _iso(T0 + timedelta(hours=1)),
                                                    "user_id": "u3", "reason": "route"}).json()
        assert moderator.get("/v1/evidence/vault").json()["ok"] is True
        vault = app.state.vault()
        with vault.engine.begin() as c:
            second = m.evidence_items.c.position == 1
            c.execute(update(m.evidence_items).where(second).values(digest="f" * 64))
        found = moderator.get("/v1/evidence/vault").json()
    assert found["ok"] is False
    assert f"case {case['case_id']}, item 1 (event 'api-u3-1')" in found["problem"]

"""MCNs through the HTTP API: who may do what, bad input as problems, and the MCN behind three
inciters warned, then cleared by a reversal with its counts corrected.

Violations reach the desk the way the ledger hands them on (``ViolationListener.on_violations`` /
``on_reversed`` on ``pipeline.mcn``); members come from events posted to ``/v1/events`` and from
``PUT /v1/mcns/{id}``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.enforcement import Violation
from cvguard.pipeline.mcn import McnDesk

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture
def app(tmp_path: Path, screener: Screener) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), screener)


def desk(app: FastAPI) -> McnDesk:
    found: McnDesk = app.state.pipeline().mcn
    return found


def event(i: int, author: str, mcn: str | None) -> dict[str, Any]:
    return {"event_id": f"e{i}", "surface": "comment", "occurred_at": iso(T0 + timedelta(seconds=i)),
            "author": {"id": author, "mcn_id": mcn}, "text": "今天天气不错"}


def inciter(vid: str, account: str, mcn: str = "star") -> Violation:
    return Violation(violation_id=vid, account_id=account, at=T0, confirmed_by="person:mod",
                     roles=("first_time", "initiator"), mcn_id=mcn)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def test_who_may_do_what(app: FastAPI) -> None:
    with api_client(app, role="platform") as platform, api_client(app, role="auditor") as auditor, \
            api_client(app, role="moderator") as moderator, api_client(app, role=None) as nobody:
        assert platform.put("/v1/mcns/star", json={"name": "Star", "members": ["u1"]}).status_code == 200
        assert moderator.put("/v1/mcns/moon", json={"name": "Moon"}).status_code == 200
        problem(nobody.get("/v1/mcns"), 401)
        problem(nobody.put("/v1/mcns/star", json={}), 401)
        # the platform declares, but reads enforcement only as feed actions
        problem(platform.get("/v1/mcns/star"), 403)
        problem(platform.get("/v1/mcns"), 403)
        problem(platform.post("/v1/mcns/star/measures",
                              json={"kind": "warning", "duration_days": 7, "reason": "x"}), 403)
        # auditors read everything and change nothing
        assert auditor.get("/v1/mcns/star").status_code == 200
        assert auditor.get("/v1/mcns/star/report").status_code == 200
        problem(auditor.put("/v1/mcns/star", json={"name": "Mine"}), 403)
        problem(auditor.post("/v1/mcns/star/measures",
                             json={"kind": "warning", "duration_days": 7, "reason": "x"}), 403)
        taken = moderator.post("/v1/mcns/star/measures",
                               json={"kind": "warning", "duration_days": 7, "reason": "organised pile-on"})
        assert taken.status_code == 201 and taken.json()["decided_by"].startswith("person:moderator:")
        problem(auditor.post(f"/v1/mcns/star/measures/{taken.json()['measure_id']}/lift",
                             json={"reason": "x"}), 403)


def test_bad_input_is_a_problem(app: FastAPI) -> None:
    with api_client(app, role="moderator") as client:
        assert problem(client.put("/v1/mcns/star", json={"nmae": "Star"}), 422)["errors"][0]["loc"] == "nmae"
        problem(client.put("/v1/mcns/star", json={"members": ["x" * 129]}), 422)
        problem(client.put("/v1/mcns/star", json={"status": "gone"}), 422)
        problem(client.put("/v1/mcns/star", content=b"{", headers={"content-type": "application/json"}), 400)
        problem(client.get("/v1/mcns/nope"), 404)
        problem(client.get("/v1/mcns/nope/report"), 404)
        client.put("/v1/mcns/star", json={"name": "Star"})
        problem(client.get("/v1/mcns/star/report", params={"since": "2026-11-25T00:00:00Z",
                                                           "until": "2026-11-24T00:00:00Z"}), 422)
        problem(client.get("/v1/mcns/star/report", params={"since": "yesterday"}), 422)
        measures = "/v1/mcns/star/measures"
        problem(client.post(measures, json={"kind": "ban", "duration_days": 1, "reason": "r"}), 422)
        problem(client.post(measures, json={"kind": "warning", "duration_days": 0, "reason": "r"}), 422)
        problem(client.post(measures, json={"kind": "warning", "duration_days": 1}), 422)
        problem(client.post("/v1/mcns/nope/measures",
                            json={"kind": "warning", "duration_days": 1, "reason": "r"}), 404)
        problem(client.post("/v1/mcns/star/measures/none/lift", json={"reason": "r"}), 404)
        made = client.post("/v1/mcns/star/measures", json={"kind": "warning", "duration_days": None,
                                                           "reason": "r"}).json()
        url = f"/v1/mcns/star/measures/{made['measure_id']}/lift"
        assert client.post(url, json={"reason": "agreed"}).json()["state"] == "lifted"
        problem(client.post(url, json={"reason": "again"}), 409)
        problem(client.get("/v1/mcns", params={"limit": 0}), 422)


def test_the_mcn_behind_three_inciters_is_warned_and_a_reversal_clears_it(app: FastAPI) -> None:
    with api_client(app, role="platform") as platform, api_client(app, role="moderator") as moderator, \
            api_client(app, role="auditor") as auditor:
        # members from events: four accounts of the MCN "star" post
        sent = platform.post("/v1/events", json={"events": [
            event(1, "u1", "star"), event(2, "u2", "star"), event(3, "u3", "star"), event(4, "u4", "star"),
            event(5, "x9", None),
        ]})
        assert sent.status_code in (200, 207), sent.text
        assert platform.put("/v1/mcns/star", json={"name": "Star Media", "contact": "ops@star.example"}
                            ).status_code == 200
        members = auditor.get("/v1/mcns/star").json()["members"]
        assert [(m["account_id"], m["source"]) for m in members] == [(f"u{i}", "event") for i in (1, 2, 3, 4)]

        three = [inciter("v1", "u1"), inciter("v2", "u2"), inciter("v3", "u3")]
        desk(app).on_violations(three[:2], now=T0)
        under = auditor.get("/v1/mcns/star").json()
        assert under["measures"] == [] and under["figures"]["inciters"] == 2
        _, cursor = desk(app).feed.after(0, 1000)  # type: ignore[union-attr]

        desk(app).on_violations(three[2:], now=T0)
        warned = moderator.get("/v1/mcns/star").json()
        (measure,) = warned["measures"]
        assert measure["kind"] == "warning" and measure["state"] == "active"
        assert measure["statement"]["violations"] == ["v1", "v2", "v3"]
        assert measure["statement"]["inciters"] == ["u1", "u2", "u3"]
        assert measure["statement"]["rule"]["threshold"] == "inciters-warning"
        assert measure["accounts"] == 4
        feed = platform.get("/v1/actions", params={"after": cursor}).json()
        actions = [(a["kind"], a["subject_type"], a["subject"]) for a in feed["actions"]]
        assert actions == [("mcn_measure", "mcn", "star"),
                           *(("mcn_measure", "account", f"u{i}") for i in (1, 2, 3, 4))]
        assert all(a["params"]["measure_id"] == measure["measure_id"] for a in feed["actions"])

        listed = auditor.get("/v1/mcns").json()
        assert listed["mcns"][0]["mcn_id"] == "star" and listed["mcns"][0]["inciters"] == 3

        # an appeal reverses v3: the MCN is back under the threshold, the warning lifted
        desk(app).on_reversed([three[2]], now=T0 + timedelta(hours=1))
        after = auditor.get("/v1/mcns/star").json()
        assert after["figures"] == under["figures"]  # counts corrected exactly
        (lifted,) = after["measures"]
        assert lifted["state"] == "lifted" and lifted["lifted_by"] == "cvguard"
        assert "violations reversed: v3" in lifted["lift_reason"]
        undo = platform.get("/v1/actions", params={"after": feed["next_cursor"]}).json()["actions"]
        assert [(a["kind"], a["subject"]) for a in undo] == [
            ("lift_mcn_measure", "star"), *(("lift_mcn_measure", f"u{i}") for i in (1, 2, 3, 4))]

        report = auditor.get("/v1/mcns/star/report", params={
            "since": iso(T0 - timedelta(days=1)), "until": iso(T0 + timedelta(days=1))}).json()
        assert report["organisation"]["name"] == "Star Media"
        assert report["inciters"] == ["u1", "u2"] and report["violations_reversed"] == ["v3"]
        assert {m["account_id"]: m["violations"] for m in report["members"]} == {
            "u1": 1, "u2": 1, "u3": 0, "u4": 0}
        assert report["measures"][0]["statement"]["violations"] == ["v1", "v2", "v3"]

        trail = auditor.get("/v1/audit").json()["entries"]
        assert [(e["action"], e["actor"].split(":")[0]) for e in trail if e["action"].startswith("mcn.")] == [
            ("mcn.put", "platform"), ("mcn.measure", "cvguard"), ("mcn.measure.lift", "cvguard")]
        assert auditor.get("/v1/audit/verify").json()["ok"] is True


def test_the_list_puts_the_highest_violation_rate_first(app: FastAPI) -> None:
    with api_client(app, role="moderator") as client:
        client.put("/v1/mcns/big", json={"members": [f"b{i}" for i in range(10)]})
        client.put("/v1/mcns/small", json={"members": ["s1", "s2"]})
        client.put("/v1/mcns/quiet", json={"members": ["q1"]})
        desk(app).on_violations([
            Violation(violation_id=f"w{i}", account_id=a, at=T0, confirmed_by="person:m",
                      roles=("first_time",), mcn_id=mcn)
            for i, (a, mcn) in enumerate([("b1", "big"), ("b2", "big"), ("s1", "small")])
        ], now=T0)
        got = client.get("/v1/mcns").json()
        assert [(r["mcn_id"], r["violations_per_member"]) for r in got["mcns"]] == [
            ("small", 0.5), ("big", 0.2), ("quiet", 0.0)]
        assert got["total"] == 3
        page = client.get("/v1/mcns", params={"offset": 1, "limit": 1}).json()
        assert [r["mcn_id"] for r in page["mcns"]] == ["big"]

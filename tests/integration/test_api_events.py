"""``POST /v1/events``, ``GET /v1/alerts``, ``/v1/targets/{id}``, ``/v1/topics/{id}`` on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import ApiClient as TestClient
from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.simulate import SimConfig, generate

EVENT = {
    "event_id": "ev-1",
    "surface": "comment",
    "occurred_at": "2026-11-24T08:00:00Z",
    "author": {"id": "u1", "created_at": "2026-11-20T00:00:00Z"},
    "text": "说得好",
    "target_ids": ["u2"],
    "thread_id": "t1",
}


def event(n: int, **changes: Any) -> dict[str, Any]:
    return {**EVENT, "event_id": f"ev-{n}", **changes}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path, max_batch=1000), Screener.default())


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A platform's client (it sends events); it runs the app's lifespan."""
    with api_client(app, role="platform") as c:
        yield c


@pytest.fixture
def moderator(app: FastAPI, client: TestClient) -> TestClient:
    """A moderator's client on the same app (it reads alerts, targets and topics)."""
    return api_client(app, role="moderator")


def test_a_good_event_is_accepted_once(client: TestClient) -> None:
    first = client.post("/v1/events", json=EVENT)
    assert first.status_code == 200, first.text
    assert first.json() | {"alerts": [], "decisions": []} == {
        "accepted": 1, "duplicates": 0, "errors": [], "event_ids": ["ev-1"], "alerts": [], "queued": 0,
        "conflicts": [], "late": 0, "late_ids": [], "decisions": [],
    }
    assert [d["event_id"] for d in first.json()["decisions"]] == ["ev-1"]  # one per accepted event
    # reposting (a client retry) changes nothing
    again = client.post("/v1/events", json=EVENT)
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 1)
    assert again.json()["decisions"] == []  # decided once, when it was accepted


@pytest.mark.parametrize(
    ("body", "field", "why"),
    [
        # a required field missing
        ({k: v for k, v in EVENT.items() if k != "occurred_at"}, "occurred_at", "Field required"),
        # a timestamp without a timezone
        ({**EVENT, "occurred_at": "2026-11-24T08:00:00"}, "occurred_at", "timezone"),
        # an unknown surface
        ({**EVENT, "surface": "fax"}, "surface", "Input should be"),
        # a nested field
        ({**EVENT, "author": {"id": ""}}, "author.id", "at least 1 character"),
        # a field the schema does not have
        ({**EVENT, "colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_a_bad_single_event_is_422_naming_the_field(
    client: TestClient, body: dict[str, Any], field: str, why: str
) -> None:
    response = client.post("/v1/events", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["errors"][0]["loc"] == field
    assert why in problem["errors"][0]["msg"]
    assert field in problem["detail"]


def test_a_body_that_is_not_an_event_is_422(client: TestClient) -> None:
    assert client.post("/v1/events", json=[EVENT]).status_code == 422
    assert client.post("/v1/events", json={"events": "nope"}).json()["errors"][0]["loc"] == "events"
    malformed = client.post("/v1/events", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400


def test_a_mixed_batch_keeps_the_good_and_reports_every_bad_one(client: TestClient) -> None:
    client.post("/v1/events", json=event(0))
    body = {
        "events": [
            event(0),  # already stored
            event(1),
            event(2, occurred_at="yesterday"),
            event(3, author={}, surface="fax"),
            "not an object",
            event(5),
        ]
    }
    response = client.post("/v1/events", json=body)
    assert response.status_code == 207, response.text
    out = response.json()
    assert (out["accepted"], out["duplicates"]) == (2, 1)
    assert out["event_ids"] == ["ev-1", "ev-5"]
    errors = {e["index"]: e for e in out["errors"]}
    assert sorted(errors) == [2, 3, 4]
    assert errors[2]["event_id"] == "ev-2"
    assert [e["field"] for e in errors[2]["errors"]] == ["occurred_at"]
    assert {e["field"] for e in errors[3]["errors"]} == {"surface", "author.id"}
    assert errors[4]["event_id"] is None
    # the good ones are really stored: posting them again finds duplicates
    again = client.post("/v1/events", json={"events": [event(1), event(5)]})
    assert again.status_code == 200
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 2)


def test_a_batch_over_the_limit_is_413(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_batch=2)
    with api_client(create_app(settings, Screener.default()), role="platform") as c:
        response = c.post("/v1/events", json={"events": [event(i) for i in range(3)]})
    assert response.status_code == 413


def test_a_text_over_the_limit_is_refused_per_event(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, max_text_chars=10)
    with api_client(create_app(settings, Screener.default()), role="platform") as c:
        assert c.post("/v1/events", json=event(1, text="x" * 11)).status_code == 413
        out = c.post("/v1/events", json={"events": [event(1, text="x" * 11), event(2)]}).json()
    assert out["accepted"] == 1
    assert out["errors"][0]["errors"][0]["field"] == "text"


@pytest.fixture(scope="module")
def simulated() -> list[dict[str, Any]]:
    return list(generate(SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",))))


def test_a_posted_pile_on_is_visible_in_alerts_targets_and_topics(
    client: TestClient, moderator: TestClient, simulated: list[dict[str, Any]]
) -> None:
    truth, events = simulated[0], simulated[1:]
    (incident,) = truth["incidents"]
    raised: list[dict[str, Any]] = []
    for i in range(0, len(events), 1000):
        response = client.post("/v1/events", json={"events": events[i : i + 1000]})
        assert response.status_code == 200, response.text
        raised += response.json()["alerts"]
    target = incident["target_id"]
    assert any(a["kind"] == "pile_on" and a["subject_id"] == target for a in raised)

    alerts = moderator.get("/v1/alerts", params={"subject_id": target, "kind": "pile_on", "level": "warning"})
    assert alerts.status_code == 200
    (alert,) = alerts.json()["alerts"]
    assert alert["subject_type"] == "user" and alert["event_ids"] and alert["status"] == "open"
    later = moderator.get("/v1/alerts", params={"kind": "pile_on", "since": "2099-01-01T00:00:00Z"})
    assert later.json() == {"alerts": [], "next_cursor": None}
    assert moderator.get("/v1/alerts", params={"limit": 1}).json()["alerts"].__len__() == 1

    state = moderator.get(f"/v1/targets/{target}", params={"hours": 6})
    assert state.status_code == 200
    body = state.json()
    assert body["level"] in ("warning", "critical") and body["risk"] > 0
    assert body["as_of"].startswith("2026-11-23")  # event time, not the wall clock
    assert body["abusive_events"] and body["timeline"]
    assert any(a["kind"] == "pile_on" for a in body["alerts"])

    topic = moderator.get(f"/v1/topics/{incident['topic_id']}")
    assert topic.status_code == 200
    assert topic.json()["events"] > 0 and topic.json()["abusive_events"] > 0

    # an unknown user is simply not at risk
    quiet = moderator.get("/v1/targets/nobody").json()
    assert (quiet["risk"], quiet["level"], quiet["abusive_events"], quiet["alerts"]) == (0, None, [], [])


@pytest.mark.parametrize(
    "params",
    [
        {"level": "loud"},  # not a level
        {"kind": "gossip"},  # not a kind
        {"limit": 0},  # below the minimum
        {"since": "2026-11-24T08:00:00"},  # no timezone
    ],
)
def test_bad_alert_filters_are_422(moderator: TestClient, params: dict[str, Any]) -> None:
    response = moderator.get("/v1/alerts", params=params)
    assert response.status_code == 422
    assert response.json()["errors"]


def test_openapi_documents_the_event_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in ("/v1/events", "/v1/alerts", "/v1/targets/{target_id}", "/v1/topics/{topic_id}"):
        assert path in spec["paths"]
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs = {s["$ref"].rsplit("/", 1)[1] for s in body["oneOf"]}
    assert refs == {"Event", "EventBatch"}
    assert refs <= set(spec["components"]["schemas"])
    assert "Author" in spec["components"]["schemas"]
    assert {"200", "207", "413", "422"} <= set(spec["paths"]["/v1/events"]["post"]["responses"])

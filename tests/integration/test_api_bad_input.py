"""Bad input over HTTP: each is refused (or cleaned) with a clear problem, never a 500, and never
at the cost of the good events beside it. Each case below failed before (the comment says how)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.pipeline import Pipeline

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

EVENT: dict[str, Any] = {
    "event_id": "ev-1",
    "surface": "comment",
    "occurred_at": "2026-11-24T08:00:00Z",
    "author": {"id": "u1", "created_at": "2026-11-20T00:00:00Z"},
    "text": "说得好",
    "target_ids": ["u2"],
}


def event(n: int, **changes: Any) -> dict[str, Any]:
    return {**EVENT, "event_id": f"ev-{n}", **changes}


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    # the wall clock as it is: these events are from 2026-11-24, the past
    with Pipeline.open(Settings(data_dir=tmp_path), screener=Screener.default()) as p:
        yield p


@pytest.fixture
def client(tmp_path: Path, pipeline: Pipeline) -> Iterator[TestClient]:
    app = create_app(Settings(data_dir=tmp_path), Screener.default(), pipeline=pipeline)
    with api_client(app, role="admin") as c:
        yield c


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "9999-12-31T23:59:59-01:00"}, "occurred_at"),  # was OverflowError: 500
        ({"author": {"id": "u1", "created_at": "0001-01-01T00:00:00+01:00"}}, "author.created_at"),  # 500
        ({"occurred_at": "2099-01-01T00:00:00Z"}, "occurred_at"),  # was accepted: the clock jumped
        ({"target_ids": [f"u{i}" for i in range(50_000)]}, "target_ids"),  # was accepted
        ({"target_ids": ["u" * 100_000]}, "target_ids.0"),  # was accepted
        ({"topic_ids": [f"t{i}" for i in range(101)]}, "topic_ids"),  # was accepted
    ],
)
def test_a_bad_field_is_422_alone_and_207_beside_a_good_event(
    client: TestClient, pipeline: Pipeline, change: dict[str, Any], field: str
) -> None:
    single = client.post("/v1/events", json=event(9, **change))
    assert single.status_code == 422, single.text
    assert single.headers["content-type"] == "application/problem+json"
    assert single.json()["errors"][0]["loc"] == field
    mixed = client.post("/v1/events", json={"events": [event(1), event(2, **change)]})
    assert mixed.status_code == 207, mixed.text
    body = mixed.json()
    assert body["accepted"] == 1 and body["event_ids"] == ["ev-1"]
    assert body["errors"][0]["index"] == 1 and body["errors"][0]["errors"][0]["field"] == field
    assert pipeline.store.get_event("ev-1") is not None  # type: ignore[attr-defined]


def test_a_late_event_is_stored_and_reported(client: TestClient, pipeline: Pipeline) -> None:
    """Was ``accepted: 1`` and never reached behaviour, without a word."""
    assert client.post("/v1/events", json=event(1)).json()["late"] == 0
    late = client.post("/v1/events", json=event(2, occurred_at="2026-11-24T02:00:00Z"))  # 6 h behind
    body = late.json()
    assert late.status_code == 200 and body["accepted"] == 1
    assert body["late"] == 1 and body["late_ids"] == ["ev-2"]
    stored = pipeline.store.get_event("ev-2")  # type: ignore[attr-defined]
    assert stored is not None and stored.verdict is not None  # screened, verdict kept
    assert pipeline.stats.late == 1


def test_the_same_id_with_another_text_is_a_conflict(client: TestClient) -> None:
    """Was silently a duplicate."""
    client.post("/v1/events", json=event(1))
    same = client.post("/v1/events", json=event(1)).json()
    assert (same["duplicates"], same["conflicts"]) == (1, [])
    other = client.post("/v1/events", json={"events": [event(1, text="完全不同的话"), event(2)]}).json()
    assert other["conflicts"] == ["ev-1"] and other["duplicates"] == 0 and other["accepted"] == 1


def test_a_lone_surrogate_is_cleaned_alike_on_screen_and_events(
    client: TestClient, pipeline: Pipeline
) -> None:
    """Passed /v1/screen but failed /v1/events (422)."""
    body = b'{"event_id":"ev-s","surface":"comment","occurred_at":"2026-11-24T08:00:00Z",' \
        b'"author":{"id":"u1"},"text":"x\\ud800y"}'
    posted = client.post("/v1/events", content=body, headers={"content-type": "application/json"})
    assert posted.status_code == 200, posted.text
    assert pipeline.store.get_event("ev-s").text == "x\ufffdy"  # type: ignore[attr-defined, union-attr]
    screened = client.post("/v1/screen", content=b'{"text":"x\\ud800y"}',
                           headers={"content-type": "application/json"})
    assert screened.status_code == 200


def test_invalid_utf8_gets_its_own_problem(client: TestClient) -> None:
    """Was a generic 400 "There was an error parsing the body"."""
    for path in ("/v1/events", "/v1/screen"):
        response = client.post(
            path, content=b'{"text": "\xff\xfe"}', headers={"content-type": "application/json"}
        )
        assert response.status_code == 400
        problem = response.json()
        assert problem["type"] == "urn:cvguard:problem:invalid-utf8" and "UTF-8" in problem["detail"]


@pytest.mark.parametrize("since", ["0.5", "1700000000", "2026-11-24", "2026-11-24T08:00:00", "soon"])
def test_since_must_be_an_iso_datetime_with_a_timezone(client: TestClient, since: str) -> None:
    """``since=0.5`` was accepted (read as an epoch) where the schema says date-time."""
    response = client.get("/v1/alerts", params={"since": since})
    assert response.status_code == 422, response.text
    assert client.get("/v1/alerts", params={"since": "2026-11-24T08:00:00+08:00"}).status_code == 200


def test_one_screen_request_cannot_cost_seconds(client: TestClient) -> None:
    """Six distinct 100,000-character texts cost 7 s of CPU."""
    items = [{"id": i, "text": chr(0x4E00 + i) * 100_000} for i in range(6)]
    started = time.perf_counter()
    response = client.post("/v1/screen", json={"items": items})
    assert response.status_code == 413 and "characters" in response.json()["detail"]
    assert time.perf_counter() - started < 2.0
    small = client.post("/v1/screen", json={"items": items[:1]})  # one long text is still fine
    assert small.status_code == 200


def test_openapi_declares_problem_json_for_every_error(client: TestClient) -> None:
    """Said application/json (FastAPI's default 422) where the API answers application/problem+json."""
    spec = client.get("/openapi.json").json()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            errors = {k: v for k, v in operation["responses"].items() if k == "default" or int(k) >= 400}
            assert "default" in errors, (path, method)
            for status, response in errors.items():
                assert list(response["content"]) == ["application/problem+json"], (path, method, status)
    since = next(p for p in spec["paths"]["/v1/alerts"]["get"]["parameters"] if p["name"] == "since")
    assert {"type": "string", "format": "date-time"} in since["schema"]["anyOf"]

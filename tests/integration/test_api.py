"""The HTTP API against the real packaged screener: shapes, batch semantics and problem documents."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from apiclient import ApiClient as TestClient
from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener

DOXXING = "开盒了：他的电话13812345678，大家去骂他"
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def make_client(data_dir: Path, **overrides: object) -> TestClient:
    settings = Settings.model_validate({"data_dir": data_dir, **overrides})
    return api_client(create_app(settings, Screener.default()), role="platform")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with make_client(tmp_path_factory.mktemp("api")) as c:
        yield c


def assert_problem(response_json: dict[str, object], status: int) -> None:
    assert set(response_json) >= PROBLEM_KEYS
    assert response_json["status"] == status
    assert str(response_json["type"]).startswith("urn:cvguard:problem:")


def test_healthz(client: TestClient) -> None:
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_single_text_gives_one_verdict_with_original_offsets(client: TestClient) -> None:
    r = client.post("/v1/screen", json={"text": DOXXING})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"violation", "score", "severity", "categories", "spans", "versions", "notes",
                         "decided_by", "model_scores"}
    assert 0.0 <= body["score"] <= 1.0
    assert body["versions"]
    # the phone number is reported as PII at its place in the text as sent
    pii = [s for s in body["spans"] if s["source"] == "pii"]
    assert any(DOXXING[s["start"] : s["end"]] == "13812345678" for s in pii)
    for span in body["spans"]:
        assert 0 <= span["start"] < span["end"] <= len(DOXXING)


def test_batch_keeps_order_and_ids_and_matches_single_results(client: TestClient) -> None:
    texts = {"a": "今天天气不错", "b": DOXXING, "c": ""}
    items = [{"id": k, "text": v} for k, v in texts.items()] + [{"id": 7, "text": "谢谢分享"}]
    r = client.post("/v1/screen", json={"items": items})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [res["id"] for res in results] == ["a", "b", "c", 7]
    # a text screened in a batch gets the same verdict as screened alone
    single = client.post("/v1/screen", json={"text": DOXXING}).json()
    assert {k: v for k, v in results[1].items() if k != "id"} == single
    assert results[2]["violation"] is False  # the empty text


def test_wrong_type_is_422_naming_the_field(client: TestClient) -> None:
    r = client.post("/v1/screen", json={"text": 42})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert_problem(body, 422)
    assert [e["loc"] for e in body["errors"]] == ["text"]


def test_missing_item_text_is_422_with_its_path(client: TestClient) -> None:
    r = client.post("/v1/screen", json={"items": [{"id": "x", "text": "ok"}, {"id": "y"}]})
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == ["items[1].text"]


@pytest.mark.parametrize(
    "body",
    [
        {},  # neither text nor items
        {"text": "a", "items": []},  # both
        {"text": "a", "colour": "red"},  # unknown field
    ],
)
def test_ambiguous_or_unknown_bodies_are_422(client: TestClient, body: dict[str, object]) -> None:
    r = client.post("/v1/screen", json=body)
    assert r.status_code == 422
    assert_problem(r.json(), 422)
    assert r.json()["errors"]


def test_malformed_json_is_400(client: TestClient) -> None:
    r = client.post(
        "/v1/screen", content=b'{"text": "unterminated', headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/problem+json")
    assert_problem(r.json(), 400)


def test_text_over_the_limit_is_413(tmp_path: Path) -> None:
    with make_client(tmp_path, max_text_chars=10) as c:
        r = c.post("/v1/screen", json={"text": "长" * 11})
        assert r.status_code == 413
        assert_problem(r.json(), 413)
        assert "10" in r.json()["detail"]
        # the same limit applies to each item of a batch
        r = c.post("/v1/screen", json={"items": [{"id": 1, "text": "ok"}, {"id": 2, "text": "长" * 11}]})
        assert r.status_code == 413
        assert "items[1]" in r.json()["detail"]


def test_one_megabyte_text_is_refused_clearly(client: TestClient) -> None:
    # default limit: 100,000 characters; a 1 MB text is refused, not screened slowly
    r = client.post("/v1/screen", json={"text": "a" * 1_000_000})
    assert r.status_code == 413
    assert "limit" in r.json()["detail"]


def test_batch_over_the_limit_is_413(tmp_path: Path) -> None:
    with make_client(tmp_path, max_batch=2) as c:
        r = c.post("/v1/screen", json={"items": [{"id": i, "text": "hi"} for i in range(3)]})
        assert r.status_code == 413
        assert "batch" in r.json()["detail"]


def test_body_over_the_limit_is_413_before_parsing(tmp_path: Path) -> None:
    with make_client(tmp_path, max_body_bytes=4096) as c:
        big = json.dumps({"text": "x" * 5000}).encode()
        # declared length over the limit
        r = c.post("/v1/screen", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert_problem(r.json(), 413)

        # streamed without a length: counted as it arrives; not even valid JSON, yet 413 not 400
        def chunks() -> Iterator[bytes]:
            for _ in range(10):
                yield b"{" * 1000

        r = c.post("/v1/screen", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_unknown_route_is_a_problem_too(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert_problem(r.json(), 404)


def test_openapi_documents_screen(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/screen"]["post"]
    assert {"200", "400", "413", "422"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    assert {"ScreenRequest", "VerdictOut", "BatchOut", "Problem"} <= set(schemas)
    assert {"text", "items"} <= set(schemas["ScreenRequest"]["properties"])
    assert client.get("/docs").status_code == 200

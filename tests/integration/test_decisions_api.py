"""``POST /v1/search/suggestions`` and ``POST /v1/hotlist`` against a real pile-on (a simulated
incident posted through ``POST /v1/events`` into the embedded pipeline), the roles that may ask,
and the policy file (``CVGUARD_POLICY_FILE``) loaded and followed for edits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import ApiClient, api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.policy import default_policy
from cvguard.simulate import SimConfig, generate

MOCKERY = "小丑"  # ridicule: an inappropriate-tier insult, not suppressed about just anybody
CHUNK = 250


@dataclass
class Incident:
    app: FastAPI
    platform: ApiClient
    target: str
    topic: str
    # what was answered after each chunk of events was posted
    early_suggestion: dict[str, Any] = field(default_factory=dict)
    hotlist_actions: list[str] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def _ask_about(client: ApiClient, target: str) -> dict[str, Any]:
    response = client.post(
        "/v1/search/suggestions",
        json={"query": "张", "suggestions": [{"text": f"张三 {MOCKERY}", "user_ids": [target]}]},
    )
    assert response.status_code == 200, response.text
    suggestion: dict[str, Any] = response.json()["suggestions"][0]
    return suggestion


@pytest.fixture(scope="module")
def incident(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Incident]:
    truth, *events = generate(SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",)))
    (labelled,) = truth["incidents"]
    settings = Settings(data_dir=tmp_path_factory.mktemp("decisions"), rate_limit_per_s=None)
    app = create_app(settings, Screener.default())
    with api_client(app, role="platform") as platform:
        found = Incident(app, platform, labelled["target_id"], labelled["topic_id"])
        found.early_suggestion = _ask_about(platform, found.target)
        for i in range(0, len(events), CHUNK):
            response = platform.post("/v1/events", json={"events": events[i : i + CHUNK]})
            assert response.status_code == 200, response.text
            found.alerts += response.json()["alerts"]
            item = {"item_id": "h1", "title": "热议话题", "topic_id": found.topic}
            hot = platform.post("/v1/hotlist", json={"items": [item]})
            assert hot.status_code == 200, hot.text
            found.hotlist_actions.append(hot.json()["items"][0]["action"])
        yield found


def test_a_suggestion_pairing_the_target_under_attack_with_abuse_is_suppressed(incident: Incident) -> None:
    # before the pile-on the same suggestion went through
    assert incident.early_suggestion["action"] == "allow" and incident.early_suggestion["rule_id"] is None
    pile_on = next(a["alert_id"] for a in incident.alerts if a["kind"] == "pile_on")
    other = "u-nobody-attacks"
    response = incident.platform.post(
        "/v1/search/suggestions",
        json={
            "query": "张三",
            "user_ids": [incident.target],
            "suggestions": [
                f"张三 {MOCKERY}",  # the query names the target: counts for every suggestion
                "张三 最新视频",
                {"text": f"李四 {MOCKERY}", "user_ids": [other]},
            ],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    version = default_policy().version
    query = body["query"]
    assert (query["action"], query["rule_id"]) == ("filter_results", "query-target-under-attack")
    attacked, plain, someone_else = body["suggestions"]
    assert (attacked["action"], attacked["rule_id"]) == ("suppress", "suggestion-target-under-attack")
    assert attacked["alert_ids"] == [pile_on] and attacked["suggestion"] == f"张三 {MOCKERY}"
    assert attacked["policy_version"] == version and attacked["reason"]
    assert "suggestion-target-under-attack" in [m["rule_id"] for m in attacked["matched"]]
    assert attacked["spans"] and attacked["severity"] == "inappropriate"
    assert (plain["action"], plain["rule_id"]) == ("allow", None)  # no abusive words
    # the same mockery of a person under no attack is not suppressed; an insult is, about anybody
    assert someone_else["user_ids"] == [incident.target, other]
    only_other = incident.platform.post(
        "/v1/search/suggestions",
        json={"query": "", "suggestions": [{"text": f"李四 {MOCKERY}", "user_ids": [other]}, "傻逼"]},
    ).json()
    mockery, insult = only_other["suggestions"]
    assert (mockery["action"], only_other["query"]["action"]) == ("allow", "allow")
    assert (insult["action"], insult["rule_id"]) == ("suppress", "suggestion-harmful")


def test_the_hot_list_follows_the_topic(incident: Incident) -> None:
    """As the topic heats: allowed, then a guidance note under a warning, then pulled when critical."""
    actions = list(dict.fromkeys(incident.hotlist_actions))
    assert actions == ["allow", "guidance_note", "pull"], incident.hotlist_actions
    response = incident.platform.post(
        "/v1/hotlist",
        json={
            "items": [
                {"item_id": "h1", "title": "热议话题", "topic_id": incident.topic},
                {"item_id": "h2", "title": "今天的天气", "topic_id": "topic-calm"},
                {"item_id": "h3", "title": "张三去死"},
            ]
        },
    )
    assert response.status_code == 200, response.text
    hot, calm, unlawful = response.json()["items"]
    topic_alert = next(a["alert_id"] for a in incident.alerts if a["kind"] == "topic")
    assert (hot["item_id"], hot["topic_id"], hot["action"], hot["rule_id"]) == (
        "h1",
        incident.topic,
        "pull",
        "hotlist-critical",
    )
    assert hot["alert_ids"] == [topic_alert] and hot["policy_version"] == default_policy().version
    assert {m["rule_id"] for m in hot["matched"]} == {"hotlist-critical", "topic-warning"}
    assert (calm["action"], calm["rule_id"]) == ("allow", None)
    assert (unlawful["action"], unlawful["rule_id"]) == ("pull", "hotlist-illegal")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(Settings(data_dir=tmp_path), Screener.default())
    with api_client(app, role=None):
        yield app


ASKS = [
    ("/v1/search/suggestions", {"query": "q", "suggestions": ["a", {"text": "b", "user_ids": ["u1"]}]}),
    ("/v1/hotlist", {"items": [{"item_id": "i1", "title": "t", "topic_id": "tp", "user_ids": ["u1"]}]}),
]


@pytest.mark.parametrize(("path", "body"), ASKS)
@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("platform", 200), ("admin", 200), ("moderator", 403), ("auditor", 403)],
)
def test_who_may_ask(app: FastAPI, path: str, body: dict[str, Any], role: str | None, status: int) -> None:
    with api_client(app, role=role) as client:
        response = client.post(path, json=body)
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/search/suggestions", {"query": "q", "suggestions": ["x"] * 101}),
        ("/v1/search/suggestions", {"query": "q", "suggestions": [""]}),
        ("/v1/search/suggestions", {"query": "q", "suggestions": [{"text": "x", "user_ids": ["u"] * 11}]}),
        ("/v1/hotlist", {"items": [{"item_id": "i1"}]}),
        ("/v1/hotlist", {"items": [{"item_id": "i\u0000", "title": "t"}]}),
    ],
)
def test_a_bad_ask_is_a_422_problem(app: FastAPI, path: str, body: dict[str, Any]) -> None:
    with api_client(app, role="platform") as client:
        response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")


def test_more_characters_than_one_request_may_screen_is_413(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, max_screen_chars=1500), Screener.default())
    with api_client(app, role="platform") as client:
        search = client.post("/v1/search/suggestions", json={"query": "q" * 600, "suggestions": ["x" * 1000]})
        two = [{"item_id": f"i{n}", "title": "t" * 800} for n in (1, 2)]
        hot = client.post("/v1/hotlist", json={"items": two})
        small = client.post("/v1/hotlist", json={"items": [{"item_id": "i1", "title": "t" * 800}]})
    assert (search.status_code, hot.status_code, small.status_code) == (413, 413, 200)


POLICY = """\
version: "{version}"
name: team
rules:
  - id: lock-everything
    surfaces: [hotlist_item]
    action: {action}
    reason: test
"""


def test_the_policy_file_is_used_and_followed_for_edits(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(version="t1", action="lock_topic"), encoding="utf-8")
    app = create_app(Settings(data_dir=tmp_path, policy_file=path), Screener.default())
    body = {"items": [{"item_id": "i1", "title": "天气"}]}
    with api_client(app, role="platform") as client:
        (item,) = client.post("/v1/hotlist", json=body).json()["items"]
        assert (item["action"], item["rule_id"], item["policy"], item["policy_version"]) == (
            "lock_topic",
            "lock-everything",
            "team",
            "t1",
        )
        path.write_text(POLICY.format(version="t2", action="pull"), encoding="utf-8")
        time.sleep(1.1)  # the holder looks at the file at most once a second
        (item,) = client.post("/v1/hotlist", json=body).json()["items"]
        assert (item["action"], item["policy_version"]) == ("pull", "t2")
        path.write_text("version: [broken", encoding="utf-8")  # a bad edit keeps the old policy
        time.sleep(1.1)
        (item,) = client.post("/v1/hotlist", json=body).json()["items"]
        assert (item["action"], item["policy_version"]) == ("pull", "t2")
        assert app.state.policy.errors

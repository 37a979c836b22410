"""``PATCH /v1/alerts/{id}``, ``GET /v1/alerts/{id}``, ``GET /v1/alerts`` filters and pages, and the
texts ``GET /v1/targets/{id}`` shows to the roles that may read them (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.requests import Request

from apiclient import ApiClient, api_client
from cvguard.api import create_app
from cvguard.api.auth import Principal
from cvguard.api.routes import targets
from cvguard.behavior.alerts import Alert
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.store import EventStore

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
AID = "pile_on:user:victim:1"


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture
def app(tmp_path: Path, database_url: str, screener: Screener) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path, database_url=database_url, max_batch=1000), screener)


@pytest.fixture
def moderator(app: FastAPI) -> Iterator[ApiClient]:
    """A moderator's client; it runs the app's lifespan (other clients on the app share it)."""
    with api_client(app, role="moderator") as client:
        yield client


def store_of(app: FastAPI) -> EventStore:
    store = app.state.pipeline().store
    assert isinstance(store, EventStore)
    return store


def alert(
    alert_id: str = AID,
    *,
    level: str = "warning",
    at: datetime = T0,
    kind: str = "pile_on",
    subject_type: str = "user",
    subject_id: str = "victim",
    resolved_at: datetime | None = None,
    resolution: str | None = None,
) -> Alert:
    return Alert(
        alert_id=alert_id,
        kind=kind,  # type: ignore[arg-type]
        subject_type=subject_type,  # type: ignore[arg-type]
        subject_id=subject_id,
        level=level,  # type: ignore[arg-type]
        raised_at=T0,
        updated_at=at,
        evidence={"abusive": 12},
        event_ids=("ev-1",),
        resolved_at=resolved_at,
        resolution=resolution,
    )


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    return problem


# -- PATCH and GET one alert ------------------------------------------------------------------------


def test_a_moderator_sets_a_status_and_who_and_when_are_recorded(app: FastAPI, moderator: ApiClient) -> None:
    store = store_of(app)
    store.upsert_alert(alert())
    before = datetime.now(UTC)
    response = moderator.patch(f"/v1/alerts/{AID}", json={"status": "acknowledged", "note": "on it"})
    after = datetime.now(UTC)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["alert_id"], body["status"], body["status_note"]) == (AID, "acknowledged", "on it")
    assert body["status_by"].startswith("test-moderator (")  # the calling key's name and id
    assert before <= datetime.fromisoformat(body["status_at"]) <= after  # the wall clock, in UTC
    (change,) = body["history"]
    assert (change["actor"], change["previous_status"], change["status"], change["note"]) == (
        body["status_by"],
        "open",
        "acknowledged",
        "on it",
    )
    assert moderator.get(f"/v1/alerts/{AID}").json() == body

    # a later escalation and behaviour's resolution change the level and say when it ended,
    # never the status the moderator set
    store.upsert_alert(alert(level="critical", at=T0 + timedelta(minutes=30)))
    store.upsert_alert(
        alert(
            level="critical",
            at=T0 + timedelta(hours=1),
            resolved_at=T0 + timedelta(hours=7),
            resolution="quiet",
        )
    )
    shown = moderator.get(f"/v1/alerts/{AID}").json()
    assert (shown["level"], shown["status"], shown["resolution"]) == ("critical", "acknowledged", "quiet")
    assert datetime.fromisoformat(shown["resolved_at"]) == T0 + timedelta(hours=7)
    assert (
        moderator.get("/v1/alerts", params={"status": "acknowledged"}).json()["alerts"][0]["alert_id"] == AID
    )


def test_an_alert_behaviour_resolved_is_listed_as_resolved_with_when_and_why(
    app: FastAPI, moderator: ApiClient
) -> None:
    store_of(app).upsert_alert(alert(resolved_at=T0 + timedelta(hours=6), resolution="quiet for 6 h"))
    (listed,) = moderator.get("/v1/alerts", params={"status": "resolved"}).json()["alerts"]
    assert (listed["status"], listed["resolution"], listed["status_by"]) == (
        "resolved",
        "quiet for 6 h",
        None,
    )
    assert moderator.get("/v1/alerts", params={"status": "open"}).json()["alerts"] == []


def test_an_alert_id_with_a_slash_is_reachable(app: FastAPI, moderator: ApiClient) -> None:
    weird = "pile_on:user:weibo/42:1"
    store_of(app).upsert_alert(alert(weird, subject_id="weibo/42"))
    assert moderator.get("/v1/alerts/pile_on:user:weibo%2F42:1").json()["alert_id"] == weird
    assert moderator.patch(f"/v1/alerts/{weird}", json={"status": "resolved"}).json()["status"] == "resolved"


def test_an_unknown_alert_is_a_404_problem(moderator: ApiClient) -> None:
    assert "nope" in assert_problem(moderator.get("/v1/alerts/nope"), 404)["detail"]
    assert_problem(moderator.patch("/v1/alerts/nope", json={"status": "resolved"}), 404)


@pytest.mark.parametrize(
    "body",
    [
        {"status": "dismissed"},  # not a status
        {},  # no status
        {"status": "resolved", "by": "someone else"},  # the actor is the caller, not a field
        {"status": "resolved", "note": "x" * 2001},  # a note over its limit
        '{"status": "resolved", "note": "\\ud800"}',  # a lone surrogate cannot be stored
        "[1, 2]",  # not an object
    ],
)
def test_a_bad_status_change_is_a_422_problem(
    app: FastAPI, moderator: ApiClient, body: dict[str, Any] | str
) -> None:
    store_of(app).upsert_alert(alert())
    if isinstance(body, str):
        sent = moderator.patch(
            f"/v1/alerts/{AID}", content=body, headers={"content-type": "application/json"}
        )
    else:
        sent = moderator.patch(f"/v1/alerts/{AID}", json=body)
    assert assert_problem(sent, 422)["errors"]
    assert moderator.get(f"/v1/alerts/{AID}").json()["history"] == []


@pytest.mark.parametrize(("role", "code"), [("platform", 403), ("auditor", 403), (None, 401), ("admin", 200)])
def test_only_moderators_and_admins_change_a_status(
    app: FastAPI, moderator: ApiClient, role: str | None, code: int
) -> None:
    store_of(app).upsert_alert(alert())
    caller = api_client(app, role=role)
    response = caller.patch(f"/v1/alerts/{AID}", json={"status": "false_positive"})
    assert response.status_code == code, response.text
    expected = "false_positive" if code == 200 else "open"
    assert moderator.get(f"/v1/alerts/{AID}").json()["status"] == expected


def test_an_auditor_reads_an_alert_and_its_history(app: FastAPI, moderator: ApiClient) -> None:
    store_of(app).upsert_alert(alert())
    moderator.patch(f"/v1/alerts/{AID}", json={"status": "resolved"})
    shown = api_client(app, role="auditor").get(f"/v1/alerts/{AID}")
    assert shown.status_code == 200 and len(shown.json()["history"]) == 1


# -- GET /v1/alerts: filters and pages --------------------------------------------------------------


def _fill(store: EventStore) -> None:
    """12 alerts: 3 kinds x 2 subjects x 2 levels, an hour apart in event time."""
    n = 0
    for kind, subject_type in (("pile_on", "user"), ("incitement", "user"), ("topic", "topic")):
        for subject_id in ("s1", "s2"):
            for level in ("watch", "critical"):
                store.upsert_alert(
                    alert(
                        f"{kind}:{subject_type}:{subject_id}:{level}",
                        kind=kind,
                        subject_type=subject_type,
                        subject_id=subject_id,
                        level=level,
                        at=T0 + timedelta(hours=n),
                    )
                )
                n += 1


@pytest.mark.parametrize(
    ("params", "count"),
    [
        ({}, 12),
        ({"level": "critical"}, 6),  # at least critical
        ({"level": "watch"}, 12),  # at least watch: everything
        ({"kind": "incitement"}, 4),
        ({"subject_type": "topic"}, 4),
        ({"subject_id": "s1"}, 6),
        ({"subject_id": "s1", "subject_type": "user", "level": "critical"}, 2),
        ({"status": "acknowledged"}, 1),  # one set by hand below
        ({"status": "open"}, 11),
        ({"updated_from": "2026-11-24T10:00:00Z"}, 10),  # inclusive
        ({"updated_to": "2026-11-24T10:00:00Z"}, 2),  # exclusive
        ({"updated_from": "2026-11-24T18:00:00+08:00", "updated_to": "2026-11-24T12:00:00Z"}, 2),
        ({"since": "2026-11-24T17:00:00Z"}, 3),  # the older name of updated_from
    ],
)
def test_alerts_filter_by_level_kind_status_subject_and_time(
    app: FastAPI, moderator: ApiClient, params: dict[str, str], count: int
) -> None:
    store = store_of(app)
    _fill(store)
    store.set_alert_status("topic:topic:s2:watch", status="acknowledged", actor="alice")
    response = moderator.get("/v1/alerts", params=params)
    assert response.status_code == 200, response.text
    assert len(response.json()["alerts"]) == count


def test_alerts_come_in_pages_that_cover_every_alert_once(app: FastAPI, moderator: ApiClient) -> None:
    _fill(store_of(app))
    everything = [a["alert_id"] for a in moderator.get("/v1/alerts", params={"limit": 1000}).json()["alerts"]]
    seen: list[str] = []
    sizes: list[int] = []
    params: dict[str, Any] = {"limit": 5}
    while True:
        page = moderator.get("/v1/alerts", params=params).json()
        seen += [a["alert_id"] for a in page["alerts"]]
        sizes.append(len(page["alerts"]))
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert sizes == [5, 5, 2] and seen == everything and len(set(seen)) == 12
    # a filtered listing pages the same way
    first = moderator.get("/v1/alerts", params={"level": "critical", "limit": 4}).json()
    rest = moderator.get(
        "/v1/alerts", params={"level": "critical", "limit": 4, "cursor": first["next_cursor"]}
    )
    assert (
        len(first["alerts"]) == 4 and len(rest.json()["alerts"]) == 2 and rest.json()["next_cursor"] is None
    )
    # exactly a page's worth: no next page announced
    assert moderator.get("/v1/alerts", params={"limit": 12}).json()["next_cursor"] is None


@pytest.mark.parametrize(
    "params",
    [
        {"since": "0.5"},  # a number is not a time
        {"updated_from": "1700000000"},
        {"updated_to": "2026-11-24"},  # a date without a time
        {"updated_from": "2026-11-24T08:00:00"},  # no timezone
        {"updated_to": "9999-12-31T23:59:59-01:00"},  # past year 9999 in UTC
        {"updated_from": "0001-01-01T00:00:00+01:00"},  # before year 1 in UTC
        {"since": "2026-11-24T08:00:00Z", "updated_from": "2026-11-24T08:00:00Z"},  # both names
        {"status": "dismissed"},
        {"subject_type": "planet"},
        {"limit": 1001},
        {"cursor": "not-a-cursor"},
        {"cursor": "W10"},  # base64 of "[]": decodes, but is no position
        {"cursor": "WyIyMDI2LTExLTI0VDA4OjAwOjAwIiwiYSJd"},  # a naive time inside
        {"cursor": "WyIyMDI2LTExLTI0VDA4OjAwOjAwKzAwOjAwIiwgImFcdTAwMDAiXQ"},  # a NUL in the id inside
        {"subject_id": "victim\x00"},  # no id holds a NUL (PostgreSQL answered 503)
    ],
)
def test_bad_listing_parameters_are_422_problems(moderator: ApiClient, params: dict[str, str]) -> None:
    assert assert_problem(moderator.get("/v1/alerts", params=params), 422)["errors"]


def test_the_alert_routes_are_documented(moderator: ApiClient) -> None:
    spec = moderator.get("/openapi.json").json()
    one = spec["paths"]["/v1/alerts/{alert_id}"]
    assert {"get", "patch"} <= set(one)
    assert {"404", "422"} <= set(one["patch"]["responses"])
    listing = {p["name"] for p in spec["paths"]["/v1/alerts"]["get"]["parameters"]}
    assert {
        "level",
        "kind",
        "status",
        "subject_type",
        "subject_id",
        "updated_from",
        "updated_to",
        "cursor",
    } <= listing
    assert "next_cursor" in spec["components"]["schemas"]["AlertList"]["properties"]
    alert_out = spec["components"]["schemas"]["AlertOut"]["properties"]
    assert {"status", "resolved_at", "resolution", "status_by", "status_at"} <= set(alert_out)


# -- texts on /v1/targets/{id} ----------------------------------------------------------------------


def _abuse(n: int, at: datetime) -> dict[str, Any]:
    return {
        "event_id": f"ev-{n}",
        "surface": "comment",
        "occurred_at": at.isoformat(),
        "author": {"id": f"troll-{n}"},
        "text": f"你就是个傻逼，滚出去 {n}",
        "target_ids": ["victim"],
        "thread_id": "t1",
    }


@pytest.fixture
def abused(app: FastAPI, moderator: ApiClient) -> EventStore:
    """Three abusive comments at "victim"; the oldest one's text purged by retention."""
    platform = api_client(app, role="platform")
    sent = platform.post(
        "/v1/events", json={"events": [_abuse(n, T0 + timedelta(hours=n)) for n in range(3)]}
    )
    assert sent.status_code == 200 and sent.json()["accepted"] == 3, sent.text
    store = store_of(app)
    assert store.purge_text(T0 + timedelta(minutes=30)) == 1  # ev-0
    return store


@pytest.mark.parametrize("role", ["moderator", "auditor", "admin"])
def test_roles_that_may_read_texts_see_the_abuse_and_its_spans(
    app: FastAPI, abused: EventStore, role: str
) -> None:
    response = api_client(app, role=role).get("/v1/targets/victim")
    assert response.status_code == 200, response.text
    shown = {e["event_id"]: e for e in response.json()["abusive_events"]}
    assert set(shown) == {"ev-0", "ev-1", "ev-2"}
    assert (shown["ev-0"]["text"], shown["ev-0"]["text_purged"]) == (None, True)
    assert (shown["ev-2"]["text"], shown["ev-2"]["text_purged"]) == ("你就是个傻逼，滚出去 2", False)
    spans = shown["ev-2"]["spans"]
    assert spans and any(shown["ev-2"]["text"][s["start"] : s["end"]] for s in spans)


def test_a_platform_key_never_sees_the_texts(app: FastAPI, abused: EventStore) -> None:
    assert_problem(api_client(app, role="platform").get("/v1/targets/victim"), 403)
    # and should a platform caller reach the route, it still gets no text
    request = Request({"type": "http", "state": {"principal": Principal("k1", "acme", "platform")}})
    out = targets.get_target(
        "victim", request, app.state.pipeline(), app.state.behaviour(), hours=24, limit=200
    )
    assert len(out.abusive_events) == 3
    assert all((e.text, e.text_purged, e.spans) == (None, None, None) for e in out.abusive_events)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/alerts/a%00b"), ("PATCH", "/v1/alerts/a%00b"), ("GET", "/v1/targets/a%00b")],
)
def test_an_id_with_a_nul_character_is_a_422_not_a_store_failure(
    moderator: ApiClient, method: str, path: str
) -> None:
    # PostgreSQL cannot hold NUL in text: such an id used to reach it and come back 503
    assert_problem(moderator.request(method, path, json={"status": "resolved"}), 422)

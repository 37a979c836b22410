"""Who may call what, over every ``/v1`` route the app has (read from ``app.routes``, so a route added
later is covered as soon as it exists):

- **auditors change nothing**: every POST / PUT / PATCH / DELETE answers an auditor key 403;
- **auditors read everything**: every GET answers an auditor anything but 401, 403 (or 422: the
  route's own checks must have run), except the routes in ``AUDITOR_CANNOT_READ``, each with why;
- **the platform key reaches only what is the platform's**: the routes in ``PLATFORM`` (its events,
  screening, decisions and asks, the action feed, and what it does for a signed-in person: their
  shield, key groups, filtered folder, evidence, reports, nudge outcomes) answer it anything but
  401 / 403; every other ``/v1`` route (staff reads and the accountability records: alerts,
  targets, escalations, the report queue, the audit trail, keys, the evidence vault...) is ``STAFF``
  and answers it 403, with or without ``X-On-Behalf-Of``.

Every route must be classified in ``PLATFORM`` or ``STAFF``: a route that is in neither (or a
classified one that no longer exists) fails ``test_every_v1_route_is_classified`` by name, so a new
route gets a decision, not a default. Path parameters get valid dummies (``PATH_DUMMIES``, by name)
and required query parameters theirs (``QUERY_DUMMIES``, by route); nothing the dummies name exists,
so reads answer 404 or an empty page, and writes are refused or rejected before they change anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import ApiClient, api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener

Route = tuple[str, str]  # (method, path template as the app names it)
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PERSON = "u-roles"  # the person a platform call is made for (X-On-Behalf-Of)

# The platform's own routes: what it sends, what it reads back, and what it does for its
# signed-in users (a call made for them: ``api.auth.owner_or_staff``).
PLATFORM: frozenset[Route] = frozenset({
    # events, screening, decisions and the asks made at publish time
    ("POST", "/v1/events"),
    ("POST", "/v1/screen"),
    ("GET", "/v1/decisions/{event_id}"),
    ("POST", "/v1/hotlist"),
    ("POST", "/v1/search/suggestions"),
    # the action feed
    ("GET", "/v1/actions"),
    # a person's protection, key groups and filtered folder (groups: marked by the platform)
    ("GET", "/v1/users/{user_id}/protection"),
    ("PUT", "/v1/users/{user_id}/protection"),
    ("DELETE", "/v1/users/{user_id}/protection"),
    ("POST", "/v1/users/{user_id}/protection/extend"),
    ("GET", "/v1/users/{user_id}/filtered"),
    ("POST", "/v1/users/{user_id}/filtered/{event_id}/restore"),
    ("GET", "/v1/users/{user_id}/groups"),
    ("PUT", "/v1/users/{user_id}/groups"),
    # a person's evidence
    ("POST", "/v1/evidence"),
    ("GET", "/v1/evidence/{case_id}"),
    ("GET", "/v1/evidence/{case_id}/export"),
    ("GET", "/v1/users/{user_id}/evidence"),
    # a person's reports: filing, reading their own, answering a request for information
    ("POST", "/v1/reports"),
    ("GET", "/v1/reports/{report_id}"),
    ("POST", "/v1/reports/{report_id}/info"),
    ("GET", "/v1/users/{user_id}/reports"),
    # nudges: the platform reports outcomes and reads the figures
    ("POST", "/v1/nudges/{nudge_id}/outcome"),
    ("GET", "/v1/nudges/stats"),
    # MCN organisations and their members, as the platform knows them (it reads measures in the feed)
    ("PUT", "/v1/mcns/{mcn_id}"),
    # an appeal against a sanction, filed for the sanctioned account, and its status
    ("POST", "/v1/sanctions/{sanction_id}/appeal"),
    ("GET", "/v1/sanctions/{sanction_id}/appeal"),
})

# Staff only (moderators, auditors, admins as each route says): never a platform key.
STAFF: frozenset[Route] = frozenset({
    ("GET", "/v1/alerts"),
    ("GET", "/v1/alerts/{alert_id}"),
    ("PATCH", "/v1/alerts/{alert_id}"),
    ("GET", "/v1/targets/{target_id}"),
    ("GET", "/v1/topics/{topic_id}"),
    ("GET", "/v1/escalations"),
    ("GET", "/v1/escalations/{escalation_id}"),
    ("GET", "/v1/reports"),
    ("GET", "/v1/reports/stats"),
    ("POST", "/v1/reports/{report_id}/assign"),
    ("POST", "/v1/reports/{report_id}/decision"),
    ("GET", "/v1/evidence/vault"),
    ("GET", "/v1/audit"),
    ("GET", "/v1/audit/verify"),
    ("GET", "/v1/audit/export"),
    ("GET", "/v1/keys"),
    ("POST", "/v1/keys"),
    ("DELETE", "/v1/keys/{key_id}"),
    ("GET", "/v1/settings"),
    ("GET", "/v1/mcns"),
    ("GET", "/v1/mcns/{mcn_id}"),
    ("GET", "/v1/mcns/{mcn_id}/report"),
    ("POST", "/v1/mcns/{mcn_id}/measures"),
    ("POST", "/v1/mcns/{mcn_id}/measures/{measure_id}/lift"),
    ("GET", "/v1/review/queue"),
    ("GET", "/v1/review/stats"),
    ("GET", "/v1/review/items/{item_id}"),
    ("POST", "/v1/review/items/{item_id}/assign"),
    ("POST", "/v1/review/items/{item_id}/decision"),
    ("GET", "/v1/violations"),
    ("POST", "/v1/violations"),
    ("GET", "/v1/sanctions"),
    ("POST", "/v1/sanctions"),
    ("GET", "/v1/sanctions/{sanction_id}"),
    ("GET", "/v1/accounts/{account_id}/standing"),
})

# The reads an auditor does not get, and why (auditors read everything else).
AUDITOR_CANNOT_READ: dict[Route, str] = {
    ("GET", "/v1/users/{user_id}/filtered"): "a person's filtered folder is private (the person, admin)",
}

PATH_DUMMIES: dict[str, str] = {
    "user_id": PERSON,
    "event_id": "ev-roles-1",
    "alert_id": f"pile_on:user:{PERSON}:1",
    "target_id": PERSON,
    "topic_id": "topic-roles",
    "escalation_id": "dm:roles",
    "case_id": "ev_" + "0" * 24,
    "report_id": "rp-roles",
    "key_id": "k-roles",
    "nudge_id": "nudge-roles",
    "mcn_id": "mcn-roles",
    "account_id": PERSON,
    "sanction_id": "sn-roles",
    "violation_id": "vi-roles",
    "appeal_id": "ap-roles",
    "item_id": "it-roles",
    "measure_id": "ms-roles",
}
QUERY_DUMMIES: dict[Route, dict[str, str]] = {
    ("GET", "/v1/audit/export"): {"since": "2026-01-01T00:00:00Z", "until": "2026-01-02T00:00:00Z"},
}


def _routes(app: FastAPI) -> set[Route]:
    """Every (method, path) under /v1, whether the app lists routes or included routers."""
    found: set[Route] = set()
    for route in app.routes:
        candidates = getattr(route, "effective_candidates", None)
        candidates = candidates() if callable(candidates) else candidates
        for r in candidates if candidates is not None else [route]:
            path = getattr(r, "path_format", None) or getattr(r, "path", None)
            if not isinstance(path, str) or not path.startswith("/v1/"):
                continue
            found |= {(m, path) for m in getattr(r, "methods", None) or () if m not in ("HEAD", "OPTIONS")}
    return found


def _app(data_dir: Path, screener: Screener | None = None) -> FastAPI:
    return create_app(Settings(data_dir=data_dir, rate_limit_per_s=None), screener)


# Collected from an app that is never started (no database is touched).
ROUTES = sorted(_routes(_app(Path("/nonexistent-roles"))), key=lambda r: (r[1], r[0]))
READS = [r for r in ROUTES if r[0] == "GET"]
WRITE_ROUTES = [r for r in ROUTES if r[0] in WRITES]


def _id(route: Route) -> str:
    return f"{route[0]} {route[1]}"


def _url(route: Route) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        if name not in PATH_DUMMIES:
            pytest.fail(f"{_id(route)}: add a dummy for the path parameter {name!r} to PATH_DUMMIES")
        return PATH_DUMMIES[name]

    return re.sub(r"\{([^}]+)\}", fill, route[1])


def _call(client: ApiClient, route: Route, headers: dict[str, str] | None = None) -> Any:
    method, _ = route
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if route in QUERY_DUMMIES:
        kwargs["params"] = QUERY_DUMMIES[route]
    if method in WRITES and method != "DELETE":
        kwargs["json"] = {}
    return client.request(method, _url(route), **kwargs)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return _app(tmp_path_factory.mktemp("roles"), Screener.default())


@pytest.fixture(scope="module")
def auditor(app: FastAPI) -> Iterator[ApiClient]:
    with api_client(app, role="auditor") as client:
        yield client


@pytest.fixture(scope="module")
def platform(app: FastAPI) -> Iterator[ApiClient]:
    with api_client(app, role="platform") as client:
        yield client


def test_every_v1_route_is_classified() -> None:
    present = set(ROUTES)
    unclassified = sorted(present - PLATFORM - STAFF)
    assert not unclassified, (
        "classify these routes in tests/integration/test_roles.py: PLATFORM (the platform key reaches "
        "them, maybe for a person) or STAFF (never the platform key): "
        + ", ".join(_id(r) for r in unclassified)
    )
    assert not PLATFORM & STAFF, sorted(PLATFORM & STAFF)
    gone = sorted((PLATFORM | STAFF | set(AUDITOR_CANNOT_READ)) - present)
    assert not gone, "classified routes the app no longer has: " + ", ".join(_id(r) for r in gone)
    assert all(r[0] == "GET" for r in AUDITOR_CANNOT_READ)
    # the lists cover what the app had when they were written (a few dozen routes, both kinds)
    assert len(READS) >= 20 and len(WRITE_ROUTES) >= 15


@pytest.mark.parametrize("route", WRITE_ROUTES, ids=_id)
def test_auditors_change_nothing(auditor: ApiClient, route: Route) -> None:
    response = _call(auditor, route)
    assert response.status_code == 403, (
        f"{_id(route)}: an auditor got {response.status_code}: {response.text}"
    )


@pytest.mark.parametrize("route", READS, ids=_id)
def test_auditors_read_everything(auditor: ApiClient, route: Route) -> None:
    response = _call(auditor, route)
    if route in AUDITOR_CANNOT_READ:
        assert response.status_code == 403, f"{_id(route)}: {AUDITOR_CANNOT_READ[route]}"
        return
    assert response.status_code not in (401, 403, 422), (
        f"{_id(route)}: an auditor got {response.status_code} ({response.text[:300]}); if this read is "
        "not for auditors, add it to AUDITOR_CANNOT_READ with why; a 422 needs a dummy in "
        "PATH_DUMMIES / QUERY_DUMMIES"
    )


@pytest.mark.parametrize("route", ROUTES, ids=_id)
def test_the_platform_reaches_only_its_own_routes(platform: ApiClient, route: Route) -> None:
    if route not in PLATFORM and route not in STAFF:
        pytest.fail(f"{_id(route)} is not classified: add it to PLATFORM or STAFF")
    on_behalf = {"X-On-Behalf-Of": PERSON}
    if route in STAFF:
        for headers in (None, on_behalf):
            response = _call(platform, route, headers)
            assert response.status_code == 403, (
                f"{_id(route)} is staff only, but the platform key got {response.status_code} "
                f"(headers {headers}): {response.text[:300]}"
            )
        return
    response = _call(platform, route, on_behalf)
    refused = (401, 403) if route[0] in WRITES else (401, 403, 422)
    assert response.status_code not in refused, (
        f"{_id(route)} is the platform's, but it got {response.status_code}: {response.text[:300]}"
    )


def test_no_key_is_refused_everywhere(app: FastAPI) -> None:
    with api_client(app, role=None) as anonymous:
        for route in ROUTES:
            assert _call(anonymous, route).status_code == 401, _id(route)

"""A bounded schemathesis run against the API's own OpenAPI document, as a caller with a key:
no 5xx, and every response (status, content type, body) as the schema says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    data_dir: Path = tmp_path_factory.mktemp("schema")
    app = create_app(Settings(data_dir=data_dir, rate_limit_per_s=None), Screener.default())
    with api_client(app, role="admin") as client:
        yield app, client


@pytest.fixture(scope="module")
def api_schema(api: tuple[Any, Any]) -> Any:
    app, _client = api
    return schemathesis.openapi.from_asgi("/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_route_answers_as_its_schema_says(case: Any, api: tuple[Any, Any]) -> None:
    _app, client = api
    # the requests carry the client's headers: its API key once access control is in place
    case.call_and_validate(headers=dict(client.headers), checks=CHECKS)

"""``/docs`` works offline: every asset it loads is served by cvguard itself, with no key."""

from __future__ import annotations

import re
from pathlib import Path

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener


def test_docs_reference_only_local_assets_and_those_are_served(tmp_path: Path) -> None:
    client = api_client(create_app(Settings(data_dir=tmp_path), Screener.default()), role=None)
    page = client.get("/docs")
    assert page.status_code == 200 and "swagger-ui" in page.text
    urls = re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*['"]([^'"]+)['"]""", page.text)
    found = {u for pair in urls for u in pair if u}
    assert found, page.text
    for url in found:
        assert url.startswith("/") and not url.startswith("//"), f"{url} is not served by cvguard"
        response = client.get(url)
        assert response.status_code == 200, url
    # the script and stylesheet are the real Swagger UI (5.x, which reads OpenAPI 3.1)
    assert {"/docs/assets/swagger-ui-bundle.js", "/docs/assets/swagger-ui.css", "/openapi.json"} <= found
    assert "SwaggerUIBundle" in client.get("/docs/assets/swagger-ui-bundle.js").text
    assert "cdn" not in page.text.lower()

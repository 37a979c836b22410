"""A person's own records: reached by a platform call made for them, or by staff of the roles a
route names (``api.auth.owner_or_staff``), nobody else; keys scoped to one user."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pytest
from fastapi import Depends, FastAPI, Request
from typer.testing import CliRunner

from apiclient import api_client
from cvguard.api import create_app
from cvguard.api.auth import Principal, authenticate, owner_or_staff
from cvguard.cli import app as cli
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import InputError
from cvguard.store.keys import KeyStore


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    settings = Settings(data_dir=tmp_path_factory.mktemp("owner"), rate_limit_per_s=None)
    made = create_app(settings, Screener.default())

    # a route of the shape the protection, evidence and report routes have
    @made.get("/test-owner/{user_id}")
    def own(
        user_id: str, request: Request, principal: Annotated[Principal, Depends(authenticate)]
    ) -> dict[str, str]:
        return {"by": owner_or_staff(request, principal, user_id, ("moderator",))}

    return made


@pytest.mark.parametrize(
    ("client_kwargs", "status", "by"),
    [
        ({"role": "platform", "user": "u1"}, 200, "u1"),  # a key scoped to the owner
        ({"role": "platform", "on_behalf_of": "u1"}, 200, "u1"),  # the platform, for its user
        ({"role": "platform", "user": "u2"}, 403, None),  # another user's key scope
        ({"role": "platform", "on_behalf_of": "u2"}, 403, None),  # made for someone else
        ({"role": "platform"}, 403, None),  # the platform itself, for nobody
        ({"role": "platform", "user": "u2", "on_behalf_of": "u1"}, 403, None),  # a scoped key naming another
        ({"role": "moderator"}, 200, "moderator:"),  # the staff role the route names
        ({"role": "moderator", "on_behalf_of": "u1"}, 200, "moderator:"),  # staff act as themselves
        ({"role": "auditor"}, 403, None),  # staff without the right role
        ({"role": "auditor", "on_behalf_of": "u1"}, 403, None),  # the header means nothing to staff
        ({"role": "admin"}, 200, "admin:"),
        ({"role": None}, 401, None),
    ],
)
def test_who_reaches_a_persons_own_records(
    app: FastAPI, client_kwargs: dict[str, str | None], status: int, by: str | None
) -> None:
    with api_client(app, **client_kwargs) as client:  # type: ignore[arg-type]
        response = client.get("/test-owner/u1")
    assert response.status_code == status, response.text
    if by is not None:
        assert response.json()["by"].startswith(by)
    else:
        assert response.headers["content-type"].startswith("application/problem+json")


def test_only_a_platform_key_is_scoped_to_a_user(tmp_path: Path) -> None:
    with KeyStore.open(f"sqlite:///{tmp_path}/k.db") as keys:
        scoped = keys.create(role="platform", user_id="u1")
        assert keys.verify(scoped.key) is not None and keys.get(scoped.key_id).user_id == "u1"  # type: ignore[union-attr]
        with pytest.raises(InputError, match="only a platform key"):
            keys.create(role="moderator", user_id="u1")
        with pytest.raises(InputError, match="user id"):
            keys.create(role="platform", user_id=" ")


def test_the_cli_and_the_api_create_scoped_keys(app: FastAPI, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.db"
    result = CliRunner().invoke(cli, ["keys", "create", "--role", "platform", "--user", "u7", "--db", db])
    assert result.exit_code == 0, result.output
    assert "for user 'u7' only" in result.output
    bad = CliRunner().invoke(cli, ["keys", "create", "--role", "auditor", "--user", "u7", "--db", db])
    assert bad.exit_code == 2 and "only a platform key" in bad.output
    with api_client(app, role="admin") as admin:
        made = admin.post("/v1/keys", json={"role": "platform", "user_id": "u9"})
        assert made.status_code == 201 and made.json()["user_id"] == "u9"
        refused = admin.post("/v1/keys", json={"role": "moderator", "user_id": "u9"})
        assert refused.status_code in (400, 422), refused.text

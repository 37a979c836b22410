"""Exporting the audit trail for an inspection period (SQLite and PostgreSQL): ``cvguard audit export``
and ``GET /v1/audit/export`` give the same piece of the chain, ``cvguard audit verify-export`` passes
it (directory or zip) and names a line edited, deleted or moved (exit 2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from apiclient import api_client
from cvguard.api import create_app
from cvguard.audit.export import JSONL, MANIFEST, from_zip
from cvguard.cli import app as cli
from cvguard.config import Settings
from cvguard.store import models as m
from cvguard.store.audit import AuditLog

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        self.at += timedelta(hours=1)
        return self.at


@pytest.fixture
def filled(database_url: str) -> str:
    """Six entries, one an hour from 09:00 (seq 1 at 09:00 ... seq 6 at 14:00)."""
    with AuditLog.open(database_url, clock=Clock()) as log:
        for i in range(1, 7):
            log.append(actor="moderator:k1 (alice)", action="alert.status", subject_type="alert",
                       subject_id=f"a{i}", before={"status": "open"}, after={"status": "resolved"})
    return database_url


def _run(*args: str) -> Any:
    result = CliRunner().invoke(cli, list(args))
    result.flat = " ".join(result.output.split())
    return result


def _export(database_url: str, out: Path, since: str = "2026-11-02T10:00:00Z",
            until: str = "2026-11-02T13:00:00+00:00") -> Any:
    return _run("audit", "export", "--db", database_url, "--since", since, "--until", until,
                "--out", str(out))


def test_a_period_exports_and_verifies(filled: str, tmp_path: Path) -> None:
    result = _export(filled, tmp_path / "period")
    assert result.exit_code == 0 and "3 audit entries" in result.flat, result.output
    manifest = json.loads((tmp_path / "period" / MANIFEST).read_text())
    assert (manifest["count"], manifest["first_seq"], manifest["last_seq"]) == (3, 2, 4)  # 10:00..12:00
    with AuditLog.open(filled) as log:
        entries = log.entries()
    assert manifest["prev"] == entries[0].digest and manifest["head"] == entries[3].digest
    lines = (tmp_path / "period" / JSONL).read_bytes().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [2, 3, 4]
    verified = _run("audit", "verify-export", str(tmp_path / "period"))
    assert verified.exit_code == 0 and "3 entries" in verified.flat, verified.output
    zipped = _export(filled, tmp_path / "period.zip")
    assert zipped.exit_code == 0, zipped.output
    assert _run("audit", "verify-export", str(tmp_path / "period.zip")).exit_code == 0


def _tamper(path: Path, how: str) -> None:
    rows = path.read_bytes().splitlines(keepends=True)
    if how == "edit":
        value = json.loads(rows[1])
        value["actor"] = "moderator:k2 (bob)"
        line = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        rows[1] = line.encode() + b"\n"
    elif how == "delete":
        del rows[1]
    else:
        rows[1], rows[2] = rows[2], rows[1]
    path.write_bytes(b"".join(rows))


@pytest.mark.parametrize(
    ("how", "named"),
    [
        ("edit", "audit entry 3: its digest does not match its record (edited)"),
        ("delete", "audit entry 3: it is missing"),
        ("swap", "audit entry 3: it comes after entry 4 (entries reordered)"),
    ],
)
def test_a_line_edited_deleted_or_moved_is_named(filled: str, tmp_path: Path, how: str, named: str) -> None:
    assert _export(filled, tmp_path / "period").exit_code == 0
    _tamper(tmp_path / "period" / JSONL, how)
    result = _run("audit", "verify-export", str(tmp_path / "period"))
    assert result.exit_code == 2 and named in result.flat, result.output


def test_an_export_of_a_tampered_trail_does_not_verify(filled: str, tmp_path: Path) -> None:
    with AuditLog.open(filled) as log, log.engine.begin() as c:
        c.execute(update(m.audit_log).where(m.audit_log.c.seq == 3).values(prev="0" * 64))
    assert _export(filled, tmp_path / "period").exit_code == 0  # exported as stored
    result = _run("audit", "verify-export", str(tmp_path / "period"))
    assert result.exit_code == 2 and "audit entry 3" in result.flat, result.output


@pytest.mark.parametrize(
    "args",
    [
        ("--since", "2026-11-02T10:00:00", "--until", "2026-11-02T11:00:00Z"),  # no zone
        ("--since", "yesterday", "--until", "2026-11-02T11:00:00Z"),
        ("--since", "2026-11-02T12:00:00Z", "--until", "2026-11-02T11:00:00Z"),  # backwards
    ],
)
def test_bad_periods_exit_2(filled: str, tmp_path: Path, args: tuple[str, ...]) -> None:
    result = _run("audit", "export", "--db", filled, *args, "--out", str(tmp_path / "x"))
    assert result.exit_code == 2, result.output


def test_a_missing_export_exits_2(tmp_path: Path) -> None:
    assert _run("audit", "verify-export", str(tmp_path / "nothing.zip")).exit_code == 2
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    assert _run("audit", "verify-export", str(tmp_path / "bad.zip")).exit_code == 2


def test_the_api_exports_the_same_period(filled: str, tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, database_url=filled, rate_limit_per_s=None))
    params = {"since": "2026-11-02T10:00:00Z", "until": "2026-11-02T13:00:00Z"}
    with api_client(app, role="auditor") as auditor, api_client(app, role="moderator") as moderator:
        response = auditor.get("/v1/audit/export", params=params)
        assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
        assert moderator.get("/v1/audit/export", params=params).status_code == 403
        bad = auditor.get("/v1/audit/export", params={"since": "2026-11-02T10:00:00", "until": "x"})
        assert bad.status_code == 422
    files = from_zip(response.content)
    assert _export(filled, tmp_path / "cli").exit_code == 0
    assert files[JSONL] == (tmp_path / "cli" / JSONL).read_bytes()
    (tmp_path / "api.zip").write_bytes(response.content)
    assert _run("audit", "verify-export", str(tmp_path / "api.zip")).exit_code == 0
    empty = json.loads(from_zip(auditor_get(app, {"since": "2027-01-01T00:00:00Z",
                                                   "until": "2027-01-02T00:00:00Z"}))[MANIFEST])
    assert empty["count"] == 0


def auditor_get(app: Any, params: dict[str, str]) -> bytes:
    with api_client(app, role="auditor") as auditor:
        response = auditor.get("/v1/audit/export", params=params)
    assert response.status_code == 200, response.text
    return response.content

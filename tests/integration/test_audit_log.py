"""The audit log on SQLite and PostgreSQL: appends chain in seq order, concurrent appends stay one
line, and a row edited, deleted or moved by SQL fails verification (and ``cvguard audit verify``,
exit 2) naming the entry."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import delete, update
from typer.testing import CliRunner

from cvguard.audit import GENESIS, digest_of, record
from cvguard.cli import app as cli
from cvguard.errors import InputError
from cvguard.store import models as m
from cvguard.store.audit import AuditLog


@pytest.fixture
def log(database_url: str) -> Any:
    with AuditLog.open(database_url) as opened:
        yield opened


def _fill(log: AuditLog, n: int = 4) -> None:
    for i in range(1, n + 1):
        log.append(actor="moderator:k1 (alice)", action="alert.status", subject_type="alert",
                   subject_id=f"a{i}", inputs={"status": "resolved", "note": "ok"},
                   before={"status": "open"}, after={"status": "resolved"}, policy_version="v3")


def _verify_cli(database_url: str) -> Any:
    return CliRunner().invoke(cli, ["audit", "verify", "--db", database_url])


def test_entries_chain_in_order_and_verify(log: AuditLog, database_url: str) -> None:
    assert log.verify().to_dict() == {"ok": True, "problem": None, "entries": 0, "head": GENESIS}
    _fill(log)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert entries[0].prev == GENESIS and entries[1].prev == entries[0].digest
    assert entries[2].before == {"status": "open"} and entries[2].after == {"status": "resolved"}
    assert entries[2].policy_version == "v3" and entries[2].at.tzinfo is not None
    assert [e.seq for e in log.entries(after=2, limit=1)] == [3]
    found = log.verify()
    assert found.ok and found.entries == 4 and found.head == entries[-1].digest
    result = _verify_cli(database_url)
    assert result.exit_code == 0 and "4 entries" in result.output, result.output


def test_what_json_cannot_hold_is_refused(log: AuditLog) -> None:
    with pytest.raises(InputError):
        log.append(actor="a", action="x", subject_type="t", subject_id="s", inputs={"bad": float("nan")})
    assert log.entries() == []


def test_concurrent_appends_stay_one_chain(log: AuditLog) -> None:
    def work() -> None:
        for _ in range(5):
            log.append(actor="a", action="key.create", subject_type="key", subject_id="k")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [e.seq for e in log.entries(limit=100)] == list(range(1, 21))
    assert log.verify().ok


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [("record", None, "edited"), ("actor", "someone else", "actor column"), ("prev", "0" * 64, "previous")],
)
def test_an_edited_row_is_named(log: AuditLog, database_url: str, column: str, value: Any,
                                reason: str) -> None:
    _fill(log)
    a = m.audit_log.c
    if value is None:  # the record rewritten, canonical, with another outcome
        value = record(seq=3, at=log.entries(after=2, limit=1)[0].at, actor="moderator:k1 (alice)",
                       action="alert.status", subject_type="alert", subject_id="a3",
                       inputs={"status": "resolved", "note": "ok"}, before={"status": "open"},
                       after={"status": "false_positive"}, policy_version="v3").decode("utf-8")
    with log.engine.begin() as c:
        c.execute(update(m.audit_log).where(a.seq == 3).values({column: value}))
    found = log.verify()
    assert not found.ok and found.problem is not None
    assert found.problem.startswith("audit entry 3:") and reason in found.problem, found.problem
    assert found.entries == 2
    result = _verify_cli(database_url)
    assert result.exit_code == 2 and "audit entry 3" in " ".join(result.output.split()), result.output


def test_a_deleted_row_is_named(log: AuditLog, database_url: str) -> None:
    _fill(log)
    with log.engine.begin() as c:
        c.execute(delete(m.audit_log).where(m.audit_log.c.seq == 2))
    found = log.verify()
    assert found.problem is not None and found.problem.startswith("audit entry 2:"), found.problem
    assert "missing" in found.problem
    result = _verify_cli(database_url)
    assert result.exit_code == 2 and "audit entry 2" in " ".join(result.output.split()), result.output


def test_two_rows_swapped_are_named(log: AuditLog, database_url: str) -> None:
    _fill(log)
    a = m.audit_log.c
    with log.engine.begin() as c:
        c.execute(update(m.audit_log).where(a.seq == 2).values(seq=-2))
        c.execute(update(m.audit_log).where(a.seq == 3).values(seq=2))
        c.execute(update(m.audit_log).where(a.seq == -2).values(seq=3))
    found = log.verify()
    assert found.problem is not None and found.problem.startswith("audit entry 2:"), found.problem
    assert "reordered" in found.problem
    result = _verify_cli(database_url)
    assert result.exit_code == 2 and "audit entry 2" in " ".join(result.output.split()), result.output


def test_a_row_replaced_with_a_rechained_one_is_named_at_the_next(log: AuditLog) -> None:
    _fill(log)
    entries = log.entries()
    forged = record(seq=2, at=entries[1].at, actor="moderator:k1 (alice)", action="alert.status",
                    subject_type="alert", subject_id="a2", inputs={"status": "resolved", "note": "ok"},
                    before={"status": "open"}, after={"status": "false_positive"}, policy_version="v3")
    with log.engine.begin() as c:  # its own digest redone: the entry after it no longer links
        c.execute(update(m.audit_log).where(m.audit_log.c.seq == 2).values(
            record=forged.decode("utf-8"), digest=digest_of(entries[0].digest, forged)))
    found = log.verify()
    assert found.problem is not None and found.problem.startswith("audit entry 3:"), found.problem
    assert "previous digest" in found.problem and found.entries == 2


def test_the_last_rows_removed_leave_a_shorter_head(log: AuditLog) -> None:
    _fill(log)
    head = log.verify().head
    with log.engine.begin() as c:
        c.execute(delete(m.audit_log).where(m.audit_log.c.seq == 4))
    found = log.verify()
    assert found.ok and found.entries == 3 and found.head != head  # a head kept elsewhere tells


def test_the_api_names_a_tampered_row(log: AuditLog, database_url: str, tmp_path: Any) -> None:
    from apiclient import api_client
    from cvguard.api import create_app
    from cvguard.config import Settings

    _fill(log)
    with log.engine.begin() as c:
        c.execute(update(m.audit_log).where(m.audit_log.c.seq == 3).values(actor="someone else"))
    app = create_app(Settings(data_dir=tmp_path, database_url=database_url, rate_limit_per_s=None))
    with api_client(app, role="auditor") as auditor:
        found = auditor.get("/v1/audit/verify").json()
    assert found["ok"] is False and found["entries"] == 2
    assert found["problem"].startswith("audit entry 3: its actor column differs"), found

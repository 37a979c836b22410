"""The evidence vault on SQLite and PostgreSQL: preserved items keep their own copy (a legal hold
that the retention purge and event deletion cannot touch), chain in order, and a stored row
changed by SQL fails verification naming the case and item."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, text, update
from typer.testing import CliRunner

from cvguard.cli import app as cli
from cvguard.errors import InputError
from cvguard.events import Event
from cvguard.evidence import package, pdf
from cvguard.store import EventStore
from cvguard.store import models as m
from cvguard.store.evidence import EvidenceVault
from cvguard.verdict import Verdict

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
ABUSE = Verdict(violation=True, score=0.92, severity="harmful", categories={"insult": 0.92}, spans=(),
                versions={})


def _event(i: int, *, target: str = "victim", at: datetime = T0, author: str | None = None) -> Event:
    raw: dict[str, Any] = {
        "event_id": f"ev-{i}",
        "surface": "comment",
        "occurred_at": (at + timedelta(minutes=i)).isoformat(),
        "author": {"id": author or f"troll-{i}"},
        "text": f"你这个垃圾{i}，滚出去！",
        "target_ids": [target],
        "thread_id": "thread-1",
        "topic_ids": ["topic-1"],
    }
    return Event.model_validate(raw)


@pytest.fixture
def stores(database_url: str) -> Any:
    events = EventStore.open(database_url)
    vault = EvidenceVault.open(database_url)
    batch = [_event(i) for i in range(5)] + [_event(9, target="someone-else")]
    events.add_batch(batch, [ABUSE] * len(batch), keep_text=True)
    try:
        yield events, vault
    finally:
        vault.close()
        events.close()


def _preserve(vault: EvidenceVault, ids: list[str], reason: str = "harassment report") -> Any:
    return vault.preserve(ids, owner_id="victim", actor="moderator:k1 (mod)", reason=reason,
                          selection={"by": "ids", "event_ids": ids})


def test_a_case_copies_each_event_with_its_context_and_chains_it(stores: Any) -> None:
    _, vault = stores
    case = _preserve(vault, ["ev-2", "ev-0", "ev-1"])
    stored = vault.case(case.case_id)
    assert stored is not None and stored.links == case.links and stored.header == case.header
    items = stored.items()
    assert [i["record"]["event_id"] for i in items] == ["ev-2", "ev-0", "ev-1"]  # the order given
    first = items[0]["record"]
    assert first["text"] == "你这个垃圾2，滚出去！" and first["author"]["id"] == "troll-2"
    assert first["surface"] == "comment" and first["target_ids"] == ["victim"]
    assert first["context"]["thread_id"] == "thread-1" and first["context"]["topic_ids"] == ["topic-1"]
    assert first["verdict"]["violation"] is True and first["verdict"]["score"] == 0.92
    assert first["occurred_at"] == (T0 + timedelta(minutes=2)).isoformat()
    assert case.header["actor"] == "moderator:k1 (mod)" and case.header["reason"] == "harassment report"
    assert vault.cases_of("victim")[0].case_id == case.case_id
    assert vault.verify().ok


def test_selection_helpers_range_and_unknown_ids(stores: Any) -> None:
    _, vault = stores
    assert vault.aimed_at("victim", since=T0 + timedelta(minutes=1), until=T0 + timedelta(minutes=3)) == [
        "ev-1", "ev-2"
    ]
    with pytest.raises(InputError, match="no stored event 'nope'"):
        _preserve(vault, ["ev-1", "nope"])
    with pytest.raises(InputError, match="nothing to preserve"):
        _preserve(vault, [])
    assert vault.verify().ok  # a refused preservation left nothing behind


def test_the_retention_purge_and_event_deletion_do_not_touch_the_vault(stores: Any) -> None:
    events, vault = stores
    case = _preserve(vault, ["ev-0", "ev-1"])
    assert events.purge_text(T0 + timedelta(days=365)) == 6  # every event's text dropped
    with events.engine.begin() as c:
        c.execute(delete(m.events).where(m.events.c.event_id == "ev-1"))  # the content itself deleted
    assert events.get_event("ev-0").text is None  # type: ignore[union-attr]
    stored = vault.case(case.case_id)
    assert stored is not None
    assert [i["record"]["text"] for i in stored.items()] == ["你这个垃圾0，滚出去！", "你这个垃圾1，滚出去！"]
    assert vault.verify().ok
    data = package.build(stored.header, stored.links, pdf.render(stored.header, stored.links))
    found = package.verify(data)
    assert found.ok and found.head == case.summary.head
    assert "你这个垃圾1，滚出去！" in data.decode("utf-8", "replace")  # items.jsonl is stored, not deflated


def test_a_text_purged_before_preservation_is_recorded_as_such(stores: Any) -> None:
    events, vault = stores
    events.purge_text(T0 + timedelta(days=365))
    record = _preserve(vault, ["ev-3"]).items()[0]["record"]
    assert record["text"] is None and len(record["text_sha256"]) == 64


@pytest.mark.parametrize(
    ("table", "where", "values", "named"),
    [
        # one character of a stored record's text
        ("items", 1, {"record": None}, "item 1 (event 'ev-1')"),
        ("items", 2, {"digest": "0" * 64}, "item 2 (event 'ev-2')"),
        ("items", 1, {"event_id": "ev-4"}, "item 1"),
        ("cases", None, {"reason": "nothing to see"}, "reason column"),
        ("cases", None, {"head": "0" * 64}, "chain head"),
    ],
)
def test_one_stored_row_changed_by_sql_fails_verification_naming_it(
    stores: Any, database_url: str, table: str, where: int | None, values: dict[str, Any], named: str
) -> None:
    _, vault = stores
    _preserve(vault, ["ev-0"], reason="an earlier case")
    case = _preserve(vault, ["ev-0", "ev-1", "ev-2"])
    assert vault.verify().ok
    with vault.engine.begin() as c:
        if table == "items":
            it = m.evidence_items.c
            if values.get("record", "") is None:
                row = c.execute(
                    m.evidence_items.select().where(it.case_id == case.case_id, it.position == where)
                ).mappings().one()
                values = {"record": row["record"].replace("垃圾1", "垃圾7")}
            one = (it.case_id == case.case_id) & (it.position == where)
            c.execute(update(m.evidence_items).where(one).values(values))
        else:
            one = m.evidence_cases.c.case_id == case.case_id
            c.execute(update(m.evidence_cases).where(one).values(values))
    found = vault.verify()
    assert not found.ok and found.problem is not None
    assert case.case_id in found.problem and named in found.problem, found.problem
    assert found.cases == 1  # the case before it still holds
    # the CLI says the same, with exit code 2
    result = CliRunner().invoke(cli, ["evidence", "verify-vault", "--db", database_url])
    assert result.exit_code == 2 and named in " ".join(result.output.split())


def test_a_case_removed_whole_breaks_the_vault_chain(stores: Any) -> None:
    _, vault = stores
    first = _preserve(vault, ["ev-0"])
    second = _preserve(vault, ["ev-1"])
    with vault.engine.begin() as c:
        c.execute(delete(m.evidence_items).where(m.evidence_items.c.case_id == first.case_id))
        c.execute(delete(m.evidence_cases).where(m.evidence_cases.c.case_id == first.case_id))
    found = vault.verify()
    assert not found.ok and second.case_id in (found.problem or "") and "vault chain" in (found.problem or "")


def test_the_cli_exports_and_verifies_against_the_vault(
    stores: Any, database_url: str, tmp_path: Any
) -> None:
    _, vault = stores
    case = _preserve(vault, ["ev-0", "ev-1"])
    out = tmp_path / "case.zip"
    runner = CliRunner()
    result = runner.invoke(cli, ["evidence", "export", case.case_id, "--out", str(out), "--db", database_url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(cli, ["evidence", "verify", str(out), "--db", database_url])
    assert result.exit_code == 0 and "intact" in result.output, result.output
    result = runner.invoke(cli, ["evidence", "verify-vault", "--db", database_url])
    assert result.exit_code == 0 and "1 cases, 2 items" in result.output, result.output
    # the vault changed after the export: the package alone still verifies, against the vault not
    with vault.engine.begin() as c:
        c.execute(text("UPDATE evidence_cases SET head = :h"), {"h": "1" * 64})
    result = runner.invoke(cli, ["evidence", "verify", str(out), "--db", database_url])
    assert result.exit_code == 2 and "not the vault's" in result.output
    result = runner.invoke(cli, ["evidence", "export", "ev_000000000000000000000000", "--out", str(out),
                                 "--db", database_url])
    assert result.exit_code == 2 and "no evidence case" in result.output


def test_concurrent_preservations_keep_one_vault_chain(stores: Any, database_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _, vault = stores
    others = [EvidenceVault.open(database_url) for _ in range(3)]  # as other API processes would
    try:
        with ThreadPoolExecutor(4) as pool:
            cases = list(pool.map(lambda n: _preserve([vault, *others][n % 4], [f"ev-{n % 5}"]), range(12)))
    finally:
        for other in others:
            other.close()
    assert len({c.case_id for c in cases}) == 12
    found = vault.verify()
    assert found.ok and found.cases == 12, found.problem

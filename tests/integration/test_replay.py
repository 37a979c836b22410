"""``cvguard replay``: alerts out as JSON lines, a summary, idempotent reruns, and bad lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cvguard.cli import app
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

runner = CliRunner()
CONFIG = SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",))
ALERT_KEYS = {
    "alert_id", "kind", "subject_type", "subject_id", "level", "raised_at", "updated_at", "evidence",
    "event_ids", "resolved_at", "resolution",
}


@pytest.fixture(scope="module")
def lines() -> list[dict[str, Any]]:
    return list(generate(CONFIG))


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def replay(src: Path, out: Path, db: str) -> Any:
    return runner.invoke(app, ["replay", str(src), "--out", str(out), "--db", db])


def test_replay_writes_the_alerts_and_a_summary(lines: list[dict[str, Any]], tmp_path: Path) -> None:
    src, out, db = write(tmp_path / "events.jsonl", lines), tmp_path / "alerts.jsonl", f"sqlite:///{tmp_path}/db"
    result = replay(src, out, db)
    assert result.exit_code == 0, result.output
    alerts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert alerts and all(set(a) == ALERT_KEYS for a in alerts)
    target = lines[0]["incidents"][0]["target_id"]
    assert any(
        a["kind"] == "pile_on" and a["subject_type"] == "user" and a["subject_id"] == target
        and a["level"] in ("warning", "critical") and a["event_ids"]
        for a in alerts
    )
    n = len(lines) - 1
    assert f"{n} events ({n} new, 0 duplicates)" in result.stderr
    assert "events/s" in result.stderr and "pile_on:" in result.stderr

    # a second run: every event is a duplicate, nothing is raised, the database is unchanged
    again = replay(src, tmp_path / "again.jsonl", db)
    assert again.exit_code == 0, again.output
    assert f"{n} events (0 new, {n} duplicates), 0 alerts" in again.stderr
    assert (tmp_path / "again.jsonl").read_text(encoding="utf-8") == ""
    with EventStore.open(db) as store:
        assert store.count_events() == n


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        # not JSON at all
        ('{"event_id": "x", ', "line 6: not valid JSON"),
        # a field missing: the message names it
        ({"event_id": "x", "surface": "comment", "occurred_at": "2026-11-24T08:00:00Z", "text": "hi"},
         "line 6: author: Field required"),
        # a timestamp without a timezone
        ({"event_id": "x", "surface": "comment", "occurred_at": "2026-11-24T08:00:00",
          "author": {"id": "u1"}}, "line 6: occurred_at: must carry a timezone"),
    ],
)
def test_a_malformed_line_stops_with_its_number_after_keeping_the_lines_before(
    lines: list[dict[str, Any]], tmp_path: Path, bad: Any, message: str
) -> None:
    # truth header, three events, a blank line, the bad line (6), then more events never read
    rows = [lines[0], *lines[1:4], "", bad, *lines[4:10]]
    src, out, db = write(tmp_path / "events.jsonl", rows), tmp_path / "alerts.jsonl", f"sqlite:///{tmp_path}/db"
    result = replay(src, out, db)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "3 events (3 new" in result.stderr  # the summary still comes
    with EventStore.open(db) as store:
        assert store.count_events() == 3
        assert all(store.get_event(e["event_id"]) is not None for e in lines[1:4])


def test_an_unreadable_input_is_a_clear_error(tmp_path: Path) -> None:
    result = replay(tmp_path / "missing.jsonl", tmp_path / "out.jsonl", f"sqlite:///{tmp_path}/db")
    assert result.exit_code == 2
    assert "missing.jsonl" in result.stderr

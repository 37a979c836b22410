"""``replay EVENTS --out ALERTS`` leaves in ALERTS the alerts for the events of EVENTS, however
many runs it took; bad lines (dates out of range, deep nesting) stop it with their number and keep
the lines before. Before: a resumed run lost the alerts re-raised while resuming (18 emissions
missing), a re-run truncated ALERTS to nothing, and a date out of range was a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cvguard.cli import app
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

runner = CliRunner()
FAULT_ENV = "CVGUARD_REPLAY_FAULT"  # pipeline.replay.FAULT_ENV: SIGKILL after the N-th stored batch
CONFIG = SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",))
BATCH = 200


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return list(generate(CONFIG))[1:]


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows),
        encoding="utf-8",
    )
    return path


def emissions(path: Path) -> list[tuple[str, str, str]]:
    lines = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]
    return [(a["alert_id"], a["level"], a["updated_at"]) for a in lines]


def replay_process(
    src: Path, out: Path, db: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "cvguard", "replay", str(src), "--out", str(out), "--db", db]
    return subprocess.run(
        [*cmd, "--batch", str(BATCH)],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=300, check=False,
    )


def test_a_crashed_replay_resumed_and_rerun_leaves_every_alert_in_the_file(
    events: list[dict[str, Any]], tmp_path: Path
) -> None:
    src = write(tmp_path / "events.jsonl", events)
    clean_out = tmp_path / "clean.jsonl"
    assert replay_process(src, clean_out, f"sqlite:///{tmp_path}/clean.db").returncode == 0
    clean = emissions(clean_out)
    assert clean

    out, db = tmp_path / "alerts.jsonl", f"sqlite:///{tmp_path}/crash.db"
    # killed once its 4th batch is stored, before that batch's alerts reach the file
    crashed = replay_process(src, out, db, {FAULT_ENV: "4"})
    assert crashed.returncode == -9, crashed.stderr
    before = emissions(out)
    assert len(before) < len(clean)
    resumed = replay_process(src, out, db)
    assert resumed.returncode == 0, resumed.stderr
    after = emissions(out)
    assert after[: len(before)] == before  # kept, not truncated
    assert len(set(after)) == len(after)  # each emission once
    # every alert episode of the clean run, at every level it reached, is in the file
    assert {(i, level) for i, level, _ in clean} <= {(i, level) for i, level, _ in after}

    # replaying the stored file once more changes nothing in ALERTS (it was truncated to nothing)
    again = replay_process(src, out, db)
    assert again.returncode == 0, again.stderr
    assert emissions(out) == after


def test_replaying_a_stored_file_again_keeps_alerts(events: list[dict[str, Any]], tmp_path: Path) -> None:
    """It truncated ALERTS to nothing (every event a duplicate, no alert raised)."""
    src, out, db = write(tmp_path / "events.jsonl", events), tmp_path / "alerts.jsonl", f"sqlite:///{tmp_path}/db"
    assert runner.invoke(app, ["replay", str(src), "--out", str(out), "--db", db]).exit_code == 0
    first = out.read_bytes()
    assert first
    assert runner.invoke(app, ["replay", str(src), "--out", str(out), "--db", db]).exit_code == 0
    assert out.read_bytes() == first


def test_a_torn_last_line_is_cut_before_adding(events: list[dict[str, Any]], tmp_path: Path) -> None:
    src, out = write(tmp_path / "events.jsonl", events), tmp_path / "alerts.jsonl"
    out.write_bytes(b'{"alert_id": "a-1", "level": "watch", "updated_at": "x"}\n{"alert_id": "torn')
    result = runner.invoke(app, ["replay", str(src), "--out", str(out), "--db", f"sqlite:///{tmp_path}/db"])
    assert result.exit_code == 0, result.output
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith('{"alert_id": "a-1"') and all(json.loads(x) for x in lines)


@pytest.mark.parametrize(
    ("bad", "what"),
    [
        ({"occurred_at": "9999-12-31T23:59:59-01:00"}, "occurred_at"),  # was an OverflowError traceback
        ({"author": {"id": "u", "created_at": "0001-01-01T00:00:00+01:00"}}, "author.created_at"),
        ('{"kind": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested"),  # was a RecursionError
        ("[" * 100_000 + "]" * 100_000, "nested"),
    ],
    ids=["occurred_at-9999", "created_at-0001", "nested-header", "nested-array"],
)
def test_a_bad_line_stops_replay_with_its_number_and_keeps_the_lines_before(
    events: list[dict[str, Any]], tmp_path: Path, bad: Any, what: str
) -> None:
    row = {**events[2], **bad} if isinstance(bad, dict) else bad
    src = write(tmp_path / "events.jsonl", [events[0], events[1], row, events[3]])
    db = f"sqlite:///{tmp_path}/db"
    result = runner.invoke(app, ["replay", str(src), "--out", str(tmp_path / "a.jsonl"), "--db", db])
    assert result.exit_code == 2, result.output
    assert "line 3" in result.output and what.split()[0] in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    with EventStore.open(db) as store:
        assert store.get_event(events[0]["event_id"]) and store.get_event(events[1]["event_id"])
        assert store.get_event(events[3]["event_id"]) is None


def test_screen_jsonl_stops_at_a_deeply_nested_line_with_its_number(tmp_path: Path) -> None:
    """Died with RecursionError and lost the good line before it."""
    src = write(tmp_path / "in.jsonl", [{"id": 1, "text": "说得好"}, "[" * 100_000 + "]" * 100_000])
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["screen", "--jsonl", str(src), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "line 2" in result.output and "nested" in result.output
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == [1]

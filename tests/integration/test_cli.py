"""The command line: single texts, JSONL streaming, and how bad input ends a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from cvguard.cli import app
from cvguard.store import EventStore

DOXXING = "开盒了：他的电话13812345678，大家去骂他"
JSONL_KEYS = {"id", "violation", "score", "severity", "categories", "spans"}
SRC = str(Path(__file__).resolve().parents[2] / "src")

runner = CliRunner()


def run_module(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-m", "cvguard", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=300,
        check=False,
    )


def write_jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_screen_text_prints_a_readable_verdict() -> None:
    result = runner.invoke(app, ["screen", DOXXING])
    assert result.exit_code == 0, result.output
    assert "violation:" in result.stdout
    assert "versions:" in result.stdout
    # the span is shown as the original substring with its offsets
    start = DOXXING.index("13812345678")
    assert "13812345678" in result.stdout
    assert f"{start}-{start + 11}" in result.stdout


def test_screen_text_json_is_the_verdict_contract() -> None:
    result = runner.invoke(app, ["screen", "--json", DOXXING])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert set(verdict) == {"violation", "score", "severity", "categories", "spans", "versions", "notes",
                         "decided_by", "model_scores"}
    assert any(DOXXING[s["start"] : s["end"]] == "13812345678" for s in verdict["spans"])


def test_screen_needs_text_or_jsonl() -> None:
    result = runner.invoke(app, ["screen"])
    assert result.exit_code == 2


def test_jsonl_file_to_file(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    texts = ["今天天气不错", DOXXING, "", "谢谢分享"]
    write_jsonl(
        src, [json.dumps({"id": f"c{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts)]
    )
    result = runner.invoke(app, ["screen", "--jsonl", str(src), "--out", str(out), "--chunk", "3"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["c0", "c1", "c2", "c3"]
    assert all(set(r) == JSONL_KEYS for r in rows)
    # summary on stderr, never mixed into the output file
    assert "4 lines" in result.stderr


def test_jsonl_stdin_to_stdout_skips_blank_lines() -> None:
    stdin = '{"id": 1, "text": "你好"}\n\n{"id": 2, "text": "再见"}\n'
    result = runner.invoke(app, ["screen", "--jsonl", "-", "--out", "-"], input=stdin)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == [1, 2]


def test_jsonl_malformed_line_in_the_middle_stops_after_writing_earlier_lines(tmp_path: Path) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    good = [json.dumps({"id": i, "text": f"第{i}条评论"}, ensure_ascii=False) for i in range(1, 17)]
    lines = [*good, '{"id": 17, "text": 5}', '{"id": 18, "text": "after"}']
    write_jsonl(src, lines)
    # a real process, small chunks, so earlier chunks are already flushed when the bad line comes
    proc = run_module("screen", "--jsonl", str(src), "--out", str(out), "--chunk", "5")
    assert proc.returncode == 2
    assert 'error: line 17: "text" must be a string' in proc.stderr
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in written] == list(range(1, 17))


def test_jsonl_errors_name_the_line_and_the_reason(tmp_path: Path) -> None:
    cases = {
        "{not json": "line 2: not valid JSON",
        '["a list"]': "line 2: expected a JSON object",
        '{"text": "no id"}': 'line 2: missing "id"',
        '{"id": 2}': 'line 2: missing "text"',
        '{"id": true, "text": "x"}': 'line 2: "id" must be a string or an integer',
    }
    for bad, message in cases.items():
        src = tmp_path / "in.jsonl"
        write_jsonl(src, ['{"id": 1, "text": "ok"}', bad])
        result = runner.invoke(app, ["screen", "--jsonl", str(src), "--out", "-"])
        assert result.exit_code == 2, bad
        assert message in result.stderr, (bad, result.stderr)
        assert [json.loads(x)["id"] for x in result.stdout.splitlines()] == [1], bad


def test_jsonl_text_over_the_limit_names_the_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    write_jsonl(src, ['{"id": 1, "text": "ok"}', json.dumps({"id": 2, "text": "x" * 20})])
    result = runner.invoke(app, ["screen", "--jsonl", str(src)], env={"CVGUARD_MAX_TEXT_CHARS": "10"})
    assert result.exit_code == 2
    assert 'line 2: "text" has 20 characters; the limit is 10' in result.stderr


def test_jsonl_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b'{"id": 1, "text": "ok"}\n{"id": 2, "text": "\xff\xfe"}\n')
    result = runner.invoke(app, ["screen", "--jsonl", str(src)])
    assert result.exit_code == 2
    assert "line 2: not valid UTF-8" in result.stderr


def test_jsonl_lone_surrogate_is_written_as_valid_json(tmp_path: Path) -> None:
    # "\ud800" is legal in a JSON string but cannot be encoded as UTF-8; output must still parse
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    write_jsonl(src, ['{"id": "\\ud800", "text": "a\\udc00b"}'])
    result = runner.invoke(app, ["screen", "--jsonl", str(src), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (row,) = [json.loads(line) for line in out.read_bytes().decode("utf-8").splitlines()]
    assert row["id"] == "\ud800"


def test_missing_input_file_is_exit_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["screen", "--jsonl", str(tmp_path / "absent.jsonl")])
    assert result.exit_code == 2
    assert "error:" in result.stderr


def test_text_over_the_limit_is_exit_2() -> None:
    result = runner.invoke(app, ["screen", "x" * 20], env={"CVGUARD_MAX_TEXT_CHARS": "10"})
    assert result.exit_code == 2
    assert "limit is 10" in result.stderr


def test_python_dash_m_runs_the_cli() -> None:
    proc = run_module("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == "0.1.0"


def test_all_commands_are_registered() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("screen", "serve", "train", "eval"):
        assert command in result.stdout
    # eval needs its data file: a usage error, not a crash
    assert runner.invoke(app, ["eval"]).exit_code == 2


def test_purge_drops_old_raw_text_and_keeps_the_hash(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from cvguard.detection.screen import Screener
    from cvguard.events import Event

    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    now = datetime.now(UTC)
    events = [
        Event.model_validate({"event_id": f"e{days}", "surface": "comment", "author": {"id": "u"},
                              "occurred_at": (now - timedelta(days=days)).isoformat(), "text": f"第{days}天"})
        for days in (1, 10, 40)
    ]
    with EventStore.open(url) as store:
        store.add_batch(events, Screener.default().screen_many([e.text for e in events]), keep_text=True)
    result = runner.invoke(app, ["purge", "--older-than-days", "30", "--db", url])
    assert result.exit_code == 0, result.output
    assert "1 events" in result.stdout
    again = runner.invoke(app, ["purge", "--older-than-days", "5", "--db", url])
    assert "1 events" in again.stdout  # the 10-day-old one; the 40-day-old one was already gone
    with EventStore.open(url) as store:
        kept = {i: store.get_event(i) for i in ("e1", "e10", "e40")}
    assert kept["e1"] is not None and kept["e1"].text == "第1天"
    assert all(e is not None and e.text is None and e.text_sha256 for e in (kept["e10"], kept["e40"]))
    assert runner.invoke(app, ["purge", "--older-than-days", "-1", "--db", url]).exit_code == 2

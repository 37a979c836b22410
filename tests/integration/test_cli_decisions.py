"""``cvguard replay --decisions`` (one decision line per new event) and ``cvguard policy diff``
(a candidate that differs from the active policy on a replayed pile-on; exit 2 on a bad file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cvguard.cli import app
from cvguard.simulate import SimConfig, generate

runner = CliRunner()
CONFIG = SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",))

# the default policy without the pile-on shield: strangers' abuse is folded, not hidden
CANDIDATE = """\
version: "2026.12.0"
name: no-shield
rules:
  - id: chat-illegal
    surfaces: [comment, reply, danmaku, live_chat]
    when: {severity_at_least: illegal, min_score: 0.8}
    action: block
    reason: Unlawful content is blocked.
  - id: chat-harmful
    surfaces: [comment, reply, danmaku, live_chat]
    when: {severity_at_least: harmful}
    action: fold
    reason: Harmful abuse is folded.
"""


@pytest.fixture(scope="module")
def events_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    truth, *events = generate(CONFIG)
    path = tmp_path_factory.mktemp("cli") / "events.jsonl"
    path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events), encoding="utf-8")
    return path, truth


def test_replay_writes_one_decision_line_per_new_event(
    events_file: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, truth = events_file
    out, decisions, db = tmp_path / "alerts.jsonl", tmp_path / "decisions.jsonl", f"sqlite:///{tmp_path}/db"
    args = ["replay", str(path), "--out", str(out), "--db", db, "--decisions", str(decisions)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in decisions.read_text(encoding="utf-8").splitlines()]
    n = len(path.read_text(encoding="utf-8").splitlines())
    assert len(lines) == n and len({d["event_id"] for d in lines}) == n
    assert all(d["policy_version"] == "2026.12.4" and "matched" in d and "alert_ids" in d for d in lines)
    target = truth["incidents"][0]["target_id"]
    hidden = [d for d in lines if d["action"] == "hide_from_target"]
    assert hidden and all(a.startswith(f"pile_on:user:{target}:") for d in hidden for a in d["alert_ids"])
    # replayed again: every event is a duplicate, no decision is added
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert len(decisions.read_text(encoding="utf-8").splitlines()) == n


def test_policy_diff_shows_what_a_candidate_would_change(
    events_file: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = events_file
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(CANDIDATE, encoding="utf-8")
    result = runner.invoke(app, ["policy", "diff", "--candidate", str(candidate), str(path)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.startswith("policy 2026.12.4 → candidate 2026.12.0: ")
    assert "hide_from_target → fold" in text and "chat-pileon-stranger → chat-harmful" in text
    as_json = runner.invoke(app, ["policy", "diff", "--candidate", str(candidate), str(path), "--json"])
    diff = json.loads(as_json.stdout)
    assert diff["changed"] > 0 and diff["total"] == len(path.read_text(encoding="utf-8").splitlines())
    # the same policy on both sides changes nothing
    same = tmp_path / "same.yaml"
    same.write_text(CANDIDATE, encoding="utf-8")
    unchanged = runner.invoke(app, ["policy", "diff", "--candidate", str(candidate), "--policy", str(same),
                                    str(path), "--json"])
    assert json.loads(unchanged.stdout)["changed"] == 0


def test_policy_diff_exits_2_on_a_bad_policy_file(
    events_file: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    path, _ = events_file
    bad = tmp_path / "bad.yaml"
    bad.write_text(CANDIDATE.replace("surfaces: [comment,", "surfaces: [coment,", 1), encoding="utf-8")
    result = runner.invoke(app, ["policy", "diff", "--candidate", str(bad), str(path)])
    assert result.exit_code == 2
    assert "bad.yaml:5:" in result.stderr and "coment" in result.stderr

"""``cvguard ladder validate``: ok and exit 0 for a good ladder, every issue on stderr and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cvguard.cli import app

GOLDEN = Path(__file__).resolve().parents[1] / "unit" / "golden"
runner = CliRunner()


def test_a_good_ladder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    result = runner.invoke(app, ["ladder", "validate", "ladder_good.yaml"])
    assert result.exit_code == 0
    assert "ladder_good.yaml: ok (default" in result.stdout


def test_a_bad_ladder_exits_2_with_every_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    result = runner.invoke(app, ["ladder", "validate", "ladder_good.yaml", "ladder_bad_order.yaml"])
    assert result.exit_code == 2
    expected = (GOLDEN / "ladder_bad_order.txt").read_text(encoding="utf-8")
    assert result.stderr == expected
    assert "ladder_good.yaml: ok" in result.stdout


def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ladder", "validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2 and "cannot read the file" in result.stderr

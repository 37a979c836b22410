"""``cvguard policy validate``: exit 0 for a good file, 2 naming every problem as file:line with a hint."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cvguard.cli import app

GOLDEN = Path(__file__).parent.parent / "unit" / "golden"
DEFAULT = Path(__file__).parents[2] / "src" / "cvguard" / "policy" / "data" / "default.yaml"
runner = CliRunner()


def validate(*files: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["policy", "validate", *files])
    return result.exit_code, result.stdout, result.stderr


def test_the_shipped_default_policy_is_valid() -> None:
    code, out, err = validate(str(DEFAULT))
    assert code == 0, err
    assert "ok (default" in out and err == ""


@pytest.mark.parametrize("name", ["bad_words", "bad_actions", "unreachable", "syntax"])
def test_a_bad_file_exits_2_with_the_golden_messages(name: str) -> None:
    cwd = os.getcwd()
    os.chdir(GOLDEN)  # the golden messages name the file as given
    try:
        code, out, err = validate(f"policy_{name}.yaml")
    finally:
        os.chdir(cwd)
    assert code == 2
    assert out == ""
    expected = (GOLDEN / f"policy_{name}.txt").read_text(encoding="utf-8")
    assert err.strip() == expected.strip()


def test_every_file_is_checked_and_one_bad_file_fails_the_run(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    code, out, err = validate(str(DEFAULT), str(missing))
    assert code == 2
    assert "ok (default" in out
    assert f"{missing}: cannot read the file" in err

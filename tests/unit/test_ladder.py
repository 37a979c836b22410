"""The sanction ladder as data: `cvguard ladder validate`'s core checked against golden files.

Each ``golden/ladder_NAME.yaml`` has its expected output in ``golden/ladder_NAME.txt``: the issues as
``format_ladder_issue`` writes them, one a line, or ``ok`` for a good file. ``UPDATE_GOLDEN=1``
rewrites them (read the diff before committing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cvguard.enforcement.ladder import (
    LadderError,
    default_ladder,
    format_ladder_issue,
    load_ladder,
    load_ladder_text,
    validate_ladder_file,
)

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("ladder_*.yaml"))


def render(name: str) -> str:
    issues = validate_ladder_file(f"{name}.yaml")
    return "\n".join(format_ladder_issue(i) for i in issues) + "\n" if issues else "ok\n"


@pytest.mark.parametrize("name", CASES)
def test_validate_matches_the_golden_file(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    got = render(name)
    expected = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")


def test_the_golden_files_cover_every_kind_of_issue() -> None:
    text = "".join((GOLDEN / f"{n}.txt").read_text(encoding="utf-8") for n in CASES)
    for needle in (
        "unknown key 'strike_day' (hint: did you mean 'strike_days'?)",
        "unknown key 'inciter'",
        "unknown sanction kind 'warnings' (hint: did you mean 'warning'?)",
        "unknown sanction kind 'suspend'",
        "do not rise above",
        "goes back down the ladder",
        "a permanent ban has no days",
        "a permanent ban must be the last step",
        "missing 'days'",
        "first-time copycats climb slower",
        "inciters climb faster",
        "YAML syntax error",
        "is written twice",
        "quote it",
    ):
        assert needle in text, needle
    assert (GOLDEN / "ladder_good.txt").read_text(encoding="utf-8") == "ok\n"


def test_every_issue_is_reported_with_its_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    issues = validate_ladder_file("ladder_bad_words.yaml")
    assert len(issues) >= 6
    assert all(i.line is not None for i in issues)
    assert [i.line for i in issues] == sorted(i.line or 0 for i in issues)


def test_load_raises_with_every_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(LadderError) as err:
        load_ladder("ladder_bad_order.yaml")
    assert len(err.value.issues) >= 5
    assert "more)" in str(err.value)


def test_the_shipped_ladder_climbs_warning_to_permanent_ban() -> None:
    ladder = default_ladder()
    kinds = [s.kind for s in ladder.steps]
    assert kinds[0] == "warning" and kinds[-1] == "permanent_ban"
    assert [s.days for s in ladder.steps if s.kind == "comment_restriction"] == [1, 7, 30]
    assert ladder.steps[-1].days is None
    assert ladder.points.initiator > ladder.points.first_time > ladder.points.first_time_copycat


@pytest.mark.parametrize(
    ("points", "step"),
    [
        (0, -1),  # no strike: below the ladder
        (0.5, -1),  # under the first step
        (1, 0),  # exactly a step's points: that step
        (2.9, 0),
        (3, 1),
        (6, 3),
        (19.9, 6),
        (20, 7),  # the top
        (500, 7),  # beyond the top: still the top
    ],
)
def test_step_at(points: float, step: int) -> None:
    assert default_ladder().step_at(points) == step


def test_a_ladder_that_is_not_a_mapping() -> None:
    with pytest.raises(LadderError, match="a ladder is a mapping"):
        load_ladder_text("- 1\n- 2\n")

"""`cvguard policy validate`'s core: every issue with file:line and a hint, checked against golden files.

Each ``golden/policy_NAME.yaml`` has its expected output in ``golden/policy_NAME.txt``: the issues as
``format_issue`` writes them, one a line, or ``ok`` for a good file. ``UPDATE_GOLDEN=1`` rewrites them
(read the diff before committing).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cvguard.policy import (
    PolicyError,
    default_policy,
    format_issue,
    load_policy,
    load_policy_text,
    parse_policy,
    validate_file,
)
from cvguard.policy.validate import PolicyIssue, default_policy_text

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("policy_*.yaml"))


def render(name: str) -> str:
    issues = validate_file(f"{name}.yaml")  # relative, so the output names the file as a user typed it
    return "\n".join(format_issue(i) for i in issues) + "\n" if issues else "ok\n"


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
        "unknown surface",
        "unknown action",
        "unknown category",
        "is not valid on",
        "is unreachable",
        "always conflicts",
        "YAML syntax error",
        "(hint: ",
    ):
        assert needle in text, needle
    assert "ok\n" in [(GOLDEN / f"{n}.txt").read_text(encoding="utf-8") for n in CASES]


def test_every_issue_is_reported_not_just_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    issues = validate_file("policy_bad_words.yaml")
    # four rules, each with its own mistakes, all reported, in line order
    assert len({i.line for i in issues}) >= 10
    assert [i.line for i in issues] == sorted(i.line or 0 for i in issues)


def test_the_default_policy_is_valid_and_versioned() -> None:
    policy, issues = parse_policy(default_policy_text(), "default.yaml")
    assert issues == [] and policy is not None
    assert default_policy().version == policy.version != ""
    assert default_policy().name == "default"


def test_load_policy_raises_with_every_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(PolicyError) as caught:
        load_policy("policy_unreachable.yaml")
    assert len(caught.value.issues) == 4
    assert str(caught.value).startswith("policy_unreachable.yaml:10: rule 'block-illegal' is unreachable")
    assert "(and 3 more)" in str(caught.value)
    assert load_policy("policy_good.yaml").version == "2026.12.0-rc1"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # not a mapping at all
        (
            "- just\n- a list\n",
            "<policy>:1: a policy is a mapping (hint: start with `version:`, `name:` and `rules:`)",
        ),
        # an empty file
        ("", "<policy>:1: a policy is a mapping (hint: start with `version:`"),
        # no rules
        ('version: "1"\nname: x\nrules: []\n', "<policy>:3: rules: tuple should have at least 1 item"),
        # a key the schema does not know, at the top
        (
            'version: "1"\nname: x\nrulez: []\n',
            "<policy>:3: the policy: unknown key 'rulez' (hint: did you mean 'rules'?)",
        ),
    ],
)
def test_whole_file_mistakes(text: str, expected: str) -> None:
    _, issues = parse_policy(text)
    assert any(format_issue(i).startswith(expected) for i in issues), [format_issue(i) for i in issues]


def test_an_unreadable_file_is_one_issue_without_a_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    [issue] = validate_file(missing)
    assert issue.line is None and format_issue(issue).startswith(f"{missing}: cannot read the file")


def test_format_issue_without_a_hint() -> None:
    assert format_issue(PolicyIssue("p.yaml", 3, "bad")) == "p.yaml:3: bad"


def test_load_policy_text_compiles_a_good_policy() -> None:
    text = (GOLDEN / "policy_good.yaml").read_text(encoding="utf-8")
    policy = load_policy_text(text)
    assert policy.name == "small" and "shield" in policy.source("comment")

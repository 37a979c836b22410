"""Line numbers for a YAML document: map an error's location (``rules.3.when.categories.1``) to
the line it comes from, through the node tree ``yaml.compose`` keeps; and what every validated YAML
data file (a policy, the sanction ladder, MCN thresholds) shares: reading it, the issues found
before its schema is checked, and the order issues are given in."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from cvguard.errors import FileIssue

T = TypeVar("T")


def compose(text: str) -> yaml.Node | None:
    """The node tree of one YAML document (``yaml.MarkedYAMLError`` on a syntax error)."""
    node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    return node


def line_of(root: yaml.Node | None, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest node on ``loc``: a mapping key's own line when the path ends at
    a key (an unknown key, a bad value written after it), else the node where the path stops (the
    mapping a required key is missing from)."""
    if root is None:
        return 1
    node = root
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found = next(((k, v) for k, v in node.value if k.value == part), None)
            if found is None:
                break
            line = found[0].start_mark.line + 1
            node = found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def duplicate_keys(root: yaml.Node | None) -> Iterator[tuple[int, str, int]]:
    """(line, key, first line) for every key written twice in one mapping (YAML keeps the last)."""
    if root is None:
        return
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                line = key.start_mark.line + 1
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        yield line, key.value, seen[key.value]
                    else:
                        seen[key.value] = line
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def parse_file(
    path: str | Path, parse: Callable[[str, str], tuple[T | None, list[FileIssue]]]
) -> tuple[T | None, list[FileIssue]]:
    """``parse(text, file)`` of the file at ``path``; an unreadable file is one issue."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [FileIssue(str(path), None, f"cannot read the file: {exc}", None)]
    return parse(text, str(path))


def load_mapping(
    text: str, file: str, *, what: str, start: str
) -> tuple[yaml.Node | None, dict[str, Any] | None, list[FileIssue]]:
    """A YAML data file's node tree (for line numbers), its top-level mapping, and the issues found
    before its schema is checked: a syntax error (then nothing else is read), keys written twice, a
    top level that is not a mapping (``what`` is, e.g., "a ladder"; ``start`` the keys it starts
    with). The mapping is None when there is nothing to validate."""
    try:
        root = compose(text)
        raw = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else mark.line + 1
        return None, None, [FileIssue(file, line, f"YAML syntax error: {exc.problem}",
                                      "check indentation and quoting")]
    except yaml.YAMLError as exc:
        return None, None, [FileIssue(file, None, f"YAML error: {exc}", None)]
    issues = [
        FileIssue(file, line, f"key {key!r} is written twice (first at line {was})",
                  "YAML keeps only the last; remove one")
        for line, key, was in duplicate_keys(root)
    ]
    if not isinstance(raw, dict):
        issues.append(FileIssue(file, 1, f"{what} is a mapping", f"start with {start}"))
        return root, None, ordered(issues)
    return root, raw, issues


def ordered(issues: list[FileIssue]) -> list[FileIssue]:
    """Each issue once, by line (the file-wide ones first)."""
    return sorted(set(issues), key=lambda x: (x.line or 0, x.message))


def without_echoes(errors: Sequence[Any]) -> list[Any]:
    """Pydantic's errors less "should have at least 1 item after validation" where it only echoes
    the bad items under it."""
    locs = [tuple(e["loc"]) for e in errors]

    def echo(e: Any) -> bool:
        loc = tuple(e["loc"])
        return e["type"] == "too_short" and any(len(d) > len(loc) and d[: len(loc)] == loc for d in locs)

    return [e for e in errors if not echo(e)]

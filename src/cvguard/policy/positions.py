"""Line numbers for a YAML document: map an error's location (``rules.3.when.categories.1``) to
the line it comes from, through the node tree ``yaml.compose`` keeps."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import yaml


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

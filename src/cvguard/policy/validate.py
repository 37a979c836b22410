"""Loading and validating policy files: every problem, each with ``file:line`` and a hint.

Checks, in order: YAML syntax; keys written twice; the schema (unknown keys, missing keys, wrong
types, unknown surfaces, actions, categories, levels, roles, relationships, groups); per rule,
the action valid on every surface of the rule and its parameters; across rules, ids used twice,
rules that can never win (shadowed by one that matches whenever they do and wins) and pairs that
always conflict (the same conditions and surfaces, different actions, the same priority).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from cvguard.errors import FileIssue, FileIssuesError
from cvguard.errors import format_issue as format_issue  # re-exported (cvguard.policy)
from cvguard.policy.decide import CompiledPolicy, compile_policy
from cvguard.policy.positions import line_of, load_mapping, ordered, parse_file, without_echoes
from cvguard.policy.schema import PARAMS, NoParams, Policy, Rule, When, suggest
from cvguard.policy.shadowing import beats, covers
from cvguard.policy.vocabulary import ACTIONS

Loc = tuple[str | int, ...]
# actions after which the content is out as written: such a rule cannot confirm a violation
_LETS_THROUGH = frozenset({"allow", "deliver", "nudge"})


PolicyIssue = FileIssue


class PolicyError(FileIssuesError):
    """A policy file that does not validate; ``issues`` lists every problem."""


def _raw_rule(raw: Any, index: str | int) -> dict[str, Any]:
    rules = raw.get("rules") if isinstance(raw, dict) else None
    rule = rules[index] if isinstance(rules, list) and isinstance(index, int) and index < len(rules) else None
    return rule if isinstance(rule, dict) else {}


def _where(raw: Any, loc: Loc) -> str:
    """``rule 'id' when.min_score`` for a location under a rule, else the dotted path."""
    head, rest = "", list(loc)
    if len(rest) >= 2 and rest[0] == "rules" and isinstance(rest[1], int):
        rid = _raw_rule(raw, rest[1]).get("id")
        head = f"rule {rid!r}" if isinstance(rid, str) else f"rules[{rest[1]}]"
        rest = rest[2:]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return " ".join(x for x in (head, path) if x) or "the policy"


def _model_at(loc: Loc) -> type[BaseModel]:
    """The model whose keys are checked at ``loc`` (for naming the keys allowed there)."""
    if len(loc) >= 2 and loc[0] == "rules":
        return When if len(loc) >= 3 and loc[2] == "when" else Rule
    return Policy


def _schema_issue(file: str, root: yaml.Node | None, raw: Any, err: Any) -> PolicyIssue:
    loc: Loc = tuple(err["loc"])
    line = line_of(root, loc)
    where = _where(raw, loc)
    kind = err["type"]
    hint: str | None = (err.get("ctx") or {}).get("hint")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        fields = list(_model_at(loc).model_fields)
        return PolicyIssue(file, line, f"{_where(raw, loc[:-1])}: unknown key {key!r}", suggest(key, fields))
    if kind == "missing":
        key = str(loc[-1])
        return PolicyIssue(file, line, f"{_where(raw, loc[:-1])}: missing {key!r}", f"add `{key}:`")
    if kind == "unknown_word" and len(loc) == 3 and loc[2] == "action":
        surfaces = _raw_rule(raw, loc[1]).get("surfaces")
        known = [s for s in surfaces if s in ACTIONS] if isinstance(surfaces, list) else []
        if known:  # suggest among the actions of the rule's own surfaces
            hint = suggest(str(err["input"]), dict.fromkeys(a for s in known for a in ACTIONS[s]))
    elif kind == "string_type" and loc and loc[-1] == "version":
        hint = 'quote it, e.g. version: "2026.11.1" (YAML reads 1.0 as a number)'
    elif kind == "string_pattern_mismatch":
        hint = "lower-case letters, digits, '_', '.' and '-', starting with a letter or digit"
    elif kind in ("tuple_type", "list_type"):
        hint = "write a list, e.g. [comment, reply]"
    msg = err["msg"]
    return PolicyIssue(file, line, f"{where}: {msg[0].lower()}{msg[1:]}", hint)


def _rule_issues(file: str, root: yaml.Node | None, raw: Any, i: int, rule: Rule) -> list[PolicyIssue]:
    issues: list[PolicyIssue] = []
    where = f"rule {rule.id!r}"
    bad = [s for s in rule.surfaces if rule.action not in ACTIONS[s]]
    if bad:
        common = [a for a in ACTIONS[rule.surfaces[0]] if all(a in ACTIONS[s] for s in rule.surfaces)]
        hint = (
            f"actions on {', '.join(bad)}: {', '.join(ACTIONS[bad[0]])}"
            if len(set(bad)) == len(rule.surfaces) or not common
            else f"actions valid on all of {', '.join(rule.surfaces)}: {', '.join(common)}; or split the rule"
        )
        issues.append(
            PolicyIssue(
                file,
                line_of(root, ("rules", i, "action")),
                f"{where}: action {rule.action!r} is not valid on {', '.join(bad)}",
                hint,
            )
        )
    if rule.confirms_violation and rule.action in _LETS_THROUGH:
        issues.append(
            PolicyIssue(
                file,
                line_of(root, ("rules", i, "confirms_violation")),
                f"{where}: action {rule.action!r} lets the content through; it cannot confirm a violation",
                "confirm violations on rules that block, remove, hide or fold; or remove confirms_violation",
            )
        )
    try:
        PARAMS.get(rule.action, NoParams).model_validate(rule.params)
    except ValidationError as exc:
        issues.extend(_param_issue(file, root, raw, i, rule, e) for e in exc.errors())
    return issues


def _param_issue(file: str, root: yaml.Node | None, raw: Any, i: int, rule: Rule, err: Any) -> PolicyIssue:
    loc: Loc = ("rules", i, "params", *err["loc"])
    line = line_of(root, loc)
    model = PARAMS.get(rule.action, NoParams)
    fields = list(model.model_fields)
    if err["type"] == "extra_forbidden":
        key = str(err["loc"][-1])
        hint = suggest(key, fields) if fields else "it takes none"
        return PolicyIssue(
            file, line, f"rule {rule.id!r}: action {rule.action!r} has no parameter {key!r}", hint
        )
    if err["type"] == "missing":
        key = str(err["loc"][-1])
        return PolicyIssue(
            file,
            line,
            f"rule {rule.id!r}: action {rule.action!r} needs parameter {key!r}",
            f"add params: {{{key}: ...}}",
        )
    msg = err["msg"]
    return PolicyIssue(file, line, f"{_where(raw, loc)}: {msg[0].lower()}{msg[1:]}", None)


def _cross_issues(file: str, root: yaml.Node | None, rules: list[tuple[int, Rule]]) -> list[PolicyIssue]:
    issues: list[PolicyIssue] = []
    first: dict[str, int] = {}
    for i, rule in rules:
        if rule.id in first:
            issues.append(
                PolicyIssue(
                    file,
                    line_of(root, ("rules", i, "id")),
                    f"rule id {rule.id!r} is used twice"
                    f" (first at line {line_of(root, ('rules', first[rule.id]))})",
                    "give every rule its own id: decisions name the rule that won",
                )
            )
        else:
            first[rule.id] = i
    for j, b in rules:
        for i, a in rules:
            if i == j or not (covers(a, b) and beats(a, i, b, j)):
                continue
            line, other = line_of(root, ("rules", j)), f"rule {a.id!r} (line {line_of(root, ('rules', i))})"
            if covers(b, a) and set(a.surfaces) == set(b.surfaces) and a.priority == b.priority:
                if a.action != b.action:
                    issues.append(
                        PolicyIssue(
                            file,
                            line,
                            f"rule {b.id!r} always conflicts with {other}: the same conditions and surfaces"
                            f" at priority {b.priority}, action {b.action!r} against {a.action!r};"
                            f" {a.id!r} always wins",
                            "delete one, give one a higher priority, or tell them apart with a condition",
                        )
                    )
                else:
                    issues.append(
                        PolicyIssue(
                            file,
                            line,
                            f"rule {b.id!r} is unreachable: it repeats {other}",
                            "delete one of them",
                        )
                    )
            else:
                if a.priority > b.priority:
                    why = f"a higher priority, {a.priority} against {b.priority}"
                    hint = f"narrow {a.id!r}, or give this rule a priority above {a.priority}"
                else:
                    why = "the same priority, written earlier"
                    hint = f"move it above {a.id!r}, narrow {a.id!r}, or give it a higher priority"
                issues.append(
                    PolicyIssue(
                        file,
                        line,
                        f"rule {b.id!r} is unreachable: {other} matches whenever it does, on all its"
                        f" surfaces, and wins ({why})",
                        hint,
                    )
                )
            break
    return issues


def parse_policy(text: str, file: str = "<policy>") -> tuple[Policy | None, list[PolicyIssue]]:
    """The policy in ``text`` and every issue found; the policy is None unless there are none."""
    root, raw, issues = load_mapping(text, file, what="a policy", start="`version:`, `name:` and `rules:`")
    if raw is None:
        return None, issues
    policy: Policy | None = None
    try:
        policy = Policy.model_validate(raw)
    except ValidationError as exc:
        issues.extend(_schema_issue(file, root, raw, e) for e in without_echoes(exc.errors()))
    # rules that are valid on their own get the checks that need a whole rule, or several
    valid: list[tuple[int, Rule]] = []
    items = raw.get("rules")
    for i, item in enumerate(items if isinstance(items, list) else []):
        try:
            valid.append((i, Rule.model_validate(item)))
        except ValidationError:
            continue
    for i, rule in valid:
        issues.extend(_rule_issues(file, root, raw, i, rule))
    issues.extend(_cross_issues(file, root, valid))
    if issues:
        return None, ordered(issues)
    return policy, []


def validate_file(path: str | Path) -> list[PolicyIssue]:
    """Every issue in the policy file at ``path`` (empty: the file is good)."""
    return parse_file(path, parse_policy)[1]


def load_policy(path: str | Path) -> CompiledPolicy:
    """The compiled policy at ``path``; :class:`PolicyError` with every issue if it is bad."""
    policy, issues = parse_file(path, parse_policy)
    if policy is None:
        raise PolicyError(issues)
    return compile_policy(policy)


def load_policy_text(text: str, file: str = "<policy>") -> CompiledPolicy:
    policy, issues = parse_policy(text, file)
    if policy is None:
        raise PolicyError(issues)
    return compile_policy(policy)


DEFAULT_POLICY = "data/default.yaml"


def default_policy_text() -> str:
    return resources.files("cvguard.policy").joinpath(DEFAULT_POLICY).read_text(encoding="utf-8")


@cache
def default_policy() -> CompiledPolicy:
    """The policy shipped with this version of cvguard."""
    return load_policy_text(default_policy_text(), "default.yaml")

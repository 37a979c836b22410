"""MCN thresholds as data: when an organisation's members' violations call for a measure.

    thresholds = default_thresholds()                  # enforcement/data/mcn.yaml
    thresholds = load_thresholds("mcn.yaml")           # McnThresholdError listing every issue
    issues = validate_thresholds_file("mcn.yaml")      # [] when good; else file:line: message (hint)

A file lists thresholds, each a crossing and the measure it takes::

    version: "2026.12.1"
    thresholds:
      - id: inciters-warning
        measure: warning                 # warning, revenue_pause, no_new_signups, expulsion
        window_days: 30                  # the violations counted: those of the last N days
        when: {inciters_at_least: 3}     # every condition given must hold
        after: null                      # or a measure the MCN must have had in the window
        duration_days: 30                # null: until a person lifts it
        cooldown_days: 7                 # after it ends, not again before this

Conditions (``when``): ``inciters_at_least`` (members who initiated or incited an attack),
``violations_at_least``, ``members_with_violations_at_least``, ``violations_per_member_at_least``
and ``members_at_least`` (a guard for the rate: not a crossing on its own). Checks: the schema
(unknown keys with the nearest known one, types, ranges), keys written twice, ids used twice, a
``when`` with no crossing, an ``after`` no threshold takes.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from cvguard.enforcement import MCN_MEASURES, McnMeasureKind
from cvguard.errors import FileIssue, FileIssuesError, format_issue
from cvguard.policy.positions import line_of, load_mapping, ordered, parse_file, without_echoes
from cvguard.policy.schema import suggest

__all__ = [
    "McnThreshold",
    "McnThresholdError",
    "McnThresholds",
    "ThresholdIssue",
    "When",
    "default_thresholds",
    "format_issue",
    "load_thresholds",
    "parse_thresholds",
    "validate_thresholds_file",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)
_ID = r"^[a-z0-9][a-z0-9_.-]*$"
CROSSINGS = (
    "inciters_at_least",
    "violations_at_least",
    "members_with_violations_at_least",
    "violations_per_member_at_least",
)


def _measure(value: str | None) -> str | None:
    if value is not None and value not in MCN_MEASURES:
        raise ValueError(f"unknown measure {value!r} (hint: {suggest(value, MCN_MEASURES)})")
    return value


class When(BaseModel):
    """What must hold of the MCN's figures in the window (every condition given)."""

    model_config = _STRICT

    inciters_at_least: int | None = Field(default=None, ge=1)
    violations_at_least: int | None = Field(default=None, ge=1)
    members_with_violations_at_least: int | None = Field(default=None, ge=1)
    violations_per_member_at_least: float | None = Field(default=None, gt=0)
    members_at_least: int | None = Field(default=None, ge=1)

    def conditions(self) -> dict[str, float]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class McnThreshold(BaseModel):
    model_config = _STRICT

    id: str = Field(min_length=1, max_length=64, pattern=_ID)
    measure: McnMeasureKind
    window_days: int = Field(ge=1, le=366)
    when: When
    after: McnMeasureKind | None = None
    duration_days: int | None = Field(ge=1, le=3660)
    cooldown_days: int = Field(default=0, ge=0, le=366)
    description: str = Field(default="", max_length=500)

    _check_measure = field_validator("measure", "after", mode="before")(_measure)

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)

    @property
    def duration(self) -> timedelta | None:
        return None if self.duration_days is None else timedelta(days=self.duration_days)

    @property
    def cooldown(self) -> timedelta:
        return timedelta(days=self.cooldown_days)

    def says(self) -> str:
        """The rule in words, for statements of reasons: ``inciters ≥ 3 in 30 days``."""
        words = {
            "inciters_at_least": "inciters", "violations_at_least": "violations",
            "members_with_violations_at_least": "members with violations",
            "violations_per_member_at_least": "violations per member", "members_at_least": "members",
        }
        parts = [f"{words[k]} >= {v:g}" for k, v in self.when.conditions().items()]
        after = f", after a {self.after}" if self.after else ""
        return f"{' and '.join(parts)} in {self.window_days} days{after}"


class McnThresholds(BaseModel):
    model_config = _STRICT

    version: str = Field(min_length=1, max_length=64)
    description: str = ""
    thresholds: tuple[McnThreshold, ...] = Field(min_length=1)

    def get(self, threshold_id: str) -> McnThreshold | None:
        return next((t for t in self.thresholds if t.id == threshold_id), None)

    @property
    def longest_window(self) -> timedelta:
        return max(t.window for t in self.thresholds)


ThresholdIssue = FileIssue


class McnThresholdError(FileIssuesError):
    """A thresholds file that does not validate; ``issues`` lists every problem."""


Loc = tuple[str | int, ...]


def _where(raw: Any, loc: Loc) -> str:
    """``threshold 'id' when.inciters_at_least`` under a threshold, else the dotted path."""
    rest = list(loc)
    head = ""
    if len(rest) >= 2 and rest[0] == "thresholds" and isinstance(rest[1], int):
        items = raw.get("thresholds") if isinstance(raw, dict) else None
        item = items[rest[1]] if isinstance(items, list) and rest[1] < len(items) else None
        tid = item.get("id") if isinstance(item, dict) else None
        head = f"threshold {tid!r}" if isinstance(tid, str) else f"thresholds[{rest[1]}]"
        rest = rest[2:]
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in rest).lstrip(".")
    return " ".join(x for x in (head, path) if x) or "the thresholds"


def _fields_at(loc: Loc) -> list[str]:
    if len(loc) >= 3 and loc[0] == "thresholds" and loc[2] == "when":
        return list(When.model_fields)
    if len(loc) >= 2 and loc[0] == "thresholds":
        return list(McnThreshold.model_fields)
    return list(McnThresholds.model_fields)


def _schema_issue(file: str, root: yaml.Node | None, raw: Any, err: Any) -> ThresholdIssue:
    loc: Loc = tuple(err["loc"])
    line = line_of(root, loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        return ThresholdIssue(
            file, line, f"{_where(raw, loc[:-1])}: unknown key {key!r}", suggest(key, _fields_at(loc))
        )
    if kind == "missing":
        key = str(loc[-1])
        return ThresholdIssue(file, line, f"{_where(raw, loc[:-1])}: missing {key!r}", f"add `{key}:`")
    msg = str(err["msg"]).removeprefix("Value error, ")
    hint: str | None = None
    if " (hint: " in msg:
        msg, hint = msg.split(" (hint: ", 1)
        hint = hint.removesuffix(")")
    elif kind == "literal_error":  # measure/after: pydantic's own message (a word not a string)
        hint = "one of " + ", ".join(MCN_MEASURES)
    elif kind == "string_type" and loc and loc[-1] == "version":
        hint = 'quote it, e.g. version: "2026.12.1"'
    elif kind == "string_pattern_mismatch":
        hint = "lower-case letters, digits, '_', '.' and '-', starting with a letter or digit"
    return ThresholdIssue(file, line, f"{_where(raw, loc)}: {msg[0].lower()}{msg[1:]}", hint)


def _cross_issues(
    file: str, root: yaml.Node | None, raw: Any, valid: list[tuple[int, McnThreshold]]
) -> list[ThresholdIssue]:
    issues: list[ThresholdIssue] = []
    first: dict[str, int] = {}
    taken = {t.measure for _, t in valid}
    items = raw.get("thresholds") if isinstance(raw, dict) else None
    for i, item in enumerate(items if isinstance(items, list) else []):
        tid = item.get("id") if isinstance(item, dict) else None
        if not isinstance(tid, str):
            continue
        if tid in first:
            issues.append(ThresholdIssue(
                file, line_of(root, ("thresholds", i, "id")),
                f"threshold id {tid!r} is used twice (first at line "
                f"{line_of(root, ('thresholds', first[tid]))})",
                "give every threshold its own id: measures name the threshold that took them",
            ))
        else:
            first[tid] = i
    for i, t in valid:
        if not any(k in t.when.conditions() for k in CROSSINGS):
            issues.append(ThresholdIssue(
                file, line_of(root, ("thresholds", i, "when")),
                f"threshold {t.id!r}: when has no crossing (members_at_least only guards a rate)",
                "add one of " + ", ".join(CROSSINGS),
            ))
        if t.after is not None and t.after not in taken:
            issues.append(ThresholdIssue(
                file, line_of(root, ("thresholds", i, "after")),
                f"threshold {t.id!r}: after {t.after!r}, but no threshold takes a {t.after!r}",
                "it can never be crossed: add that threshold or remove `after`",
            ))
        if t.after == t.measure:
            issues.append(ThresholdIssue(
                file, line_of(root, ("thresholds", i, "after")),
                f"threshold {t.id!r}: after {t.after!r} takes the measure it waits for",
                "wait for a milder measure",
            ))
    return issues


def parse_thresholds(text: str, file: str = "<mcn>") -> tuple[McnThresholds | None, list[ThresholdIssue]]:
    """The thresholds in ``text`` and every issue; the thresholds are None unless there are none."""
    root, raw, issues = load_mapping(
        text, file, what="a thresholds file", start="`version:` and `thresholds:`"
    )
    if raw is None:
        return None, issues
    found: McnThresholds | None = None
    try:
        found = McnThresholds.model_validate(raw)
    except ValidationError as exc:
        issues.extend(_schema_issue(file, root, raw, e) for e in without_echoes(exc.errors()))
    valid: list[tuple[int, McnThreshold]] = []
    items = raw.get("thresholds")
    for i, item in enumerate(items if isinstance(items, list) else []):
        try:
            valid.append((i, McnThreshold.model_validate(item)))
        except ValidationError:
            continue
    issues.extend(_cross_issues(file, root, raw, valid))
    if issues:
        return None, ordered(issues)
    return found, []


def validate_thresholds_file(path: str | Path) -> list[ThresholdIssue]:
    """Every issue in the thresholds file at ``path`` (empty: it is good)."""
    return parse_file(path, parse_thresholds)[1]


def load_thresholds(path: str | Path) -> McnThresholds:
    """The thresholds at ``path``; :class:`McnThresholdError` with every issue if they are bad."""
    found, issues = parse_file(path, parse_thresholds)
    if found is None:
        raise McnThresholdError(issues)
    return found


@cache
def default_thresholds() -> McnThresholds:
    """The thresholds shipped with this version of cvguard (``enforcement/data/mcn.yaml``)."""
    text = resources.files("cvguard.enforcement").joinpath("data/mcn.yaml").read_text(encoding="utf-8")
    found, issues = parse_thresholds(text, "mcn.yaml")
    if found is None:
        raise McnThresholdError(issues)
    return found

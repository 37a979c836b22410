"""The sanction ladder as data: strike points by role, the steps and their durations, validated.

    ladder = load_ladder("ladder.yaml")        # LadderError listing every issue (file:line, hint)
    issues = validate_ladder_file(path)         # [] when the file is good (`cvguard ladder validate`)
    ladder = default_ladder()                   # the one shipped in enforcement/data/ladder.yaml

Checks, like a policy's (``policy.validate``): YAML syntax; keys written twice; the schema (unknown
keys with the nearest known one, missing keys, wrong types, unknown sanction kinds); then the ladder
as a whole: step points rising, a permanent ban last and without ``days``, every other step with
``days``, kinds never going back down the ladder.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import timedelta
from functools import cache, cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from cvguard.enforcement import SANCTION_KINDS, SanctionKind
from cvguard.errors import FileIssue, FileIssuesError, format_issue
from cvguard.policy.positions import line_of, load_mapping, ordered, parse_file, without_echoes

__all__ = [
    "DEFAULT_LADDER",
    "Ladder",
    "LadderError",
    "LadderIssue",
    "Step",
    "default_ladder",
    "format_ladder_issue",
    "load_ladder",
    "load_ladder_text",
    "parse_ladder",
    "validate_ladder_file",
]

_STRICT = ConfigDict(extra="forbid", frozen=True)
KIND_RANK: dict[str, int] = {k: i for i, k in enumerate(SANCTION_KINDS)}


def _suggest(value: str, known: Iterable[str]) -> str:
    known = list(known)
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else "one of " + ", ".join(known)


def _kind(value: str) -> str:
    if value not in SANCTION_KINDS:
        raise PydanticCustomError(
            "unknown_word", f"unknown sanction kind {value!r}", {"hint": _suggest(value, SANCTION_KINDS)}
        )
    return value


KindName = Annotated[str, AfterValidator(_kind)]


class Step(BaseModel):
    """One rung: from ``points`` strike points on, a ``kind`` sanction for ``days`` (None: for good)."""

    model_config = _STRICT

    kind: KindName
    points: float = Field(gt=0)
    days: int | None = Field(default=None, ge=1, le=3650)

    @property
    def sanction_kind(self) -> SanctionKind:
        kind: SanctionKind = self.kind  # type: ignore[assignment]  # checked by _kind
        return kind

    @property
    def duration(self) -> timedelta | None:
        return None if self.days is None else timedelta(days=self.days)

    def label(self) -> str:
        return self.kind if self.days is None else f"{self.kind} ({self.days} days)"


class Points(BaseModel):
    """Strike points of one violation by the account's roles in it (see :func:`grading.points_of`)."""

    model_config = _STRICT

    first_time: float = Field(gt=0)
    repeat: float = Field(gt=0)
    frequent: float = Field(gt=0)
    initiator: float = Field(gt=0)
    first_time_copycat: float = Field(gt=0)


class Frequent(BaseModel):
    model_config = _STRICT

    violations: int = Field(ge=2, le=100)
    days: int = Field(ge=1, le=3650)


class Ladder(BaseModel):
    model_config = _STRICT

    version: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=80)
    description: str = ""
    strike_days: int = Field(ge=1, le=3650)
    appeal_days: int = Field(ge=1, le=365)
    incident_minutes: int = Field(default=60, ge=0, le=24 * 60)
    frequent: Frequent
    points: Points
    steps: tuple[Step, ...] = Field(min_length=1)

    @cached_property
    def strike_window(self) -> timedelta:
        return timedelta(days=self.strike_days)

    @cached_property
    def appeal_window(self) -> timedelta:
        return timedelta(days=self.appeal_days)

    def step_at(self, points: float) -> int:
        """The index of the highest step ``points`` reach; -1 below the first."""
        found = -1
        for i, step in enumerate(self.steps):
            if points >= step.points:
                found = i
        return found


LadderIssue = FileIssue
format_ladder_issue = format_issue


class LadderError(FileIssuesError):
    """A ladder file that does not validate; ``issues`` lists every problem."""


def _where(loc: tuple[str | int, ...]) -> str:
    path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    return path or "the ladder"


def _model_at(loc: tuple[str | int, ...]) -> type[BaseModel]:
    if loc[:1] == ("steps",) and len(loc) >= 2:
        return Step
    models: dict[str, type[BaseModel]] = {"points": Points, "frequent": Frequent}
    return models.get(str(loc[0]) if loc else "", Ladder)


def _schema_issue(file: str, root: yaml.Node | None, err: Any) -> LadderIssue:
    loc: tuple[str | int, ...] = tuple(err["loc"])
    line = line_of(root, loc)
    kind = err["type"]
    hint: str | None = (err.get("ctx") or {}).get("hint")
    if kind == "extra_forbidden":
        key = str(loc[-1])
        fields = list(_model_at(loc[:-1]).model_fields)
        return LadderIssue(file, line, f"{_where(loc[:-1])}: unknown key {key!r}", _suggest(key, fields))
    if kind == "missing":
        key = str(loc[-1])
        return LadderIssue(file, line, f"{_where(loc[:-1])}: missing {key!r}", f"add `{key}:`")
    if kind == "string_type" and loc and loc[-1] == "version":
        hint = 'quote it, e.g. version: "2026.12.1" (YAML reads 1.0 as a number)'
    msg = err["msg"]
    return LadderIssue(file, line, f"{_where(loc)}: {msg[0].lower()}{msg[1:]}", hint)


def _whole_issues(file: str, root: yaml.Node | None, ladder: Ladder) -> list[LadderIssue]:
    issues: list[LadderIssue] = []
    steps = ladder.steps
    for i, step in enumerate(steps):
        line = line_of(root, ("steps", i))
        if i and step.points <= steps[i - 1].points:
            issues.append(LadderIssue(
                file, line, f"steps[{i}] ({step.label()}): points {step.points:g} do not rise above"
                f" the step before ({steps[i - 1].points:g})",
                "each step needs more points than the one before"))
        if i and KIND_RANK[step.kind] < KIND_RANK[steps[i - 1].kind]:
            issues.append(LadderIssue(
                file, line,
                f"steps[{i}]: {step.kind!r} after {steps[i - 1].kind!r} goes back down the ladder",
                "order: " + " → ".join(SANCTION_KINDS)))
        if step.kind == "permanent_ban":
            if step.days is not None:
                issues.append(LadderIssue(file, line, f"steps[{i}]: a permanent ban has no days",
                                          "remove `days:`"))
            if i != len(steps) - 1:
                issues.append(LadderIssue(file, line, f"steps[{i}]: a permanent ban must be the last step",
                                          "move it to the end"))
        elif step.days is None:
            issues.append(LadderIssue(file, line, f"steps[{i}] ({step.kind}): missing 'days'",
                                      "every step but a permanent ban ends: add `days:`"))
    if ladder.points.first_time_copycat > ladder.points.first_time:
        issues.append(LadderIssue(
            file, line_of(root, ("points", "first_time_copycat")),
            "points.first_time_copycat is above points.first_time", "first-time copycats climb slower"))
    if ladder.points.initiator < ladder.points.first_time:
        issues.append(LadderIssue(
            file, line_of(root, ("points", "initiator")),
            "points.initiator is below points.first_time", "inciters climb faster"))
    return issues


def parse_ladder(text: str, file: str = "<ladder>") -> tuple[Ladder | None, list[LadderIssue]]:
    """The ladder in ``text`` and every issue found; the ladder is None unless there are none."""
    root, raw, issues = load_mapping(text, file, what="a ladder", start="`version:`, `name:` and `steps:`")
    if raw is None:
        return None, issues
    ladder: Ladder | None = None
    try:
        ladder = Ladder.model_validate(raw)
    except ValidationError as exc:
        issues.extend(_schema_issue(file, root, e) for e in without_echoes(exc.errors()))
    if ladder is not None:
        issues.extend(_whole_issues(file, root, ladder))
    if issues:
        return None, ordered(issues)
    return ladder, []


def validate_ladder_file(path: str | Path) -> list[LadderIssue]:
    return parse_file(path, parse_ladder)[1]


def load_ladder_text(text: str, file: str = "<ladder>") -> Ladder:
    ladder, issues = parse_ladder(text, file)
    if ladder is None:
        raise LadderError(issues)
    return ladder


def load_ladder(path: str | Path) -> Ladder:
    ladder, issues = parse_file(path, parse_ladder)
    if ladder is None:
        raise LadderError(issues)
    return ladder


DEFAULT_LADDER = "data/ladder.yaml"


@cache
def default_ladder() -> Ladder:
    """The ladder shipped with this version of cvguard."""
    text = resources.files("cvguard.enforcement").joinpath(DEFAULT_LADDER).read_text(encoding="utf-8")
    return load_ladder_text(text, "ladder.yaml")

"""The verdict: what screening says about one text, with the evidence behind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Source = Literal["lexicon", "pii", "model", "context"]
BUILTIN = "builtin"  # decided_by of a verdict the built-in model decided
_NO_SCORES: Mapping[str, float] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Span:
    """A piece of the *original* text that contributed to the verdict.

    ``start``/``end`` are code-point offsets into the text exactly as the caller sent it, so
    ``text[start:end]`` is what a reviewer should see highlighted.
    """

    start: int
    end: int
    term: str  # the canonical lexicon term, PII kind, or model cue that matched
    category: str
    source: Source
    severity: str = "harmful"
    match: str = ""  # how it matched: exact, normalized, pinyin, abbrev, pattern...
    weight: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        # asdict() copies recursively; the fields are plain values (a decision per event calls this)
        return {
            "start": self.start, "end": self.end, "term": self.term, "category": self.category,
            "source": self.source, "severity": self.severity, "match": self.match, "weight": self.weight,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """Per-category scores in [0, 1], the overall decision and its evidence."""

    violation: bool
    score: float  # the highest category score
    severity: str | None  # "illegal" / "harmful" / "inappropriate", or None when no violation
    categories: dict[str, float]
    spans: tuple[Span, ...]
    versions: dict[str, str]
    notes: tuple[str, ...] = field(default=())  # context decisions, e.g. "reporting: quoted abuse"

    # The model port (detection.port) says which model decided and, when it consulted the
    # platform's own model, each model's score: a plain verdict was decided by the built-in model
    # alone. Properties, not fields, so that screening without a plug-in builds verdicts exactly
    # as before (a frozen field costs a setattr per verdict); CascadeVerdict overrides them.
    @property
    def decided_by(self) -> str:
        return BUILTIN

    @property
    def model_scores(self) -> Mapping[str, float]:
        return _NO_SCORES

    @property
    def top_category(self) -> str | None:
        if not self.categories:
            return None
        return max(self.categories.items(), key=lambda kv: kv[1])[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "violation": self.violation,
            "score": round(self.score, 4),
            "severity": self.severity,
            "categories": {k: round(v, 4) for k, v in self.categories.items()},
            "spans": [s.to_dict() for s in self.spans],
            "versions": dict(self.versions),
            "notes": list(self.notes),
            "decided_by": self.decided_by,
            "model_scores": {k: round(v, 4) for k, v in self.model_scores.items()},
        }


@dataclass(frozen=True, slots=True)
class CascadeVerdict(Verdict):
    """A verdict the model port's cascade consulted the platform's own model for: ``decider`` is
    the model that decided (``builtin`` when the plug-in failed), ``scores`` each model's score."""

    decider: str = BUILTIN
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def decided_by(self) -> str:
        return self.decider

    @property
    def model_scores(self) -> Mapping[str, float]:
        return self.scores

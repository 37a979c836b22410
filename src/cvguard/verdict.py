"""The verdict: what screening says about one text, with the evidence behind it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Source = Literal["lexicon", "pii", "model", "context"]


class _NoScores(Mapping[str, float]):
    """The empty ``model_scores`` every verdict the cascade did not touch shares (read-only,
    hashable so it can be a dataclass default): screening builds no dict for it."""

    __slots__ = ()

    def __getitem__(self, key: str) -> float:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "{}"


NO_SCORES: Mapping[str, float] = _NoScores()


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
    # The model port (detection.port): which model decided, "builtin" or the plug-in's name, and
    # the scores each model gave when the cascade consulted a plug-in ({} when it did not).
    decided_by: str = "builtin"
    model_scores: Mapping[str, float] = NO_SCORES

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

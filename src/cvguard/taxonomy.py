"""The taxonomy of cyber-violence as versioned data (``data/taxonomy.yaml``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from cvguard.errors import DataError

SEVERITY_ORDER = ("inappropriate", "harmful", "illegal")


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    zh: str
    en: str
    severity: str
    definition: str
    examples: tuple[str, ...]
    counter_examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Taxonomy:
    version: str
    categories: tuple[Category, ...]
    severity_tiers: dict[str, str]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.categories)

    def get(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def __getitem__(self, code: str) -> Category:
        category = self.get(code)
        if category is None:
            raise KeyError(code)
        return category


def severity_rank(severity: str | None) -> int:
    """Order of severity tiers; ``None`` (no violation) ranks lowest."""
    return -1 if severity is None else SEVERITY_ORDER.index(severity)


def parse_taxonomy(raw: Any, *, source: str = "taxonomy.yaml") -> Taxonomy:
    """Validate a parsed taxonomy document, collecting every problem before failing."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise DataError("the taxonomy must be a mapping", where=source)
    tiers = raw.get("severity_tiers") or {}
    categories: list[Category] = []
    for i, item in enumerate(raw.get("categories") or []):
        where = f"categories[{i}]"
        missing = [k for k in ("code", "zh", "en", "severity", "definition") if not item.get(k)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if item["severity"] not in SEVERITY_ORDER:
            problems.append(f"{where}: severity {item['severity']!r} is not one of {SEVERITY_ORDER}")
        categories.append(
            Category(
                code=item["code"],
                zh=item["zh"],
                en=item["en"],
                severity=item["severity"],
                definition=item["definition"],
                examples=tuple(item.get("examples") or ()),
                counter_examples=tuple(item.get("counter_examples") or ()),
            )
        )
    codes = [c.code for c in categories]
    if len(set(codes)) != len(codes):
        problems.append("duplicate category codes")
    if not raw.get("version"):
        problems.append("missing version")
    if problems:
        raise DataError("; ".join(problems), where=source)
    return Taxonomy(version=str(raw["version"]), categories=tuple(categories), severity_tiers=dict(tiers))


@cache
def load_taxonomy() -> Taxonomy:
    """The taxonomy shipped with this version of cvguard."""
    text = resources.files("cvguard").joinpath("data/taxonomy.yaml").read_text(encoding="utf-8")
    return parse_taxonomy(yaml.safe_load(text))

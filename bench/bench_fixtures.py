"""Everyday traffic and non-COLD categories: the screener on the held-out 30% of the fixtures.

    python bench/bench_fixtures.py

False-positive rate on safe everyday texts and hard counter-examples, recall on violations by
language, and per category of the violations: recall, recall as that category, and precision of
the flags that name it. The held-out rows never enter training (training.load_fixtures).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import TYPE_CHECKING

import common  # noqa: F401  (puts src on the path)

if TYPE_CHECKING:
    from cvguard.detection.training import Example
    from cvguard.verdict import Verdict


def per_category(held: list[Example], verdicts: list[Verdict]) -> dict[str, dict[str, float]]:
    """Per labelled category of the held-out violations: n, recall (flagged at all), recall as
    that category (the verdict's top category), and precision as that category over every
    held-out row the screener flags with it as top category."""
    out: dict[str, dict[str, float]] = {}
    codes = sorted({e.category for e in held if e.label and e.category})
    for code in codes:
        mine = [(e, v) for e, v in zip(held, verdicts, strict=True) if e.label and e.category == code]
        named = [e for e, v in zip(held, verdicts, strict=True) if v.violation and v.top_category == code]
        right = sum(1 for e in named if e.label and e.category == code)
        as_category = sum(v.violation and v.top_category == code for _, v in mine)
        out[code] = {
            "n": len(mine),
            "recall": round(sum(v.violation for _, v in mine) / len(mine), 4),
            "recall_as_category": round(as_category / len(mine), 4),
            "flagged_as_category": len(named),
            "precision_as_category": round(right / len(named), 4) if named else 0.0,
        }
    return out


def main() -> None:
    from cvguard.detection.screen import Screener
    from cvguard.detection.training import load_fixtures

    _, held = load_fixtures()
    screener = Screener.default()
    verdicts = screener.screen_many([e.text for e in held])
    groups: dict[str, list[bool]] = defaultdict(list)
    misses: list[str] = []
    for e, v in zip(held, verdicts, strict=True):
        lang, kind = e.topic.split(":")[1:]
        key = f"{lang} violations" if e.label else f"{lang} safe"
        groups[key].append(v.violation)
        if v.violation != bool(e.label):
            misses.append(f"{'FP' if v.violation else 'FN'} {kind}: {e.text}")
    result: dict[str, object] = {
        key: {"n": len(flags), "flagged_share": round(sum(flags) / len(flags), 4)}
        for key, flags in sorted(groups.items())
    }
    result["per_category"] = per_category(held, verdicts)
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print("\n".join(misses))


if __name__ == "__main__":
    main()

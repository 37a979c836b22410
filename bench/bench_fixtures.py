"""Everyday traffic and non-COLD categories: the screener on the held-out 30% of the fixtures.

    python bench/bench_fixtures.py

False-positive rate on safe everyday texts and hard counter-examples, recall on violations per
category, by language. The held-out rows never enter training (training.load_fixtures).
"""

from __future__ import annotations

import json
from collections import defaultdict

import common  # noqa: F401  (puts src on the path)


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
    result = {
        key: {"n": len(flags), "flagged_share": round(sum(flags) / len(flags), 4)}
        for key, flags in sorted(groups.items())
    }
    print(json.dumps(result, indent=2, ensure_ascii=False))
    print("\n".join(misses))


if __name__ == "__main__":
    main()

"""What the review queue adds to ingest: the intake of held decisions after each batch.

    python bench/bench_review.py

A batch's decisions are offered to ``ReviewIntake.held`` (SQLite in a temporary directory): with
none held (the usual batch: one comparison per decision) and with 1 % held (one INSERT … ON
CONFLICT DO NOTHING per batch). Prints microseconds per decision, best of 5 runs.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import common  # noqa: F401  (puts src on the path)

BATCH = 1000
RUNS = 5


def main() -> None:
    from cvguard.pipeline.review import ReviewIntake
    from cvguard.policy import DecisionInput, decide, default_policy
    from cvguard.store.review import ReviewStore
    from cvguard.verdict import Span, Verdict

    policy = default_policy()
    clean = decide(policy, DecisionInput(surface="comment", event_id="x", verdict=None))
    borderline = Verdict(
        True, 0.6, "illegal", {"defamation": 0.6}, (Span(0, 2, "xx", "defamation", "lexicon"),), {}
    )
    held = decide(policy, DecisionInput(surface="comment", event_id="x", verdict=borderline))
    assert held.action == "hold_for_review"
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = ReviewStore.open(f"sqlite:///{Path(tmp) / 'bench.db'}")
        intake = ReviewIntake(store)
        for name, share in (("none_held", 0.0), ("one_percent_held", 0.01)):
            best = float("inf")
            for run in range(RUNS):
                decisions = [
                    (held if i < share * BATCH else clean).__class__(
                        **{**_fields(held if i < share * BATCH else clean), "event_id": f"{name}-{run}-{i}"}
                    )
                    for i in range(BATCH)
                ]
                t = time.perf_counter()
                intake.held([], decisions)
                best = min(best, time.perf_counter() - t)
            out[f"{name}_us_per_decision"] = round(best / BATCH * 1e6, 3)
        store.close()
    print(json.dumps({"batch": BATCH, **out}, indent=2))


def _fields(d: object) -> dict[str, object]:
    return {name: getattr(d, name) for name in d.__dataclass_fields__}  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()

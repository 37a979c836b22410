"""Deciding speed on one core: decide() per call, and what it adds to a screen-and-decide call.

    python bench/bench_decide.py [--n 5000] [--calls 200000]
    python bench/bench_decide.py --pipeline [--rounds 7] [--hours 3] [--batch 500]

Real verdicts: typical COLD comments plus the violation fixtures (every category), screened once.
Inputs cycle through every surface and a spread of behaviour contexts (none, pile-on stranger,
pile-on mutual, minor target, brigade, incitement initiator, topic warning, repeat offender), every
pairing of the two. Prints decide() median / p99 per call, its mean against the pipeline's
per-event cost (screen_many measured in the same run, and the 130 µs/event the issue names), and
single-call screen vs screen+decide p99.

``--pipeline``: the embedded pipeline (SQLite, the packaged screener, behaviour) on a simulated
stream with a pile-on, with and without the decision step (deciding every fresh event through the
decision context and writing the decisions table), in interleaved rounds (order alternating, a
fresh database each), one core; per-event cost and the ratio per round. Then the p99 of one
screen-and-decide call as the API makes it (screen, the context from the engine, decide) against
one screen alone.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import statistics
import time
from dataclasses import replace
from typing import Any

from common import ROOT, pin_one_core, typical_comments

CONTEXTS: list[dict[str, Any]] = [
    {},
    {"pile_on_level": "warning", "pile_on_alert_id": "pile_on:user:t:1"},
    {"pile_on_level": "critical", "pile_on_alert_id": "pile_on:user:t:1", "relationship": "mutual"},
    {"target_groups": frozenset({"minor"})},
    {"brigade_alert_id": "brigade:cluster:b:1", "account_age_days": 1.0},
    {"author_role": "initiator", "incitement_alert_id": "incitement:user:t:1"},
    {"topic_level": "warning", "topic_alert_id": "topic:topic:x:1", "relationship": "follower"},
    {"prior_violations": 3, "relationship": "followed"},
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--single", type=int, default=3000)
    args = ap.parse_args()
    pinned = pin_one_core()

    from cvguard.detection.screen import Screener
    from cvguard.policy import DecisionInput, decide, default_policy
    from cvguard.policy.vocabulary import SURFACES

    fixtures = ROOT / "src/cvguard/detection/data/fixtures/violations.jsonl"
    extra = [json.loads(line).get("text") for line in fixtures.read_text(encoding="utf-8").splitlines()]
    texts = typical_comments(args.n) + [t for t in extra if isinstance(t, str)]
    screener = Screener.default()
    t0 = time.perf_counter()
    verdicts = screener.screen_many(texts)
    screen_us = (time.perf_counter() - t0) / len(texts) * 1e6
    policy = default_policy()
    inputs = [
        DecisionInput(surface, f"e{i}", v, **ctx)
        for i, (v, surface, ctx) in enumerate(
            zip(verdicts, itertools.cycle(SURFACES), itertools.cycle(CONTEXTS), strict=False)
        )
    ]
    inputs = list(itertools.islice(itertools.cycle(inputs), args.calls))
    for inp in inputs[:2000]:
        decide(policy, inp)  # warm

    t0 = time.perf_counter()
    for inp in inputs:
        decide(policy, inp)
    mean_us = (time.perf_counter() - t0) / len(inputs) * 1e6

    clock = time.perf_counter_ns
    lat = []
    for inp in inputs[:50_000]:
        s = clock()
        decide(policy, inp)
        lat.append(clock() - s)
    lat.sort()

    single, with_decide = [], []
    pairs = list(zip(texts, inputs, strict=False))[: args.single]
    for text, _ in pairs:
        s = time.perf_counter()
        screener.screen(text)
        single.append(time.perf_counter() - s)
    for text, inp in pairs:
        s = time.perf_counter()
        v = screener.screen(text)
        decide(policy, replace(inp, verdict=v))  # the input as the wiring builds it, with this verdict
        with_decide.append(time.perf_counter() - s)
    single.sort()
    with_decide.sort()

    def q(xs: list[Any], p: float) -> Any:
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    actions = statistics.multimode(decide(policy, i).action for i in inputs[:5000])
    result = {
        "cpu": pinned,
        "policy": f"{policy.name} {policy.version} ({len(policy.policy.rules)} rules)",
        "verdicts": len(verdicts),
        "violations": sum(v.violation for v in verdicts),
        "calls": len(inputs),
        "decide_mean_us": round(mean_us, 2),
        "decide_p50_us": round(q(lat, 0.5) / 1000, 2),
        "decide_p99_us": round(q(lat, 0.99) / 1000, 2),
        "screen_many_us_per_event": round(screen_us, 1),
        "decide_share_of_screen_many": round(mean_us / screen_us, 3),
        "decide_share_of_130us_pipeline": round(mean_us / 130.0, 3),
        "screen_p99_ms": round(q(single, 0.99) * 1000, 3),
        "screen_and_decide_p99_ms": round(q(with_decide, 0.99) * 1000, 3),
        "most_common_action": actions,
    }
    print(json.dumps(result, indent=2))


def pipeline_main(args: argparse.Namespace) -> None:
    import tempfile
    from pathlib import Path

    from cvguard.config import Settings
    from cvguard.detection.screen import Screener
    from cvguard.events import parse_event
    from cvguard.pipeline import Pipeline
    from cvguard.pipeline.context import DecisionContext
    from cvguard.policy import default_policy
    from cvguard.simulate import SimConfig, generate

    pinned = pin_one_core()
    _truth, *raws = generate(
        SimConfig(seed=3, hours=args.hours, users=300, targets=100, scenarios=("pileon", "debate"))
    )
    events = [parse_event(r) for r in raws]
    screener = Screener.default()
    screener.screen_many([e.text for e in events[:500]])  # warm

    def run(decide: bool) -> tuple[float, Pipeline]:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db")
            pipeline = Pipeline.open(settings, screener=screener, batch_size=args.batch, offline=True)
            pipeline.decide = decide
            gc.collect()  # each run starts from the same heap (the last run's state is garbage)
            t0 = time.perf_counter()
            for i in range(0, len(events), args.batch):
                pipeline.ingest(events[i : i + args.batch])
            pipeline.finish()
            took = time.perf_counter() - t0
            pipeline.persist_behaviour = False  # no checkpoint on close: not part of ingest
            pipeline.close()
        return took / len(events) * 1e6, pipeline

    run(True)  # warm (imports, the first database)
    rows = []
    own: list[float] = []  # the decision step's own time per event, in the runs that decide
    last: Pipeline | None = None
    for r in range(args.rounds):
        order = (False, True) if r % 2 == 0 else (True, False)
        got: dict[bool, float] = {}
        for decide in order:
            got[decide], p = run(decide)
            if decide:
                own.append(p.stats.decide_s / len(events) * 1e6)
                last = p if r == args.rounds - 1 else None  # a kept state slows the next runs' GC
            del p
        rows.append((got[False], got[True], got[True] / got[False]))
    assert last is not None
    ratios = sorted(x[2] for x in rows)

    # one screen-and-decide call as the API makes it, against the engine after the stream
    policy = default_policy()
    engine = last.behaviour
    at = last.clock.now()
    sample = events[-args.single :]
    single, with_decide = [], []
    def alone(e: Any) -> float:
        s = time.perf_counter()
        screener.screen(e.text)
        return time.perf_counter() - s

    def deciding(e: Any) -> float:
        s = time.perf_counter()
        v = screener.screen(e.text)
        policy.decide(DecisionContext(engine, at).input_for(e, v))
        return time.perf_counter() - s

    # interleaved per event, which goes first alternating (the second call finds the text in cache)
    for rnd in range(2):
        for i, e in enumerate(sample):
            if i % 2:
                a, b = alone(e), deciding(e)
            else:
                b, a = deciding(e), alone(e)
            if rnd:
                single.append(a)
                with_decide.append(b)
    single.sort()
    with_decide.sort()

    def q(xs: list[float], p: float) -> float:
        return xs[min(len(xs) - 1, int(p * len(xs)))]

    print(json.dumps({
        "cpu": pinned,
        "events": len(events),
        "batch": args.batch,
        "rounds": [
            {"without_us": round(a, 1), "with_us": round(b, 1), "ratio": round(c, 3)} for a, b, c in rows
        ],
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        # the step timed inside the same runs, against the run without it: less exposed to noise
        "decide_step_us_median": round(statistics.median(own), 1),
        "decide_step_share_median": round(
            statistics.median(o / x[0] for o, x in zip(own, rows, strict=True)), 3
        ),
        "screen_p99_ms": round(q(single, 0.99) * 1000, 3),
        "screen_and_decide_p99_ms": round(q(with_decide, 0.99) * 1000, 3),
        "added_p99_ms": round((q(with_decide, 0.99) - q(single, 0.99)) * 1000, 3),
    }, indent=2))


if __name__ == "__main__":
    import sys

    if "--pipeline" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--pipeline", action="store_true")
        ap.add_argument("--rounds", type=int, default=7)
        ap.add_argument("--hours", type=int, default=3)
        ap.add_argument("--batch", type=int, default=500)
        ap.add_argument("--single", type=int, default=3000)
        pipeline_main(ap.parse_args())
    else:
        main()

"""What the private-message step costs the pipeline, per event, on one core.

    python bench/bench_dm.py [--rounds 5] [--hours 1] [--batch 500] [--dm-share 0.3]

The embedded pipeline (SQLite, the packaged screener, behaviour, decisions) on a simulated stream
(seed 3, a pile-on and a debate) with extra private messages mixed in, so that ``--dm-share`` of
the events are DMs: about four messages per pair of users among 2,000 (a third the other way
round, 40% with a follow hint, 5% abusive). Runs with and without the DM step (``pipeline.dm =
None``: no observing, no flags), interleaved (order alternating, a fresh database each);
per-event cost and the ratio per round. Then ``DmGuard.observe`` + ``flags`` alone, on the same
messages in the same batches.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import time
from datetime import timedelta
from typing import Any

from common import pin_one_core

HELLO = ("你好", "在吗", "约吗", "你好，想问一下", "谢谢你的分享", "哈哈哈")
ABUSE = ("你这个傻逼", "你真是个废物", "活该，谁让你自己作")


def with_dms(events: list[Any], share: float, seed: int = 5) -> list[Any]:
    """``events`` with DMs added (times spread over the stream's span) so ``share`` of all are DMs."""
    from cvguard.events import Event

    rng = random.Random(seed)
    start, end = events[0].occurred_at, events[-1].occurred_at
    span = (end - start).total_seconds()
    n = int(len(events) * share / (1 - share))
    users = [f"dmu{i}" for i in range(2000)]
    pairs = [tuple(rng.sample(users, 2)) for _ in range(n // 4 + 1)]  # about 4 messages a pair
    out = list(events)
    for i in range(n):
        a, b = rng.choice(pairs)
        if rng.random() < 0.3:  # the other way: a reply
            a, b = b, a
        text = rng.choice(ABUSE) if rng.random() < 0.05 else rng.choice(HELLO)
        follows = rng.random() < 0.4
        out.append(Event.model_validate({
            "event_id": f"dm-{i}", "surface": "dm",
            "occurred_at": start + timedelta(seconds=rng.random() * span),
            "author": {"id": a}, "text": text, "target_ids": [b],
            "relationship": {"target_follows_author": follows} if follows else {},
        }))
    out.sort(key=lambda e: e.occurred_at)
    return out


def main() -> None:
    import tempfile
    from pathlib import Path

    from cvguard.config import Settings
    from cvguard.detection.screen import Screener
    from cvguard.events import parse_event
    from cvguard.pipeline import Pipeline
    from cvguard.protection.dm import DmGuard
    from cvguard.simulate import SimConfig, generate

    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--hours", type=int, default=1)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--dm-share", type=float, default=0.3)
    args = ap.parse_args()

    pinned = pin_one_core()
    _truth, *raws = generate(
        SimConfig(seed=3, hours=args.hours, users=300, targets=100, scenarios=("pileon", "debate"))
    )
    events = with_dms([parse_event(r) for r in raws], args.dm_share)
    dms = sum(e.surface.value == "dm" for e in events)
    screener = Screener.default()
    screener.screen_many([e.text for e in events[:500]])  # warm

    def run(dm: bool) -> tuple[float, int]:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db")
            pipeline = Pipeline.open(settings, screener=screener, batch_size=args.batch, offline=True)
            if not dm:
                pipeline.dm = None
            gc.collect()
            t0 = time.perf_counter()
            blocked = 0
            for i in range(0, len(events), args.batch):
                result = pipeline.ingest(events[i : i + args.batch])
                blocked += sum(d.rule_id in ("dm-unanswered", "dm-over-rate") for d in result.decisions)
            rest = pipeline.finish().decisions
            blocked += sum(d.rule_id in ("dm-unanswered", "dm-over-rate") for d in rest)
            took = time.perf_counter() - t0
            pipeline.persist_behaviour = False
            pipeline.close()
        return took / len(events) * 1e6, blocked

    run(True)  # warm
    rows = []
    blocked = 0
    for r in range(args.rounds):
        got: dict[bool, float] = {}
        for dm in ((False, True) if r % 2 == 0 else (True, False)):
            got[dm], b = run(dm)
            if dm:
                blocked = b
        rows.append((got[False], got[True], got[True] - got[False], got[True] / got[False]))

    # the step alone: observe the stream's DMs in batches, then the flags of each
    verdicts = screener.screen_many([e.text for e in events])
    items = list(zip(events, verdicts, strict=True))
    passes = []
    for _ in range(5):  # a fresh state each pass; the median of five (the first is cold)
        guard = DmGuard()
        t0 = time.perf_counter()
        for i in range(0, len(items), args.batch):
            chunk = items[i : i + args.batch]
            guard.observe(chunk)
            for e, _ in chunk:
                if e.surface._value_ == "dm":
                    guard.flags(e)
        passes.append(time.perf_counter() - t0)
    alone = statistics.median(passes)

    ratios = sorted(x[3] for x in rows)
    print(json.dumps({
        "cpu": pinned,
        "events": len(events),
        "dms": dms,
        "blocked_by_dm_rules": blocked,
        "batch": args.batch,
        "rounds": [
            {"without_us": round(a, 1), "with_us": round(b, 1), "added_us": round(c, 2), "ratio": round(d, 3)}
            for a, b, c, d in rows
        ],
        "added_us_per_event_median": round(statistics.median(x[2] for x in rows), 2),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "dm_step_alone_us_per_event": round(alone / len(events) * 1e6, 2),
        "dm_step_alone_us_per_dm": round(alone / max(1, dms) * 1e6, 2),
    }, indent=2))


if __name__ == "__main__":
    main()

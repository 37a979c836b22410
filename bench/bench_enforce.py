"""What enforcement costs per event: the pipeline with and without the violation ledger.

    python bench/bench_enforce.py --cost [--mix platform|dense|incidents] [--rounds 5] [--hours H]
                                         [--users N] [--batch 500]

The embedded pipeline (SQLite, the packaged screener, the default policy) over a simulated stream:

- ``platform`` (the default): the simulator's default platform (5,000 accounts, ``cvguard
  simulate``'s defaults) for 12 hours, every scenario at its daily rate and the ``accountability``
  incident, over background traffic with ordinary abuse (2%): about 3% of events are confirmed
  violations;
- ``dense``: the same incidents among 2,000 accounts over 3 hours, a stress stream (about 9% of
  events are violations, each graded, most sanctioned);
- ``incidents``: only pile-ons, incitements and the ``accountability`` incident among 300
  accounts, the worst case (every attacker is warned).

Interleaved rounds like ``bench_protection.py --cost`` (order alternating, a fresh database each),
one core, the garbage collector tuned as the long-running commands tune it
(``runtime.long_running``). Enforcement's own work (violations, grading, sanctions, the feed, the
audit trail, the MCN desk) is also timed inside the runs with it, as a share of the run without it:
less exposed to noise than the ratio of two runs. Its cost is per violation, so the share follows
the stream's violations per event.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import pin_one_core
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.events import parse_event
from cvguard.pipeline import Pipeline
from cvguard.runtime import long_running
from cvguard.simulate import SCENARIO_NAMES, SimConfig, generate


def _open(tmp: str, screener: Screener, batch: int) -> Pipeline:
    settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db")
    return Pipeline.open(settings, screener=screener, batch_size=batch, offline=True)


def cost(args: argparse.Namespace) -> dict[str, Any]:
    pinned = pin_one_core()
    long_running()  # the garbage collector as `serve`, `replay` and `worker` set it
    if args.mix in ("platform", "dense"):
        hours, users = (12.0, 5000) if args.mix == "platform" else (3.0, 2000)
        hours, users = args.hours or hours, args.users or users
        config = SimConfig(seed=3, hours=hours, users=users, targets=users // 3,
                           scenarios=(*SCENARIO_NAMES, "accountability"))
    else:
        config = SimConfig(seed=3, hours=args.hours or 3.0, users=300, targets=100,
                           scenarios=("pileon", "incitement", "accountability"))
    _, *raws = generate(config)
    events = [parse_event(r) for r in raws]
    screener = Screener.default()
    screener.screen_many([e.text for e in events[:500]])  # warm
    own: list[float] = []
    counts: list[tuple[int, int]] = []

    def run(enforce: bool) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            pipeline = _open(tmp, screener, args.batch)
            spent = [0.0]
            enforcer = pipeline.enforcer
            assert enforcer is not None
            if enforce:
                for name in ("on_decisions", "on_escalations"):
                    step = getattr(enforcer, name)

                    def timed(*a: Any, _step: Any = step, **kw: Any) -> Any:
                        s = time.perf_counter()
                        try:
                            return _step(*a, **kw)
                        finally:
                            spent[0] += time.perf_counter() - s

                    setattr(enforcer, name, timed)
            else:
                pipeline.enforcer = None
            gc.collect()
            t0 = time.perf_counter()
            for i in range(0, len(events), args.batch):
                pipeline.ingest(events[i : i + args.batch])
            pipeline.finish()
            took = time.perf_counter() - t0
            if enforce:
                own.append(spent[0] / len(events) * 1e6)
                store = enforcer.store
                counts.append((len(store.violations(limit=100_000)), len(store.sanctions(limit=100_000))))
            pipeline.persist_behaviour = False
            pipeline.close()
        return took / len(events) * 1e6

    run(True)  # warm
    own.clear()
    rows = []
    for r in range(args.rounds):
        got: dict[bool, float] = {}
        for enforce in ((False, True) if r % 2 == 0 else (True, False)):
            got[enforce] = run(enforce)
        rows.append((got[False], got[True], got[True] / got[False]))
    ratios = sorted(x[2] for x in rows)
    return {
        "cpu": pinned,
        "mix": args.mix,
        "events": len(events),
        "hours": config.hours,
        "users": config.users,
        "batch": args.batch,
        "violations": counts[-1][0],
        "violations_per_event": round(counts[-1][0] / len(events), 4),
        "sanctions": counts[-1][1],
        "rounds": [
            {"without_us": round(a, 1), "with_us": round(b, 1), "ratio": round(c, 3)} for a, b, c in rows
        ],
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "enforcement_step_us_median": round(statistics.median(own), 2),
        "enforcement_step_share_median": round(
            statistics.median(o / x[0] for o, x in zip(own, rows, strict=True)), 4
        ),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cost", action="store_true", help="the per-event cost (the only mode)")
    ap.add_argument("--hours", type=float, default=None, help="default: 12 (platform), 3 (dense, incidents)")
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--users", type=int, default=None, help="default: 5000 (platform), 2000 (dense)")
    ap.add_argument("--mix", choices=("platform", "dense", "incidents"), default="platform",
                    help="platform: the simulated platform's day; dense: its incidents among fewer "
                         "accounts over fewer hours; incidents: attacks only")
    args = ap.parse_args()
    print(json.dumps(cost(args), indent=2))


if __name__ == "__main__":
    main()

"""Embedded replay throughput on one core: parse → screen → behaviour → SQLite → alerts.

    python bench/bench_replay.py [--hours 24] [--users 5000] [--seed 0] [--batch 5000] [--distinct]

Simulates a stream to a file (not timed), then replays it through the same code ``cvguard replay``
runs — reader thread, bounded bus, pipeline, a fresh SQLite file in WAL mode — pinned to one CPU,
and reports events/s with where the time went. A second replay of the same file (every event a
duplicate) is timed too.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import pin_one_core


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=None, help="events a transaction (default: the pipeline's)")
    ap.add_argument("--distinct", action="store_true",
                    help="make every text distinct (an invisible suffix): no two events share screening")
    args = ap.parse_args()
    pinned = pin_one_core()

    from cvguard.pipeline import DEFAULT_BATCH
    from cvguard.runtime import long_running

    long_running()  # as `cvguard replay` does

    args.batch = args.batch or DEFAULT_BATCH

    from cvguard.config import Settings
    from cvguard.detection.screen import Screener
    from cvguard.pipeline import Pipeline, replay
    from cvguard.simulate import SimConfig, write_file

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "events.jsonl"
        sim = write_file(SimConfig(seed=args.seed, hours=args.hours, users=args.users), src)
        if args.distinct:
            distinct(src)
        screener = Screener.default()
        screener.screen_many(["预热", "warm up"])  # load the models before timing
        settings = Settings(data_dir=Path(tmp))
        alerts = 0

        def count(batch: object) -> None:
            nonlocal alerts
            alerts += len(batch)  # type: ignore[arg-type]

        with Pipeline.open(settings, screener=screener, batch_size=args.batch) as pipeline:
            with src.open("rb") as f:
                first = replay(pipeline, f, on_alerts=count)
            stats = pipeline.stats.to_dict()
        with Pipeline.open(settings, screener=screener, batch_size=args.batch) as pipeline:
            t0 = time.perf_counter()
            with src.open("rb") as f:
                second = replay(pipeline, f, on_alerts=count)
            rerun_s = time.perf_counter() - t0
        db_mb = sum(p.stat().st_size for p in Path(tmp).glob("cvguard.db*")) / 1e6

    stage_s = {k: round(float(v), 2) for k, v in stats.items() if k.endswith("_s")}
    result = {
        "cpu": pinned,
        "events": first.events,
        "simulated": {"hours": args.hours, "users": args.users, "seed": args.seed, "mb": sim.bytes / 1e6,
                      "texts": "all distinct" if args.distinct else "as simulated"},
        "batch": args.batch,
        "seconds": round(first.seconds, 2),
        "events_per_s": round(first.events_per_s),
        "stage_seconds": stage_s,
        "other_s": round(first.seconds - sum(stage_s.values()), 2),
        "alerts_emitted": sum(first.alerts.values()),
        "database_mb": round(db_mb, 1),
        "rerun_duplicates": second.duplicates,
        "rerun_new": second.new,
        "rerun_events_per_s": round(second.events / rerun_s),
    }
    print(json.dumps(result, indent=2))


def distinct(path: Path) -> None:
    """Give every event's text an invisible, unique suffix (the event's number written in
    zero-width space / zero-width non-joiner). The normaliser strips those, so verdicts and
    behaviour are those of the plain text, but screening sees each text as new: the cost of a
    stream with no repeated text at all."""
    lines = path.read_text(encoding="utf-8").splitlines()
    out = [lines[0]]  # the ground-truth header
    for i, line in enumerate(lines[1:]):
        event = json.loads(line)
        event["text"] = event.get("text", "") + "".join("\u200b" if b == "0" else "\u200c" for b in f"{i:b}")
        out.append(json.dumps(event, ensure_ascii=False))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

"""What recording automated actions in the audit trail costs the pipeline, per event.

    python bench/bench_audit.py [--rounds 7] [--hours 3] [--batch 500] [--postgres URL]

The embedded pipeline (the packaged screener, behaviour, decisions, the action feed, protection) on
a simulated stream with pile-ons, once with ``audit_automated`` on (one ``decisions.batch`` entry
per ingest batch, one ``feed.append`` entry per feed append that added entries, one entry per
automatic shield or offer) and once off, in interleaved rounds (order alternating, a fresh
database each: SQLite, or a fresh schema on ``--postgres``), one core. Prints the per-event cost
of each, the ratio per round, its median, and how many audit entries a run wrote; and, steadier on
a shared machine, the audit step's own time in the runs that record (the time spent building the
entries, digests included, and appending them: ``AuditLog.append_in`` / ``append_many`` and the
drafts, timed around the calls) against the per-event cost of the run without it.
"""

from __future__ import annotations

import argparse
import gc
import json
import secrets
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from common import pin_one_core


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--hours", type=int, default=3)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--postgres", default=None, help="A PostgreSQL URL (a schema per run is made there).")
    args = ap.parse_args()

    from cvguard.config import Settings
    from cvguard.detection.screen import Screener
    from cvguard.events import parse_event
    from cvguard.pipeline import Pipeline
    from cvguard.simulate import SimConfig, generate
    from cvguard.store.audit import AuditLog

    own = _time_the_audit_step()
    pinned = pin_one_core()
    _truth, *raws = generate(
        SimConfig(seed=3, hours=args.hours, users=300, targets=100, scenarios=("pileon", "debate"))
    )
    events = [parse_event(r) for r in raws]
    screener = Screener.default()
    screener.screen_many([e.text for e in events[:500]])  # warm

    def database(tmp: str) -> tuple[str, Any]:
        if args.postgres is None:
            return f"sqlite:///{tmp}/bench.db", None
        import psycopg

        schema = f"cvguard_bench_{secrets.token_hex(4)}"
        with psycopg.connect(args.postgres, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in args.postgres else "?"

        def drop() -> None:
            with psycopg.connect(args.postgres, autocommit=True) as admin:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')

        return f"{args.postgres}{sep}options={quote(f'-csearch_path={schema}')}", drop

    def run(audited: bool) -> tuple[float, int, float]:
        with tempfile.TemporaryDirectory() as tmp:
            url, drop = database(tmp)
            try:
                settings = Settings(data_dir=Path(tmp), database_url=url, audit_automated=audited)
                pipeline = Pipeline.open(settings, screener=screener, batch_size=args.batch, offline=True)
                gc.collect()
                own[0] = 0.0
                t0 = time.perf_counter()
                for i in range(0, len(events), args.batch):
                    pipeline.ingest(events[i : i + args.batch])
                pipeline.finish()
                took = time.perf_counter() - t0
                entries = len(AuditLog(pipeline.store.engine).entries(limit=1_000_000))  # type: ignore[attr-defined]
                pipeline.persist_behaviour = False
                pipeline.close()
            finally:
                if drop is not None:
                    drop()
        return took / len(events) * 1e6, entries, own[0] / len(events) * 1e6

    run(True)  # warm
    rows = []
    written = 0
    steps: list[float] = []  # the audit step's own µs per event, in the runs that record
    for r in range(args.rounds):
        got: dict[bool, float] = {}
        for audited in (False, True) if r % 2 == 0 else (True, False):
            got[audited], n, step = run(audited)
            if audited:
                written = n
                steps.append(step)
        rows.append((got[False], got[True], got[True] / got[False]))
    ratios = sorted(x[2] for x in rows)
    print(json.dumps({
        "cpu": pinned,
        "database": "postgresql" if args.postgres else "sqlite",
        "events": len(events),
        "batch": args.batch,
        "audit_entries_per_run": written,
        "rounds": [{"off_us": round(a, 1), "on_us": round(b, 1), "ratio": round(c, 3)} for a, b, c in rows],
        "off_us_median": round(statistics.median(x[0] for x in rows), 1),
        "on_us_median": round(statistics.median(x[1] for x in rows), 1),
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        "audit_step_us_median": round(statistics.median(steps), 2),
        "audit_step_share_median": round(
            statistics.median(o / x[0] for o, x in zip(steps, rows, strict=True)), 4
        ),
    }, indent=2))


def _time_the_audit_step() -> list[float]:
    """Time every call that records automated actions (one cell: seconds, reset per run)."""
    import cvguard.pipeline.protection as protection
    import cvguard.store.actions as actions
    import cvguard.store.decisions as decisions
    from cvguard.store.audit import AuditLog

    cell = [0.0]

    def timed(fn: Any) -> Any:
        def wrapper(*a: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                cell[0] += time.perf_counter() - t0
        return wrapper

    AuditLog.append_in = timed(AuditLog.append_in)  # type: ignore[method-assign]
    AuditLog.append_many = timed(AuditLog.append_many)  # type: ignore[method-assign]
    actions.feed_draft = timed(actions.feed_draft)
    decisions.decisions_draft = timed(decisions.decisions_draft)
    protection._draft = timed(protection._draft)
    return cell


if __name__ == "__main__":
    main()

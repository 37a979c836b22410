"""MCN joint handling: what keeping members from events costs per event, and what one violation
costs the desk (counted, assessed, measures taken) for an MCN of a given size.

    python bench/bench_mcn.py [--rounds 3] [--hours 1] [--batch 500] [--members 1000] [--violations 300]

Per event: the embedded pipeline (SQLite, the packaged screener, the default policy) on a simulated
stream whose authors carry ``author.mcn_id`` (the simulator's 24 MCNs), with the MCN desk and
without it, in interleaved rounds (order alternating, a fresh database each), one core. The desk's
``observe`` writes each (MCN, account) pair once and then only looks it up in memory.

Per violation: an MCN of ``--members`` members with ``--violations`` violations already on it
(event time spread over 20 days), then violations one at a time through ``on_violations`` (each
reads the members, the violations of the longest window and the measures, and assesses): the median
milliseconds per call, on SQLite.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import pin_one_core
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.enforcement import Violation
from cvguard.enforcement.mcn import McnViolation
from cvguard.events import Event, parse_event
from cvguard.pipeline import Pipeline
from cvguard.pipeline.mcn import McnDesk
from cvguard.simulate import SimConfig, generate
from cvguard.store.actions import ActionFeed
from cvguard.store.audit import AuditLog
from cvguard.store.mcns import McnStore


def _events(hours: float) -> list[Event]:
    lines = list(generate(SimConfig(seed=11, hours=hours)))
    return [parse_event(x) for x in lines[1:]]


def _run(events: list[Event], screener: Screener, batch: int, *, desk: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = Pipeline.open(Settings(data_dir=Path(tmp)), screener=screener, offline=True)
        if not desk:
            pipeline.mcn = None
        try:
            start = time.perf_counter()
            for i in range(0, len(events), batch):
                pipeline.ingest(events[i : i + batch])
            pipeline.finish()
            return (time.perf_counter() - start) / len(events) * 1e6
        finally:
            pipeline.close()


def per_event(rounds: int, hours: float, batch: int) -> None:
    events = _events(hours)
    with_mcn = sum(1 for e in events if e.author.mcn_id)
    pairs = len({(e.author.mcn_id, e.author.id) for e in events if e.author.mcn_id})
    print(f"events {len(events)} ({with_mcn} with an MCN, {pairs} (MCN, account) pairs), batch {batch}, "
          f"{rounds} rounds")
    observe_only(events, batch)
    # the worst case: every author in one of 24 MCNs
    every = [e.model_copy(update={"author": e.author.model_copy(
        update={"mcn_id": f"mcn_{sum(map(ord, e.author.id)) % 24}"})}) for e in events]
    print(f"  every author in an MCN ({len({(e.author.mcn_id, e.author.id) for e in every})} pairs):")
    observe_only(every, batch)
    screener = Screener.default()
    _run(events[:1000], screener, batch, desk=True)  # warm up
    on: list[float] = []
    off: list[float] = []
    for r in range(rounds):
        for desk in ((True, False) if r % 2 == 0 else (False, True)):
            (on if desk else off).append(_run(events, screener, batch, desk=desk))
    a, b = statistics.median(on), statistics.median(off)
    rounds_on = ", ".join(f"{x:.1f}" for x in on)
    rounds_off = ", ".join(f"{x:.1f}" for x in off)
    print(f"  pipeline µs/event: with the MCN desk {a:.1f}, without {b:.1f}; ratio {a / b:.3f} "
          f"(per round with: {rounds_on}; without: {rounds_off})")


def observe_only(events: list[Event], batch: int) -> None:
    """``observe`` alone over the stream: the first pass writes each pair, the second finds all known."""
    with tempfile.TemporaryDirectory() as tmp:
        store = McnStore.open(f"sqlite:///{Path(tmp) / 'o.db'}")
        desk = McnDesk(store)
        passes = []
        for _ in range(2):
            start = time.perf_counter()
            for i in range(0, len(events), batch):
                desk.observe(events[i : i + batch])
            passes.append((time.perf_counter() - start) / len(events) * 1e6)
        store.close()
    print(f"  observe alone µs/event: first pass (writes) {passes[0]:.2f}, second pass (all known) "
          f"{passes[1]:.2f}")


def per_violation(members: int, violations: int, calls: int = 50) -> None:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    with tempfile.TemporaryDirectory() as tmp:
        store = McnStore.open(f"sqlite:///{Path(tmp) / 'm.db'}")
        desk = McnDesk(store, ActionFeed(store.engine), audit=AuditLog(store.engine))
        accounts = [f"u{i}" for i in range(members)]
        store.put("m1", name="bench", contact=None, members=accounts, at=t0)
        old = [Violation(violation_id=f"old{i}", account_id=accounts[i % members],
                         at=t0 + timedelta(days=20 * i / violations), confirmed_by="policy:r",
                         roles=("first_time",), mcn_id="m1") for i in range(violations)]
        store.add_violations([("m1", _plain(v)) for v in old])
        now = t0 + timedelta(days=21)
        took: list[float] = []
        for i in range(calls):
            v = Violation(violation_id=f"new{i}", account_id=accounts[(7 * i) % members], at=now,
                          confirmed_by="policy:r", roles=("first_time",), mcn_id="m1")
            start = time.perf_counter()
            desk.on_violations([v], now=now)
            took.append((time.perf_counter() - start) * 1e3)
        measures = store.measures("m1")
        print(f"MCN of {members} members, {violations} violations before: on_violations median "
              f"{statistics.median(took):.2f} ms (p90 {sorted(took)[int(0.9 * calls)]:.2f} ms) over {calls} "
              f"calls; measures taken: {[x.kind for x in measures]}")
        store.close()


def _plain(v: Violation) -> McnViolation:
    return McnViolation(v.violation_id, v.account_id, tuple(v.roles), v.at)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--violations", type=int, default=300)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    print(pin_one_core())
    per_violation(args.members, args.violations)
    if not args.skip_pipeline:
        per_event(args.rounds, args.hours, args.batch)


if __name__ == "__main__":
    main()

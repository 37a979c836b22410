"""Scale-out throughput: 1 worker vs 2 workers (separate processes) on Redis Streams + PostgreSQL.

    python bench/bench_scale.py [--hours 1] [--users 20000] [--batch 500] [--workers 1,2] [--repeat 5]
        [--redis redis://127.0.0.1:6379/14] [--db postgresql://postgres@127.0.0.1:5432/test]

Simulates a stream (not timed). For each worker count: a fresh PostgreSQL schema (migrated before
the clock starts) and an emptied Redis database; the workers are started and waited for until
ready; then the clock starts, the whole stream is published (serialised beforehand: the producer is
the platform, not what is measured), and the clock stops when every event
is stored, every entry acknowledged and every submitted batch applied to the shared behaviour
state. Prints events/s for each count and the ratio to 1 worker, with each worker's share (entries,
events applied as the behaviour leader, waits for a lagging leader, events refused as too late)
and whether the stored alerts (kind, subject, level) are the same as with the first count. The
Redis database given is flushed: do not point it at one holding anything you need.

Mind the stream's event-time density: workers commit batches out of order with each other, so a
batch spans event time the detectors must tolerate as lateness (600 s). The default stream (20,000
accounts over one hour, about 5.7 events per second of event time) keeps a batch of 500 within
about 90 s; a sparse stream with large batches makes two workers' interleaving look late.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from common import ROOT


def service_cpu() -> dict[str, float]:
    """CPU seconds used so far by the local PostgreSQL and Redis server processes (Linux /proc;
    empty elsewhere): on a machine where they share the cores with the workers, part of the cost."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    out: dict[str, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        if name.startswith("postgres") or name.startswith("redis-server"):
            fields = raw[raw.rindex(")") + 2 :].split()
            used = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            key = "postgres" if name.startswith("postgres") else "redis"
            out[key] = out.get(key, 0.0) + used
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far (Linux /proc/stat; zeros elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return float(sum(fields) - idle), float(sum(fields))


def process_cpu(pids: list[int]) -> float:
    """CPU seconds used so far by the processes ``pids`` (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    used = 0.0
    for pid in pids:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        used += (int(fields[11]) + int(fields[12])) / tick
    return used


def run_once(args: argparse.Namespace, events: list[Any], workers: int) -> dict[str, Any]:
    import psycopg
    import redis

    from cvguard.pipeline.redis_bus import FIELD, RedisStreamBus
    from cvguard.pipeline.shared_state import SharedBehaviour
    from cvguard.store import EventStore

    schema = f"cvguard_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.db, autocommit=True) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in args.db else "?"
    db_url = f"{args.db}{sep}options={quote(f'-csearch_path={schema}')}"
    client = redis.Redis.from_url(args.redis)
    client.flushdb()
    store = EventStore.open(db_url)
    procs: list[subprocess.Popen[str]] = []
    logs = [tempfile.TemporaryFile("w+") for _ in range(workers)]  # noqa: SIM115 (closed below)
    try:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        for i in range(workers):
            cmd = [sys.executable, "-m", "cvguard", "worker", "--redis", args.redis, "--db", db_url,
                   "--name", f"bench-{i}", "--batch", str(args.batch), "--block-ms", "100"]
            procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=logs[i], text=True))
        for i, log in enumerate(logs):  # ready: each prints "consuming" once its models are loaded
            deadline = time.monotonic() + 120
            while True:
                log.seek(0)
                if "consuming" in log.read():
                    break
                if procs[i].poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    raise SystemExit(f"worker {i} did not start: {log.read()}")
                time.sleep(0.1)
        bus = RedisStreamBus(client)
        behaviour = SharedBehaviour(client)
        n = len({e.event_id for e in events})
        payloads = [e.model_dump_json() for e in events]  # the producer's serialising is not timed
        cpu0, wcpu0, busy0 = service_cpu(), process_cpu([p.pid for p in procs]), machine_busy()
        t0 = time.perf_counter()
        for i in range(0, len(payloads), 1000):  # what a platform's producer does: XADD in pipelines
            pipe = client.pipeline(transaction=False)
            for raw in payloads[i : i + 1000]:
                pipe.xadd(bus.stream, {FIELD: raw}, maxlen=bus.maxlen, approximate=True)
            pipe.execute()
        while not (bus.backlog() == 0 and behaviour.lag() == 0 and store.count_events() == n):
            if any(p.poll() is not None for p in procs):
                raise SystemExit("a worker exited during the run")
            time.sleep(0.05)
        seconds = time.perf_counter() - t0
        cpu1, wcpu1, busy1 = service_cpu(), process_cpu([p.pid for p in procs]), machine_busy()
        services = {f"{k}_cpu_s": round(cpu1[k] - cpu0.get(k, 0.0), 2) for k in cpu1}
        services["workers_cpu_s"] = round(wcpu1 - wcpu0, 2)
        total = busy1[1] - busy0[1]
        services["machine_busy_share"] = round((busy1[0] - busy0[0]) / total, 3) if total else None
        stats = []
        for p in procs:
            p.send_signal(signal.SIGTERM)
            out, _ = p.communicate(timeout=60)
            stats.append(json.loads(out.strip().splitlines()[-1]))
        alerts = sorted({
            (a.kind, a.subject_type, a.subject_id, a.level) for a in store.list_alerts(limit=1_000_000)})
        return {
            "workers": workers,
            "events": n,
            "seconds": round(seconds, 2),
            "events_per_s": round(n / seconds, 1),
            **services,
            "per_worker": [
                {k: s[k] for k in ("entries", "new", "duplicates", "claimed", "alerts", "applied",
                                   "took_lease", "lag_waits", "held", "late", "seconds", "cpu_s", "read_s",
                                   "screen_s", "store_s", "submit_s", "pump_s")}
                for s in stats
            ],
            "stored_alerts": alerts,
        }
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
        for log in logs:
            log.close()
        store.close()
        client.flushdb()
        client.close()
        with psycopg.connect(args.db, autocommit=True) as admin:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=500)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=5, help="rounds; each count reports its median")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/test")
    args = ap.parse_args()

    from cvguard.events import parse_event
    from cvguard.simulate import SimConfig, generate

    lines = list(generate(SimConfig(seed=args.seed, hours=args.hours, users=args.users)))
    events = [parse_event(x) for x in lines[1:]]
    counts = [int(k) for k in args.workers.split(",")]
    # Rounds interleave the counts (1, 2, 1, 2, ...) so that drift in the machine's speed hits
    # every count alike; each count is reported by its median round.
    rounds = [[run_once(args, events, k) for k in counts] for _ in range(args.repeat)]
    runs = []
    for i in range(len(counts)):
        mine = sorted((rnd[i] for rnd in rounds), key=lambda r: r["events_per_s"])
        median = dict(mine[len(mine) // 2])
        median["events_per_s_all"] = [r["events_per_s"] for r in (rnd[i] for rnd in rounds)]
        runs.append(median)
    base = runs[0]["events_per_s"]
    for r in runs:
        r["ratio_to_first"] = round(r["events_per_s"] / base, 2)
    for r in runs:
        r["ratio_by_round"] = []
    for rnd in rounds:  # the ratio within each round, too
        for i, r in enumerate(runs):
            r["ratio_by_round"].append(round(rnd[i]["events_per_s"] / rnd[0]["events_per_s"], 2))
    # the same stream must leave the same alerts, however many workers shared it
    first = set(map(tuple, rounds[0][0]["stored_alerts"]))
    for r in runs:
        r.pop("stored_alerts")
    for rnd in rounds:
        for r, run in zip(runs[1:], rnd[1:], strict=True):
            mine = set(map(tuple, run["stored_alerts"]))
            r["alerts_only_here"] = r.get("alerts_only_here", 0) + len(mine - first)
            r["alerts_only_in_first"] = r.get("alerts_only_in_first", 0) + len(first - mine)
    result = {"cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
              "hours": args.hours, "users": args.users, "batch": args.batch, "runs": runs}
    print(json.dumps(result, indent=2))
    for r in runs:
        print(f"{r['workers']} worker(s): {r['events_per_s']:.0f} events/s median of {args.repeat}"
              f"  (x{r['ratio_to_first']:.2f}; by round {r['ratio_by_round']})", file=sys.stderr)


if __name__ == "__main__":
    main()
    sys.exit(0)

"""No loss, no double count: a `cvguard worker` is SIGKILLed mid-stream and another takes over.

Real Redis and PostgreSQL, real worker processes. The first worker is killed either by the test at
an arbitrary moment, or (deterministically) by itself right after a batch's database commit and
before it reaches the behaviour log (the window where a naive design loses window counts), or
right after it committed behaviour state with alerts and before storing those alerts. A second
worker claims the pending entries (XAUTOCLAIM), takes the behaviour lease over once the dead one's
lapses, and drains the stream. Then: every event is stored exactly once, the shared pile-on windows
of the targeted person equal both a single in-memory engine fed the whole stream and the counts
computed from the stored rows, and every committed alert reached the database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import redis
from sqlalchemy import text

from cvguard.behavior import BehaviourEngine
from cvguard.detection.screen import Screener
from cvguard.events import Event, parse_event
from cvguard.pipeline.redis_bus import RedisStreamBus
from cvguard.pipeline.shared_state import SharedBehaviour
from cvguard.pipeline.worker import FAULT_ENV
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

# one simulated hour with one labelled pile-on: about 900 events, 9 batches of 100
CONFIG = SimConfig(seed=11, hours=1, users=300, targets=50, scenarios=("pileon",))
GROUP = "crash-test"
DEADLINE_S = 60.0


def wait_for(what: str, ok: Callable[[], bool], proc: subprocess.Popen[str],
             timeout: float = DEADLINE_S) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        if proc.poll() is not None:
            raise AssertionError(f"the worker exited ({proc.returncode}) before {what}: {proc.communicate()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(
        name: str, redis_url: str, db_url: str, env: dict[str, str] | None = None
    ) -> subprocess.Popen[str]:
        cmd = [sys.executable, "-m", "cvguard", "worker", "--redis", redis_url, "--db", db_url,
               "--group", GROUP, "--name", name, "--batch", "100", "--claim-idle-ms", "500",
               "--block-ms", "200", "--lease-ms", "500"]
        proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:  # only the processes this test started
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=10)


def target_counts(store: EventStore, target: str, since: datetime) -> tuple[int, int]:
    """(messages, abusive messages) aimed at ``target`` since ``since``, from the stored rows."""
    sql = text(
        "SELECT count(*), count(*) FILTER (WHERE v.violation OR v.score >= 0.5) FROM event_targets t"
        " JOIN events e ON e.event_id = t.event_id JOIN verdicts v ON v.event_id = t.event_id"
        " WHERE t.target_id = :target AND e.author_id <> :target AND e.occurred_at > :since"
    )
    with store.engine.connect() as conn:
        total, abusive = conn.execute(sql, {"target": target, "since": since}).one()
    return int(total), int(abusive)


@pytest.mark.parametrize("kill", ["after-store", "after-apply", "external"])
def test_a_killed_worker_loses_nothing_and_counts_nothing_twice(
    kill: str, redis_url: str, postgres_url: str, spawn: Callable[..., subprocess.Popen[str]]
) -> None:
    lines = list(generate(CONFIG))
    target = lines[0]["incidents"][0]["target_id"]
    events: list[Event] = [parse_event(x) for x in lines[1:]]
    n = len({e.event_id for e in events})
    client = redis.Redis.from_url(redis_url)
    store = EventStore.open(postgres_url)  # migrated once, before the workers start
    try:
        bus = RedisStreamBus(client)
        behaviour = SharedBehaviour(client)
        bus.ensure_group(GROUP)
        bus.publish(events)

        fault = {FAULT_ENV: f"{kill}:{3 if kill == 'after-store' else 1}"} if kill != "external" else {}
        first = spawn("w1", redis_url, postgres_url, fault)
        if kill == "external":
            wait_for("the first worker to store some events", lambda: store.count_events() >= 200, first)
            first.send_signal(signal.SIGKILL)
        first.wait(timeout=DEADLINE_S)
        assert first.returncode == -signal.SIGKILL
        stored_at_kill = store.count_events()
        assert 0 < stored_at_kill < n  # it died mid-stream
        if kill == "after-store":
            assert bus.pending_count(GROUP) == 100  # the batch it stored but never acknowledged
        if kill == "after-apply":  # it committed alerts with the state and never stored them
            assert client.hlen(behaviour.k_outbox) > 0

        second = spawn("w2", redis_url, postgres_url)
        wait_for(
            "the second worker to drain the stream",
            lambda: store.count_events() == n and bus.backlog() == 0 and behaviour.lag() == 0,
            second,
        )
        second.send_signal(signal.SIGTERM)  # graceful: returns after the batch in hand
        out, err = second.communicate(timeout=DEADLINE_S)
        assert second.returncode == 0, err
        stats: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        if kill == "after-store":
            assert stats["claimed"] == 100 and stats["duplicates"] == 100

        # exactly once in the database
        assert store.count_events() == n
        with store.engine.connect() as conn:
            links = conn.execute(text("SELECT count(*) FROM event_targets")).scalar_one()
        assert links == sum(len(set(e.target_ids)) for e in events)

        # exactly once in the shared windows: as one engine fed the stream, and as the stored rows say
        verdicts = Screener.default().screen_many([e.text for e in events])
        reference = BehaviourEngine()
        reference.process_many(zip(events, verdicts, strict=True))
        t = max(e.occurred_at for e in events)
        shared = SharedBehaviour(client).target_state(target, t)
        expected = reference.target_state(target, t)
        for name, w in shared.pile_on["windows"].items():
            ref = expected.pile_on["windows"][name]
            assert (w["total"], w["abusive"], w["distinct_senders"]) == (
                ref["total"], ref["abusive"], ref["distinct_senders"]), name
        day = shared.pile_on["windows"]["1d"]
        assert (day["total"], day["abusive"]) == target_counts(store, target, t.replace(day=t.day - 1))
        assert shared.level in ("warning", "critical")
        assert store.list_alerts(subject_id=target, kind="pile_on")
        assert client.hlen(SharedBehaviour(client).k_outbox) == 0
    finally:
        store.close()
        client.close()

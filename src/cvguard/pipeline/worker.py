"""``cvguard worker``: one consumer of the Redis event stream; run as many as the load needs.

For each batch read through the consumer group (new entries, or a dead worker's claimed ones):

    screen → EventStore.add_batch (idempotent by event_id) → SharedBehaviour.apply (shared windows,
    alerts committed to the outbox with the state) → alerts upserted → XACK

The acknowledgement comes last, so a worker killed anywhere before it leaves the entries pending;
another worker claims them (XAUTOCLAIM after ``claim_idle_ms``) and does the batch again. Every step
is idempotent for a redelivered event: the store skips stored ids, behaviour skips applied ids (see
``shared_state``), alert upserts converge. Nothing is lost and nothing is counted twice.

Back-pressure is the pull: a worker reads the next batch only when the last one is written, so a
slow store slows the reading, and the stream (capped, see ``redis_bus``) holds the backlog.
``stop()`` (SIGTERM, SIGINT in the CLI) lets the batch in hand finish and be acknowledged.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cvguard.behavior import Alert
from cvguard.pipeline.engine import Screening
from cvguard.pipeline.redis_bus import Entry, RedisStreamBus
from cvguard.pipeline.shared_state import SharedBehaviour, alert_json
from cvguard.store import EventStore, repositories

log = logging.getLogger(__name__)

FAULT_ENV = "CVGUARD_WORKER_FAULT"  # "after-store:N" / "after-behaviour:N": SIGKILL itself (tests)


@dataclass(slots=True)
class WorkerStats:
    batches: int = 0
    entries: int = 0
    new: int = 0
    duplicates: int = 0
    claimed: int = 0
    dead_letters: int = 0
    alerts: int = 0
    replayed: int = 0  # events other workers applied, replayed into this worker's behaviour replica
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


class Worker:
    def __init__(
        self,
        *,
        bus: RedisStreamBus,
        behaviour: SharedBehaviour,
        store: EventStore,
        screener: Screening,
        group: str,
        name: str,
        batch: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        claim_every_s: float = 5.0,
        keep_text: bool = True,
        fault: str | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.bus, self.behaviour, self.store, self.screener = bus, behaviour, store, screener
        self.group, self.name, self.batch = group, name, batch
        self.block_ms, self.claim_idle_ms, self.claim_every_s = block_ms, claim_idle_ms, claim_every_s
        self.keep_text = keep_text
        self.stats = WorkerStats()
        self._stopping = False
        self._fault = _parse_fault(fault)

    def stop(self, *_args: object) -> None:
        """Finish the batch in hand, acknowledge it, and return from ``run``."""
        self._stopping = True

    def run(self, *, idle_exit_s: float | None = None) -> WorkerStats:
        """Consume until ``stop()`` (or until nothing arrived for ``idle_exit_s``, for benchmarks)."""
        started = time.perf_counter()
        self.bus.ensure_group(self.group)
        self.flush_outbox()
        # entries this consumer name was given in a previous life and never acknowledged
        while not self._stopping and (own := self.bus.read(self.group, self.name, count=self.batch,
                                                             pending=True)):
            self.handle(own)
        next_claim = 0.0
        idle_since = time.monotonic()
        while not self._stopping:
            entries: list[Entry] = []
            if time.monotonic() >= next_claim:
                entries = self.bus.claim(self.group, self.name, min_idle_ms=self.claim_idle_ms,
                                         count=self.batch)
                next_claim = time.monotonic() + self.claim_every_s
                if entries:
                    self.stats.claimed += len(entries)
                    log.info("%s: claimed %d pending entries", self.name, len(entries))
                    self.flush_outbox()  # alerts a dead worker committed but did not store
            if not entries:
                entries = self.bus.read(self.group, self.name, count=self.batch, block_ms=self.block_ms)
            if entries:
                self.handle(entries)
                idle_since = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                break
        self.stats.seconds = time.perf_counter() - started
        self.stats.replayed = self.behaviour.replayed
        return self.stats

    def handle(self, entries: Sequence[Entry]) -> None:
        """One batch, acknowledged only after events, behaviour and alerts are durable."""
        bad = [e for e in entries if e.event is None]
        if bad:
            for e in bad:
                log.error("%s: entry %s is not an event (%s): dead-lettered", self.name, e.entry_id, e.error)
            self.bus.dead(self.group, bad)
            self.stats.dead_letters += len(bad)
        good = [e for e in entries if e.event is not None]
        if good:
            events = [e.event for e in good if e.event is not None]
            verdicts = self.screener.screen_many([e.text for e in events])
            new_ids = self.store.add_batch(events, verdicts, keep_text=self.keep_text)
            self._maybe_fail("after-store")
            alerts = self.behaviour.apply(events, verdicts, new_ids)
            self._maybe_fail("after-behaviour")
            self._store_alerts(alerts)
            self.bus.ack(self.group, [e.entry_id for e in good])
            self.stats.new += len(new_ids)
            self.stats.duplicates += len(events) - len(new_ids)
            self.stats.alerts += len(alerts)
        self.stats.batches += 1
        self.stats.entries += len(entries)

    def flush_outbox(self) -> int:
        """Store every alert left in the outbox (by this or a dead worker); returns how many."""
        pending = self.behaviour.outbox()
        for alert, _ in pending:
            self._upsert(alert)
        self.behaviour.clear_outbox([(a.alert_id, raw) for a, raw in pending])
        return len(pending)

    def _store_alerts(self, alerts: Sequence[Alert]) -> None:
        # an episode emitted twice in one batch (raised, then escalated) is stored once, newest
        latest = {a.alert_id: a for a in alerts}
        for alert in latest.values():
            self._upsert(alert)
        self.behaviour.clear_outbox([(i, alert_json(a)) for i, a in latest.items()])

    def _upsert(self, alert: Alert) -> None:
        # Brigades aimed at no single user/thread/topic name a "cluster", which the store may not
        # take (see pipeline.engine): those stay in the alert stream only.
        if alert.subject_type in repositories.SUBJECT_TYPES:
            self.store.upsert_alert(alert)

    def _maybe_fail(self, point: str) -> None:
        if self._fault is None or self._fault[0] != point:
            return
        self._fault = (point, self._fault[1] - 1)
        if self._fault[1] <= 0:
            log.error("%s: fault injected at %s: SIGKILL", self.name, point)
            os.kill(os.getpid(), signal.SIGKILL)


def _parse_fault(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    point, _, n = spec.partition(":")
    if point not in ("after-store", "after-behaviour"):
        raise ValueError(f"unknown fault point {point!r}")
    return point, int(n or 1)

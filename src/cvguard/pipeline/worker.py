"""``cvguard worker``: one consumer of the Redis event stream; run as many as the load needs.

For each batch read through the consumer group (new entries, or a dead worker's claimed ones):

    screen → EventStore.add_batch (idempotent by event_id) → SharedBehaviour.submit (the batch
    appended to the shared behaviour log) → XACK

and then, on the one worker holding the behaviour lease, ``SharedBehaviour.pump``: the log entries
every worker submitted are applied in order to the shared windows, the alerts committed to the
outbox with the state, then upserted into the database (see ``shared_state``). Screening and the
store, the costly part, run on every worker in parallel; behaviour runs once per event. Workers
finish batches out of stream order, so the leader holds a pass back while an older stream entry is
still in another worker's hands (for at most ``hold_ms``: longer means a dead worker, whose entries
are claimed later) and applies each pass in event-time order.

The acknowledgement comes after the store and the log, so a worker killed anywhere before it leaves
the entries pending; another worker claims them (XAUTOCLAIM after ``claim_idle_ms``) and does the
batch again. Every step is idempotent for a redelivered event: the store skips stored ids, behaviour
skips applied ids, alert upserts converge. Nothing is lost and nothing is counted twice.

Time: an event dated more than ``max_skew_s`` ahead of this worker's wall clock is refused
(dead-lettered with why, counted in ``WorkerStats.future``) before it is stored, so no event can
move the shared behaviour clock or the text retention into the future (``pipeline.clock``).

Back-pressure is the pull: a worker reads the next batch only when the last one is written, so a
slow store slows the reading, and the stream (capped, see ``redis_bus``) holds the backlog; a
worker that is not the leader also waits while the behaviour log is more than ``max_lag`` entries
ahead of the leader. ``stop()`` (SIGTERM, SIGINT in the CLI) lets the batch in hand finish and be
acknowledged; a stopping leader applies what is left of the log (for up to ``drain_s``) and hands
the lease back so another worker takes over at once.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from cvguard.behavior import Alert
from cvguard.pipeline.actions import AlertActions
from cvguard.pipeline.clock import WallClock, WallGate, wall_clock
from cvguard.pipeline.engine import DEFAULT_SKEW_S
from cvguard.pipeline.ingest import Screening, refusals, store_screened
from cvguard.pipeline.mcn import McnDesk
from cvguard.pipeline.redis_bus import Entry, RedisStreamBus, StreamId, stream_id
from cvguard.pipeline.review import ReviewIntake
from cvguard.pipeline.shared_state import SharedBehaviour, alert_json
from cvguard.progress import ProgressLog
from cvguard.store import EventStore
from cvguard.store.retention import TextRetention
from cvguard.vocabulary import SUBJECT_TYPES

log = logging.getLogger(__name__)

# "after-store:N" / "after-behaviour:N" / "after-apply:N": SIGKILL itself at the N-th pass (tests)
FAULT_ENV = "CVGUARD_WORKER_FAULT"
LEADER_BLOCK_MS = 20


@dataclass(slots=True)
class WorkerStats:
    batches: int = 0
    entries: int = 0
    new: int = 0
    duplicates: int = 0
    claimed: int = 0
    dead_letters: int = 0
    alerts: int = 0
    applied: int = 0  # events this worker applied to the shared behaviour state, as the leader
    replayed: int = 0  # events replayed to rebuild state on taking the lease over
    took_lease: int = 0
    lag_waits: int = 0
    held: int = 0  # pumps that waited for an older batch another worker still had in hand
    late: int = 0  # events the behaviour detectors refused as too late, while this worker led
    future: int = 0  # events refused: dated more than the skew ahead of the wall clock
    seconds: float = 0.0
    cpu_s: float = 0.0  # this process's CPU time over the run (the rest of ``seconds`` is waiting)
    # where the time went (seconds): reading the stream, screening, the store, submitting to the
    # behaviour log, and applying it as the leader (alerts stored included)
    read_s: float = 0.0
    screen_s: float = 0.0
    store_s: float = 0.0
    submit_s: float = 0.0
    pump_s: float = 0.0

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
        max_lag: int = 32,
        hold_ms: int = 2000,
        text_retention_days: float | None = None,
        drain_s: float = 10.0,
        fault: str | None = None,
        max_skew_s: float = DEFAULT_SKEW_S,
        wall: WallClock = wall_clock,
        actions: AlertActions | None = None,
        mcn: McnDesk | None = None,
        review: ReviewIntake | None = None,
    ) -> None:
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.bus, self.behaviour, self.store, self.screener = bus, behaviour, store, screener
        self.group, self.name, self.batch = group, name, batch
        self.block_ms, self.claim_idle_ms, self.claim_every_s = block_ms, claim_idle_ms, claim_every_s
        self.keep_text = keep_text
        self.max_lag, self.hold_ms, self.drain_s = max_lag, hold_ms, drain_s
        self.gate = WallGate(max_skew_s, wall)
        self.retention = TextRetention.of(store, text_retention_days, wall=wall)  # applied by the leader
        self.actions = actions  # feed actions from the alerts this worker stores (pipeline.actions)
        self.mcn = mcn  # MCN membership from authors (pipeline.mcn); None: not kept
        self.review = review  # alerts at warning+ into the staff review queue (pipeline.review)
        self.stats = WorkerStats()
        self._stopping = False
        self._fault = _parse_fault(fault)
        self.progress = ProgressLog(log, f"worker {name}")  # an INFO line every 10 s

    def stop(self, *_args: object) -> None:
        """Finish the batch in hand, acknowledge it, and return from ``run``."""
        self._stopping = True

    def run(self, *, idle_exit_s: float | None = None) -> WorkerStats:
        """Consume until ``stop()`` (or until nothing arrived for ``idle_exit_s``, for benchmarks)."""
        started, cpu = time.perf_counter(), time.process_time()
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
                t0 = time.perf_counter()
                # the leader must not sleep on an empty stream while other workers fill the log
                block = min(self.block_ms, LEADER_BLOCK_MS) if self.behaviour.leading else self.block_ms
                entries = self.bus.read(self.group, self.name, count=self.batch, block_ms=block)
                self.stats.read_s += time.perf_counter() - t0
            if entries:
                self.handle(entries)
                idle_since = time.monotonic()
            else:
                self.pump()  # idle here: apply what the other workers submitted, if we lead
                if idle_exit_s is not None and time.monotonic() - idle_since >= idle_exit_s:
                    break
            if self.progress.due():
                self._report_progress()
        self._drain()
        self.stats.seconds = time.perf_counter() - started
        self.stats.cpu_s = time.process_time() - cpu
        self.stats.applied = self.behaviour.applied_events
        self.stats.replayed = self.behaviour.replayed
        self.stats.took_lease = self.behaviour.taken_over
        self.stats.held = self.behaviour.held
        self.stats.late = max(self.behaviour.engine.late().values())
        return self.stats

    def handle(self, entries: Sequence[Entry]) -> None:
        """One batch, acknowledged only after its events are stored and submitted to behaviour."""
        entries = self._refuse_future(entries)
        bad = [e for e in entries if e.event is None]
        if bad:
            for e in bad:
                log.error("%s: entry %s is not an event (%s): dead-lettered", self.name, e.entry_id, e.error)
            self.bus.dead(self.group, bad)
            self.stats.dead_letters += len(bad)
        good = [e for e in entries if e.event is not None]
        if good:
            events = [e.event for e in good if e.event is not None]
            # the shared ingest step; an id stored with another text counts as a duplicate here
            step = store_screened(self.screener, self.store, events, keep_text=self.keep_text,
                                  find_conflicts=False)
            t2 = time.perf_counter()
            self._maybe_fail("after-store")
            last = max(stream_id(e.entry_id) or (0, 0) for e in good)
            self.behaviour.submit(step.events, step.verdicts, step.new_ids, last=last)
            self._maybe_fail("after-behaviour")
            self.bus.ack(self.group, [e.entry_id for e in good])
            if self.mcn is not None:  # MCN members from authors (only unseen pairs are written)
                self.mcn.observe(e for e, _ in step.fresh)
            self.stats.screen_s += step.screen_s
            self.stats.store_s += step.store_s
            self.stats.submit_s += time.perf_counter() - t2
            self.stats.new += len(step.new_ids)
            self.stats.duplicates += step.duplicates
        self.stats.batches += 1
        self.stats.entries += len(entries)
        self.pump()
        self._hold_back()

    def _refuse_future(self, entries: Sequence[Entry]) -> list[Entry]:
        """Entries whose event is too far ahead of the wall clock become bad entries, with why."""
        events = [e.event for e in entries if e.event is not None]
        why_of = iter(refusals(self.gate, events))  # the shared gate, as the embedded pipeline's
        out: list[Entry] = []
        for e in entries:
            why = None if e.event is None else next(why_of)
            if why is not None and e.event is not None:
                self.stats.future += 1
                raw = e.raw or e.event.model_dump_json().encode()
                e = replace(e, event=None, error=why, raw=raw)
            out.append(e)
        return out

    def pump(self) -> int:
        """As the leader, apply the behaviour log and store the alerts; returns how many alerts."""
        t0 = time.perf_counter()
        took = self.behaviour.taken_over
        alerts = self.behaviour.pump(in_flight=self._in_flight)
        if alerts:
            self._maybe_fail("after-apply")
        if self.behaviour.taken_over != took:
            self.flush_outbox()  # alerts a dead leader committed but did not store
        self._store_alerts(alerts)
        self.stats.alerts += len(alerts)
        newest = self.behaviour.newest
        if self.retention is not None and self.behaviour.leading and newest is not None:
            self.retention.advance(datetime.fromtimestamp(newest, UTC))
        self.stats.pump_s += time.perf_counter() - t0
        return len(alerts)

    def _report_progress(self) -> None:
        s = self.stats
        lag = self.bus.backlog()
        lead = ", leader" if self.behaviour.leading else ""
        self.progress.report(
            events=s.entries, batches=s.batches, extra=f"lag {lag} entries, {s.alerts} alerts{lead}"
        )

    def _in_flight(self) -> StreamId | None:
        return self.bus.oldest_in_flight(self.group, max_idle_ms=self.hold_ms)

    def _hold_back(self) -> None:
        """Not the leader, and the leader is far behind: wait instead of reading more."""
        if self.behaviour.leading or self.behaviour.lag() <= self.max_lag:
            return
        self.stats.lag_waits += 1
        while not self._stopping and self.behaviour.lag() > self.max_lag // 2:
            time.sleep(0.01)
            self.pump()  # takes the lease over if the leader is gone

    def _drain(self) -> None:
        """A stopping leader applies what is left of the log, then hands the lease back."""
        deadline = time.monotonic() + self.drain_s
        while self.behaviour.leading and self.behaviour.lag() > 0 and time.monotonic() < deadline:
            before = self.behaviour.seq
            self.pump()
            if self.behaviour.seq == before:  # held back for a batch still in another worker's hands
                time.sleep(0.01)
        self.behaviour.release()

    def flush_outbox(self) -> int:
        """Store every alert left in the outbox (by this or a dead worker); returns how many."""
        pending = self.behaviour.outbox()
        self._upsert([a for a, _ in pending])
        self._plan([a for a, _ in pending])  # planned again under the same keys: appended once
        self.behaviour.clear_outbox([(a.alert_id, raw) for a, raw in pending])
        return len(pending)

    def _store_alerts(self, alerts: Sequence[Alert]) -> None:
        # an episode emitted twice in one batch (raised, then escalated) is stored once, newest
        latest = {a.alert_id: a for a in alerts}
        self._upsert(list(latest.values()))
        self._plan(alerts)  # before the outbox is cleared: a crash here plans them again
        self.behaviour.clear_outbox([(i, alert_json(a)) for i, a in latest.items()])

    def _upsert(self, alerts: Sequence[Alert]) -> None:
        # Brigades aimed at no single user/thread/topic name a "cluster", which the store may not
        # take (see pipeline.engine): those stay in the alert stream only.
        storable = [a for a in alerts if a.subject_type in SUBJECT_TYPES]
        if storable:
            self.store.upsert_alerts(storable)
            if self.review is not None:
                self.review.alerts(storable)

    def _plan(self, alerts: Sequence[Alert]) -> None:
        if self.actions is not None and alerts:
            newest = self.behaviour.newest
            now = None if newest is None else datetime.fromtimestamp(newest, UTC)
            self.actions.on_alerts(alerts, now=now, behaviour=self.behaviour)

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
    if point not in ("after-store", "after-behaviour", "after-apply"):
        raise ValueError(f"unknown fault point {point!r}")
    return point, int(n or 1)

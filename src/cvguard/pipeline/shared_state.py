"""Behaviour state shared by every worker through Redis: one ordered log, a replica in each worker.

Why a replicated log and not per-subject records: one event touches several kinds of subject at
once (each target's pile-on windows, the thread's incitement record, every topic, eight LSH buckets
for brigades, the alert episodes), and topics and brigade buckets are hot: nearly every batch touches
them. Per-subject records with optimistic concurrency would conflict on almost every batch, and
routing by subject cannot give one owner to all the subjects of one event. So the detectors stay
exactly as they are (``BehaviourEngine``, pure, in memory) and Redis gives them a total order:

    cvguard:behaviour:log        a stream; entry ``<seq>-0`` holds the events one worker applied
    cvguard:behaviour:head       the last committed ``seq`` (WATCHed: the commit is compare-and-set)
    cvguard:behaviour:snapshot   ``engine.save()`` + the dedupe window as of some ``seq``
    cvguard:behaviour:lock       who may commit next (SET NX PX; an optimisation, not the safety)
    cvguard:behaviour:outbox     alerts committed but maybe not yet in the database, by alert_id

To apply a batch a worker takes the lock, catches its replica up by replaying the log entries it has
not seen, picks the events to apply (below), runs them through its engine, and commits one log entry
(plus the alerts to the outbox) in a MULTI guarded by WATCH on ``head``. Every replica replays the
same entries in the same order, so every worker sees the same windows. A snapshot every
``snapshot_every`` commits bounds the log and lets a new worker start without replaying history.

Exactly once, with the database in front: the store tells which events are new, but a worker can die
after the database commit and before the behaviour commit; the redelivered events then look like
duplicates to the store although behaviour never saw them. So the replicated state also keeps the
ids it applied over the last ``dedupe_horizon_s`` of event time, and an event is applied when it is
not among them and either the store says it is new or it is recent enough for that window to be
authoritative. An event older than the window that the store already holds is not applied again.
The horizon must exceed the detectors' lateness (600 s), beyond which they drop events anyway.

The alert outbox closes the other gap: a worker that dies after the behaviour commit and before the
alert upsert leaves the alerts in the outbox, and any worker writes them (upserts are idempotent).
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import secrets
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import redis
from pydantic import TypeAdapter

from cvguard.behavior import Alert, BehaviourConfig, BehaviourEngine
from cvguard.detection.verdict import Verdict
from cvguard.errors import CvguardError
from cvguard.events import Event

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "cvguard:behaviour"
_EVENTS = TypeAdapter(list[Event])
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_CLEAR = (
    "if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('hdel', KEYS[1], ARGV[1]) end"
    " return 0"
)


class StateConflict(CvguardError):
    """Another worker committed behaviour state in between (the lock expired); the batch is retried."""


class SharedBehaviour:
    """A replica of the shared behaviour state; ``apply`` commits a batch for all workers."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        config: BehaviourConfig | None = None,
        dedupe_horizon_s: float = 1800.0,
        snapshot_every: int = 200,
        lock_ttl_ms: int = 30_000,
        engine_batch: int = 512,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self.redis = client
        self.config = config
        self.dedupe_horizon_s = dedupe_horizon_s
        self.snapshot_every = snapshot_every
        self.lock_ttl_ms = lock_ttl_ms
        self.engine_batch = engine_batch
        self.k_log, self.k_head = f"{prefix}:log", f"{prefix}:head"
        self.k_snapshot, self.k_lock = f"{prefix}:snapshot", f"{prefix}:lock"
        self.k_outbox = f"{prefix}:outbox"
        self._release = client.register_script(_RELEASE)
        self._clear = client.register_script(_CLEAR)
        self.replayed = 0  # events applied from other workers' log entries (a metric)
        self.lock_wait_s = 0.0
        self._reset(BehaviourEngine(config), 0, [], -math.inf)
        self._dirty = True  # load from Redis before first use

    # -- replica state --------------------------------------------------------------------------

    def _reset(self, engine: BehaviourEngine, seq: int, seen: list[list[Any]], newest: float) -> None:
        self.engine = engine
        self.seq = seq
        self._seen: dict[str, float] = {str(i): float(t) for i, t in seen}
        self._heap = [(t, i) for i, t in self._seen.items()]
        heapq.heapify(self._heap)
        self._newest = newest

    def _reload(self) -> None:
        raw = self.redis.get(self.k_snapshot)
        if raw is None:
            self._reset(BehaviourEngine(self.config), 0, [], -math.inf)
        else:
            snap = json.loads(raw)
            engine = BehaviourEngine(self.config)
            engine.restore(snap["engine"])
            newest = -math.inf if snap["newest"] is None else float(snap["newest"])
            self._reset(engine, int(snap["seq"]), snap["seen"], newest)
        self._dirty = False

    def _note_applied(self, items: Sequence[tuple[Event, Verdict]]) -> None:
        for event, _ in items:
            t = event.occurred_at.timestamp()
            self._seen[event.event_id] = t
            heapq.heappush(self._heap, (t, event.event_id))
            self._newest = max(self._newest, t)
        floor = self._floor()
        heap, seen = self._heap, self._seen
        while heap and heap[0][0] < floor:
            t, eid = heapq.heappop(heap)
            if seen.get(eid) == t:
                del seen[eid]

    def _floor(self) -> float:
        return self._newest - self.dedupe_horizon_s

    def _replay(self, items: list[tuple[Event, Verdict]]) -> list[Alert]:
        alerts = self.engine.process_many(items, batch=self.engine_batch) if items else []
        self._note_applied(items)
        return alerts

    def sync(self, *, _attempts: int = 3) -> None:
        """Catch the replica up with every batch committed so far (by any worker)."""
        for _ in range(_attempts):
            if self._dirty:
                self._reload()
            rows: Any = self.redis.xrange(self.k_log, min=f"({self.seq}-0", max="+")
            for entry_id, fields in rows:
                seq = int(entry_id.split(b"-")[0])
                if seq != self.seq + 1:  # trimmed past us: start again from the snapshot
                    self._dirty = True
                    break
                self._dirty = True  # until the entry is fully applied
                items = _decode(fields)
                self._replay(items)
                self.replayed += len(items)
                self.seq = seq
                self._dirty = False
            else:
                return
        raise CvguardError(f"{self.k_log}: could not catch up with the shared behaviour log")

    # -- applying a batch -----------------------------------------------------------------------

    def apply(
        self, events: Sequence[Event], verdicts: Sequence[Verdict], new_ids: Sequence[str]
    ) -> list[Alert]:
        """Apply the batch's events that behaviour has not seen; returns the alerts they raised.

        ``new_ids``: the ids the store reported new for this batch. The alerts are committed to the
        outbox with the state; the caller writes them to the database, then ``clear_outbox``.
        """
        new = set(new_ids)
        for _ in range(5):
            with self._locked():
                self.sync()
                items = self._select(events, verdicts, new)
                if not items:
                    return []
                self._dirty = True  # the engine is about to change ahead of Redis
                alerts = self._replay(items)
                try:
                    self._commit(items, alerts)
                except StateConflict:
                    log.warning("behaviour state changed under us (lock expired?); retrying the batch")
                    continue
                self._dirty = False
                return alerts
        raise StateConflict("gave up after 5 conflicting commits")

    def _select(
        self, events: Sequence[Event], verdicts: Sequence[Verdict], new: set[str]
    ) -> list[tuple[Event, Verdict]]:
        floor = self._floor()
        picked: dict[str, tuple[Event, Verdict]] = {}
        for event, verdict in zip(events, verdicts, strict=True):
            eid = event.event_id
            if eid in picked or eid in self._seen:
                continue
            if eid in new or event.occurred_at.timestamp() >= floor:
                picked[eid] = (event, verdict)
        return list(picked.values())

    def _commit(self, items: list[tuple[Event, Verdict]], alerts: list[Alert]) -> None:
        seq = self.seq + 1
        with self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(self.k_head)  # type: ignore[no-untyped-call]
                head = pipe.get(self.k_head)
                if int(head or 0) != self.seq:
                    raise StateConflict(f"head is {head!r}, the replica is at {self.seq}")
                pipe.multi()
                # Keep two snapshot intervals: a replica a little behind the newest snapshot
                # still finds its next entry; one further behind reloads the snapshot.
                keep = 2 * self.snapshot_every + 2
                fields: Any = _encode(items)
                pipe.xadd(self.k_log, fields, id=f"{seq}-0", maxlen=keep, approximate=False)
                pipe.set(self.k_head, seq)
                if alerts:
                    pipe.hset(self.k_outbox, mapping={a.alert_id: alert_json(a) for a in alerts})
                if seq % self.snapshot_every == 0:
                    pipe.set(self.k_snapshot, self._snapshot(seq))
                pipe.execute()
            except redis.WatchError:
                raise StateConflict("head moved during the commit") from None
        self.seq = seq

    def _snapshot(self, seq: int) -> str:
        return json.dumps(
            {
                "seq": seq,
                "engine": self.engine.save(),
                "seen": [[i, t] for i, t in self._seen.items()],
                "newest": None if self._newest == -math.inf else self._newest,
            },
            separators=(",", ":"),
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        token = secrets.token_hex(8)
        t0 = time.perf_counter()
        delay = 0.0005
        while not self.redis.set(self.k_lock, token, nx=True, px=self.lock_ttl_ms):
            time.sleep(delay)
            delay = min(delay * 2, 0.01)
        self.lock_wait_s += time.perf_counter() - t0
        try:
            yield
        finally:
            self._release(keys=[self.k_lock], args=[token])

    # -- alerts outbox --------------------------------------------------------------------------

    def outbox(self) -> list[tuple[Alert, bytes]]:
        """Alerts committed with behaviour state and not yet confirmed written to the database."""
        values: list[bytes] = self.redis.hvals(self.k_outbox)  # type: ignore[assignment]
        return [(alert_from_json(v), v) for v in values]

    def clear_outbox(self, written: Sequence[tuple[str, bytes | str]]) -> None:
        """Forget outbox alerts once stored, unless a newer version replaced them meanwhile."""
        for alert_id, value in written:
            self._clear(keys=[self.k_outbox], args=[alert_id, value])

    # -- reads ----------------------------------------------------------------------------------

    def target_state(self, target_id: str, t: Any) -> dict[str, Any]:
        self.sync()
        return self.engine.target_state(target_id, t)

    def topic_state(self, topic_id: str, t: Any) -> dict[str, Any]:
        self.sync()
        return self.engine.topic_state(topic_id, t)


def _encode(items: Sequence[tuple[Event, Verdict]]) -> dict[str, str]:
    # Behaviour reads violation, score and categories of a verdict (and the event's text, for
    # brigades); spans and versions stay in the database.
    return {
        "events": "[" + ",".join(e.model_dump_json() for e, _ in items) + "]",
        "verdicts": json.dumps([[v.violation, v.score, v.severity, v.categories] for _, v in items]),
    }


def _decode(fields: dict[Any, Any]) -> list[tuple[Event, Verdict]]:
    events = _EVENTS.validate_json(fields[b"events"])
    rows = json.loads(fields[b"verdicts"])
    return [
        (e, Verdict(violation=v[0], score=v[1], severity=v[2], categories=v[3], spans=(), versions={}))
        for e, v in zip(events, rows, strict=True)
    ]


def alert_json(alert: Alert) -> str:
    return json.dumps(alert.to_dict(), separators=(",", ":"), sort_keys=True)


def alert_from_json(raw: bytes | str) -> Alert:
    d = json.loads(raw)
    return Alert(
        alert_id=d["alert_id"],
        kind=d["kind"],
        subject_type=d["subject_type"],
        subject_id=d["subject_id"],
        level=d["level"],
        raised_at=datetime.fromisoformat(d["raised_at"]),
        updated_at=datetime.fromisoformat(d["updated_at"]),
        evidence=d["evidence"],
        event_ids=tuple(d["event_ids"]),
    )

"""Behaviour state shared by every worker through Redis: one ordered log, applied by one leader.

Why a log and not per-subject records: one event touches several kinds of subject at once (each
target's pile-on windows, the thread's incitement record, every topic, eight LSH buckets for
brigades, the alert episodes), and topics and brigade buckets are hot: nearly every batch touches
them. Per-subject records with optimistic concurrency would conflict on almost every batch, and
routing by subject cannot give one owner to all the subjects of one event. So the detectors stay
exactly as they are (``BehaviourEngine``, pure, in memory) and Redis gives them a total order:

    cvguard:behaviour:log        a stream; entry ``<seq>-0`` holds one screened, stored batch
    cvguard:behaviour:seq        the last ``seq`` appended (INCR, in the same script as the XADD)
    cvguard:behaviour:applied    the last ``seq`` the leader applied (WATCHed: compare-and-set)
    cvguard:behaviour:passes     where each of the leader's passes ended (replays group the same)
    cvguard:behaviour:snapshot   ``engine.save()`` + the dedupe window as of some applied ``seq``
    cvguard:behaviour:leader     the lease: which worker applies the log (SET NX PX, renewed)
    cvguard:behaviour:outbox     alerts committed but maybe not yet in the database, by alert_id

Every worker screens and stores its own batches (the costly, parallel part) and *submits* them to
the log; the worker holding the lease also *pumps*: it applies the log entries after ``applied``, in
order, to its engine and commits the new ``applied`` with the alerts (outbox) and, every
``snapshot_every`` entries, a snapshot, in one MULTI guarded by WATCH on ``applied``. Behaviour work
is therefore done once per event, not once per worker, and the consumer group hands the leader
fewer stream entries because it is busier. Leadership is sticky (the leader renews its lease on
every pump); another worker takes over when the lease lapses (a dead or paused leader) or is
released (a stopping one), by loading the snapshot and replaying the applied entries after it.
The compare-and-set makes a stale leader harmless: its commit fails and its result is dropped.
Readers (the API, tests) keep a replica the same way: snapshot, then the applied entries.

Exactly once, with the database in front: the store tells which events are new, but a worker can die
after the database commit and before submitting; the redelivered events then look like duplicates to
the store although behaviour never saw them. So the applied state also keeps the ids it applied over
the last ``dedupe_horizon_s`` of event time, and an event is applied when it is not among them and
either the store said it was new or it is recent enough for that window to be authoritative. An
event older than the window that the store already holds is not applied again. A batch submitted
twice (a worker died after submitting and before acknowledging) is harmless for the same reason.
The horizon must exceed the detectors' lateness (600 s), beyond which they drop events anyway.

The alert outbox closes the last gap: a leader that dies after its commit and before the alert
upsert leaves the alerts in the outbox, and the next leader writes them (upserts are idempotent).
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

import redis

from cvguard.behavior import Alert, BehaviourConfig, BehaviourEngine, TargetState, TopicState
from cvguard.errors import CvguardError
from cvguard.events import Author, Event, Relationship, Surface
from cvguard.pipeline.redis_bus import StreamId, stream_id
from cvguard.verdict import Verdict

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "cvguard:behaviour"
_SUBMIT = (
    "local seq = redis.call('incr', KEYS[2])"
    " redis.call('xadd', KEYS[1], seq .. '-0', 'events', ARGV[1], 'verdicts', ARGV[2], 'new', ARGV[3],"
    " 'keys', ARGV[4], 'last', ARGV[5])"
    " return seq"
)
_RENEW = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end"
    " return 0"
)
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
_CLEAR = (
    "if redis.call('hget', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('hdel', KEYS[1], ARGV[1]) end"
    " return 0"
)

Item = tuple[Event, Verdict]


@dataclass(frozen=True, slots=True)
class Batch:
    """One submitted batch: its events with verdicts, the ids new to the store, and the span of
    event-stream entries it came from (None when not from the stream)."""

    items: list[Item]
    new: set[str]
    keys: list[list[str] | None]  # each text's brigade band keys, computed by the submitter
    last: StreamId | None = None


class StateConflict(CvguardError):
    """Another leader committed behaviour state in between (our lease lapsed); our result is dropped."""


class SharedBehaviour:
    """A worker's (or a reader's) view of the shared behaviour state."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = DEFAULT_PREFIX,
        config: BehaviourConfig | None = None,
        dedupe_horizon_s: float = 1800.0,
        snapshot_every: int = 200,
        lease_ms: int = 10_000,
        max_pump: int = 64,
    ) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        if lease_ms < 1:
            raise ValueError("lease_ms must be at least 1")
        self.redis = client
        self.config = config
        self.dedupe_horizon_s = dedupe_horizon_s
        self.snapshot_every = snapshot_every
        self.lease_ms = lease_ms
        self.max_pump = max_pump
        self.k_log, self.k_seq, self.k_applied = f"{prefix}:log", f"{prefix}:seq", f"{prefix}:applied"
        self.k_snapshot, self.k_leader = f"{prefix}:snapshot", f"{prefix}:leader"
        self.k_outbox, self.k_passes = f"{prefix}:outbox", f"{prefix}:passes"
        self._submit = client.register_script(_SUBMIT)
        self._renew = client.register_script(_RENEW)
        self._release = client.register_script(_RELEASE)
        self._clear = client.register_script(_CLEAR)
        self._token = secrets.token_hex(8)
        self._leading = False
        self._own: dict[int, Batch] = {}  # batches this worker submitted, not yet applied: no decode
        self.applied_events = 0  # events this replica applied as leader (a metric)
        self.replayed = 0  # events replayed from entries applied earlier, to rebuild state (a metric)
        self.taken_over = 0  # times this worker became the leader
        self.held = 0  # pumps that waited for an older batch still in flight
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
        self._own.clear()
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

    def _note_applied(self, items: Sequence[Item]) -> None:
        for event, _ in items:
            t = event.occurred_at.timestamp()
            self._seen[event.event_id] = t
            heapq.heappush(self._heap, (t, event.event_id))
            self._newest = max(self._newest, t)
        floor = self._newest - self.dedupe_horizon_s
        heap, seen = self._heap, self._seen
        while heap and heap[0][0] < floor:
            t, eid = heapq.heappop(heap)
            if seen.get(eid) == t:
                del seen[eid]

    def _select(self, batch: Batch) -> list[Item]:
        """The batch's events that behaviour applies (see the module notes on exactly once)."""
        floor = self._newest - self.dedupe_horizon_s
        picked: dict[str, Item] = {}
        for event, verdict in batch.items:
            eid = event.event_id
            if eid in picked or eid in self._seen:
                continue
            if eid in batch.new or event.occurred_at.timestamp() >= floor:
                picked[eid] = (event, verdict)
        return list(picked.values())

    def _apply_pass(self, batches: Sequence[Batch]) -> list[Alert]:
        """Apply one pass (consecutive log entries), its events in event-time order.

        Workers submit in the order they finish, not in stream order; one pass takes every batch
        the leader had, so the detectors see the events of a pass in the order they happened.
        Replays group entries into the passes the leader recorded, so every replica agrees.
        """
        picked: list[tuple[Event, Verdict, list[str] | None]] = []
        for batch in batches:
            keyed = {id(e): k for (e, _), k in zip(batch.items, batch.keys, strict=True)}
            items = self._select(batch)
            self._note_applied(items)
            picked.extend((e, v, keyed[id(e)]) for e, v in items)
        if len(batches) > 1:
            picked.sort(key=lambda item: item[0].occurred_at)  # stable: submission order on ties
        return self.engine.process_keyed(picked)

    def _entries(self, upto: int | None, count: int | None = None) -> list[tuple[int, Batch]]:
        """Log entries after this replica's ``seq`` (up to ``upto``); raises _Gap if trimmed past us."""
        if upto is not None and upto <= self.seq:
            return []
        rows: Any = self.redis.xrange(
            self.k_log, min=f"({self.seq}-0", max="+" if upto is None else f"{upto}-0", count=count
        )
        out: list[tuple[int, Batch]] = []
        expected = self.seq + 1
        for entry_id, fields in rows:
            seq = int(entry_id.split(b"-")[0])
            if seq != expected:
                raise _Gap
            own = self._own.pop(seq, None)
            out.append((seq, own if own is not None else _decode(fields)))
            expected += 1
        if upto is not None and expected <= upto:
            raise _Gap  # applied entries missing: trimmed after a newer snapshot
        return out

    def sync(self, *, _attempts: int = 3) -> None:
        """Catch this replica up with every entry applied so far (by whichever leader)."""
        for _ in range(_attempts):
            if self._dirty:
                self._reload()
            applied = int(self.redis.get(self.k_applied) or 0)
            if applied < self.seq:  # behind our own state? a snapshot from a lost commit: reload
                self._dirty = True
                continue
            try:
                entries = self._entries(applied)
                passes = self._passes(entries, applied)
            except _Gap:
                self._dirty = True
                continue
            self._dirty = True  # until the entries are fully applied
            for group in passes:
                self.replayed += sum(len(b.items) for _, b in group)
                self._apply_pass([b for _, b in group])
                self.seq = group[-1][0]
            self._dirty = False
            return
        raise CvguardError(f"{self.k_log}: could not catch up with the shared behaviour log")

    def _passes(self, entries: list[tuple[int, Batch]], applied: int) -> list[list[tuple[int, Batch]]]:
        """``entries`` (after this replica, up to ``applied``) grouped into the leader's passes."""
        if not entries:
            return []
        raw: Any = self.redis.zrangebyscore(self.k_passes, self.seq + 1, applied)
        ends = sorted(int(x) for x in raw)
        if not ends or ends[-1] != applied:
            raise _Gap  # pass boundaries trimmed past us
        out: list[list[tuple[int, Batch]]] = []
        group: list[tuple[int, Batch]] = []
        bounds = iter(ends)
        end = next(bounds)
        for seq, batch in entries:
            group.append((seq, batch))
            if seq == end:
                out.append(group)
                group = []
                end = next(bounds, applied + 1)
        if group:
            raise _Gap
        return out

    # -- submitting (every worker) --------------------------------------------------------------

    def submit(
        self,
        events: Sequence[Event],
        verdicts: Sequence[Verdict],
        new_ids: Sequence[str],
        *,
        last: StreamId | None = None,
    ) -> int:
        """Append one stored batch to the log; returns its ``seq``. Durable once this returns.

        ``last``: the newest event-stream entry the batch came from (lets the leader wait for
        older batches still in flight, see ``pump``).
        """
        if len(events) != len(verdicts):
            raise ValueError(f"{len(events)} events but {len(verdicts)} verdicts")
        items = list(zip(events, map(_slim, verdicts), strict=True))
        keys = self.engine.brigade.band_keys([e.text for e in events])  # hashing off the serial path
        fields = _encode(items, new_ids, keys)
        mark = "" if last is None else f"{last[0]}-{last[1]}"
        seq = int(self._submit(keys=[self.k_log, self.k_seq], args=[
            fields["events"], fields["verdicts"], fields["new"], fields["keys"], mark]))
        if self._leading:  # the leader applies its own batches from memory, not from the log
            self._own[seq] = Batch(items, set(new_ids), keys, last)
        return seq

    def lag(self) -> int:
        """Entries submitted and not yet applied."""
        seq, applied = self.redis.mget(self.k_seq, self.k_applied)
        return int(seq or 0) - int(applied or 0)

    # -- applying (the leader) ------------------------------------------------------------------

    @property
    def newest(self) -> float | None:
        """The newest event time this replica has applied (epoch seconds), None before any."""
        return None if self._newest == -math.inf else self._newest

    @property
    def leading(self) -> bool:
        return self._leading

    def lead(self) -> bool:
        """Take or renew the lease; True while this worker is the one that applies the log."""
        if self._leading and self._renew(keys=[self.k_leader], args=[self._token, self.lease_ms]):
            return True
        self._leading = bool(self.redis.set(self.k_leader, self._token, nx=True, px=self.lease_ms))
        if self._leading:
            self.taken_over += 1
            self._dirty = True  # another leader may have applied entries meanwhile
        else:
            self._own.clear()
        return self._leading

    def release(self) -> None:
        """Give the lease up (a stopping worker), so that another takes over at once."""
        if self._leading:
            self._release(keys=[self.k_leader], args=[self._token])
        self._leading = False
        self._own.clear()

    def pump(
        self,
        *,
        max_entries: int | None = None,
        in_flight: Callable[[], StreamId | None] | None = None,
    ) -> list[Alert]:
        """As the leader, apply the entries submitted since the last commit; returns their alerts.

        Returns ``[]`` without doing anything when another worker holds the lease. The alerts are
        committed to the outbox with the state; the caller writes them to the database, then
        ``clear_outbox``. ``in_flight`` names the oldest event-stream entry some worker is still
        processing: entries from newer stream entries wait for it (to the next pump), so that a
        slow worker's batch is not applied after the batches read behind it.
        """
        if not self.lead():
            return []
        self.sync()
        start = self.seq
        try:
            entries = self._entries(None, count=max_entries or self.max_pump)
        except _Gap:  # only a stale leader can find the log trimmed ahead of it
            self._dirty = True
            return []
        oldest = in_flight() if in_flight is not None and entries else None
        if oldest is not None:
            ready = 0
            while ready < len(entries) and (entries[ready][1].last or (0, 0)) < oldest:
                ready += 1
            for seq, batch in entries[ready:]:  # keep them for the next pump
                self._own.setdefault(seq, batch)
            entries = entries[:ready]
        if not entries:
            self.held += oldest is not None
            return []
        self._dirty = True  # the engine is about to move ahead of Redis
        alerts = self._apply_pass([b for _, b in entries])
        self.applied_events += sum(len(b.items) for _, b in entries)
        self.seq = entries[-1][0]
        snapshot = start // self.snapshot_every != self.seq // self.snapshot_every
        try:
            self._commit(start, alerts, snapshot)
        except StateConflict:
            log.warning("behaviour state was committed by another leader meanwhile; our pass is dropped")
            self._leading = False
            self._own.clear()
            return []
        self._dirty = False
        return alerts

    def _commit(self, start: int, alerts: list[Alert], snapshot: bool) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(self.k_applied)  # type: ignore[no-untyped-call]
                applied = int(pipe.get(self.k_applied) or 0)
                if applied != start:
                    raise StateConflict(f"applied is {applied}, this leader started from {start}")
                pipe.multi()
                pipe.set(self.k_applied, self.seq)
                pipe.zadd(self.k_passes, {str(self.seq): self.seq})
                if alerts:
                    pipe.hset(self.k_outbox, mapping={a.alert_id: alert_json(a) for a in alerts})
                if snapshot:
                    pipe.set(self.k_snapshot, self._snapshot())
                    # keep one snapshot interval before it for replicas a little behind; never
                    # an entry not yet applied
                    floor = max(0, self.seq - self.snapshot_every)
                    pipe.xtrim(self.k_log, minid=f"{floor + 1}-0", approximate=False)
                    pipe.zremrangebyscore(self.k_passes, 0, floor)
                pipe.execute()
            except redis.WatchError:
                raise StateConflict("applied moved during the commit") from None

    def _snapshot(self) -> str:
        return json.dumps(
            {
                "seq": self.seq,
                "engine": self.engine.save(),
                "seen": [[i, t] for i, t in self._seen.items()],
                "newest": None if self._newest == -math.inf else self._newest,
            },
            separators=(",", ":"),
        )

    def apply(
        self, events: Sequence[Event], verdicts: Sequence[Verdict], new_ids: Sequence[str]
    ) -> list[Alert]:
        """``submit`` then ``pump`` (one process doing both, as a single worker or a test does)."""
        self.submit(events, verdicts, new_ids)
        alerts: list[Alert] = []
        while self.lead():
            before = self.seq
            alerts.extend(self.pump())
            if self.seq == before:
                break
        return alerts

    # -- alerts outbox --------------------------------------------------------------------------

    def outbox(self) -> list[tuple[Alert, bytes]]:
        """Alerts committed with behaviour state and not yet confirmed written to the database."""
        values: list[bytes] = self.redis.hvals(self.k_outbox)  # type: ignore[assignment]
        return [(alert_from_json(v), v) for v in values]

    def clear_outbox(self, written: Sequence[tuple[str, bytes | str]]) -> None:
        """Forget outbox alerts once stored, unless a newer version replaced them meanwhile."""
        if not written:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            for alert_id, value in written:
                self._clear(keys=[self.k_outbox], args=[alert_id, value], client=pipe)
            pipe.execute()

    # -- reads ----------------------------------------------------------------------------------

    def target_state(self, target_id: str, t: Any) -> TargetState:
        self.sync()
        return self.engine.target_state(target_id, t)

    def topic_state(self, topic_id: str, t: Any) -> TopicState:
        self.sync()
        return self.engine.topic_state(topic_id, t)


class _Gap(Exception):
    """The log no longer holds an entry this replica needs: reload the snapshot."""


CATEGORY_FLOOR = 0.01  # category scores below this travel as absent (read as 0.0)


def _slim(verdict: Verdict) -> Verdict:
    """What behaviour reads of a verdict: violation, score, severity and the categories that
    scored at all; spans, notes and versions stay in the database. The leader applies its own
    batches in this form too, so a replay from the log sees exactly what the leader saw."""
    return Verdict(
        violation=verdict.violation,
        score=verdict.score,
        severity=verdict.severity,
        categories={k: v for k, v in verdict.categories.items() if v >= CATEGORY_FLOOR},
        spans=(),
        versions={},
    )


def _encode(
    items: Sequence[Item], new_ids: Sequence[str], keys: Sequence[list[str] | None]
) -> dict[str, str]:
    return {
        "keys": json.dumps(keys, separators=(",", ":")),
        "events": json.dumps([_event_row(e) for e, _ in items], ensure_ascii=False, separators=(",", ":")),
        "verdicts": json.dumps([[v.violation, v.score, v.severity, v.categories] for _, v in items]),
        "new": json.dumps(list(new_ids)),
    }


def _decode(fields: dict[Any, Any]) -> Batch:
    authors: dict[tuple[Any, ...], Author] = {}  # one object per author of the batch
    events = [_event_of(row, authors) for row in json.loads(fields[b"events"])]
    rows = json.loads(fields[b"verdicts"])
    items = [
        (e, Verdict(violation=v[0], score=v[1], severity=v[2], categories=v[3], spans=(), versions={}))
        for e, v in zip(events, rows, strict=True)
    ]
    keys = json.loads(fields[b"keys"])
    return Batch(items, set(json.loads(fields[b"new"])), keys, stream_id(fields.get(b"last", b"")))


# Events travel in the log as flat rows, read back without validation: a worker validated each one
# when it came off the event stream, and the leader decodes every other worker's batches, so the
# decoding is on the one serial path of the scale-out. A test checks the round trip is exact.


def _event_row(e: Event) -> list[Any]:
    a, r = e.author, e.relationship
    return [
        e.event_id, e.surface.value, e.occurred_at.isoformat(), e.text, list(e.target_ids), e.thread_id,
        list(e.topic_ids), e.reply_to, a.id, None if a.created_at is None else a.created_at.isoformat(),
        a.verified, a.minor, a.mcn_id, r.target_follows_author, r.author_follows_target,
    ]


def _event_of(row: list[Any], authors: dict[tuple[Any, ...], Author] | None = None) -> Event:
    (event_id, surface, occurred_at, text, target_ids, thread_id, topic_ids, reply_to,
     author_id, created_at, verified, minor, mcn_id, follows_author, follows_target) = row
    key = (author_id, created_at, verified, minor, mcn_id)
    author = None if authors is None else authors.get(key)
    if author is None:
        author = Author.model_construct(
            id=author_id,
            created_at=None if created_at is None else datetime.fromisoformat(created_at),
            verified=verified,
            minor=minor,
            mcn_id=mcn_id,
        )
        if authors is not None:
            authors[key] = author
    return Event.model_construct(
        event_id=event_id,
        surface=Surface(surface),
        occurred_at=datetime.fromisoformat(occurred_at),
        author=author,
        text=text,
        target_ids=tuple(target_ids),
        thread_id=thread_id,
        topic_ids=tuple(topic_ids),
        reply_to=reply_to,
        relationship=_relationship(follows_author, follows_target),
    )


@cache
def _relationship(follows_author: bool | None, follows_target: bool | None) -> Relationship:
    # frozen, and only nine possible values: shared
    return Relationship.model_construct(
        target_follows_author=follows_author, author_follows_target=follows_target
    )


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
        resolved_at=datetime.fromisoformat(d["resolved_at"]) if d.get("resolved_at") else None,
        resolution=d.get("resolution"),
    )

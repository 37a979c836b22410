"""The Redis scale path against a real Redis: the stream bus, shared behaviour state, one worker."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from cvguard.behavior import BehaviourEngine, TargetState
from cvguard.detection.screen import Screener
from cvguard.events import Event, parse_event
from cvguard.pipeline.redis_bus import RedisStreamBus
from cvguard.pipeline.shared_state import SharedBehaviour, _event_of, _event_row
from cvguard.pipeline.worker import Worker
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore
from cvguard.verdict import Verdict

# one simulated hour, 300 accounts, one labelled pile-on: about 2,000 events
CONFIG = SimConfig(seed=5, hours=1, users=300, targets=50, scenarios=("pileon",))


@pytest.fixture(scope="module")
def stream() -> tuple[dict[str, Any], list[Event], list[Verdict]]:
    lines = list(generate(CONFIG))
    events = [parse_event(x) for x in lines[1:]]
    return lines[0], events, Screener.default().screen_many([e.text for e in events])


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    try:
        yield c
    finally:
        c.close()


def windows(state: TargetState) -> dict[str, Any]:
    """The pile-on window counts of a target_state view (what must agree across workers)."""
    return {name: {k: w[k] for k in ("total", "abusive", "distinct_senders")}
            for name, w in state.pile_on["windows"].items()}


# -- the bus --------------------------------------------------------------------------------------


def test_published_events_are_delivered_once_and_pending_until_acked(
    client: redis.Redis, stream: Any
) -> None:
    _, events, _ = stream
    bus = RedisStreamBus(client)
    bus.ensure_group("g")
    bus.publish(events[:10])
    got = bus.read("g", "a", count=4, block_ms=100)
    assert [e.event for e in got] == events[:4]
    assert bus.read("g", "b", count=100, block_ms=100)[0].event == events[4]  # the rest went to b
    assert bus.pending_count("g") == 10
    bus.ack("g", [e.entry_id for e in got])
    assert bus.pending_count("g") == 6
    # "a" restarted under the same name sees only what it was given and never acknowledged
    assert bus.read("g", "a", count=100, pending=True) == []


def test_a_dead_consumers_entries_are_claimed_by_another(client: redis.Redis, stream: Any) -> None:
    _, events, _ = stream
    bus = RedisStreamBus(client)
    bus.ensure_group("g")
    bus.publish(events[:5])
    taken = bus.read("g", "dead", count=5, block_ms=100)
    assert bus.claim("g", "alive", min_idle_ms=60_000, count=10) == []  # not idle long enough yet
    claimed = bus.claim("g", "alive", min_idle_ms=0, count=10)
    assert [e.entry_id for e in claimed] == [e.entry_id for e in taken]
    assert client.xpending_range(bus.stream, "g", "-", "+", 10)[0]["consumer"] == b"alive"


def test_a_malformed_entry_is_dead_lettered_with_its_reason(client: redis.Redis) -> None:
    bus = RedisStreamBus(client)
    bus.ensure_group("g")
    client.xadd(bus.stream, {"e": json.dumps({"event_id": "x", "surface": "nope"})})
    (entry,) = bus.read("g", "a", count=10, block_ms=100)
    assert entry.event is None and entry.error is not None and "surface" in entry.error
    bus.dead("g", [entry])
    assert bus.pending_count("g") == 0
    (_, fields), = client.xrange(bus.dead_letter)
    assert fields[b"entry_id"] == entry.entry_id.encode() and b"surface" in fields[b"error"]


def test_the_stream_is_capped_and_backlog_counts_unacknowledged(client: redis.Redis, stream: Any) -> None:
    _, events, _ = stream
    bus = RedisStreamBus(client, maxlen=100)
    bus.ensure_group("g")
    bus.publish(events[:1000])
    assert client.xlen(bus.stream) < 1000  # approximate trimming: whole nodes at a time
    capped = RedisStreamBus(client, stream="other", maxlen=None)
    capped.ensure_group("g")
    capped.publish(events[:30])
    capped.read("g", "a", count=10, block_ms=100)
    assert capped.backlog() == 30  # 20 undelivered + 10 pending
    with pytest.raises(Exception, match="behind"):
        capped.publish(events[30:31], max_backlog=10, timeout_s=0.1)


# -- shared behaviour state -----------------------------------------------------------------------


def test_two_workers_see_the_same_windows_and_alerts_as_one_engine(
    client: redis.Redis, stream: Any
) -> None:
    truth, events, verdicts = stream
    target = truth["incidents"][0]["target_id"]
    a, b = SharedBehaviour(client, snapshot_every=3), SharedBehaviour(client, snapshot_every=3)
    reference = BehaviourEngine()
    expected_alerts = []
    got_alerts = []
    batches = range(0, len(events), 50)
    for n, i in enumerate(batches):  # both submit, alternating; one leader applies
        chunk, vchunk = events[i : i + 50], verdicts[i : i + 50]
        got_alerts += (a if n % 2 == 0 else b).apply(chunk, vchunk, [e.event_id for e in chunk])
        expected_alerts += reference.process_many(zip(chunk, vchunk, strict=True))
        if n == len(batches) // 2:  # the leader stops halfway: the other takes over
            assert a.leading and not b.leading
            a.release()
            got_alerts += b.pump()
    got_alerts += b.pump()  # the last batch, if the follower submitted it
    assert b.leading and not a.leading and b.taken_over == 1
    assert b.replayed < len(events) // 2  # it took over from the snapshot, not from the start
    assert b.lag() == 0 and a.applied_events + b.applied_events == len(events)
    # every alert once, in the same order, across the handover
    assert [(x.alert_id, x.level, x.updated_at) for x in got_alerts] == [
        (x.alert_id, x.level, x.updated_at) for x in expected_alerts]
    t = max(e.occurred_at for e in events)
    expected = reference.target_state(target, t)
    assert windows(a.target_state(target, t)) == windows(expected)  # a reader again: it catches up
    assert windows(b.target_state(target, t)) == windows(expected)
    assert expected.level in ("warning", "critical")
    # a replica starting now loads the latest snapshot and replays the rest of the log
    late = SharedBehaviour(client, snapshot_every=3)
    assert windows(late.target_state(target, t)) == windows(expected)
    assert late.replayed < len(events)  # it did not replay history from the start
    assert client.xlen(a.k_log) <= 2 * 3 < len(batches)  # and the applied log is trimmed


def test_a_follower_only_submits_and_the_log_waits_for_the_leader(client: redis.Redis, stream: Any) -> None:
    _, events, verdicts = stream
    leader, follower = SharedBehaviour(client), SharedBehaviour(client)
    assert leader.lead()
    assert follower.apply(events[:100], verdicts[:100], [e.event_id for e in events[:100]]) == []
    assert not follower.leading and follower.lag() == 1
    assert client.xlen(follower.k_log) == 1  # nothing trims an entry not yet applied
    leader.pump()
    assert leader.lag() == 0 and leader.engine.processed == 100


def test_a_leader_whose_state_moved_under_it_drops_its_pass(
    client: redis.Redis, stream: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, events, verdicts = stream
    shared = SharedBehaviour(client)
    shared.apply(events[:100], verdicts[:100], [e.event_id for e in events[:100]])
    shared.submit(events[100:200], verdicts[100:200], [e.event_id for e in events[100:200]])
    read_log = shared._entries
    theirs: list[int] = []

    def racing(*args: Any, **kwargs: Any) -> Any:
        out = read_log(*args, **kwargs)
        # another leader commits between our read and our commit
        theirs.append(int(client.incr(shared.k_applied)))
        return out

    monkeypatch.setattr(shared, "_entries", racing)
    assert shared.pump() == []
    assert not shared.leading  # it stepped down instead of overwriting the other's commit
    assert theirs and int(client.get(shared.k_applied) or 0) == theirs[-1]  # theirs stands


def test_redelivered_events_count_once(client: redis.Redis, stream: Any) -> None:
    truth, events, verdicts = stream
    target = truth["incidents"][0]["target_id"]
    batch, vb = events[:500], verdicts[:500]
    shared = SharedBehaviour(client)
    shared.apply(batch, vb, [e.event_id for e in batch])
    t = max(e.occurred_at for e in batch)
    before = windows(shared.target_state(target, t))
    # delivered again, stored already (by another worker, or submitted twice): nothing changes
    assert SharedBehaviour(client).apply(batch, vb, []) == []
    assert shared.apply(batch + batch, vb + vb, []) == []
    assert shared.lag() == 0 and shared.engine.processed == 500
    assert windows(shared.target_state(target, t)) == before


def test_events_stored_by_a_worker_that_died_before_behaviour_are_applied(
    client: redis.Redis, stream: Any
) -> None:
    _, events, verdicts = stream
    shared = SharedBehaviour(client, dedupe_horizon_s=1800)
    shared.apply(events[:200], verdicts[:200], [e.event_id for e in events[:200]])
    # the store already holds the next 100 (a dead worker wrote them) but behaviour never saw them
    shared.apply(events[200:300], verdicts[200:300], [])
    assert shared.engine.processed == 300
    # an event older than the dedupe horizon that the store holds is not applied again
    old = events[0].model_copy(update={"event_id": "ancient", "occurred_at": events[299].occurred_at.replace(
        year=events[299].occurred_at.year - 1)})
    shared.apply([old], verdicts[:1], [])
    assert shared.engine.processed == 300


# -- one worker, in process -----------------------------------------------------------------------


def test_a_worker_stores_every_event_once_and_acks_after(
    client: redis.Redis, stream: Any, tmp_path: Path
) -> None:
    truth, events, _ = stream
    bus = RedisStreamBus(client)
    bus.publish(events)
    bus.publish(events[:300])  # a producer retried: duplicates
    with EventStore.open(f"sqlite:///{tmp_path / 'w.db'}") as store:
        shared = SharedBehaviour(client)
        worker = Worker(bus=bus, behaviour=shared, store=store, screener=Screener.default(),
                        group="g", name="w1", batch=250, block_ms=50, text_retention_days=0.25 / 24)
        stats = worker.run(idle_exit_s=0.3)
        assert store.count_events() == len({e.event_id for e in events})
        assert stats.new == store.count_events() and stats.duplicates == 300
        assert bus.pending_count("g") == 0 and bus.backlog() == 0
        assert shared.engine.processed == store.count_events()
        stored = store.list_alerts()
        assert any(a.kind == "pile_on" and a.subject_id == truth["incidents"][0]["target_id"] for a in stored)
        assert client.hlen(shared.k_outbox) == 0
        # the leader applies the text retention (15 minutes here) in event time; hashes stay
        assert worker.retention is not None and 0 < worker.retention.purged < store.count_events()


def test_events_cross_the_behaviour_log_unchanged(stream: Any) -> None:
    # the log carries events as flat rows, read back without validation: the round trip is exact,
    # optional fields (no account age, no thread, no relationship hints) included
    _, events, _ = stream
    bare = Event.model_validate({"event_id": "x", "surface": "dm", "occurred_at": "2026-11-24T08:00:00+08:00",
                                 "author": {"id": "u"}, "text": "你好 \u200b 😀"})
    for event in [*events, bare]:
        back = _event_of(json.loads(json.dumps(_event_row(event))))
        assert back == event and back.occurred_at.tzinfo is not None
    assert bare.occurred_at.utcoffset() == _event_of(_event_row(bare)).occurred_at.utcoffset()


"""One contract for the store port, run against the in-memory twin (MemoryStore) and the real store
on SQLite and PostgreSQL: the methods both implement behave the same."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cvguard.errors import InputError, StoreError
from cvguard.events import Event
from cvguard.store import EventStore
from cvguard.store.memory import MemoryStore
from cvguard.store.port import SnapshotStore, TextPurger
from cvguard.verdict import Span, Verdict

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
VERSIONS = {"lexicon": "2026.11", "model": "zh-1"}
SPAN = Span(2, 4, "傻逼", "insult", "lexicon", match="pinyin", weight=0.75)
ABUSE = Verdict(True, 0.92, "harmful", {"insult": 0.92, "threat": 0.1}, (SPAN,), VERSIONS, ("quoted",))
CLEAN = Verdict(False, 0.03, None, {"insult": 0.03}, (), VERSIONS)

Store = EventStore | MemoryStore


class Ticking:
    """A wall clock that moves one second each time it is read (so batches are ordered by ingest)."""

    def __init__(self) -> None:
        self._n = itertools.count()

    def __call__(self) -> datetime:
        return T0 + timedelta(days=30, seconds=next(self._n))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    clock: Callable[[], datetime] = Ticking()
    if request.param == "memory":
        yield MemoryStore(clock=clock)
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cvguard.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    sql = EventStore.open(url, clock=clock)
    try:
        yield sql
    finally:
        sql.close()


def event(i: int | str, *, at: datetime = T0, text: str | None = None, **extra: Any) -> Event:
    raw: dict[str, Any] = {
        "event_id": f"ev-{i}",
        "surface": "comment",
        "occurred_at": at.isoformat(),
        "author": {"id": f"user-{i}"},
        "text": text if text is not None else f"你是傻逼 {i}",
        "target_ids": ["victim"],
    }
    raw.update(extra)
    return Event.model_validate(raw)


@dataclass
class FakeAlert:
    alert_id: str
    level: str
    updated_at: datetime
    kind: str = "pile_on"
    subject_type: str = "user"
    subject_id: str = "victim"
    raised_at: datetime = T0
    evidence: dict[str, Any] = field(default_factory=dict)
    event_ids: Sequence[str] = ()
    resolved_at: datetime | None = None
    resolution: str | None = None


def test_both_fit_the_ports_the_pipeline_checks_for(store: Store) -> None:
    assert isinstance(store, SnapshotStore) and isinstance(store, TextPurger)


# -- events -------------------------------------------------------------------------------------


def test_add_batch_is_idempotent_and_returns_the_new_ids_in_input_order(store: Store) -> None:
    batch = [event(i, at=T0 + timedelta(seconds=i)) for i in (5, 2, 9, 1)]
    new = store.add_batch(batch, [ABUSE, CLEAN, ABUSE, CLEAN], keep_text=True)
    assert new == ["ev-5", "ev-2", "ev-9", "ev-1"]
    assert store.add_batch(batch, [ABUSE] * 4, keep_text=True) == []
    assert store.add_batch([event(3), batch[0], event(3)], [CLEAN] * 3, keep_text=True) == ["ev-3"]
    assert store.count_events() == 5
    assert store.add_batch([], [], keep_text=True) == []
    with pytest.raises(StoreError, match="2 events but 1 verdicts"):
        store.add_batch([event(7), event(8)], [ABUSE], keep_text=True)
    assert store.count_events() == 5


def test_conflicts_are_ids_stored_with_another_text(store: Store) -> None:
    new = store.add_batch([event(1), event(2)], [ABUSE, ABUSE], keep_text=True)
    batch = [event(1), event(2, text="另一段话"), event(3), event(3, text="改过的"), event(4)]
    new = store.add_batch(batch, [CLEAN] * 5, keep_text=True)
    assert new == ["ev-3", "ev-4"]
    assert store.conflicts(batch, new) == ["ev-2", "ev-3"]  # ev-1 is a plain duplicate


def test_conflicts_hold_after_the_text_was_purged(store: Store) -> None:
    store.add_batch([event(1)], [ABUSE], keep_text=True)
    assert store.purge_text(T0 + timedelta(days=1)) == 1
    again = [event(1), event(1, text="别的")]
    assert store.conflicts(again, []) == ["ev-1"]


def test_get_event_reads_back_what_was_written(store: Store) -> None:
    e = event(1, thread_id="th", topic_ids=["t1"], relationship={"author_follows_target": True})
    store.add_batch([e], [ABUSE], keep_text=True)
    got = store.get_event("ev-1")
    assert got is not None and store.get_event("nope") is None
    assert (got.event_id, got.surface, got.occurred_at, got.author_id, got.target_ids, got.thread_id,
            got.topic_ids, got.author_follows_target, got.target_follows_author, got.text) == (
        "ev-1", "comment", T0, "user-1", ("victim",), "th", ("t1",), True, None, e.text)
    assert got.verdict is not None and got.verdict.to_dict() == ABUSE.to_dict()
    store.add_batch([event(2)], [CLEAN], keep_text=False)
    kept = store.get_event("ev-2")
    assert kept is not None and kept.text is None and len(kept.text_sha256) == 64


def test_last_times_and_events_since(store: Store) -> None:
    assert (store.last_ingested_at(), store.last_occurred_at()) == (None, None)
    assert list(store.events_since()) == []
    store.add_batch([event(2, at=T0 + timedelta(minutes=2)), event(1, at=T0 + timedelta(minutes=1))],
                    [ABUSE, CLEAN], keep_text=True)
    first = store.last_ingested_at()
    store.add_batch([event(3, at=T0)], [ABUSE], keep_text=True)
    assert first is not None and (last := store.last_ingested_at()) is not None and last > first
    assert store.last_occurred_at() == T0 + timedelta(minutes=2)

    def ids(chunks: Iterator[list[tuple[Event, Verdict]]]) -> list[list[str]]:
        return [[e.event_id for e, _ in chunk] for chunk in chunks]

    # batch by batch as ingested, by event time within a batch
    assert ids(store.events_since()) == [["ev-1", "ev-2", "ev-3"]]
    assert ids(store.events_since(chunk=2)) == [["ev-1", "ev-2"], ["ev-3"]]
    assert ids(store.events_since(ingested_after=first)) == [["ev-3"]]
    assert ids(store.events_since(occurred_from=T0 + timedelta(minutes=1))) == [["ev-1", "ev-2"]]
    pairs = [p for chunk in store.events_since() for p in chunk]
    e, v = pairs[1]
    assert e.text == "你是傻逼 2" and (v.violation, v.score, v.severity, v.categories) == (
        True, 0.92, "harmful", {"insult": 0.92, "threat": 0.1})


def test_what_an_alert_concerns_events_aimed_at_and_stored_pairs(store: Store) -> None:
    """The batched reads the action feed's wiring makes (pipeline.actions)."""
    rel = {"target_follows_author": True, "author_follows_target": True}
    store.add_batch(
        [
            event(1, at=T0),
            event(2, at=T0 + timedelta(minutes=5), target_ids=["victim", "other"], relationship=rel),
            event(3, at=T0 + timedelta(minutes=10), target_ids=["other"]),
            event(4, at=T0 - timedelta(hours=2)),
            event(5, at=T0 + timedelta(hours=2)),
        ],
        [ABUSE, CLEAN, ABUSE, ABUSE, ABUSE],
        keep_text=True,
    )
    aimed = store.events_aimed_at(["victim", "other", "nobody"], since=T0, until=T0 + timedelta(hours=1))
    assert {k: [e.event_id for e, _ in v] for k, v in aimed.items()} == {
        "victim": ["ev-1", "ev-2"],
        "other": ["ev-2", "ev-3"],
        "nobody": [],
    }
    e, v = aimed["victim"][1]
    assert (e.relationship.target_follows_author, e.relationship.author_follows_target) == (True, True)
    assert e.text == "你是傻逼 2" and (v.violation, v.score) == (False, 0.03)
    assert [e.event_id for e, _ in store.events_aimed_at(["victim"], since=T0)["victim"]] == [
        "ev-1", "ev-2", "ev-5"]
    pairs = store.stored_pairs(["ev-5", "ev-1", "missing", "ev-4"])
    assert [e.event_id for e, _ in pairs] == ["ev-4", "ev-1", "ev-5"]  # by event time
    assert pairs[1][1].categories == {"insult": 0.92, "threat": 0.1}


def test_purge_text_drops_old_text_in_a_range_and_keeps_the_hash(store: Store) -> None:
    store.add_batch([event(i, at=T0 + timedelta(hours=i)) for i in range(4)], [CLEAN] * 4, keep_text=True)
    before = store.get_event("ev-0")
    assert store.purge_text(T0 + timedelta(hours=2)) == 2
    assert store.purge_text(T0 + timedelta(hours=2)) == 0  # already purged
    assert store.purge_text(T0 + timedelta(hours=4), newer_than=T0 + timedelta(hours=3)) == 1
    after = store.get_event("ev-0")
    assert before is not None and after is not None
    assert after.text is None and after.text_sha256 == before.text_sha256
    kept = store.get_event("ev-2")
    assert kept is not None and kept.text == "你是傻逼 2"
    purged = [e for chunk in store.events_since() for e, _ in chunk if e.event_id == "ev-0"]
    assert purged[0].text == ""  # a purged text comes back empty


def test_snapshots_are_saved_replaced_and_loaded(store: Store) -> None:
    assert store.load_snapshot("embedded") is None
    store.save_snapshot("embedded", b"one", through=T0, fmt=1)
    store.save_snapshot("embedded", b"two", through=T0 + timedelta(hours=1), fmt=2)
    snap = store.load_snapshot("embedded")
    assert snap is not None
    assert (snap.name, snap.data, snap.format) == ("embedded", b"two", 2)
    assert snap.through == T0 + timedelta(hours=1)
    assert store.load_snapshot("other") is None


# -- alerts -------------------------------------------------------------------------------------


def test_upsert_escalates_in_place_and_an_older_state_changes_nothing(store: Store) -> None:
    evidence = {"n": 5, "timeline": [[T0, 5]]}
    first = store.upsert_alert(FakeAlert("a1", "watch", T0, evidence=evidence, event_ids=["ev-2", "ev-1"]))
    assert (first.level, first.status, first.raised_at) == ("watch", "open", T0)
    assert first.event_ids == ("ev-1", "ev-2")
    assert first.evidence == {"n": 5, "timeline": [[T0.isoformat(), 5]]}  # stored as JSON
    later = T0 + timedelta(minutes=5)
    up = store.upsert_alert(FakeAlert("a1", "critical", later, raised_at=later, evidence={"n": 50},
                                      event_ids=["ev-3"]))
    assert (up.level, up.updated_at, up.raised_at, up.evidence) == ("critical", later, T0, {"n": 50})
    assert up.event_ids == ("ev-1", "ev-2", "ev-3")
    stale = store.upsert_alert(FakeAlert("a1", "watch", T0, event_ids=["ev-0"]))
    assert (stale.level, stale.updated_at, stale.evidence) == ("critical", later, {"n": 50})
    assert stale.event_ids == ("ev-0", "ev-1", "ev-2", "ev-3")  # ids still accumulate
    assert store.get_alert("a1") == stale and store.get_alert("nope") is None


def test_a_resolution_is_recorded_once_and_a_persons_status_wins(store: Store) -> None:
    store.upsert_alerts([FakeAlert("auto", "warning", T0), FakeAlert("manual", "warning", T0)])
    set_ = store.set_alert_status("manual", status="acknowledged", actor="mod-1", note="looking", at=T0)
    assert set_ is not None
    assert (set_.status, set_.status_by, set_.status_note) == ("acknowledged", "mod-1", "looking")
    end = T0 + timedelta(hours=6)
    closing = [FakeAlert(i, "warning", end, resolved_at=end, resolution="quiet for 6h")
               for i in ("auto", "manual")]
    assert store.upsert_alerts(closing) == 2
    auto, manual = store.get_alert("auto"), store.get_alert("manual")
    assert auto is not None and manual is not None
    assert (auto.status, auto.resolved_at, auto.resolution) == ("resolved", end, "quiet for 6h")
    assert (manual.status, manual.resolved_at) == ("acknowledged", end)  # automation never overrides
    # a later emission without resolved_at keeps the recorded resolution
    again = store.upsert_alert(FakeAlert("auto", "warning", end + timedelta(minutes=1)))
    assert (again.resolved_at, again.resolution, again.status) == (end, "quiet for 6h", "resolved")
    history = store.alert_history("manual")
    assert [(c.previous_status, c.status, c.actor) for c in history] == [("open", "acknowledged", "mod-1")]
    assert store.set_alert_status("nope", status="resolved", actor="mod-1") is None
    with pytest.raises(InputError):
        store.set_alert_status("auto", status="closed", actor="mod-1")


def test_a_bad_alert_is_refused_and_a_batch_with_one_stores_none(store: Store) -> None:
    with pytest.raises(StoreError, match="level 'severe'"):
        store.upsert_alert(FakeAlert("a1", "severe", T0))
    with pytest.raises(StoreError, match="subject_type 'planet'"):
        store.upsert_alerts([FakeAlert("a2", "watch", T0),
                             FakeAlert("a3", "watch", T0, subject_type="planet")])
    assert store.list_alerts() == []


def test_list_alerts_filters_and_pages(store: Store) -> None:
    rows = [("watch", "pile_on", "victim"), ("warning", "pile_on", "victim"),
            ("critical", "brigade", "other"), ("warning", "topic", "t1")]
    for n, (level, kind, subject) in enumerate(rows):
        store.upsert_alert(FakeAlert(f"a{n}", level, T0 + timedelta(minutes=min(n, 2)), kind=kind,
                                     subject_id=subject, subject_type="topic" if kind == "topic" else "user"))
    store.set_alert_status("a0", status="false_positive", actor="mod-1")

    def ids(**filters: Any) -> list[str]:
        return [a.alert_id for a in store.list_alerts(**filters)]

    assert ids() == ["a2", "a3", "a1", "a0"]  # most recently updated first, then by id
    assert ids(subject_id="victim") == ["a1", "a0"]
    assert ids(subject_type="topic") == ["a3"]
    assert ids(kind="brigade") == ["a2"]
    assert ids(level_at_least="warning") == ["a2", "a3", "a1"]
    assert ids(since=T0 + timedelta(minutes=1)) == ["a2", "a3", "a1"]
    assert ids(until=T0 + timedelta(minutes=1)) == ["a0"]
    assert ids(status="false_positive") == ["a0"]
    assert ids(limit=1) == ["a2"]
    assert ids(after=(T0 + timedelta(minutes=2), "a2")) == ["a3", "a1", "a0"]  # keyset pages
    assert ids(after=(T0 + timedelta(minutes=1), "a1")) == ["a0"]
    with pytest.raises(StoreError):
        store.list_alerts(level_at_least="severe")

"""The store against real SQLite and PostgreSQL (each test runs on both; see tests/conftest.py)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from cvguard.errors import StoreError
from cvguard.events import Event
from cvguard.store import EventStore, alembic_config, create_store_engine, migrate, store_url
from cvguard.store.models import metadata
from cvguard.store.retention import TextRetention
from cvguard.verdict import Span, Verdict

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
VERSIONS = {"lexicon": "2026.11", "model": "zh-1"}
ABUSE = Verdict(
    violation=True,
    score=0.92,
    severity="harmful",
    categories={"insult": 0.92, "threat": 0.1},
    spans=(Span(2, 4, "傻逼", "insult", "lexicon", match="pinyin", weight=0.75),),
    versions=VERSIONS,
    notes=("quoted",),
)
CLEAN = Verdict(
    violation=False, score=0.03, severity=None, categories={"insult": 0.03}, spans=(), versions=VERSIONS
)


def event(i: int | str, *, at: datetime = T0, targets: Sequence[str] = ("victim",), **extra: Any) -> Event:
    raw: dict[str, Any] = {
        "event_id": f"ev-{i}",
        "surface": "comment",
        "occurred_at": at.isoformat(),
        "author": {"id": f"user-{i}"},
        "text": f"你是傻逼 {i}",
        "target_ids": list(targets),
    }
    raw.update(extra)
    return Event.model_validate(raw)


@dataclass
class FakeAlert:
    """What behavior.alerts will hand the store: anything with these attributes fits."""

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


# -- schema and migrations ----------------------------------------------------------------------


def test_migrations_apply_on_an_empty_database_and_again_as_a_no_op(database_url: str) -> None:
    migrate(database_url)
    migrate(database_url)  # the app and every worker call it at start
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    engine = create_store_engine(database_url)
    try:
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
            assert set(inspect(conn).get_table_names()) >= set(metadata.tables)
            # the hand-written revision creates exactly what models.py describes
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_workers_migrating_at_the_same_time_do_not_collide(database_url: str) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(database_url)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Any) -> None:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'sub' / 'x.db'}")  # creates the folder
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h:5432/db", "postgresql+psycopg"),  # the plain scheme gets psycopg 3
        ("postgres://u@h/db", "postgresql+psycopg"),  # Heroku-style alias
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///var/cvguard.db", "sqlite"),
    ],
)
def test_database_urls_are_normalised(url: str, driver: str) -> None:
    assert store_url(url).drivername == driver


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url"])
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(StoreError):
        store_url(url)


def test_in_memory_sqlite_is_a_working_twin() -> None:
    with EventStore.open("sqlite://") as store:
        assert store.add_batch([event(1)], [ABUSE], keep_text=True) == ["ev-1"]
        assert store.count_events() == 1


# -- events and verdicts ------------------------------------------------------------------------


def test_ingest_is_idempotent_by_event_id(event_store: EventStore) -> None:
    batch = [event(i, at=T0 + timedelta(seconds=i)) for i in range(20)]
    verdicts = [ABUSE if i % 2 else CLEAN for i in range(20)]
    first = event_store.add_batch(batch, verdicts, keep_text=True)
    assert first == [e.event_id for e in batch]
    # the same batch again (a redelivery): nothing new, nothing counted twice
    assert event_store.add_batch(batch, verdicts, keep_text=True) == []
    assert event_store.count_events() == 20
    # a batch mixing old and new events stores only the new ones
    assert event_store.add_batch([batch[0], event(99)], [CLEAN, CLEAN], keep_text=True) == ["ev-99"]
    assert event_store.count_events() == 21
    timeline = event_store.target_timeline("victim", since=T0, until=T0 + timedelta(hours=1))
    assert len(timeline) == 10  # no duplicated verdict or target rows either


def test_an_event_repeated_inside_one_batch_is_stored_once(event_store: EventStore) -> None:
    assert event_store.add_batch([event(1), event(1)], [ABUSE, ABUSE], keep_text=True) == ["ev-1"]
    assert event_store.count_events() == 1


def test_empty_and_mismatched_batches(event_store: EventStore) -> None:
    assert event_store.add_batch([], [], keep_text=True) == []
    with pytest.raises(StoreError, match="2 events but 1 verdicts"):
        event_store.add_batch([event(1), event(2)], [ABUSE], keep_text=True)


def test_event_and_verdict_read_back_as_written(event_store: EventStore) -> None:
    ev = event(
        7,
        at=datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=UTC),
        targets=("victim", "bystander", "victim"),
        thread_id="th-1",
        topic_ids=["topic-1"],
        reply_to="ev-0",
        author={
            "id": "user-7",
            "created_at": "2026-11-20T00:00:00+08:00",
            "verified": True,
            "minor": True,
            "mcn_id": "mcn-1",
        },
        relationship={"target_follows_author": False, "author_follows_target": True},
    )
    event_store.add_batch([ev], [ABUSE], keep_text=True)
    stored = event_store.get_event("ev-7")
    assert stored is not None
    assert stored.verdict == ABUSE
    assert stored.occurred_at == ev.occurred_at and stored.occurred_at.tzinfo is UTC
    assert stored.author_created_at == datetime(2026, 11, 19, 16, 0, tzinfo=UTC)
    assert (stored.author_verified, stored.author_minor, stored.mcn_id) == (True, True, "mcn-1")
    assert stored.target_ids == ("victim", "bystander", "victim")
    assert (stored.thread_id, stored.topic_ids, stored.reply_to) == ("th-1", ("topic-1",), "ev-0")
    assert (stored.target_follows_author, stored.author_follows_target) == (False, True)
    assert stored.text == ev.text and len(stored.text_sha256) == 64
    assert stored.ingested_at.tzinfo is UTC
    assert event_store.get_event("ev-missing") is None


def test_text_is_not_kept_when_retention_says_so(event_store: EventStore) -> None:
    event_store.add_batch([event(1)], [ABUSE], keep_text=False)
    stored = event_store.get_event("ev-1")
    assert stored is not None and stored.text is None
    assert stored.text_sha256 == event_store_sha("你是傻逼 1")


def test_text_with_a_nul_character_is_stored(event_store: EventStore) -> None:
    # PostgreSQL text cannot hold NUL: it is replaced, and the hash stays that of the original
    event_store.add_batch([event(1, text="a\x00b")], [CLEAN], keep_text=True)
    stored = event_store.get_event("ev-1")
    assert stored is not None and stored.text == "a\ufffdb"
    assert stored.text_sha256 == event_store_sha("a\x00b")


def event_store_sha(text_: str) -> str:
    import hashlib

    return hashlib.sha256(text_.encode()).hexdigest()


def test_duplicate_inserts_from_two_connections_at_once(database_url: str) -> None:
    migrate(database_url)
    stores = [EventStore.open(database_url, run_migrations=False) for _ in range(2)]
    batches = [[event(i) for i in range(k, k + 300)] for k in (0, 100)]  # overlap: 100..299
    results: list[list[str]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def ingest(n: int) -> None:
        try:
            start.wait()
            for chunk in range(0, 300, 50):
                part = batches[n][chunk : chunk + 50]
                results[n] += stores[n].add_batch(part, [ABUSE] * len(part), keep_text=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert set(results[0]).isdisjoint(results[1])  # each event claimed by exactly one writer
        assert len(results[0]) + len(results[1]) == 400
        assert stores[0].count_events() == 400
    finally:
        for s in stores:
            s.close()


def test_purge_text_keeps_the_hash_and_only_touches_old_events(event_store: EventStore) -> None:
    batch = [event(i, at=T0 + timedelta(days=i)) for i in range(5)]
    event_store.add_batch(batch, [CLEAN] * 5, keep_text=True)
    assert event_store.purge_text(T0 + timedelta(days=3)) == 3  # days 0, 1, 2
    assert event_store.purge_text(T0 + timedelta(days=3)) == 0  # nothing left to purge
    old, recent = event_store.get_event("ev-0"), event_store.get_event("ev-4")
    assert old is not None and old.text is None and old.text_sha256 == event_store_sha("你是傻逼 0")
    assert recent is not None and recent.text == "你是傻逼 4"


def test_retention_purges_in_event_time_and_only_the_range_not_yet_purged(event_store: EventStore) -> None:
    batch = [event(i, at=T0 + timedelta(hours=12 * i)) for i in range(10)]  # every 12 h, 4.5 days
    event_store.add_batch(batch, [CLEAN] * 10, keep_text=True)
    retention = TextRetention(event_store, timedelta(days=2))
    assert retention.advance(T0 + timedelta(days=4, hours=12)) == 5  # before day 2.5: 0, 12 h, ... 48 h
    assert retention.advance(T0 + timedelta(days=4, hours=12, minutes=30)) == 0  # within the hour: skipped
    assert retention.advance(T0 + timedelta(days=5)) == 1  # the 60 h event, and only the new range
    kept = [e for e in (event_store.get_event(f"ev-{i}") for i in range(10)) if e is not None and e.text]
    assert [e.event_id for e in kept] == [f"ev-{i}" for i in range(6, 10)] and retention.purged == 6


# -- reads for targets and topics ---------------------------------------------------------------


def test_target_timeline_lists_abusive_events_aimed_at_the_target_in_time_order(
    event_store: EventStore,
) -> None:
    us = timedelta(microseconds=1)
    batch = [
        event("late", at=T0 + timedelta(minutes=10)),
        event("early", at=T0),
        event("edge", at=T0 + timedelta(minutes=20) - us),  # last microsecond inside the range
        event("after", at=T0 + timedelta(minutes=20)),  # ``until`` is exclusive
        event("before", at=T0 - us),
        event("clean", at=T0 + timedelta(minutes=1)),  # not abusive
        event("other", at=T0 + timedelta(minutes=2), targets=("someone-else",)),
    ]
    verdicts = [ABUSE, ABUSE, ABUSE, ABUSE, ABUSE, CLEAN, ABUSE]
    event_store.add_batch(batch, verdicts, keep_text=True)
    timeline = event_store.target_timeline("victim", since=T0, until=T0 + timedelta(minutes=20))
    assert [e.event_id for e in timeline] == ["ev-early", "ev-late", "ev-edge"]
    first = timeline[0]
    assert (first.author_id, first.score, first.category, first.severity) == (
        "user-early",
        0.92,
        "insult",
        "harmful",
    )
    assert first.occurred_at == T0 and first.surface == "comment"


def test_topic_summary(event_store: EventStore) -> None:
    batch = [
        event(i, at=T0 + timedelta(minutes=i), topic_ids=["hot-1"], author={"id": f"u{i % 3}"})
        for i in range(6)
    ]
    event_store.add_batch(batch, [ABUSE, CLEAN, ABUSE, CLEAN, CLEAN, ABUSE], keep_text=True)
    event_store.upsert_alert(
        FakeAlert(alert_id="a-topic", level="watch", updated_at=T0, subject_type="topic", subject_id="hot-1")
    )
    summary = event_store.topic_summary("hot-1")
    assert (summary.events, summary.abusive_events, summary.authors, summary.abusive_authors) == (
        6,
        3,
        3,
        2,  # u0 wrote events 0 and 3, u2 wrote 2 and 5 (abusive: 0, 2, 5)
    )
    assert summary.abusive_share == 0.5
    assert summary.categories == {"insult": 3}
    assert (summary.first_at, summary.last_at) == (T0, T0 + timedelta(minutes=5))
    assert summary.alerts == 1
    windowed = event_store.topic_summary("hot-1", since=T0 + timedelta(minutes=3))
    assert (windowed.events, windowed.abusive_events) == (3, 1)
    empty = event_store.topic_summary("nobody-talks-about-this")
    assert (empty.events, empty.abusive_share, empty.first_at) == (0, 0.0, None)


# -- alerts -------------------------------------------------------------------------------------


def test_alert_upsert_escalates_in_place(event_store: EventStore) -> None:
    first = event_store.upsert_alert(
        FakeAlert(
            alert_id="a1",
            level="watch",
            updated_at=T0,
            evidence={"abusive": 5, "senders": 4, "timeline": [[T0, 5]]},
            event_ids=["ev-1", "ev-2"],
        )
    )
    assert (first.level, first.status, first.event_ids) == ("watch", "open", ("ev-1", "ev-2"))
    assert first.evidence["timeline"] == [[T0.isoformat(), 5]]  # timestamps come back as ISO text
    event_store.set_alert_status("a1", status="acknowledged", actor="mod-1")

    later = T0 + timedelta(minutes=5)
    escalated = event_store.upsert_alert(
        FakeAlert(
            alert_id="a1",
            level="critical",
            updated_at=later,
            raised_at=later,  # ignored: an alert is raised once
            evidence={"abusive": 50, "senders": 41},
            event_ids=["ev-2", "ev-3"],
        )
    )
    assert (escalated.level, escalated.updated_at, escalated.raised_at) == ("critical", later, T0)
    assert escalated.evidence == {"abusive": 50, "senders": 41}
    assert escalated.event_ids == ("ev-1", "ev-2", "ev-3")  # event ids accumulate
    assert escalated.status == "acknowledged"  # a moderator's status survives automation

    # a redelivered older state does not roll the alert back
    stale = event_store.upsert_alert(FakeAlert(alert_id="a1", level="watch", updated_at=T0))
    assert stale.level == "critical" and stale.updated_at == later
    assert event_store.list_alerts() == [stale]
    assert event_store.get_alert("a1") == stale
    assert event_store.get_alert("nope") is None


def test_alert_with_an_unknown_level_is_refused(event_store: EventStore) -> None:
    with pytest.raises(StoreError, match="level 'severe'"):
        event_store.upsert_alert(FakeAlert(alert_id="a1", level="severe", updated_at=T0))


def test_list_alerts_filters(event_store: EventStore) -> None:
    for n, (level, kind, subject) in enumerate(
        [
            ("watch", "pile_on", "victim"),
            ("warning", "pile_on", "victim"),
            ("critical", "brigade", "other"),
        ]
    ):
        event_store.upsert_alert(
            FakeAlert(
                alert_id=f"a{n}",
                level=level,
                kind=kind,
                subject_id=subject,
                updated_at=T0 + timedelta(minutes=n),
            )
        )

    def ids(**filters: Any) -> list[str]:
        return [a.alert_id for a in event_store.list_alerts(**filters)]

    assert ids() == ["a2", "a1", "a0"]  # most recently updated first
    assert ids(subject_id="victim") == ["a1", "a0"]
    assert ids(kind="brigade") == ["a2"]
    assert ids(level_at_least="warning") == ["a2", "a1"]
    assert ids(since=T0 + timedelta(minutes=1)) == ["a2", "a1"]
    assert ids(subject_id="victim", level_at_least="critical") == []
    assert ids(limit=1) == ["a2"]


def test_database_errors_surface_as_store_errors(tmp_path: Any) -> None:
    store = EventStore.open(f"sqlite:///{tmp_path / 'x.db'}", run_migrations=False)  # no tables
    try:
        with pytest.raises(StoreError):
            store.count_events()
    finally:
        store.close()


def test_postgres_tests_are_isolated_in_their_own_schema(postgres_url: str) -> None:
    engine = create_store_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT current_schema()")).scalar_one().startswith("cvguard_test_")
    finally:
        engine.dispose()

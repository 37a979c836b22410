"""Alerts end: behaviour resolves them, people set their status, the store keeps who and when.

The store against real SQLite and PostgreSQL (each test runs on both; see tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cvguard.behavior.alerts import Alert
from cvguard.errors import InputError
from cvguard.store import EventStore

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
WALL = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)


def alert(
    alert_id: str = "pile_on:user:victim:1",
    *,
    level: str = "warning",
    at: datetime = T0,
    resolved_at: datetime | None = None,
    resolution: str | None = None,
    **extra: Any,
) -> Alert:
    fields: dict[str, Any] = {
        "kind": "pile_on",
        "subject_type": "user",
        "subject_id": "victim",
        "raised_at": T0,
        "evidence": {"abusive": 12},
        "event_ids": ("ev-1",),
        **extra,
    }
    return Alert(
        alert_id=alert_id,
        level=level,  # type: ignore[arg-type]
        updated_at=at,
        resolved_at=resolved_at,
        resolution=resolution,
        **fields,
    )


@dataclass
class PlainAlert:
    """An alert twin without resolved_at / resolution: a store must still take it."""

    alert_id: str
    level: str
    updated_at: datetime
    kind: str = "pile_on"
    subject_type: str = "user"
    subject_id: str = "victim"
    raised_at: datetime = T0
    evidence: dict[str, Any] = field(default_factory=dict)
    event_ids: Sequence[str] = ()


def test_an_alert_that_behaviour_closes_is_resolved_with_when_and_why(event_store: EventStore) -> None:
    opened = event_store.upsert_alert(alert())
    assert (opened.status, opened.resolved_at, opened.resolution) == ("open", None, None)
    ended = T0 + timedelta(hours=7)
    closed = event_store.upsert_alert(
        alert(at=T0 + timedelta(hours=1), resolved_at=ended, resolution="quiet for 6 h")
    )
    assert (closed.status, closed.resolved_at, closed.resolution) == ("resolved", ended, "quiet for 6 h")
    assert closed.status_by is None  # automation, not a person
    assert event_store.list_alerts(status="resolved") == [closed]
    assert event_store.list_alerts(status="open") == []


def test_a_resolution_once_recorded_survives_a_redelivered_emission(event_store: EventStore) -> None:
    ended = T0 + timedelta(hours=7)
    event_store.upsert_alert(alert(at=T0 + timedelta(hours=1), resolved_at=ended, resolution="quiet"))
    # the escalation before the close, delivered again with the same event time
    again = event_store.upsert_alert(alert(at=T0 + timedelta(hours=1)))
    assert (again.status, again.resolved_at, again.resolution) == ("resolved", ended, "quiet")


def test_an_alert_first_seen_closed_is_stored_resolved(event_store: EventStore) -> None:
    stored = event_store.upsert_alert(alert(resolved_at=T0 + timedelta(hours=6), resolution="quiet"))
    assert stored.status == "resolved"


def test_an_alert_twin_without_resolution_fields_is_still_stored(event_store: EventStore) -> None:
    stored = event_store.upsert_alert(PlainAlert(alert_id="a1", level="watch", updated_at=T0))
    assert (stored.status, stored.resolved_at) == ("open", None)


@pytest.mark.parametrize("status", ["acknowledged", "false_positive", "open", "resolved"])
def test_a_persons_status_is_never_overwritten_by_escalation_or_resolution(
    event_store: EventStore, status: str
) -> None:
    event_store.upsert_alert(alert(level="watch"))
    event_store.set_alert_status("pile_on:user:victim:1", status=status, actor="alice (key k1)", at=WALL)
    escalated = event_store.upsert_alert(alert(level="critical", at=T0 + timedelta(minutes=30)))
    assert (escalated.level, escalated.status) == ("critical", status)
    ended = T0 + timedelta(hours=7)
    closed = event_store.upsert_alert(
        alert(level="critical", at=T0 + timedelta(hours=1), resolved_at=ended, resolution="quiet")
    )
    # when and why behaviour ended it is recorded; the person's status stands
    assert (closed.status, closed.resolved_at, closed.resolution) == (status, ended, "quiet")
    assert (closed.status_by, closed.status_at) == ("alice (key k1)", WALL)


def test_every_manual_change_is_recorded_with_actor_time_and_previous_status(
    event_store: EventStore,
) -> None:
    event_store.upsert_alert(alert())
    first = event_store.set_alert_status(
        "pile_on:user:victim:1", status="acknowledged", actor="alice (key k1)", at=WALL
    )
    assert first is not None
    assert (first.status, first.status_by, first.status_at, first.status_note) == (
        "acknowledged",
        "alice (key k1)",
        WALL,
        None,
    )
    later = WALL + timedelta(minutes=5)
    second = event_store.set_alert_status(
        "pile_on:user:victim:1", status="false_positive", actor="bob (key k2)", note="a fan chant", at=later
    )
    assert second is not None and (second.status, second.status_note) == ("false_positive", "a fan chant")
    history = event_store.alert_history("pile_on:user:victim:1")
    assert [(h.actor, h.changed_at, h.previous_status, h.status, h.note) for h in history] == [
        ("alice (key k1)", WALL, "open", "acknowledged", None),
        ("bob (key k2)", later, "acknowledged", "false_positive", "a fan chant"),
    ]
    assert event_store.alert_history("nope") == []


def test_setting_the_status_of_an_unknown_alert_changes_nothing(event_store: EventStore) -> None:
    assert event_store.set_alert_status("nope", status="resolved", actor="alice") is None
    assert event_store.alert_history("nope") == []


def test_a_manual_status_is_stamped_with_the_store_clock_by_default(database_url: str) -> None:
    with EventStore.open(database_url, clock=lambda: WALL) as store:
        store.upsert_alert(alert())
        changed = store.set_alert_status("pile_on:user:victim:1", status="resolved", actor="alice")
        assert changed is not None and changed.status_at == WALL


@pytest.mark.parametrize(
    ("status", "actor"),
    [
        ("dismissed", "alice"),  # not a status
        ("resolved", ""),  # nobody
        ("resolved", "x" * 257),  # longer than the column
    ],
)
def test_a_bad_status_or_actor_is_refused(event_store: EventStore, status: str, actor: str) -> None:
    event_store.upsert_alert(alert())
    with pytest.raises(InputError):
        event_store.set_alert_status("pile_on:user:victim:1", status=status, actor=actor)
    assert event_store.alert_history("pile_on:user:victim:1") == []


def test_a_note_with_a_nul_character_is_stored(event_store: EventStore) -> None:
    event_store.upsert_alert(alert())
    changed = event_store.set_alert_status(
        "pile_on:user:victim:1", status="resolved", actor="a", note="x\x00y"
    )
    assert changed is not None and changed.status_note == "x\ufffdy"  # PostgreSQL text holds no NUL


def test_keyset_pages_cover_every_alert_once_in_a_stable_order(event_store: EventStore) -> None:
    # 25 alerts on 5 distinct update times: ties are broken by alert id
    for n in range(25):
        event_store.upsert_alert(alert(f"a{n:02d}", at=T0 + timedelta(minutes=n % 5)))
    everything = event_store.list_alerts(limit=1000)
    pages: list[str] = []
    after: tuple[datetime, str] | None = None
    while True:
        page = event_store.list_alerts(limit=7, after=after)
        pages += [a.alert_id for a in page]
        if len(page) < 7:
            break
        after = (page[-1].updated_at, page[-1].alert_id)
    assert pages == [a.alert_id for a in everything]
    assert len(set(pages)) == 25
    times = [a.updated_at for a in everything]
    assert times == sorted(times, reverse=True)


def test_alerts_filter_by_update_time_range(event_store: EventStore) -> None:
    for n in range(4):
        event_store.upsert_alert(alert(f"a{n}", at=T0 + timedelta(hours=n)))
    found = event_store.list_alerts(since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=3))
    assert [a.alert_id for a in found] == ["a2", "a1"]  # from inclusive, to exclusive


def test_event_texts_give_the_text_and_spans_and_say_when_retention_purged_it(
    event_store: EventStore,
) -> None:
    from cvguard.events import Event
    from cvguard.verdict import Span, Verdict

    abuse = Verdict(
        violation=True,
        score=0.9,
        severity="harmful",
        categories={"insult": 0.9},
        spans=(Span(2, 4, "傻逼", "insult", "lexicon"),),
        versions={},
    )
    events = [
        Event.model_validate(
            {
                "event_id": f"ev-{n}",
                "surface": "comment",
                "occurred_at": (T0 + timedelta(days=n)).isoformat(),
                "author": {"id": "troll"},
                "text": f"你是傻逼{n}",
                "target_ids": ["victim"],
            }
        )
        for n in range(2)
    ]
    event_store.add_batch(events, [abuse, abuse], keep_text=True)
    event_store.purge_text(T0 + timedelta(hours=12))  # ev-0 is past retention
    texts = event_store.event_texts(["ev-0", "ev-1", "ev-unknown"])
    assert set(texts) == {"ev-0", "ev-1"}
    assert texts["ev-0"].text is None
    assert texts["ev-1"].text == "你是傻逼1"
    assert texts["ev-1"].spans == (Span(2, 4, "傻逼", "insult", "lexicon"),)


def test_people_changing_one_alert_at_once_each_record_the_status_they_replaced(database_url: str) -> None:
    import threading

    with EventStore.open(database_url) as store:
        store.upsert_alert(alert())
    errors: list[BaseException] = []
    statuses = ["acknowledged", "resolved", "false_positive", "open"] * 3

    def change(n: int) -> None:
        try:
            with EventStore.open(database_url, run_migrations=False) as own:
                own.set_alert_status("pile_on:user:victim:1", status=statuses[n], actor=f"mod-{n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=change, args=(n,)) for n in range(len(statuses))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with EventStore.open(database_url, run_migrations=False) as store:
        history = store.alert_history("pile_on:user:victim:1")
        final = store.get_alert("pile_on:user:victim:1")
    assert len(history) == len(statuses)
    # each change names the status the one before it set: no lost update, no invented predecessor
    assert [h.previous_status for h in history] == ["open", *[h.status for h in history[:-1]]]
    assert final is not None and (final.status, final.status_by) == (history[-1].status, history[-1].actor)


def _migrate_to(url: str, revision: str, *, down: bool = False) -> None:
    from alembic import command

    from cvguard.store import alembic_config, create_store_engine

    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            (command.downgrade if down else command.upgrade)(config, revision)
            conn.commit()
    finally:
        engine.dispose()


def test_the_lifecycle_migration_keeps_alerts_and_their_events_both_ways(database_url: str) -> None:
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from cvguard.store import alembic_config

    before = ScriptDirectory.from_config(alembic_config()).get_revision("2026_11_30_0002").down_revision
    assert isinstance(before, str)
    _migrate_to(database_url, before)
    with EventStore.open(database_url, run_migrations=False) as old, old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO alerts (alert_id, kind, subject_type, subject_id, level, status, raised_at, "
                "updated_at, evidence) VALUES ('pile_on:user:victim:1', 'pile_on', 'user', 'victim', "
                "'warning', 'open', :t, :t, '{}')"
            ),
            {"t": T0.replace(tzinfo=None) if "sqlite" in database_url else T0},
        )
        conn.execute(text("INSERT INTO alert_events VALUES ('pile_on:user:victim:1', 'ev-1')"))
    _migrate_to(database_url, "head")
    with EventStore.open(database_url) as store:
        kept = store.get_alert("pile_on:user:victim:1")
        assert kept is not None and (kept.status, kept.event_ids) == ("open", ("ev-1",))
        # an alert about a subject id as long as events allow now fits (PostgreSQL refused it)
        long_id = "u" * 128
        stored = store.upsert_alert(alert(f"pile_on:user:{long_id}:1", subject_id=long_id))
        assert stored.subject_id == long_id
        store.set_alert_status("pile_on:user:victim:1", status="resolved", actor="alice")
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM alerts WHERE alert_id <> 'pile_on:user:victim:1'"))
    _migrate_to(database_url, before, down=True)
    with EventStore.open(database_url, run_migrations=False) as old, old.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT a.alert_id, e.event_id FROM alerts a JOIN alert_events e ON e.alert_id = a.alert_id")
        ).all()
        assert [tuple(r) for r in rows] == [("pile_on:user:victim:1", "ev-1")]

"""The people store on SQLite and PostgreSQL: groups, shields with history, offers, filtered folders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.protection import Shield, ShieldChange, new_shield
from cvguard.store.people import FilteredItem, PeopleStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def people(database_url: str) -> Iterator[PeopleStore]:
    store = PeopleStore.open(database_url)
    try:
        yield store
    finally:
        store.close()


def _item(user: str, event: str, at: datetime, action: str = "hide_from_target") -> FilteredItem:
    return FilteredItem(user, event, "comment", action, "chat-protected", "held back", ("a1",), at)


def test_groups_round_trip_and_replace(people: PeopleStore) -> None:
    assert people.groups("u1") == frozenset()
    people.set_groups("u1", frozenset({"minor", "hot_event_bystander"}), actor="moderator:k")
    assert people.groups("u1") == {"minor", "hot_event_bystander"}
    people.set_groups("u1", frozenset({"minor"}), actor="platform:k")
    assert people.groups("u1") == {"minor"}


def test_offer_time_kept_beside_groups(people: PeopleStore) -> None:
    people.set_groups("u1", frozenset({"minor"}), actor="m")
    people.set_offered("u1", T0)
    assert people.offered_at("u1") == T0
    assert people.groups("u1") == {"minor"}  # an offer does not touch the groups
    people.set_offered("u2", T0)
    assert people.groups("u2") == frozenset()


def test_shield_written_with_its_history(people: PeopleStore) -> None:
    shield = new_shield("u1", at=T0, duration_days=7, actor="cvguard", reason="pile-on", alert_id="a1")
    people.put_shield(shield, ShieldChange("on", T0, "cvguard", "pile-on", "a1"))
    assert people.shield("u1") == shield
    off = Shield(
        **{
            **{
                f: getattr(shield, f)
                for f in (
                    "user_id",
                    "started_at",
                    "ends_at",
                    "scopes",
                    "audience",
                    "close_friends",
                    "actor",
                    "reason",
                    "alert_id",
                )
            },
            "off_at": T0 + timedelta(hours=1),
            "off_by": "u1",
        }
    )
    people.put_shield(off, ShieldChange("off", T0 + timedelta(hours=1), "u1", "I am fine"))
    assert people.shield("u1") == off
    assert [(h.change, h.actor) for h in people.history("u1")] == [("on", "cvguard"), ("off", "u1")]
    assert people.shield("nobody") is None


def test_changed_since_sees_newer_rows_only(people: PeopleStore) -> None:
    people.set_groups("u1", frozenset({"minor"}), actor="m")
    first = people.changed_since(None)
    assert first.groups == {"u1": {"minor"}} and first.newest is not None
    people.put_shield(
        new_shield("u2", at=T0, duration_days=3, actor="u2", reason="r"), ShieldChange("on", T0, "u2", "r")
    )
    later = people.changed_since(first.newest + timedelta(microseconds=1))
    assert set(later.shields) == {"u2"} and later.groups == {}


def test_filtered_folder_is_idempotent_paged_and_restorable(people: PeopleStore) -> None:
    items = [_item("u1", f"e{i}", T0 + timedelta(minutes=i)) for i in range(5)]
    assert people.add_filtered(items) == 5
    assert people.add_filtered([*items[:2], _item("u2", "e0", T0)]) == 1  # the first write stays
    page, total = people.filtered("u1", offset=0, limit=2)
    assert total == 5 and [i.event_id for i in page] == ["e4", "e3"]  # newest first
    restored = people.restore("u1", "e3", by="u1")
    assert restored is not None and restored.restored_by == "u1"
    assert people.restore("u1", "e3", by="admin:x") == restored  # again: a no-op
    assert people.restore("u1", "nope", by="u1") is None
    page, total = people.filtered("u1", offset=0, limit=10)
    assert total == 4 and "e3" not in [i.event_id for i in page]
    _, total = people.filtered("u1", restored=True)
    assert total == 5
    assert people.filtered("u2")[0][0].alert_ids == ("a1",)


def test_a_book_sees_another_processs_changes_after_its_poll(database_url: str) -> None:
    from cvguard.pipeline.protection import PeopleBook

    ticks = [0.0]
    a, b = PeopleStore.open(database_url), PeopleStore.open(database_url)
    try:
        writer = PeopleBook(a)
        reader = PeopleBook(b, poll_s=1.0, monotonic=lambda: ticks[0])
        writer.set_groups("u1", frozenset({"minor"}), actor="m")
        writer.turn_on("u2", at=T0, duration_days=7, scopes=frozenset({"comments"}), audience="strangers",
                       close_friends=frozenset(), actor="u2", reason="r")
        reader.refresh()
        assert reader.groups_of("u1") == frozenset()  # polled less than a second ago
        ticks[0] = 1.0
        reader.refresh()
        assert reader.groups_of("u1") == {"minor"}
        shield = reader.shield_of("u2")
        assert shield is not None and shield.on_at(T0.timestamp())
        writer.set_groups("u1", frozenset(), actor="m")  # cleared
        ticks[0] = 2.0
        reader.refresh()
        assert reader.groups_of("u1") == frozenset()
        with pytest.raises(ValueError, match="unknown key group"):
            writer.set_groups("u1", frozenset({"teenager"}), actor="m")
    finally:
        a.close()
        b.close()

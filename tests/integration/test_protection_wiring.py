"""Auto-shields and prompts in the feed: planned with the alert's actions, appended once however often
the same emissions are planned again, written only after the append, and a person's decision wins."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cvguard.behavior import Alert
from cvguard.errors import StoreError
from cvguard.pipeline.actions import AlertActions
from cvguard.pipeline.protection import PeopleBook
from cvguard.policy import default_policy
from cvguard.store import EventStore
from cvguard.store.actions import ActionFeed
from cvguard.store.people import PeopleStore

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _alert(user: str, level: str = "warning", *, at: datetime = T0, episode: int = 1) -> Alert:
    return Alert(f"pile_on:user:{user}:{episode}", "pile_on", "user", user, level, at, at)  # type: ignore[arg-type]


@pytest.fixture
def wired(tmp_path: Path) -> Iterator[tuple[AlertActions, PeopleBook]]:
    store = EventStore.open(f"sqlite:///{tmp_path / 'cvguard.db'}")
    book = PeopleBook(PeopleStore(store.engine))
    policy = default_policy()
    try:
        yield AlertActions(ActionFeed(store.engine), store, lambda: policy, protection=book), book
    finally:
        store.close()


def _kinds(actions: AlertActions) -> list[tuple[str, str]]:
    return [(e.kind, e.subject) for e in actions.feed.after(0, 1000)[0]]


def test_planned_again_appends_nothing_twice(wired: tuple[AlertActions, PeopleBook]) -> None:
    actions, book = wired
    book.set_groups("kid", frozenset({"minor"}), actor="moderator:k")
    emissions = [_alert("kid"), _alert("adult"), _alert("adult", "critical")]
    actions.on_alerts(emissions)
    actions.on_alerts(emissions)  # a resumed pipeline raising them again
    assert sorted(_kinds(actions)) == [("offer_protection", "adult"), ("protection_on", "kid")]
    shield = book.shield_of("kid")
    assert shield is not None and shield.actor == "cvguard" and shield.on_at(T0.timestamp())
    # a new episode the next hour: no second offer within the cool-down
    actions.on_alerts([_alert("adult", at=T0 + timedelta(hours=1), episode=2)])
    assert len(_kinds(actions)) == 2
    actions.on_alerts([_alert("adult", at=T0 + timedelta(hours=25), episode=3)])
    assert _kinds(actions)[-1] == ("offer_protection", "adult")


def test_a_failed_append_writes_no_shield_and_is_planned_again(
    wired: tuple[AlertActions, PeopleBook],
) -> None:
    actions, book = wired
    book.set_groups("kid", frozenset({"minor"}), actor="m")
    real = actions.feed.append

    def failing(planned: object) -> object:
        raise StoreError("the action feed failed: OperationalError")

    actions.feed.append = failing  # type: ignore[method-assign,assignment]
    with pytest.raises(StoreError):
        actions.on_alerts([_alert("kid")])
    assert book.shield_of("kid") is None
    actions.feed.append = real  # type: ignore[method-assign]
    actions.on_alerts([_alert("kid")])
    assert _kinds(actions) == [("protection_on", "kid")] and book.shield_of("kid") is not None


def test_a_persons_off_is_not_undone_by_the_next_warning(wired: tuple[AlertActions, PeopleBook]) -> None:
    actions, book = wired
    book.set_groups("kid", frozenset({"minor"}), actor="m")
    actions.on_alerts([_alert("kid")])
    assert book.turn_off("kid", at=T0 + timedelta(hours=1), actor="kid", reason="I am fine") is not None
    actions.on_alerts([_alert("kid", "critical", at=T0 + timedelta(hours=2))])
    shield = book.shield_of("kid")
    assert shield is not None and not shield.on_at((T0 + timedelta(hours=2)).timestamp())
    assert [h.change for h in book.history("kid")] == ["on", "off"]


def test_the_reminder_comes_with_an_emission_once_it_is_due(wired: tuple[AlertActions, PeopleBook]) -> None:
    actions, book = wired
    shield = book.turn_on("u1", at=T0, duration_days=3, scopes=frozenset({"comments"}), audience="strangers",
                          close_friends=frozenset(), actor="u1", reason="r")
    actions.on_alerts([_alert("other")], now=T0 + timedelta(days=1))  # not due yet
    assert ("protection_ending", "u1") not in _kinds(actions)
    due = shield.ends_at - timedelta(hours=12)
    actions.on_alerts([_alert("other", "critical", at=due)], now=due)
    actions.on_alerts([_alert("other", "critical", at=due)], now=due + timedelta(hours=1))
    assert _kinds(actions).count(("protection_ending", "u1")) == 1

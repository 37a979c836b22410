"""Auto-shields and prompts in the feed: planned with the alert's actions, appended once however often
the same emissions are planned again, written only after the append, and a person's decision wins;
the same for the early signal's (``PeopleBook.watch``), whose failed append does not stop a batch."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cvguard.behavior import Alert
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import StoreError
from cvguard.events import Author, Event, Relationship
from cvguard.pipeline import Pipeline
from cvguard.pipeline.actions import AlertActions
from cvguard.pipeline.protection import PeopleBook
from cvguard.policy import default_policy
from cvguard.store import EventStore
from cvguard.store.actions import ActionFeed
from cvguard.store.people import PeopleStore
from cvguard.verdict import Verdict

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


# -- the early signal (PeopleBook.watch) ------------------------------------------------------------


def _insults(target: str, n: int = 2) -> list[tuple[Event, Verdict]]:
    """``n`` strangers' insults aimed at ``target``, a minute apart, screened."""
    verdict = Verdict(True, 0.95, "harmful", {"insult": 0.95}, (), {})
    return [
        (
            Event(
                event_id=f"{target}-{i}", surface="comment", occurred_at=T0 + timedelta(minutes=i),
                author=Author(id=f"troll{i}"), text="你就是个废物", target_ids=[target],
                relationship=Relationship(target_follows_author=False),
            ),
            verdict,
        )
        for i in range(n)
    ]


def test_early_prompts_are_appended_once_across_a_restart(
    wired: tuple[AlertActions, PeopleBook], tmp_path: Path
) -> None:
    actions, book = wired
    book.set_groups("kid", frozenset({"minor"}), actor="m")
    items = _insults("adult") + _insults("kid")
    assert {s.user_id for s in book.watch(items, actions.feed)} == {"adult", "kid"}
    assert sorted(_kinds(actions)) == [("offer_protection", "adult"), ("protection_on", "kid")]
    shield = book.shield_of("kid")
    assert shield is not None and shield.alert_id is not None
    assert shield.alert_id.startswith("early:user:kid:")
    # a restarted process sees the same events again: the offer time and the shield are stored
    again = PeopleBook(book.store)
    again.watch(items, actions.feed)
    assert len(_kinds(actions)) == 2
    # the warning that follows: nothing more (the cool-down, the shield on)
    later = T0 + timedelta(minutes=5)
    actions.on_alerts([_alert("adult", at=later), _alert("kid", at=later)])
    assert len(_kinds(actions)) == 2


def test_a_failed_early_append_writes_nothing_and_is_planned_with_the_next_batch(
    wired: tuple[AlertActions, PeopleBook],
) -> None:
    actions, book = wired
    real = actions.feed.append

    def failing(planned: object) -> object:
        raise StoreError("the action feed failed: OperationalError")

    actions.feed.append = failing  # type: ignore[method-assign,assignment]
    assert [s.user_id for s in book.watch(_insults("adult"), actions.feed)] == ["adult"]  # no raise
    assert book.store.changed_since(None).offered.get("adult") is None
    actions.feed.append = real  # type: ignore[method-assign]
    book.watch([], actions.feed)
    assert _kinds(actions) == [("offer_protection", "adult")]
    assert book.store.changed_since(None).offered.get("adult") == T0 + timedelta(minutes=1)


def test_a_signal_after_a_warning_of_the_same_batch_is_left_to_the_warning(
    wired: tuple[AlertActions, PeopleBook],
) -> None:
    actions, book = wired
    warning = _alert("adult", at=T0 + timedelta(seconds=30))  # before the second insult (at 1 min)
    assert book.watch(_insults("adult"), actions.feed, [warning])
    assert _kinds(actions) == []  # nothing from the signal
    actions.on_alerts([warning])
    (entry,) = actions.feed.after(0, 10)[0]
    assert entry.kind == "offer_protection" and entry.params["alert_id"] == warning.alert_id


def test_the_early_signal_survives_a_checkpoint(tmp_path: Path) -> None:
    # one stranger's insult before a restart, a second stranger's after it: still a crowd (the
    # watch's state is in the pipeline's checkpoint), prompted once
    settings = Settings(data_dir=tmp_path)
    screener = Screener.default()
    at = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # before the wall clock: not refused as future

    def insult(i: int) -> Event:
        return Event(
            event_id=f"x{i}", surface="comment", occurred_at=at + timedelta(minutes=i),
            author=Author(id=f"troll{i}", created_at=datetime(2020, 1, 1, tzinfo=UTC)),
            text="滚出网络吧你这个垃圾", target_ids=["dana"],
            relationship=Relationship(target_follows_author=False),
        )

    with Pipeline.open(settings, screener=screener) as first:
        first.ingest([insult(0)])
        assert first.checkpoint()
    with Pipeline.open(settings, screener=screener) as second:
        second.ingest([insult(1)])
        assert second.actions is not None
        entries = second.actions.feed.after(0, 100)[0]
    offers = [e for e in entries if e.kind == "offer_protection"]
    assert [(e.subject, e.params["signal"], e.params["event_ids"]) for e in offers] == [
        ("dana", "crowd", ["x0", "x1"])
    ]

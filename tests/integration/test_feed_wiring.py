"""Feed actions wired from alerts (pipeline/actions.py): the embedded pipeline plans every alert
emission into the feed in the store's database, once across a crash and resume and a replay of the
same events; a moderator's false positive undoes what the alert caused and it causes nothing more;
in scale-out the behaviour leader's worker plans the alerts it stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import StoreError
from cvguard.events import Event, parse_event
from cvguard.pipeline import Pipeline
from cvguard.pipeline.actions import AlertActions, policy_of
from cvguard.pipeline.redis_bus import RedisStreamBus
from cvguard.pipeline.shared_state import SharedBehaviour
from cvguard.pipeline.worker import Worker
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore
from cvguard.store.actions import ActionFeed, FeedEntry

CHUNK = 100


@pytest.fixture(scope="module")
def raw_stream() -> tuple[str, list[dict[str, Any]]]:
    truth, *events = generate(SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",)))
    (labelled,) = truth["incidents"]
    return labelled["target_id"], events


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


def _events(raw: list[dict[str, Any]]) -> list[Event]:
    return [parse_event(x) for x in raw]


def _all(feed: ActionFeed) -> list[FeedEntry]:
    out: list[FeedEntry] = []
    cursor = 0
    while True:
        page, cursor = feed.after(cursor, limit=1000)
        if not page:
            return out
        out += page


def test_the_pipeline_plans_each_alert_into_the_feed_once_across_a_crash_and_a_replay(
    database_url: str, tmp_path: Path, raw_stream: tuple[str, list[dict[str, Any]]], screener: Screener
) -> None:
    target, raw = raw_stream
    events = _events(raw)
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    first = Pipeline.open(settings, screener=screener)
    try:
        alerts = [a for i in range(0, len(events), CHUNK) for a in first.ingest(events[i : i + CHUNK]).alerts]
        assert first.actions is not None
        before = _all(first.actions.feed)
        kinds = {(e.kind, e.alert_id.split(":")[0] if e.alert_id else None) for e in before}
        assert {("hide_from_target", "pile_on"), ("guidance_note", "topic"), ("lock_topic", "topic")} <= kinds
        pile_on = next(a.alert_id for a in alerts if a.kind == "pile_on" and a.subject_id == target)
        assert all(e.params == {"target_id": target} for e in before if e.alert_id == pile_on)
        # a crash: no checkpoint was written, so a new process feeds the stored events to behaviour
        # again and raises the same alerts; planned again, they append nothing
        second = Pipeline.open(settings, screener=screener)
        try:
            assert second.stats.resumed == len(events) and second.resumed_alerts
            assert second.actions is not None
            assert _all(second.actions.feed) == before
            # the same events posted again: duplicates, no alert, nothing appended
            for i in range(0, len(events), CHUNK):
                assert second.ingest(events[i : i + CHUNK]).alerts == []
            assert _all(second.actions.feed) == before
        finally:
            second.close()
    finally:
        first.store.close()


def test_a_failed_append_is_retried_with_the_next_batch(
    tmp_path: Path, raw_stream: tuple[str, list[dict[str, Any]]], screener: Screener
) -> None:
    _, raw = raw_stream
    events = _events(raw)
    with Pipeline.open(Settings(data_dir=tmp_path), screener=screener) as pipeline:
        actions = pipeline.actions
        assert actions is not None
        real = actions.on_alerts
        failures: list[int] = []

        def failing_once(alerts: Any, **kw: Any) -> list[FeedEntry]:
            if not failures and any(a.kind == "pile_on" and a.level == "critical" for a in alerts):
                failures.append(len(alerts))
                raise StoreError("the action feed failed: OperationalError")
            return real(alerts, **kw)

        actions.on_alerts = failing_once  # type: ignore[method-assign]
        with pytest.raises(StoreError):
            for i in range(0, len(events), CHUNK):
                pipeline.ingest(events[i : i + CHUNK])
        # alerts stored, not planned (a protection prompt at an earlier warning is not the alert's,
        # nor a sanction graded from a violation)
        planned = [
            e for e in _all(actions.feed) if e.kind not in ("offer_protection", "protection_on", "sanction")
        ]
        assert pipeline.pending_alerts == 0 and planned == []
        pipeline.ingest([])  # the next batch plans them
        assert {"hide_from_target"} <= {e.kind for e in _all(actions.feed)}


def test_a_false_positive_undoes_what_the_alert_caused_and_it_causes_nothing_more(
    tmp_path: Path, raw_stream: tuple[str, list[dict[str, Any]]], screener: Screener
) -> None:
    target, raw = raw_stream
    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), screener)
    with api_client(app, role="platform") as platform, api_client(app, role="moderator") as moderator:
        pile_on: str | None = None
        rest = 0
        for i in range(0, len(raw), CHUNK):
            response = platform.post("/v1/events", json={"events": raw[i : i + CHUNK]})
            assert response.status_code == 200, response.text
            alerts = response.json()["alerts"]
            found = [a for a in alerts if a["kind"] == "pile_on" and a["level"] == "critical"]
            if found:
                pile_on = found[0]["alert_id"]
                rest = i + CHUNK
                break
        assert pile_on is not None
        feed = platform.get("/v1/actions", params={"limit": 1000}).json()["actions"]
        caused = [a for a in feed if a["alert_id"] == pile_on]
        assert caused and all(a["kind"] == "hide_from_target" for a in caused)
        marked = {"status": "false_positive", "note": "banter"}
        response = moderator.patch(f"/v1/alerts/{pile_on}", json=marked)
        assert response.status_code == 200, response.text
        feed = platform.get("/v1/actions", params={"limit": 1000}).json()["actions"]
        undone = [a for a in feed if a["alert_id"] == pile_on and a["undoes"] is not None]
        assert {a["undoes"] for a in undone} == {a["key"] for a in caused}
        assert all(a["kind"] == "restore" and a["params"] == {"target_id": target} for a in undone)
        assert "false positive" in undone[0]["reason"]
        # the pile-on goes on (escalates, resolves later): nothing more for this alert
        for i in range(rest, len(raw), CHUNK):
            assert platform.post("/v1/events", json={"events": raw[i : i + CHUNK]}).status_code == 200
        after = platform.get("/v1/actions", params={"limit": 1000}).json()["actions"]
        assert [a for a in after if a["alert_id"] == pile_on] == [*caused, *undone]
        # marking it again appends nothing twice
        moderator.patch(f"/v1/alerts/{pile_on}", json={"status": "false_positive"})
        again = platform.get("/v1/actions", params={"limit": 1000}).json()["actions"]
        assert len(again) == len(after)


def test_an_alert_reopened_after_a_false_positive_acts_again_once_per_reopening(
    tmp_path: Path, raw_stream: tuple[str, list[dict[str, Any]]], screener: Screener
) -> None:
    _target, raw = raw_stream
    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), screener)
    with api_client(app, role="platform") as platform, api_client(app, role="moderator") as moderator:
        pile_on: str | None = None
        for i in range(0, len(raw), CHUNK):
            response = platform.post("/v1/events", json={"events": raw[i : i + CHUNK]})
            assert response.status_code == 200, response.text
            alerts = response.json()["alerts"]
            found = [a for a in alerts if a["kind"] == "pile_on" and a["level"] == "critical"]
            if found:
                pile_on = found[0]["alert_id"]
                break
        assert pile_on is not None

        def mine() -> list[dict[str, Any]]:
            feed = platform.get("/v1/actions", params={"limit": 1000}).json()["actions"]
            return [a for a in feed if a["alert_id"] == pile_on]

        caused = mine()
        assert caused
        for round_ in (1, 2):
            marked = moderator.patch(f"/v1/alerts/{pile_on}", json={"status": "false_positive"})
            assert marked.status_code == 200
            before = mine()
            assert moderator.patch(f"/v1/alerts/{pile_on}", json={"status": "open"}).status_code == 200
            redone = mine()[len(before) :]
            # each action the marking undid is done again, once, under a key of its own
            assert sorted((a["kind"], a["subject"]) for a in redone) == sorted(
                (a["kind"], a["subject"]) for a in caused
            )
            assert all(a["undoes"] is None and "reopened" in a["reason"] for a in redone)
            assert all(a["key"].endswith(f"/again/{round_}") for a in redone)
            # reopening again (already open) adds nothing
            acknowledged = moderator.patch(f"/v1/alerts/{pile_on}", json={"status": "acknowledged"})
            assert acknowledged.status_code == 200
            assert len(mine()) == len(before) + len(redone)
        # and a false positive after a reopening undoes what the reopening did
        moderator.patch(f"/v1/alerts/{pile_on}", json={"status": "false_positive"})
        feed = mine()
        live = {a["key"] for a in feed if a["undoes"] is None} - {a["undoes"] for a in feed}
        assert live == set()


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    try:
        yield c
    finally:
        c.close()


def test_in_scale_out_the_leader_plans_the_alerts_it_stores(
    client: redis.Redis, tmp_path: Path, raw_stream: tuple[str, list[dict[str, Any]]], screener: Screener
) -> None:
    target, raw = raw_stream
    bus = RedisStreamBus(client)
    bus.publish(_events(raw))
    settings = Settings(data_dir=tmp_path)
    with EventStore.open(settings.database_url) as store:
        feed = ActionFeed(store.engine)
        worker = Worker(
            bus=bus, behaviour=SharedBehaviour(client), store=store, screener=screener, group="g", name="w1",
            batch=100, block_ms=50, actions=AlertActions(feed, store, policy_of(settings)),
        )
        worker.run(idle_exit_s=0.5)
        entries = _all(feed)
        assert {"hide_from_target", "guidance_note", "lock_topic"} <= {e.kind for e in entries}
        assert any(e.params.get("target_id") == target for e in entries)
        # a new leader flushing an outbox (the same alerts again) appends nothing
        assert worker.actions is not None
        worker.actions.on_alerts([a for a, _ in worker.behaviour.outbox()])
        assert _all(feed) == entries

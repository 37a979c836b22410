"""Private messages end to end: ``POST /v1/events`` with ``dm`` events → decisions (a stranger's
second message blocked until the recipient replies, a flood blocked, abuse to the filtered folder),
repeated abuse escalated and read by staff through ``GET /v1/escalations``, the state kept across
a restart; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.events import Event
from cvguard.pipeline import Pipeline
from cvguard.protection.dm import Escalation
from cvguard.store import EventStore
from cvguard.store.dm import EscalationStore

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)  # the past: the wall clock admits it
HELLO = "你好呀"
INSULT = "你这个傻逼"  # harmful: dm-abuse, the filtered folder


def dm(eid: str, sender: str, recipient: str, s: float, text: str = HELLO, **rel: bool) -> dict[str, Any]:
    return {
        "event_id": eid, "surface": "dm", "occurred_at": (T0 + timedelta(seconds=s)).isoformat(),
        "author": {"id": sender}, "text": text, "target_ids": [recipient], "relationship": rel,
    }


def settings(tmp_path: Path, url: str, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path, database_url=url, rate_limit_per_s=None, **kw)


def post(client: Any, *events: dict[str, Any]) -> dict[str, str]:
    response = client.post("/v1/events", json={"events": list(events)})
    assert response.status_code == 200, response.text
    return {d["event_id"]: f"{d['action']}:{d['rule_id']}" for d in response.json()["decisions"]}


def test_a_stranger_gets_one_message_until_the_recipient_replies(tmp_path: Path, database_url: str) -> None:
    app = create_app(settings(tmp_path, database_url), Screener.default())
    with api_client(app, role="platform") as c:
        assert post(c, dm("m1", "stranger", "li", 0)) == {"m1": "deliver:None"}
        # a second message while the first is unanswered: not delivered, nothing new told
        assert post(c, dm("m2", "stranger", "li", 60)) == {"m2": "block:dm-unanswered"}
        assert post(c, dm("m2", "stranger", "li", 60)) == {}  # a repost: a duplicate, not decided again
        # the recipient replies: from then on they talk freely, both ways
        assert post(c, dm("r1", "li", "stranger", 120)) == {"r1": "deliver:None"}
        assert post(c, dm("m3", "stranger", "li", 180), dm("m4", "stranger", "li", 181)) == {
            "m3": "deliver:None", "m4": "deliver:None"}
        # a follower is no stranger
        assert post(c, dm("f1", "fan", "li", 200, target_follows_author=True),
                    dm("f2", "fan", "li", 201, target_follows_author=True)) == {
            "f1": "deliver:None", "f2": "deliver:None"}
        # the stored decision says why
        got = c.get("/v1/decisions/m2").json()
        assert got["action"] == "block" and "one message" in got["reason"]


def test_a_flood_is_blocked_and_abuse_goes_to_the_filtered_folder(tmp_path: Path, database_url: str) -> None:
    app = create_app(settings(tmp_path, database_url, dm_rate_per_recipient=3), Screener.default())
    mutual = {"target_follows_author": True, "author_follows_target": True}
    with api_client(app, role="platform") as c:
        got = post(c, *(dm(f"m{i}", "a", "b", i, **mutual) for i in range(4)))
        assert got == {"m0": "deliver:None", "m1": "deliver:None", "m2": "deliver:None",
                       "m3": "block:dm-over-rate"}
        assert post(c, dm("x1", "a", "b", 100, INSULT, **mutual)) == {"x1": "filter_folder:dm-abuse"}


def test_repeated_abuse_escalates_and_staff_read_it(tmp_path: Path, database_url: str) -> None:
    app = create_app(settings(tmp_path, database_url), Screener.default())
    with api_client(app, role="platform") as c:
        first = post(c, dm("a1", "troll", "li", 0, INSULT, target_follows_author=True),
                     dm("a2", "troll", "li", 600, INSULT, target_follows_author=True))
        assert set(first.values()) == {"filter_folder:dm-abuse"}
        assert post(c, dm("a3", "troll", "li", 1200, INSULT, target_follows_author=True)) == {
            "a3": "filter_folder:dm-abuse"}
        # the platform never reads escalations
        assert c.get("/v1/escalations").status_code == 403
    for role in ("moderator", "auditor"):
        with api_client(app, role=role) as staff:
            body = staff.get("/v1/escalations", params={"recipient_id": "li"}).json()
            [found] = body["escalations"]
            assert (found["sender_id"], found["recipient_id"], found["count"], found["event_ids"]) == (
                "troll", "li", 3, ["a1", "a2", "a3"])
            assert found["rule"] == "dm-repeated-abuse" and found["threshold"] == 3
            assert found["raised_at"].startswith("2026-11-28T08:20")
            one = staff.get(f"/v1/escalations/{found['escalation_id']}")
            assert one.status_code == 200 and one.json()["count"] == 3
            assert staff.get("/v1/escalations", params={"sender_id": "nobody"}).json() == {"escalations": []}
            assert staff.get("/v1/escalations/nope").status_code == 404
    with api_client(app, role="platform") as c:  # a fourth updates the same escalation
        post(c, dm("a4", "troll", "li", 1800, INSULT, target_follows_author=True))
    with api_client(app, role="moderator") as staff:
        [found] = staff.get("/v1/escalations").json()["escalations"]
        assert found["count"] == 4 and found["escalation_id"] == "dm-repeated-abuse:troll:li:1"


def test_a_restart_keeps_the_conversations(tmp_path: Path, database_url: str) -> None:
    conf = settings(tmp_path, database_url)
    events = [Event.model_validate(dm("m1", "stranger", "li", 0)),
              Event.model_validate(dm("m2", "s2", "li", 5))]
    with Pipeline.open(conf, screener=Screener.default()) as pipeline:
        pipeline.ingest(events)
    with Pipeline.open(conf, screener=Screener.default()) as pipeline:
        again = pipeline.ingest([Event.model_validate(dm("m3", "stranger", "li", 60)),
                                 Event.model_validate(dm("r1", "li", "s2", 61)),
                                 Event.model_validate(dm("m4", "s2", "li", 62))])
        assert [(d.event_id, d.action) for d in again.decisions] == [
            ("m3", "block"), ("r1", "deliver"), ("m4", "deliver")]


def test_a_crash_is_rebuilt_from_the_stored_events(tmp_path: Path, database_url: str) -> None:
    conf = settings(tmp_path, database_url)
    pipeline = Pipeline.open(conf, screener=Screener.default())
    pipeline.ingest([Event.model_validate(dm("m1", "stranger", "li", 0))])
    pipeline.store.close()  # no close(): no checkpoint, as in a crash
    with Pipeline.open(conf, screener=Screener.default()) as restarted:
        got = restarted.ingest([Event.model_validate(dm("m2", "stranger", "li", 60))])
        assert [d.action for d in got.decisions] == ["block"]


def esc(count: int, *, sender: str = "s", recipient: str = "r", at: float = 0.0) -> Escalation:
    ids = tuple(f"e{i}" for i in range(count))
    t = T0 + timedelta(seconds=at)
    return Escalation(f"dm-repeated-abuse:{sender}:{recipient}:1", sender, recipient, "dm-repeated-abuse",
                      count, 3, 3600.0, ids, t, t + timedelta(seconds=count), t)


def test_the_escalation_store_keeps_the_newest_version(database_url: str) -> None:
    store = EventStore.open(database_url)
    try:
        escalations = EscalationStore(store.engine)
        escalations.upsert([esc(3)])
        escalations.upsert([esc(5), esc(4)])  # the higher count of one batch wins
        escalations.upsert([esc(3)])  # an older version (a resume feeding again) does not replace it
        found = escalations.get("dm-repeated-abuse:s:r:1")
        assert found is not None and found.escalation.count == 5 and len(found.escalation.event_ids) == 5
        escalations.upsert([esc(3, sender="t", at=7200)])
        assert [e.escalation.sender_id for e in escalations.list()] == ["t", "s"]  # newest first
        assert [e.escalation.sender_id for e in escalations.list(recipient_id="r", sender_id="s")] == ["s"]
        assert escalations.list(since=T0 + timedelta(hours=1)) == escalations.list(limit=1)
        assert escalations.list(until=T0 + timedelta(hours=1))[0].escalation.sender_id == "s"
    finally:
        store.close()


@pytest.mark.parametrize("sender", ["a" * 128])
def test_long_ids_make_an_escalation_id_that_fits(database_url: str, sender: str) -> None:
    from cvguard.protection.dm import DmGuard, DmLimits

    guard = DmGuard(DmLimits(abuse_threshold=1))

    class Abusive:
        violation = True

    [e] = guard.observe([(Event.model_validate(dm("x", sender, "b" * 128, 0)), Abusive())])
    assert len(e.escalation_id) <= 256
    store = EventStore.open(database_url)
    try:
        EscalationStore(store.engine).upsert([e])
        assert EscalationStore(store.engine).get(e.escalation_id) is not None
    finally:
        store.close()

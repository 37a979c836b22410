"""Private-message rules in scale-out mode, against a real Redis: every API node judges against the
one DM state in Redis (``pipeline.shared_dm``), escalations recorded in the shared store."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.events import Event
from cvguard.pipeline.shared_dm import SharedDmGuard
from cvguard.protection.dm import DmGuard, DmLimits

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
INSULT = "你这个傻逼"


def dm(eid: str, sender: str, recipient: str, s: float, text: str = "你好呀", **rel: bool) -> dict[str, Any]:
    return {
        "event_id": eid, "surface": "dm", "occurred_at": (T0 + timedelta(seconds=s)).isoformat(),
        "author": {"id": sender}, "text": text, "target_ids": [recipient], "relationship": rel,
    }


@pytest.fixture
def nodes(redis_url: str, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two API nodes on one Redis and one database."""
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, rate_limit_per_s=None,
                        dm_rate_per_recipient=3)
    one, two = create_app(settings, Screener.default()), create_app(settings, Screener.default())
    with api_client(one, role="platform") as a, api_client(two, role="platform") as b:
        yield a, b


def decide(client: Any, *events: dict[str, Any]) -> dict[str, str]:
    reply = client.post("/v1/events", json={"events": list(events)})
    assert reply.status_code == 202, reply.text
    return {d["event_id"]: f"{d['action']}:{d['rule_id']}" for d in reply.json()["decisions"]}


def test_every_api_node_judges_against_one_dm_state(nodes: tuple[Any, Any]) -> None:
    a, b = nodes
    assert decide(a, dm("m1", "stranger", "li", 0)) == {"m1": "deliver:None"}
    assert decide(b, dm("m2", "stranger", "li", 60)) == {"m2": "block:dm-unanswered"}  # another node
    assert decide(b, dm("r1", "li", "stranger", 90)) == {"r1": "deliver:None"}
    assert decide(a, dm("m3", "stranger", "li", 120), dm("m4", "stranger", "li", 121)) == {
        "m3": "deliver:None", "m4": "deliver:None"}
    mutual = {"target_follows_author": True, "author_follows_target": True}
    got = decide(a, *(dm(f"f{i}", "x", "y", 200 + i, **mutual) for i in range(4)))
    assert got["f3"] == "block:dm-over-rate" and got["f2"] == "deliver:None"


def test_repeated_abuse_is_escalated_in_scale_out(nodes: tuple[Any, Any]) -> None:
    a, b = nodes
    decide(a, dm("a1", "troll", "li", 0, INSULT, target_follows_author=True))
    decide(b, dm("a2", "troll", "li", 60, INSULT, target_follows_author=True))
    assert decide(a, dm("a3", "troll", "li", 120, INSULT, target_follows_author=True)) == {
        "a3": "filter_folder:dm-abuse"}
    decide(b, dm("a4", "troll", "li", 180, INSULT, target_follows_author=True))
    with api_client(a.app, role="moderator") as staff:
        [found] = staff.get("/v1/escalations").json()["escalations"]
    assert (found["escalation_id"], found["count"], found["event_ids"]) == (
        "dm-repeated-abuse:troll:li:1", 4, ["a1", "a2", "a3", "a4"])


class V:
    def __init__(self, violation: bool = False) -> None:
        self.violation = violation


def test_the_shared_rules_judge_as_the_embedded_ones(redis_url: str) -> None:
    """The same stream through both (one batch at a time): the same flags and escalations."""
    limits = DmLimits(per_recipient=3, per_recipient_window_s=60, per_sender=5, per_sender_window_s=600,
                      abuse_threshold=3, abuse_window_s=3600)
    rows = [("m1", "s", "r", 0, False), ("m2", "s", "r", 5, False), ("m2", "s", "r", 5, False),
            ("r1", "r", "s", 9, False), ("m3", "s", "r", 10, True), ("m4", "s", "r", 11, True),
            ("m5", "s", "r", 12, True), ("m6", "s", "q", 13, False), ("m7", "s", "q", 14, False),
            ("m8", "s", "p", 15, False), ("late", "s", "p", 1, False)]
    client = redis.Redis.from_url(redis_url)
    try:
        shared, embedded = SharedDmGuard(client, limits), DmGuard(limits)
        for eid, s, r, t, bad in rows:
            item = (Event.model_validate(dm(eid, s, r, t)), V(bad))
            judged = shared.judge([item], now=None)
            escalated = embedded.observe([item])
            assert judged.flags(item[0]) == embedded.flags(item[0]), eid
            assert [e.to_dict() for e in judged.escalations] == [e.to_dict() for e in escalated], eid
    finally:
        client.close()

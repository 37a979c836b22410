"""The action feed (store.actions) on SQLite and PostgreSQL, and ``GET /v1/actions``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import InputError
from cvguard.policy import DecisionInput, default_policy
from cvguard.policy.feed import PlannedAction, plan_alert
from cvguard.store.actions import ActionFeed
from cvguard.verdict import Verdict

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def action(n: int | str, **changes: Any) -> PlannedAction:
    return replace(
        PlannedAction(
            key=f"pile_on:user:t1:1/event:e{n}/hide_from_target",
            kind="hide_from_target",
            surface="reply",
            subject_type="event",
            subject=f"e{n}",
            reason="hidden from the target",
            params={"target_id": "t1"},
            rule_id="chat-pileon-stranger",
            alert_id="pile_on:user:t1:1",
            policy_version="2026.11.1",
        ),
        **changes,
    )


@pytest.fixture
def feed(database_url: str) -> Iterator[ActionFeed]:
    with ActionFeed.open(database_url, clock=lambda: T0) as feed:
        yield feed


def test_the_entries_an_append_returns_are_the_entries_read_back(database_url: str) -> None:
    # the append builds its new entries from the rows it wrote (only the numbers come back from the
    # database): params that JSON changes (tuples, timestamps, sets, nesting, mixed scripts) and a
    # clock off UTC must still give exactly what a reader gets
    from datetime import timedelta, timezone

    east = datetime(2026, 11, 30, 20, 0, 0, 123456, tzinfo=timezone(timedelta(hours=8)))
    params = {"ids": ("b", "a"), "at": T0, "set": frozenset({"y", "x"}), "nested": {"k": [1, 2.5, None]},
              "text": "你好 🙂 \u202e", "statement": {"rules": [{"reason": None}], "points": 3.0}}
    with ActionFeed.open(database_url, clock=lambda: east) as feed:
        entries = feed.append([action(1, params=params), action(2, params={})])
        read, _ = feed.after(0)
    assert read == entries
    assert entries[0].params["ids"] == ["b", "a"] and entries[0].params["set"] == ["x", "y"]
    assert entries[0].created_at == east and entries[0].created_at.utcoffset() == timedelta(0)


def test_the_audit_digest_of_an_append_is_the_digest_of_the_entries_read_back(database_url: str) -> None:
    # the digest is built from the rows written (canonical params spliced in, others decoded):
    # it must be the digest a reader computes from GET /v1/actions, whatever the params hold
    from cvguard.store.audit import AuditLog
    from cvguard.store.audit_batches import feed_digest

    odd = [
        {"statement": {"why": 'a "quoted" "params":null inside', "points": 3.0, "n": -0.0}},
        {10: "ten", 9: "nine"},  # keys JSON turns into strings, in another order
        {"at": T0, "set": {"b", "a"}, "t": (1, 2), "deep": [{"z": 1, "a": [{"y": None, "b": True}]}]},
        {"text": "你好 🙂 \u202e \\ \n", "big": 2**60, "small": 1e-9},
        {},
    ]
    with ActionFeed.open(database_url) as feed:
        feed.audit = AuditLog(feed.engine)
        feed.append([action(1)])
        feed.append([action(i + 2, params=p) for i, p in enumerate(odd)], read_back=False)
        read, _ = feed.after(0)
        entries = [e for e in feed.audit.entries() if e.action == "feed.append"]
    assert [e.after["count"] for e in entries] == [1, len(odd)]
    assert entries[1].after["sha256"] == feed_digest(read[1:])
    assert read[2].params == {"10": "ten", "9": "nine"} and read[3].params["set"] == ["a", "b"]


def test_a_large_append_is_numbered_in_the_order_given_without_gaps(feed: ActionFeed) -> None:
    # 1,100 actions: several statements on SQLite, one unnested array per column on PostgreSQL
    names = [f"{(i * 7919) % 1100:04d}" for i in range(1100)]  # not in key order
    feed.append([action(names[0])])
    entries = feed.append([action(n) for n in names], read_back=True)
    seqs = [e.seq for e in entries]
    assert seqs[0] == seqs[1] - 1 == 1  # the first was there already; the rest follow it
    assert seqs[1:] == list(range(2, 1101))
    read, _ = feed.after(0, 1000)
    assert [e.subject for e in read] == [f"e{n}" for n in names[:1000]]


def test_appends_in_order_and_reads_back_everything(feed: ActionFeed) -> None:
    entries = feed.append([action(1), action(2), action(3, kind="fold", params={"scope": "thread"})])
    assert [e.seq for e in entries] == sorted(e.seq for e in entries) and len({e.seq for e in entries}) == 3
    read, cursor = feed.after(0)
    assert read == entries and cursor == entries[-1].seq
    first = read[0]
    assert (first.kind, first.subject, first.params, first.rule_id, first.alert_id) == (
        "hide_from_target",
        "e1",
        {"target_id": "t1"},
        "chat-pileon-stranger",
        "pile_on:user:t1:1",
    )
    assert first.created_at == T0 and first.policy_version == "2026.11.1" and first.undoes is None
    assert read[2].params == {"scope": "thread"}
    assert feed.after(cursor) == ([], cursor)  # nothing new: the same cursor


def test_appending_a_key_again_is_a_no_op_that_returns_the_entry(feed: ActionFeed) -> None:
    (one,) = feed.append([action(1)])
    again = feed.append([action(2), action(1, reason="different"), action(2)])
    assert again[1] == one  # the stored one, not the new text
    assert again[0] == again[2] and again[0].seq > one.seq
    assert [e.subject for e in feed.after(0)[0]] == ["e1", "e2"]


def test_a_batch_is_atomic(feed: ActionFeed) -> None:
    with pytest.raises(InputError, match="subject"):
        feed.append([action(1), action(2, subject="")])
    with pytest.raises(InputError, match="alert_id"):
        feed.append([action(1), action(2, alert_id="a" * 257)])
    assert feed.after(0) == ([], 0)


def test_paging_with_the_cursor(feed: ActionFeed) -> None:
    feed.append([action(n) for n in range(7)])
    seen: list[str] = []
    cursor = 0
    while True:
        page, cursor = feed.after(cursor, limit=3)
        if not page:
            break
        assert len(page) <= 3
        seen += [e.subject for e in page]
    assert seen == [f"e{n}" for n in range(7)]
    with pytest.raises(InputError):
        feed.after(-1)
    with pytest.raises(InputError):
        feed.after(0, limit=0)


def test_caused_by_lists_an_alerts_actions(feed: ActionFeed) -> None:
    feed.append([action(1), action(2, alert_id="other:user:x:1", key="other")])
    assert [e.subject for e in feed.caused_by("pile_on:user:t1:1")] == ["e1"]


def test_planned_raise_and_resolve_round_trip_through_the_feed(feed: ActionFeed) -> None:
    @dataclass(frozen=True)
    class Alert:
        alert_id: str = "pile_on:user:t1:1"
        kind: str = "pile_on"
        subject_type: str = "user"
        subject_id: str = "t1"
        level: str = "warning"
        resolved_at: datetime | None = None

    policy = default_policy()
    # mockery, published with a nudge: once the pile-on is warned, a stranger's is folded
    abuse = Verdict(True, 0.9, "inappropriate", {"ridicule": 0.9}, (), {})
    friend = DecisionInput("reply", "e2", abuse, relationship="mutual")
    concerned = [DecisionInput("reply", "e1", abuse), friend]
    raised = feed.append(plan_alert(policy, Alert(), concerned=concerned))
    assert [(e.kind, e.subject) for e in raised] == [("fold", "e1")]
    assert feed.append(plan_alert(policy, Alert(), concerned=concerned)) == raised  # a replay: nothing new
    closing = Alert(resolved_at=T0)
    undone = feed.append(plan_alert(policy, closing, caused=feed.caused_by(closing.alert_id)))
    assert [(e.kind, e.subject, e.undoes) for e in undone] == [("unfold", "e1", raised[0].key)]
    assert feed.append(plan_alert(policy, closing, caused=feed.caused_by(closing.alert_id))) == []
    assert [e.kind for e in feed.after(0)[0]] == ["fold", "unfold"]


@dataclass
class Reader:
    """Reads the feed with its cursor while others append; records what it saw, in order."""

    feed: ActionFeed
    seen: list[int] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        cursor = 0
        while True:
            done = self.stop.is_set()
            page, cursor = self.feed.after(cursor, limit=50)
            self.seen += [e.seq for e in page]
            if done and not page:
                return


def test_concurrent_appends_keep_a_strict_order_readers_never_skip(feed: ActionFeed) -> None:
    """Many writers append at once while a reader follows with its cursor: every entry has its own
    number, and the reader sees every entry (none committed later behind its cursor), in order."""
    writers, batches = 6, 15
    errors: list[BaseException] = []

    def write(w: int) -> None:
        try:
            for b in range(batches):
                feed.append([action(f"{w}-{b}-{i}") for i in range(3)])
                feed.append([action(f"{w}-{b}-0")])  # a repeat: no new entry
                feed.append([action(f"shared-{b}")])  # every writer appends the same key: one entry
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    reader = Reader(feed)
    follower = threading.Thread(target=reader.run)
    follower.start()
    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reader.stop.set()
    follower.join()
    assert not errors, [repr(e.__cause__) for e in errors]
    everything, _ = feed.after(0, limit=1000)
    assert len(everything) == writers * batches * 3 + batches
    assert len({e.key for e in everything}) == len(everything)
    assert reader.seen == [e.seq for e in everything]  # nothing skipped, nothing out of order


# ------------------------------------------------------------------------------------ the API


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    app = create_app(Settings(data_dir=tmp_path), Screener.default())
    with api_client(app, role=None):
        yield app


def test_the_feed_over_the_api_pages_with_its_cursor(app: FastAPI) -> None:
    app.state.feed().append([action(n) for n in range(5)])
    with api_client(app, role="platform") as platform:
        first = platform.get("/v1/actions", params={"limit": 2})
        assert first.status_code == 200, first.text
        body = first.json()
        assert [a["subject"] for a in body["actions"]] == ["e0", "e1"]
        assert body["actions"][0]["key"] == action(0).key
        assert body["actions"][0]["params"] == {"target_id": "t1"}
        rest = platform.get("/v1/actions", params={"after": body["next_cursor"]}).json()
        assert [a["subject"] for a in rest["actions"]] == ["e2", "e3", "e4"]
        assert platform.get("/v1/actions", params={"after": rest["next_cursor"]}).json() == {
            "actions": [],
            "next_cursor": rest["next_cursor"],
        }


@pytest.mark.parametrize("after", ["-1", "abc", "1.5", str(2**63)])
def test_a_bad_cursor_is_a_422_problem(app: FastAPI, after: str) -> None:
    with api_client(app, role="platform") as platform:
        response = platform.get("/v1/actions", params={"after": after})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "after" in response.json()["errors"][0]["loc"]


@pytest.mark.parametrize(
    ("role", "status"),
    [(None, 401), ("platform", 200), ("moderator", 200), ("auditor", 200), ("admin", 200)],
)
def test_who_may_read_the_feed(app: FastAPI, role: str | None, status: int) -> None:
    with api_client(app, role=role) as client:
        assert client.get("/v1/actions").status_code == status

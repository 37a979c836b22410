"""What the audit trail records beyond alert statuses and keys, and how (SQLite and PostgreSQL):

- ``append_many`` chains a batch in order under one lock; ``append_in`` writes in another store's
  transaction, so a change and its entry commit or roll back together (an alert's status);
- automated actions: one ``feed.append`` per feed append that added entries (its digest recomputed
  from the feed as the platform reads it), one ``decisions.batch`` per batch of decisions at
  ingest, nothing of either with ``audit_automated`` off;
- people's actions through the API: shields (on, extended, off), key groups, evidence preserved
  and exported, reports assigned and decided, each with its actor and the state before and after.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import api_client
from cvguard.api import create_app
from cvguard.behavior.alerts import Alert
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import InputError
from cvguard.policy.feed import PlannedAction
from cvguard.store import EventStore
from cvguard.store.actions import ActionFeed
from cvguard.store.audit import AuditLog, Draft
from cvguard.store.audit_batches import decisions_digest, feed_digest
from cvguard.store.people import FilteredItem

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def _draft(i: int) -> Draft:
    return Draft(actor="moderator:k1 (alice)", action="alert.status", subject_type="alert",
                 subject_id=f"a{i}", inputs={"n": i})


def _planned(i: int) -> PlannedAction:
    return PlannedAction(key=f"k{i}", kind="fold", surface="comment", subject_type="event",
                         subject=f"e{i}", reason="a pile-on", params=MappingProxyType({"n": i}),
                         rule_id="r1", alert_id="pile_on:user:v:1", policy_version="v1")


def _alert() -> Alert:
    return Alert(alert_id="pile_on:user:v:1", kind="pile_on", subject_type="user", subject_id="v",
                 level="warning", raised_at=T0, updated_at=T0, evidence={"abusive": 9}, event_ids=("e1",))


# -- the store -----------------------------------------------------------------------------------


def test_append_many_chains_a_batch_in_order(event_store: EventStore) -> None:
    log = AuditLog(event_store.engine)
    log.append(actor="a", action="key.create", subject_type="key", subject_id="k0")
    added = log.append_many([_draft(i) for i in range(1, 4)])
    assert [e.seq for e in added] == [2, 3, 4] and [e.subject_id for e in added] == ["a1", "a2", "a3"]
    assert added[0].prev == log.entries(limit=1)[0].digest and added[1].prev == added[0].digest
    assert log.append_many([]) == []
    with pytest.raises(InputError):  # all or none
        log.append_many([_draft(5), Draft("a", "x", "t", "s", inputs={"bad": float("nan")})])
    assert len(log.entries()) == 4 and log.verify().ok


def test_a_change_and_its_entry_commit_or_roll_back_together(event_store: EventStore) -> None:
    log = AuditLog(event_store.engine)
    assert log.shares(event_store.engine)
    event_store.upsert_alert(_alert())

    def failing(c: Any, changed: Any) -> None:
        log.append_in(c, [_draft(1)])
        raise RuntimeError("the entry could not be written")

    with pytest.raises(RuntimeError):
        event_store.set_alert_status("pile_on:user:v:1", status="resolved", actor="m", within=failing)
    stored = event_store.get_alert("pile_on:user:v:1")
    assert stored is not None and stored.status == "open"  # the change rolled back with its entry
    assert log.entries() == []
    changed = event_store.set_alert_status(
        "pile_on:user:v:1", status="resolved", actor="m",
        within=lambda c, a: log.append_in(c, [Draft("m", "alert.status", "alert", a.alert_id,
                                                    after={"status": a.status})]),
    )
    assert changed is not None and changed.status == "resolved"
    [entry] = log.entries()
    assert entry.after == {"status": "resolved"} and log.verify().ok


def test_each_feed_append_leaves_one_entry_that_ties_its_rows(event_store: EventStore) -> None:
    feed = ActionFeed(event_store.engine)
    feed.audit = log = AuditLog(event_store.engine)
    feed.append([_planned(i) for i in range(3)])
    feed.append([_planned(1), _planned(2)])  # already there: nothing added, nothing recorded
    feed.append([_planned(2), _planned(3)])
    entries = log.entries()
    assert [(e.action, e.subject_id, e.after["count"]) for e in entries] == [
        ("feed.append", "1-3", 3), ("feed.append", "4-4", 1)
    ]
    assert entries[0].actor == "cvguard" and entries[0].policy_version == "v1"
    rows, _ = feed.after(0, limit=10)  # as the platform reads them
    assert entries[0].after["sha256"] == feed_digest(rows[:3])
    assert entries[1].after["sha256"] == feed_digest(rows[3:])
    with event_store.engine.begin() as c:  # a feed row changed afterwards no longer matches
        c.exec_driver_sql("UPDATE actions SET reason = 'nothing' WHERE seq = 2")
    assert feed_digest(feed.after(0, limit=3)[0]) != entries[0].after["sha256"]


# -- through the API -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


def _app(tmp_path: Path, database_url: str, screener: Screener, **settings: Any) -> FastAPI:
    return create_app(
        Settings(data_dir=tmp_path, database_url=database_url, rate_limit_per_s=None, **settings), screener
    )


def _event(i: int, target: str = "u1", text: str = "你这个垃圾，滚出网络！") -> dict[str, Any]:
    return {
        "event_id": f"rec-{target}-{i}", "surface": "comment",
        "occurred_at": (T0 + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
        "author": {"id": f"troll{i}", "created_at": "2022-01-01T00:00:00Z"},
        "text": text, "target_ids": [target], "thread_id": f"th-{target}",
    }


def _trail(app: FastAPI) -> list[dict[str, Any]]:
    with api_client(app, role="auditor") as auditor:
        page = auditor.get("/v1/audit?limit=1000").json()
        assert auditor.get("/v1/audit/verify").json()["ok"]
    entries: list[dict[str, Any]] = page["entries"]
    return entries


def test_a_batch_of_decisions_leaves_one_entry(tmp_path: Path, database_url: str, screener: Screener) -> None:
    app = _app(tmp_path, database_url, screener)
    with api_client(app, role="platform") as platform:
        response = platform.post("/v1/events", json={"events": [_event(i) for i in range(5)]})
        assert response.status_code == 200, response.text
    [batch] = [e for e in _trail(app) if e["action"] == "decisions.batch"]
    after = batch["after"]
    assert (after["count"], after["new"]) == (5, 5)
    assert (after["first_event_id"], after["last_event_id"]) == ("rec-u1-0", "rec-u1-4")
    store = app.state.pipeline().store
    stored = [store.get_decision(f"rec-u1-{i}") for i in range(5)]
    assert after["sha256"] == decisions_digest([d for d in stored if d is not None])
    assert batch["actor"] == "cvguard" and batch["policy_version"] == stored[0].policy_version


def test_automated_entries_can_be_turned_off(tmp_path: Path, database_url: str, screener: Screener) -> None:
    app = _app(tmp_path, database_url, screener, audit_automated=False)
    with api_client(app, role="platform") as platform:
        assert platform.post("/v1/events", json={"events": [_event(i) for i in range(3)]}).status_code == 200
    # the measures taken against accounts are recorded whatever the setting; nothing else automated
    assert {e["action"] for e in _trail(app)} <= {"sanction.issue", "mcn.measure"}
    bulk = ("decisions.batch", "feed.append", "policy.in_service")
    assert not [e for e in _trail(app) if e["action"] in bulk]


def test_people_s_changes_are_recorded_with_before_and_after(
    tmp_path: Path, database_url: str, screener: Screener
) -> None:
    app = _app(tmp_path, database_url, screener, audit_automated=False)
    with api_client(app, role="platform", on_behalf_of="u1") as person, \
            api_client(app, role="moderator") as moderator:
        assert person.post("/v1/events", json={"events": [_event(i) for i in range(3)]}).status_code == 200
        assert person.put("/v1/users/u1/protection", json={"duration_days": 3}).status_code == 200
        assert person.post("/v1/users/u1/protection/extend", json={"days": 7}).status_code == 200
        assert moderator.delete("/v1/users/u1/protection?reason=done").status_code == 200
        assert moderator.put("/v1/users/u1/groups", json={"groups": ["minor"]}).status_code == 200
        case = person.post("/v1/evidence", json={"event_ids": ["rec-u1-0"], "reason": "keep"})
        assert case.status_code == 201, case.text
        case_id = case.json()["case_id"]
        package = moderator.get(f"/v1/evidence/{case_id}/export")
        assert package.status_code == 200
        report = person.post("/v1/reports", json={"category": "insult", "account_id": "troll1"})
        assert report.status_code == 201, report.text
        rid = report.json()["report_id"]
        assert moderator.post(f"/v1/reports/{rid}/assign", json={}).status_code == 200
        assert moderator.post(f"/v1/reports/{rid}/decision", json={"outcome": "upheld"}).status_code == 200
        assert moderator.post(f"/v1/reports/{rid}/decision", json={"outcome": "upheld"}).status_code == 200
        person_key, moderator_key = person.api_key or "", moderator.api_key or ""
    entries = [e for e in _trail(app) if e["actor"] != "cvguard"]  # not the sanctions its events led to
    assert [(e["action"], e["subject"]["type"]) for e in entries] == [
        ("shield.put", "user"), ("shield.extend", "user"), ("shield.off", "user"), ("groups.put", "user"),
        ("evidence.preserve", "evidence_case"), ("evidence.export", "evidence_case"),
        ("report.assign", "report"), ("report.decide", "report"),  # the same decision twice: once
    ]
    put, extend, off, groups, preserve, export, assign, decide = entries
    assert put["actor"].startswith(f"platform:{person_key.split('_')[1]}")
    assert put["actor"].endswith(" for u1")
    assert off["actor"].startswith(f"moderator:{moderator_key.split('_')[1]}")
    assert put["before"] is None and put["after"]["active"] and put["inputs"]["duration_days"] == 3
    assert extend["after"]["ends_at"] > extend["before"]["ends_at"]
    assert off["before"]["active"] and not off["after"]["active"] and off["inputs"] == {"reason": "done"}
    assert groups["before"] == {"groups": []} and groups["after"] == {"groups": ["minor"]}
    assert preserve["subject"]["id"] == case_id and preserve["after"]["items"] == 1
    assert export["after"]["package_sha256"] == hashlib.sha256(package.content).hexdigest()
    assert assign["before"]["status"] == "open" and assign["after"]["status"] == "assigned"
    assert decide["before"]["status"] == "assigned" and decide["after"]["outcome"] == "upheld"
    assert decide["after"]["action_seq"] >= 1


def test_a_restore_from_the_filtered_folder_is_recorded(tmp_path: Path, screener: Screener) -> None:
    app = _app(tmp_path, f"sqlite:///{tmp_path / 'cvguard.db'}", screener, audit_automated=False)
    people = app.state.pipeline().people
    assert people is not None
    item = FilteredItem("u1", "rec-u1-0", "comment", "filter_folder", "r1", "why", (), T0)
    people.store.add_filtered([item])
    with api_client(app, role="platform", user="u1") as person:
        assert person.post("/v1/users/u1/filtered/rec-u1-0/restore").status_code == 200
    [entry] = _trail(app)
    assert entry["action"] == "filtered.restore" and entry["inputs"] == {"event_id": "rec-u1-0"}
    assert entry["after"]["restored"] and entry["actor"].endswith(" for u1")


POLICY = """\
version: "{version}"
name: team
rules:
  - id: lock-everything
    surfaces: [hotlist_item]
    action: lock_topic
    reason: test
"""


def test_each_policy_put_in_service_is_recorded(tmp_path: Path, screener: Screener) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY.format(version="t1"), encoding="utf-8")
    app = _app(tmp_path, f"sqlite:///{tmp_path / 'cvguard.db'}", screener, policy_file=path)
    body = {"items": [{"item_id": "i1", "title": "天气"}]}
    with api_client(app, role="platform") as client:
        assert client.post("/v1/hotlist", json=body).status_code == 200
        assert client.post("/v1/hotlist", json=body).status_code == 200  # the same policy: no entry
        path.write_text(POLICY.format(version="t2"), encoding="utf-8")
        time.sleep(1.1)  # the holder looks at the file at most once a second
        assert client.post("/v1/hotlist", json=body).json()["items"][0]["policy_version"] == "t2"
    entries = [e for e in _trail(app) if e["action"] == "policy.in_service"]
    assert [(e["before"], e["after"]["version"]) for e in entries] == [
        (None, "t1"), ({"name": "team", "version": "t1"}, "t2")
    ]
    assert entries[1]["inputs"]["file"] == str(path)
    assert entries[1]["inputs"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()

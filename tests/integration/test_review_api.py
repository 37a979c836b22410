"""``/v1/review`` and ``/v1/sanctions/{id}/appeal`` over HTTP: the one staff queue (held content,
reports, alerts), one-call decisions and what they do, a person's decision kept from later alerts,
assignment, appeals (one per sanction, the deadline, never reviewed by the first decider, the
reversal and the account told), response times, the audit trail, and who may do what."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import ApiClient, api_client, api_key
from cvguard.api import create_app
from cvguard.api.reviewdesk import ReviewDesk
from cvguard.behavior import Alert
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.enforcement import Reversal, Sanction
from cvguard.events import Event, parse_event
from cvguard.pipeline.actions import AlertActions
from cvguard.pipeline.review import ReviewIntake
from cvguard.policy import DecisionInput, decide, default_policy
from cvguard.policy.feed import PlannedAction, plan_alert
from cvguard.store.actions import FeedEntry
from cvguard.store.decisions import DecisionRecord
from cvguard.store.records import StoredAlert
from cvguard.verdict import Span, Verdict

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
POLICY = default_policy()


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


class TwinEnforcement:
    """The test twin of the ledger and ladder (``cvguard.enforcement.Enforcement``): sanctions in
    a dict; a reversal lifts the sanction and says what it gave back."""

    def __init__(self) -> None:
        self.sanctions: dict[str, Sanction] = {}
        self.reversed: list[tuple[str, str, str]] = []

    def add(
        self,
        sanction_id: str,
        *,
        account: str = "a1",
        decided_by: str = "ladder:1",
        starts_at: datetime = T0,
        statement: Mapping[str, Any] | None = None,
        kind: str = "comment_restriction",
    ) -> Sanction:
        s = Sanction(
            sanction_id,
            account,
            kind,
            starts_at,
            starts_at + timedelta(days=7),  # type: ignore[arg-type]
            ("v1",),
            statement or {},
            decided_by,
        )
        self.sanctions[sanction_id] = s
        return s

    def sanction(self, sanction_id: str) -> Sanction | None:
        return self.sanctions.get(sanction_id)

    def reverse(self, sanction_id: str, *, actor: str, reason: str, now: datetime) -> Reversal:
        s = self.sanctions[sanction_id]
        self.sanctions[sanction_id] = replace(s, status="lifted", lifted_at=now, lifted_by=actor)
        self.reversed.append((sanction_id, actor, reason))
        return Reversal(
            sanction_id, s.violation_ids, (sanction_id,), ("e9",), (f"lift_sanction:{sanction_id}",)
        )


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def enforcement() -> TwinEnforcement:
    return TwinEnforcement()


@pytest.fixture
def app(tmp_path: Path, screener: Screener, clock: Clock, enforcement: TwinEnforcement) -> FastAPI:
    made = create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), screener)
    desk: ReviewDesk = made.state.review
    desk.clock = clock
    desk.enforcement = enforcement
    made.state.reports.clock = clock
    return made


def staff(app: FastAPI, role: str, name: str) -> ApiClient:
    """A client with a key of ``role`` named ``name`` (a person)."""
    client = ApiClient(app)
    client.api_key = api_key(app, role, name)
    client.headers["Authorization"] = f"Bearer {client.api_key}"
    return client


def verdict(category: str, score: float, severity: str) -> Verdict:
    return Verdict(True, score, severity, {category: score}, (Span(0, 2, "xx", category, "lexicon"),), {})


def hold(app: FastAPI, clock: Clock, event_id: str, category: str = "defamation") -> None:
    """A batch's decision held ``event_id`` (borderline unlawful): the pipeline's intake queues it."""
    decision = decide(
        POLICY, DecisionInput(surface="comment", event_id=event_id, verdict=verdict(category, 0.6, "illegal"))
    )
    assert decision.action == "hold_for_review"
    intake = ReviewIntake(app.state.review.store, wall=clock)
    assert intake.held([], [decision]) == 1
    assert intake.held([], [decision]) == 0  # a redelivered batch queues nothing twice


def the_item(client: ApiClient, kind: str, ref_id: str) -> dict[str, Any]:
    items = client.get("/v1/review/queue", params={"kind": kind}).json()["items"]
    return next(i for i in items if i["ref_id"] == ref_id)


def feed(app: FastAPI) -> list[FeedEntry]:
    entries, _ = app.state.feed().after(0, limit=1000)
    return list(entries)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["detail"]
    return body


# -- held content, and a person's decision kept from later alerts -------------------------------


def event(event_id: str, minute: int) -> Event:
    return parse_event(
        {
            "event_id": event_id,
            "surface": "comment",
            "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
            "author": {"id": f"author-{event_id}"},
            "text": "哈哈",
            "target_ids": ["t1"],
        }
    )


@dataclass
class Concerned:
    """The store reads ``AlertActions`` makes (``ConcernedStore``), as a test twin over fixed events."""

    pairs: list[tuple[Event, Verdict]]

    def events_aimed_at(
        self, target_ids: Sequence[str], *, since: datetime, until: datetime | None = None
    ) -> dict[str, list[tuple[Event, Verdict]]]:
        return {"t1": list(self.pairs)}

    def stored_pairs(self, event_ids: Sequence[str]) -> list[tuple[Event, Verdict]]:
        return []

    def get_alert(self, alert_id: str) -> StoredAlert | None:
        return None


def test_held_content_approved_is_restored_and_a_later_alert_does_not_hide_it(
    app: FastAPI, clock: Clock
) -> None:
    hold(app, clock, "e1", category="threat")  # a threat: urgent
    hold(app, clock, "e3")
    with staff(app, "moderator", "alice") as alice:
        items = alice.get("/v1/review/queue").json()["items"]
        assert [(i["ref_id"], i["priority"]) for i in items] == [("e1", "urgent"), ("e3", "high")]
        item = items[0]
        assert item["kind"] == "held" and item["due_at"].startswith("2026-12-02T10:00")  # the urgent cap
        clock.advance(minutes=20)
        decided = alice.post(f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "approve"})
        assert decided.status_code == 200, decided.text
        body = decided.json()
        assert body["new_decision"] is True and body["item"]["outcome"] == "approve"
        assert body["item"]["decided_by"].endswith("(alice)")
        # the same call again (a retry) changes nothing; another outcome is refused
        again = alice.post(f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "approve"})
        assert again.json()["new_decision"] is False and again.json()["feed_keys"] == body["feed_keys"]
        problem(alice.post(f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "remove"}), 409)
    (restored,) = [e for e in feed(app) if e.subject == "e1"]
    assert (restored.kind, restored.subject_type, restored.key) == ("restore", "event", body["feed_keys"][0])

    # a pile-on on t1 later: e2 (nobody decided it) is folded, e1 (a moderator approved it) is not
    stranger_mockery = verdict("ridicule", 0.9, "inappropriate")
    pairs = [(event("e1", 1), stranger_mockery), (event("e2", 2), stranger_mockery)]
    alert = Alert("pile_on:user:t1:1", "pile_on", "user", "t1", "warning", T0, T0 + timedelta(minutes=5))
    without = plan_alert(POLICY, alert, concerned=[DecisionInput.from_event(e, v) for e, v in pairs])
    assert {p.subject for p in without} == {"e1", "e2"}  # what the rule alone would do
    actions = AlertActions(app.state.feed(), Concerned(pairs), lambda: POLICY)
    actions.people_decided = app.state.review.store.person_decided
    appended = actions.on_alerts([alert])
    assert [(e.kind, e.subject) for e in appended] == [("fold", "e2")]
    # nor does its undo touch e1 when it resolves
    closing = replace(alert, resolved_at=T0 + timedelta(hours=2), resolution="subsided")
    undone = actions.on_alerts([closing])
    assert [(e.kind, e.subject) for e in undone] == [("unfold", "e2")]
    assert [e.kind for e in feed(app) if e.subject == "e1"] == ["restore"]

    with api_client(app, role="auditor") as auditor:
        trail = auditor.get("/v1/audit").json()["entries"]
    entry, retry = [e for e in trail if e["action"] == "review.decision"]  # the call, and its retry
    assert retry["before"]["outcome"] == "approve"
    assert entry["actor"].endswith("(alice)") and entry["inputs"]["outcome"] == "approve"
    assert entry["before"]["outcome"] is None and entry["after"]["feed_keys"] == body["feed_keys"]


def test_remove_held_content(app: FastAPI, clock: Clock) -> None:
    hold(app, clock, "e5")
    # the decision as recorded at ingest (the pipeline's store)
    decision = decide(
        POLICY, DecisionInput(surface="comment", event_id="e5", verdict=verdict("defamation", 0.6, "illegal"))
    )
    app.state.pipeline().store.add_decisions([DecisionRecord.of(decision, T0, whole=True)])
    with api_client(app, role="platform") as platform:
        assert platform.get("/v1/decisions/e5").json()["person"] is None
    with api_client(app, role="moderator") as mod:
        item = the_item(mod, "held", "e5")
        out = mod.post(
            f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "remove", "note": "real"}
        )
        assert out.status_code == 200, out.text
    assert [(e.kind, e.subject) for e in feed(app)] == [("remove", "e5")]
    assert app.state.review.store.person_decision("e5").action == "remove"
    with api_client(app, role="platform") as platform:  # what the platform reads of the event's decision
        read = platform.get("/v1/decisions/e5").json()
    assert read["action"] == "hold_for_review" and read["person"]["action"] == "remove"


# -- who may do what ------------------------------------------------------------------------------


def test_roles_and_problem_bodies(app: FastAPI, clock: Clock) -> None:
    hold(app, clock, "e1")
    with api_client(app, role="moderator") as mod:
        item_id = the_item(mod, "held", "e1")["item_id"]
        problem(mod.post(f"/v1/review/items/{item_id}/decision", json={"outcome": "upheld"}), 422)
        problem(mod.post(f"/v1/review/items/{item_id}/decision", json={"outcome": "approve", "x": 1}), 422)
        problem(mod.post("/v1/review/items/rv_nope/decision", json={"outcome": "approve"}), 404)
        problem(mod.get("/v1/review/items/rv_nope"), 404)
        problem(mod.get("/v1/review/queue", params={"cursor": "not-a-cursor"}), 422)
        problem(mod.get("/v1/review/queue", params={"kind": "gossip"}), 422)
    with api_client(app, role="auditor") as auditor:  # reads everything, changes nothing
        assert auditor.get("/v1/review/queue").status_code == 200
        assert auditor.get(f"/v1/review/items/{item_id}").status_code == 200
        assert auditor.get("/v1/review/stats").status_code == 200
        problem(auditor.post(f"/v1/review/items/{item_id}/decision", json={"outcome": "approve"}), 403)
        problem(auditor.post(f"/v1/review/items/{item_id}/assign", json={}), 403)
    with api_client(app, role="platform") as platform:  # the platform key reads no queue
        problem(platform.get("/v1/review/queue"), 403)
        problem(platform.post(f"/v1/review/items/{item_id}/decision", json={"outcome": "approve"}), 403)
    with api_client(app, role=None) as anonymous:
        problem(anonymous.get("/v1/review/queue"), 401)
    with api_client(app, role="admin") as admin:
        assert (
            admin.post(f"/v1/review/items/{item_id}/decision", json={"outcome": "approve"}).status_code == 200
        )
    assert app.state.review.store.get(item_id).outcome == "approve"


def test_assignment_filters_and_pages(app: FastAPI, clock: Clock) -> None:
    for i in range(5):
        hold(app, clock, f"e{i}")
        clock.advance(minutes=1)
    with staff(app, "moderator", "alice") as alice, staff(app, "moderator", "bob") as bob:
        first = the_item(alice, "held", "e0")
        mine = alice.post(f"/v1/review/items/{first['item_id']}/assign", json={})
        assert mine.status_code == 200 and mine.json()["assignee"].endswith("(alice)")
        given = alice.post(f"/v1/review/items/{first['item_id']}/assign", json={"assignee": "bob-label"})
        assert given.json()["assignee"] == "bob-label"
        assert [
            i["ref_id"] for i in bob.get("/v1/review/queue", params={"assignee": "bob-label"}).json()["items"]
        ] == ["e0"]
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = bob.get("/v1/review/queue", params=params).json()
            seen += [i["ref_id"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == ["e0", "e1", "e2", "e3", "e4"]  # same priority: by due time
        clock.advance(hours=5)
        assert len(bob.get("/v1/review/queue", params={"overdue": True}).json()["items"]) == 5
    with api_client(app, role="auditor") as auditor:
        trail = auditor.get("/v1/audit").json()["entries"]
    assigned = [e for e in trail if e["action"] == "review.assign"]
    assert [e["after"]["assignee"] for e in assigned][-1] == "bob-label"
    assert assigned[-1]["before"]["assignee"].endswith("(alice)")


# -- reports and alerts in the same queue --------------------------------------------------------


def test_a_report_enters_the_queue_and_is_decided_there(app: FastAPI, clock: Clock) -> None:
    with api_client(app, role="platform", on_behalf_of="u1") as c:
        filed = c.post("/v1/reports", json={"category": "threat", "account_id": "troll"})
        assert filed.status_code == 201, filed.text
        rid = filed.json()["report_id"]
        other = c.post("/v1/reports", json={"category": "insult", "account_id": "troll2"}).json()["report_id"]
    with api_client(app, role="moderator") as mod:
        item = the_item(mod, "report", rid)
        assert item["priority"] == "urgent" and item["due_at"].startswith("2026-12-02T10:00")  # the desk's
        out = mod.post(
            f"/v1/review/items/{item['item_id']}/decision",
            json={"outcome": "upheld", "reply": "removed, thank you"},
        )
        assert out.status_code == 200, out.text
        report = mod.get(f"/v1/reports/{rid}").json()
        assert report["status"] == "upheld"
        # decided on the report's own route: its queue item is settled too
        assert mod.post(f"/v1/reports/{other}/decision", json={"outcome": "rejected"}).status_code == 200
        assert [
            i["ref_id"] for i in mod.get("/v1/review/queue", params={"kind": "report"}).json()["items"]
        ] == []
    told = [e for e in feed(app) if e.kind == "report_outcome" and e.subject == rid]
    assert told and told[0].params["outcome"] == "upheld" and out.json()["feed_keys"] == [told[0].key]


def test_an_alert_marked_false_positive_from_the_queue(app: FastAPI, clock: Clock) -> None:
    alert = Alert("pile_on:user:t9:1", "pile_on", "user", "t9", "critical", T0, T0)
    app.state.pipeline().store.upsert_alert(alert)
    intake = ReviewIntake(app.state.review.store, wall=clock)
    watch = Alert("pile_on:user:t8:1", "pile_on", "user", "t8", "watch", T0, T0)
    assert intake.alerts([alert, watch]) == 1  # a watch does not enter the queue
    # what the alert caused: fold ex and ey; a moderator then removed ex
    caused = [
        PlannedAction(
            key=f"{alert.alert_id}/event:{e}/fold",
            kind="fold",
            surface="comment",
            subject_type="event",
            subject=e,
            reason="pile-on",
            alert_id=alert.alert_id,
        )
        for e in ("ex", "ey")
    ]
    app.state.feed().append(caused)
    app.state.review.store.record_person("ex", action="remove", actor="carol", at=T0)
    with staff(app, "moderator", "alice") as alice:
        item = the_item(alice, "alert", alert.alert_id)
        assert item["priority"] == "urgent"
        out = alice.post(f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "false_positive"})
        assert out.status_code == 200, out.text
        stored = alice.get(f"/v1/alerts/{alert.alert_id}").json()
        assert stored["status"] == "false_positive"
    # an alert resolved on its own route settles its item
    other = Alert("incitement:user:t7:1", "incitement", "user", "t7", "warning", T0, T0)
    app.state.pipeline().store.upsert_alert(other)
    intake.alerts([other])
    with api_client(app, role="moderator") as mod:
        assert [
            i["ref_id"] for i in mod.get("/v1/review/queue", params={"kind": "alert"}).json()["items"]
        ] == [other.alert_id]
        assert mod.patch(f"/v1/alerts/{other.alert_id}", json={"status": "resolved"}).status_code == 200
        assert mod.get("/v1/review/queue", params={"kind": "alert"}).json()["items"] == []
    # the false positive undoes the fold of ey, not the moderator's removal of ex
    undone = [e for e in feed(app) if e.undoes is not None]
    assert [(e.kind, e.subject) for e in undone] == [("unfold", "ey")]
    assert out.json()["feed_keys"] == [undone[0].key]


# -- appeals --------------------------------------------------------------------------------------


def test_an_appeal_is_filed_once_reviewed_by_another_and_reverses_the_sanction(
    app: FastAPI, clock: Clock, enforcement: TwinEnforcement
) -> None:
    enforcement.add("s1", account="a1", decided_by="person:alice")
    with api_client(app, role="platform", on_behalf_of="a1") as account:
        filed = account.post("/v1/sanctions/s1/appeal", json={"text": "我只是引用 — I was quoting"})
        assert filed.status_code == 201, filed.text
        appeal = filed.json()
        assert appeal["status"] == "pending" and appeal["staff"] is None and appeal["item_id"] is None
        assert appeal["deadline"].startswith("2026-12-16T09:00")  # 14 days from the sanction's start
        problem(account.post("/v1/sanctions/s1/appeal", json={}), 409)  # one per sanction
        assert account.get("/v1/sanctions/s1/appeal").json()["status"] == "pending"
    with api_client(app, role="platform", on_behalf_of="someone-else") as other:
        problem(other.post("/v1/sanctions/s1/appeal", json={}), 403)
        problem(other.get("/v1/sanctions/s1/appeal"), 403)
    with staff(app, "moderator", "alice") as alice, staff(app, "moderator", "bob") as bob:
        item = the_item(alice, "appeal", appeal["appeal_id"])
        assert item["context"]["sanction_id"] == "s1"
        # alice decided the sanction: she may not decide its appeal
        refused = problem(
            alice.post(f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "upheld"}), 403
        )
        assert "another moderator" in refused["detail"]
        assert alice.get(f"/v1/review/items/{item['item_id']}").json()["outcome"] is None
        clock.advance(hours=3)
        out = bob.post(
            f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "upheld", "note": "quoted"}
        )
        assert out.status_code == 200, out.text
        keys = out.json()["feed_keys"]
    assert enforcement.sanctions["s1"].status == "lifted" and enforcement.reversed[0][2] == "quoted"
    assert keys[0] == "lift_sanction:s1" and keys[1] == f"appeal_outcome:{appeal['appeal_id']}"
    (told,) = [e for e in feed(app) if e.kind == "appeal_outcome"]
    assert (told.subject_type, told.subject, told.params["outcome"]) == ("account", "a1", "upheld")
    assert told.params["reversal"]["content_restored"] == ["e9"]
    with api_client(app, role="platform", user="a1") as account:  # a key scoped to the account
        seen = account.get("/v1/sanctions/s1/appeal").json()
        assert seen["status"] == "upheld" and seen["feed_keys"] == keys
    with api_client(app, role="auditor") as auditor:
        staff_view = auditor.get("/v1/sanctions/s1/appeal").json()
        assert staff_view["staff"]["first_decider"] == "alice" and staff_view["staff"]["reviewer"].endswith(
            "(bob)"
        )
        trail = auditor.get("/v1/audit").json()["entries"]
        problem(auditor.post("/v1/sanctions/s1/appeal", json={}), 403)
    actions = [e["action"] for e in trail]
    assert actions.count("appeal.filed") == 1 and actions.count("appeal.outcome") == 1
    (outcome,) = [e for e in trail if e["action"] == "appeal.outcome"]
    assert outcome["before"] == {"status": "pending"} and outcome["after"]["status"] == "upheld"
    assert "quoting" not in str(trail)  # the appeal's text is not copied into the trail


def test_the_reviewer_of_the_underlying_item_may_not_decide_its_appeal(
    app: FastAPI, clock: Clock, enforcement: TwinEnforcement
) -> None:
    hold(app, clock, "e7")
    with staff(app, "moderator", "carol") as carol, staff(app, "moderator", "dave") as dave:
        item = the_item(carol, "held", "e7")
        assert (
            carol.post(f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "remove"}).status_code
            == 200
        )
        enforcement.add("s7", account="a7", statement={"content": [{"event_id": "e7"}]})
        with api_client(app, role="platform", on_behalf_of="a7") as account:
            appeal = account.post("/v1/sanctions/s7/appeal", json={}).json()
        appeal_item = the_item(carol, "appeal", appeal["appeal_id"])
        problem(
            carol.post(f"/v1/review/items/{appeal_item['item_id']}/decision", json={"outcome": "rejected"}),
            403,
        )
        out = dave.post(f"/v1/review/items/{appeal_item['item_id']}/decision", json={"outcome": "rejected"})
        assert out.status_code == 200, out.text
    assert enforcement.reversed == []  # rejected: nothing reversed
    (told,) = [e for e in feed(app) if e.kind == "appeal_outcome"]
    assert told.params["outcome"] == "rejected" and told.params["reversal"] is None


@pytest.mark.parametrize(
    ("statement", "started_days_ago", "status"),
    [
        ({}, 13, 201),  # within the default 14 days
        ({}, 15, 409),  # past them
        ({"appeal_by": "2026-12-01T00:00:00+00:00"}, 0, 409),  # the statement's own deadline passed
        ({"appeal_by": "2026-12-03T00:00:00+00:00"}, 30, 201),  # the statement's deadline wins
    ],
)
def test_the_appeal_deadline(
    app: FastAPI, enforcement: TwinEnforcement, statement: dict[str, str], started_days_ago: int, status: int
) -> None:
    enforcement.add("s2", account="a2", statement=statement, starts_at=T0 - timedelta(days=started_days_ago))
    with api_client(app, role="platform", on_behalf_of="a2") as account:
        response = account.post("/v1/sanctions/s2/appeal", json={})
    assert response.status_code == status, response.text
    if status == 409:
        assert "closed" in problem(response, 409)["detail"]


def test_appeals_without_enforcement_or_sanction(app: FastAPI, enforcement: TwinEnforcement) -> None:
    with api_client(app, role="moderator") as mod:
        problem(mod.post("/v1/sanctions/nope/appeal", json={}), 404)
        problem(mod.get("/v1/sanctions/nope/appeal"), 404)
        enforcement.add("s3", account="a3")
        problem(mod.get("/v1/sanctions/s3/appeal"), 404)  # not appealed
        problem(mod.post("/v1/sanctions/s3/appeal", json={"text": "x" * 5000}), 422)
        app.state.review.enforcement = None
        assert "not kept" in problem(mod.post("/v1/sanctions/s3/appeal", json={}), 404)["detail"]


# -- response times -------------------------------------------------------------------------------


def test_response_time_figures(app: FastAPI, clock: Clock) -> None:
    for i in range(3):
        hold(app, clock, f"e{i}")
    with staff(app, "moderator", "alice") as alice, staff(app, "moderator", "bob") as bob:
        ids = [the_item(alice, "held", f"e{i}")["item_id"] for i in range(3)]
        clock.advance(minutes=30)
        alice.post(f"/v1/review/items/{ids[0]}/decision", json={"outcome": "approve"})
        clock.advance(hours=4)  # 4.5 h: past the 4 h SLA of a high item
        bob.post(f"/v1/review/items/{ids[1]}/decision", json={"outcome": "remove"})
    with api_client(app, role="auditor") as auditor:
        stats = auditor.get("/v1/review/stats").json()
        problem(
            auditor.get(
                "/v1/review/stats", params={"since": "2026-12-03T00:00:00Z", "until": "2026-12-02T00:00:00Z"}
            ),
            422,
        )
        problem(auditor.get("/v1/review/stats", params={"since": "yesterday"}), 422)
    held = stats["kinds"]["held"]
    assert held["decided"] == 2 and held["median_s"] == 1800 and held["p90_s"] == 16200
    assert held["within_sla"] == 0.5 and held["overdue_now"] == 1
    by_staff = {k.split("(")[-1].rstrip(")"): v for k, v in stats["staff"].items()}
    assert by_staff["alice"]["decided"] == 1 and by_staff["bob"]["within_sla"] == 0.0
    assert stats["sla_hours"]["held"] == 4

"""The report store on SQLite and PostgreSQL: filing, the crowd and ring against an account (from
reporter facts and from what the events table knows), the queue's order and pages, SLA, decisions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.errors import InputError
from cvguard.events import Event
from cvguard.reports import Priority, ReportRules
from cvguard.store import EventStore
from cvguard.store.reports import EventMinorFlags, NewReport, ReportStore
from cvguard.verdict import Verdict

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CLEAN = Verdict(violation=False, score=0.0, severity=None, categories={}, spans=(), versions={})


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, **kw: float) -> None:
        self.at += timedelta(**kw)


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def reports(database_url: str, clock: Clock) -> Iterator[ReportStore]:
    store = ReportStore.open(database_url, clock=clock)
    try:
        yield store
    finally:
        store.close()


RULES = ReportRules()


def _file(
    store: ReportStore,
    reporter: str,
    *,
    category: str = "insult",
    account: str | None = "troll",
    base: Priority = Priority.NORMAL,
    **kw: object,
) -> str:
    report = NewReport(reporter_id=reporter, category=category, account_id=account, **kw)  # type: ignore[arg-type]
    return store.file(
        report, rules=RULES, base_priority=base, priority_reasons=(f"category {category}",), minor=False
    ).report_id


def test_file_and_read_back(reports: ReportStore) -> None:
    text = "他每天私信骂我，还说知道我住哪 🙁 — مرحبا"
    report_id = _file(
        reports,
        "u1",
        category="threat",
        base=Priority.URGENT,
        text=text,
        event_ids=("e1", "e2"),
        evidence_case_ids=("case-9",),
    )
    got = reports.get(report_id)
    assert got is not None
    assert got.text == text  # any script, stored as given
    assert got.reporter_id == "u1" and got.status == "open" and got.priority is Priority.URGENT
    assert got.due_at == T0 + timedelta(hours=1)
    assert got.event_ids == ("e1", "e2") and got.evidence_case_ids == ("case-9",)
    assert [h.action for h in got.history] == ["filed"]
    assert reports.get("rep_missing") is None


def test_client_key_makes_filing_idempotent(reports: ReportStore) -> None:
    first = _file(reports, "u1", client_key="k-1")
    assert _file(reports, "u1", client_key="k-1") == first  # a retry
    assert _file(reports, "u2", client_key="k-1") != first  # keys are per reporter
    assert len(reports.for_reporter("u1")) == 1


def test_a_crowd_raises_priority_and_a_ring_does_not(reports: ReportStore, clock: Clock) -> None:
    # five real people, accounts years apart, reporting hours apart: raised to high
    for i in range(5):
        _file(reports, f"p{i}", account="bully", reporter_created_at=T0 - timedelta(days=300 * (i + 1)))
        clock.advance(hours=2)
    crowd = reports.queue(now=clock())
    assert {r.priority for r in crowd} == {Priority.HIGH}
    assert {r.independent_reporters for r in crowd} == {5}
    assert all(r.ring is None for r in crowd)
    first = reports.get(crowd[0].report_id)  # filed first, raised when the fifth came
    assert first is not None
    assert any(h.action == "reprioritised" and h.actor == "cvguard" for h in first.history)

    # twenty accounts made within the hour, reporting within minutes: one voice
    for i in range(20):
        _file(reports, f"s{i}", account="target", reporter_created_at=T0 - timedelta(days=1, minutes=i))
        clock.advance(seconds=30)
    ring_reports = [r for r in reports.queue(now=clock()) if r.account_id == "target"]
    assert len(ring_reports) == 20
    assert {r.priority for r in ring_reports} == {Priority.NORMAL}
    assert {(r.reporters, r.independent_reporters) for r in ring_reports} == {(20, 1)}
    ring = ring_reports[0].ring
    assert ring is not None and len(ring["members"]) == 20 and ring["reasons"]


def test_ring_links_from_the_events_table(
    reports: ReportStore, event_store: EventStore, clock: Clock
) -> None:
    # three reporters who, by their own events, follow each other; the report carries no facts
    ids = ["a", "b", "c"]
    events = [
        Event.model_validate(
            {
                "event_id": f"ev-{x}-{y}",
                "surface": "comment",
                "occurred_at": (T0 - timedelta(days=2)).isoformat(),
                "author": {"id": x, "created_at": (T0 - timedelta(days=500)).isoformat()},
                "target_ids": [y],
                "relationship": {"author_follows_target": True},
            }
        )
        for x in ids
        for y in ids
        if x != y
    ]
    event_store.add_batch(events, [CLEAN] * len(events), keep_text=True)
    for who in [*ids, "d"]:
        _file(reports, who, account="victim-of-ring")
        clock.advance(hours=3)
    got = reports.queue(now=clock())
    assert {r.independent_reporters for r in got} == {2}  # the ring, and d
    ring = next(r.ring for r in got if r.reporter_id == "a")
    assert ring is not None and ring["members"] == ["a", "b", "c"]
    assert "a and b follow each other" in ring["reasons"]
    assert next(r.ring for r in got if r.reporter_id == "d") is None


def test_minor_flags_from_events(reports: ReportStore, event_store: EventStore) -> None:
    kid = Event.model_validate(
        {
            "event_id": "k1",
            "surface": "comment",
            "occurred_at": T0.isoformat(),
            "author": {"id": "kid", "minor": True},
            "target_ids": ["x"],
        }
    )
    event_store.add_batch([kid], [CLEAN], keep_text=True)
    flags = EventMinorFlags(reports)
    assert flags.groups_of("kid") == frozenset({"minor"})
    assert flags.groups_of("x") == frozenset()
    assert reports.event_people(["k1", "nope"]) == ({"k1": "kid"}, {"x"})


def test_queue_order_pages_and_overdue(reports: ReportStore, clock: Clock) -> None:
    normal = _file(reports, "u1", account="n1")
    clock.advance(minutes=1)
    high = _file(reports, "u2", category="defamation", account="n2", base=Priority.HIGH)
    clock.advance(minutes=1)
    urgent = _file(reports, "u3", category="threat", account="n3", base=Priority.URGENT)
    clock.advance(minutes=1)
    urgent_later = _file(reports, "u4", category="privacy", account=None, base=Priority.URGENT)
    order = [r.report_id for r in reports.queue(now=clock())]
    assert order == [urgent, urgent_later, high, normal]
    # keyset pages: neither repeat nor skip
    pages: list[str] = []
    after = None
    while True:
        page = reports.queue(now=clock(), after=after, limit=1)
        if not page:
            break
        pages.append(page[0].report_id)
        after = (int(page[0].priority), page[0].due_at, page[0].report_id)
    assert pages == order
    # ninety minutes later both urgent reports are past their one hour
    clock.advance(minutes=90)
    late = reports.queue(now=clock(), overdue=True)
    assert [r.report_id for r in late] == [urgent, urgent_later]
    assert all(r.overdue(clock()) for r in late)
    assert [r.report_id for r in reports.queue(now=clock(), overdue=False)] == [high, normal]
    assert reports.overdue_counts(clock())[Priority.URGENT] == 2
    assert [r.report_id for r in reports.queue(now=clock(), category="defamation")] == [high]


def test_assign_and_decide_are_recorded(reports: ReportStore, clock: Clock) -> None:
    report_id = _file(reports, "u1", category="threat", base=Priority.URGENT)
    clock.advance(minutes=5)
    assigned = reports.assign(report_id, assignee="alice", actor="alice (k1)")
    assert assigned is not None and assigned.status == "assigned" and assigned.first_action_at == clock()
    clock.advance(minutes=10)
    decided = reports.decide(report_id, outcome="needs_more_info", note="which message?", actor="alice (k1)")
    assert decided is not None
    report, fresh = decided
    assert fresh and report.status == "needs_more_info" and report.decision_no == 1
    assert report.first_decided_at is None  # not a final decision
    assert not report.overdue(clock() + timedelta(days=1))  # waiting on the reporter
    clock.advance(minutes=10)
    report, fresh = reports.decide(
        report_id, outcome="upheld", note="threat confirmed", actor="bob (k2)"
    ) or (None, 0)
    assert report is not None and fresh and report.decision_no == 2 and report.first_decided_at == clock()
    again = reports.decide(report_id, outcome="upheld", note="threat confirmed", actor="bob (k2)")
    assert again is not None and not again[1] and again[0].decision_no == 2  # a retry changes nothing
    history = report.history
    assert [(h.action, h.actor, h.status) for h in history] == [
        ("filed", "u1", "open"),
        ("assigned", "alice (k1)", "assigned"),
        ("decided", "alice (k1)", "needs_more_info"),
        ("decided", "bob (k2)", "upheld"),
    ]
    assert history[3].note == "threat confirmed"
    assert report_id not in {r.report_id for r in reports.queue(now=clock())}  # decided: out of the queue
    assert reports.queue(now=clock(), statuses=["upheld"])[0].report_id == report_id
    assert reports.assign("rep_nope", assignee="x", actor="x") is None
    assert reports.decide("rep_nope", outcome="upheld", note=None, actor="x") is None


def test_timings(reports: ReportStore, clock: Clock) -> None:
    report_id = _file(reports, "u1")
    clock.advance(minutes=30)
    reports.decide(report_id, outcome="rejected", note=None, actor="m")
    (t,) = reports.timings(since=T0 - timedelta(days=1))
    assert t.priority is Priority.NORMAL and t.first_action_at == t.decided_at == T0 + timedelta(minutes=30)
    assert reports.timings(since=T0 + timedelta(days=1)) == []


def test_reporter_pages(reports: ReportStore, clock: Clock) -> None:
    ids = []
    for _ in range(5):
        ids.append(_file(reports, "u1"))
        clock.advance(seconds=1)
    _file(reports, "u2")
    seen: list[str] = []
    after = None
    while True:
        page = reports.for_reporter("u1", after=after, limit=2)
        if not page:
            break
        seen += [r.report_id for r in page]
        after = (page[-1].filed_at, page[-1].report_id)
    assert seen == ids[::-1]


def test_a_decided_report_keeps_its_priority(reports: ReportStore, clock: Clock) -> None:
    decided = _file(reports, "p0", account="bully")
    reports.decide(decided, outcome="rejected", note=None, actor="m")
    for i in range(1, 6):
        clock.advance(hours=3)
        _file(reports, f"p{i}", account="bully", reporter_created_at=T0 - timedelta(days=300 * i))
    kept = reports.get(decided)
    assert kept is not None and kept.priority is Priority.NORMAL  # decided under normal, stays
    assert kept.independent_reporters == 6  # the crowd is still shown
    assert {r.priority for r in reports.queue(now=clock())} == {Priority.HIGH}


def test_concurrent_filings_against_one_account_each_see_the_others(database_url: str) -> None:
    import threading

    stores = [ReportStore.open(database_url) for _ in range(4)]
    errors: list[BaseException] = []

    def file_some(store: ReportStore, n: int) -> None:
        try:
            for i in range(3):
                _file(store, f"w{n}-{i}", account="crowded")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=file_some, args=(s, n)) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        got = stores[0].queue(now=datetime.now(UTC), limit=100)
        # whichever filing came last assessed all twelve and wrote the count on every report
        assert len(got) == 12 and {r.reporters for r in got} == {12}
    finally:
        for s in stores:
            s.close()


def test_the_reporters_answer_reopens_with_a_fresh_sla(reports: ReportStore, clock: Clock) -> None:
    report_id = _file(reports, "u1", category="threat", base=Priority.URGENT, evidence_case_ids=("c1",))
    with pytest.raises(InputError, match="not waiting"):
        reports.add_info(report_id, text="more", rules=RULES)
    reports.decide(report_id, outcome="needs_more_info", note="which post?", actor="m")
    clock.advance(hours=5)
    answered = reports.add_info(
        report_id, text="这条：e9", evidence_event_ids=("e9",), evidence_case_ids=("c1", "c2"), rules=RULES
    )
    assert answered is not None
    assert answered.status == "open" and answered.sla_from == clock()
    assert answered.due_at == clock() + timedelta(hours=1)
    assert answered.evidence_event_ids == ("e9",) and answered.evidence_case_ids == ("c1", "c2")
    last = answered.history[-1]
    assert (last.action, last.actor, last.note) == ("info_added", "u1", "这条：e9")
    assert not answered.overdue(clock() + timedelta(minutes=59))
    assert answered.overdue(clock() + timedelta(minutes=61))
    assert reports.add_info("rep_nope", text="x", rules=RULES) is None

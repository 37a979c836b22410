"""store.review on SQLite and PostgreSQL: one item per record, the queue's order, filters and pages,
assignment, one decision per item, people's content decisions, one appeal per sanction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.errors import InputError
from cvguard.reports.priority import Priority
from cvguard.review import NewItem
from cvguard.store.review import AlreadyDecided, ReviewStore

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Iterator[ReviewStore]:
    with ReviewStore.open(database_url) as opened:
        yield opened


def item(kind: str, ref: str, priority: Priority, due_h: float) -> NewItem:
    return NewItem(kind, ref, priority, ("why",), T0, T0 + timedelta(hours=due_h), {"surface": "comment"})  # type: ignore[arg-type]


def test_one_item_per_record_and_the_queue_order(store: ReviewStore) -> None:
    items = [
        item("held", "e1", Priority.NORMAL, 4),
        item("alert", "a1", Priority.URGENT, 2),
        item("report", "r1", Priority.URGENT, 1),
        item("held", "e2", Priority.HIGH, 4),
    ]
    assert store.enqueue(items) == 4
    # again (a redelivered batch) adds nothing, and the first due time stands
    assert store.enqueue([item("held", "e1", Priority.URGENT, 1)]) == 0
    order = [(i.kind, i.ref_id) for i in store.queue(now=T0)]
    assert order == [("report", "r1"), ("alert", "a1"), ("held", "e2"), ("held", "e1")]
    e1 = store.by_ref("held", "e1")
    assert e1 is not None and e1.priority == Priority.NORMAL and e1.context == {"surface": "comment"}
    # filters: kind, overdue
    assert [i.ref_id for i in store.queue(now=T0, kind="held")] == ["e2", "e1"]
    assert [i.ref_id for i in store.queue(now=T0 + timedelta(hours=3), overdue=True)] == ["r1", "a1"]
    assert [i.ref_id for i in store.queue(now=T0 + timedelta(hours=3), overdue=False)] == ["e2", "e1"]
    # keyset pages walk the same order
    first = store.queue(now=T0, limit=2)
    last = first[-1]
    rest = store.queue(now=T0, after=(int(last.priority), last.due_at, last.item_id), limit=10)
    assert [i.ref_id for i in first + rest] == ["r1", "a1", "e2", "e1"]


def test_assign_and_decide_once(store: ReviewStore) -> None:
    store.enqueue([item("held", "e1", Priority.HIGH, 4)])
    found = store.by_ref("held", "e1")
    assert found is not None
    assigned = store.assign(found.item_id, assignee="alice", now=T0 + timedelta(minutes=5))
    assert assigned is not None and assigned[0].assignee is None and assigned[1].assignee == "alice"
    assert [i.ref_id for i in store.queue(now=T0, assignee="alice")] == ["e1"]
    with pytest.raises(InputError, match="approve, remove"):
        store.decide(found.item_id, outcome="upheld", actor="alice", note=None, now=T0)
    decided = store.decide(
        found.item_id, outcome="approve", actor="alice", note="fine", now=T0 + timedelta(hours=1)
    )
    assert decided is not None
    before, after, fresh = decided
    assert fresh and before.outcome is None and after.outcome == "approve" and after.decided_by == "alice"
    # the same decision again is not new; another one is refused and names who decided
    again = store.decide(
        found.item_id, outcome="approve", actor="bob", note=None, now=T0 + timedelta(hours=2)
    )
    assert again is not None and again[2] is False and again[1].decided_by == "alice"
    with pytest.raises(AlreadyDecided, match="by alice"):
        store.decide(found.item_id, outcome="remove", actor="bob", note=None, now=T0 + timedelta(hours=2))
    with pytest.raises(AlreadyDecided):
        store.assign(found.item_id, assignee="bob", now=T0)
    assert store.queue(now=T0) == [] and [i.ref_id for i in store.queue(now=T0, decided=True)] == ["e1"]
    assert store.decide("rv_none", outcome="approve", actor="a", note=None, now=T0) is None
    timing = store.timings(since=T0 - timedelta(days=1))
    assert [(t.kind, t.decided_by) for t in timing] == [("held", "alice")]


def test_settled_elsewhere_and_overdue_counts(store: ReviewStore) -> None:
    store.enqueue([item("report", "r1", Priority.HIGH, 1), item("alert", "a1", Priority.HIGH, 1)])
    assert store.settle("report", "r1", outcome="upheld", actor="bob", now=T0) is True
    assert store.settle("report", "r1", outcome="rejected", actor="bob", now=T0) is False  # decided already
    counts = store.overdue_now(T0 + timedelta(hours=2))
    assert counts["alert"] == 1 and counts["report"] == 0 and counts["held"] == 0


def test_a_persons_content_decision(store: ReviewStore) -> None:
    store.record_person("e1", action="restore", actor="alice", at=T0, item_id="rv_1")
    store.record_person(
        "e1", action="remove", actor="bob", at=T0 + timedelta(hours=1)
    )  # a later person's wins
    assert store.person_decided(["e1", "e2"]) == {"e1"}
    found = store.person_decision("e1")
    assert found is not None and (found.action, found.actor) == ("remove", "bob")


def test_one_appeal_per_sanction(store: ReviewStore) -> None:
    appeal = store.file_appeal(
        sanction_id="s1",
        account_id="a1",
        filed_by="platform:k",
        deadline=T0,
        text="我没有 — I did not",
        first_decider="alice",
        now=T0,
    )
    assert appeal.status == "pending" and appeal.text == "我没有 — I did not"
    with pytest.raises(AlreadyDecided, match="one appeal per sanction"):
        store.file_appeal(
            sanction_id="s1",
            account_id="a1",
            filed_by="platform:k",
            deadline=T0,
            text=None,
            first_decider=None,
            now=T0,
        )
    decided = store.decide_appeal(
        appeal.appeal_id, outcome="upheld", reviewer="bob", now=T0, feed_keys=["k1"]
    )
    assert (decided.status, decided.reviewer, decided.feed_keys) == ("upheld", "bob", ("k1",))
    # the first outcome stays
    again = store.decide_appeal(appeal.appeal_id, outcome="rejected", reviewer="carol", now=T0, feed_keys=[])
    assert again.status == "upheld" and store.appeal_of("s1") == again

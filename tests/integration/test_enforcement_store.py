"""The violation ledger and sanctions in SQLite and PostgreSQL: written once, reversed and lifted
once, never deleted, and polled by what changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.enforcement import Sanction, Violation
from cvguard.store.enforcement import EnforcementStore

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)


@pytest.fixture
def ledger(database_url: str) -> Iterator[EnforcementStore]:
    store = EnforcementStore.open(database_url)
    try:
        yield store
    finally:
        store.close()


def viol(i: int, account: str = "a1", **kw: object) -> Violation:
    fields: dict[str, object] = {
        "violation_id": f"event:e{i}", "account_id": account, "at": T0 + timedelta(minutes=i),
        "confirmed_by": "policy:chat-harmful", "roles": ("first_time", "copycat"), "event_id": f"e{i}",
        "surface": "comment", "categories": ("insult",), "score": 0.9, "alert_id": "pile_on:user:t:1",
        "policy_version": "p1", "model_version": "m1", "mcn_id": "mcn-1", "action": "fold",
    }
    fields.update(kw)
    return Violation(**fields)  # type: ignore[arg-type]


def sanc(sid: str, account: str = "a1", rests_on: tuple[str, ...] = ("event:e1",)) -> Sanction:
    return Sanction(
        sanction_id=sid, account_id=account, kind="warning", starts_at=T0, expires_at=T0 + timedelta(days=30),
        violation_ids=rests_on[-1:], statement={"what": "a warning", "content": ["e1"]},
        decided_by="ladder:2026.12.1", step=0, rests_on=rests_on,
    )


def test_violations_round_trip_and_are_written_once(ledger: EnforcementStore) -> None:
    assert ledger.add_violations([viol(1), viol(2), viol(1)]) == ["event:e1", "event:e2"]
    assert ledger.add_violations([viol(1), viol(3)]) == ["event:e3"]  # the first write stays
    got = ledger.violation("event:e1")
    assert got == viol(1)
    ids = [v.violation_id for v in ledger.violations(account_id="a1")]
    assert ids == ["event:e3", "event:e2", "event:e1"]
    ids = [v.violation_id for v in ledger.violations(since=T0 + timedelta(minutes=2))]
    assert ids == ["event:e3", "event:e2"]
    assert ledger.violations(account_id="nobody") == []


def test_a_reversed_violation_stays_reversed(ledger: EnforcementStore) -> None:
    ledger.add_violations([viol(1), viol(2)])
    done = ledger.reverse_violations(["event:e1", "event:e9"], at=T0, by="person:alice")
    assert [(v.violation_id, v.status) for v in done] == [("event:e1", "reversed")]
    assert ledger.reverse_violations(["event:e1"], at=T0, by="person:bob") == []  # once
    ledger.add_violations([viol(1)])  # a rule run again does not bring it back
    got = ledger.violation("event:e1")
    assert got is not None and got.status == "reversed"


def test_sanctions_round_trip_lift_once_and_rest_on_violations(ledger: EnforcementStore) -> None:
    ledger.add_violations([viol(1), viol(2)])
    assert ledger.add_sanction(sanc("s1"))
    assert not ledger.add_sanction(sanc("s1"))
    assert ledger.add_sanction(sanc("s2", rests_on=("event:e1", "event:e2")))
    assert ledger.sanction("s1") == sanc("s1")
    assert {s.sanction_id for s in ledger.resting_on(["event:e2"])} == {"s2"}
    lifted = ledger.lift_sanctions(["s2", "s1"], at=T0, by="person:alice", reason="appeal upheld")
    assert [(s.sanction_id, s.status, s.lifted_by) for s in lifted] == [
        ("s2", "lifted", "person:alice"), ("s1", "lifted", "person:alice")
    ]
    assert ledger.lift_sanctions(["s1"], at=T0, by="x", reason="again") == []
    assert ledger.sanctions(account_id="a1", status="active") == []
    assert len(ledger.sanctions(account_id="a1")) == 2


def test_changed_since_gives_what_other_processes_wrote(database_url: str) -> None:
    stamps = iter([T0, T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)])
    store = EnforcementStore.open(database_url, clock=lambda: next(stamps))
    try:
        store.add_violations([viol(1)])
        store.add_sanction(sanc("s1"))
        everything = store.changed_since(None)
        assert len(everything.violations) == 1 and len(everything.sanctions) == 1
        assert everything.newest == T0
        store.add_violations([viol(2)])
        later = store.changed_since(T0 + timedelta(seconds=5))
        assert [v.violation_id for v in later.violations] == ["event:e2"] and later.sanctions == []
    finally:
        store.close()


def test_a_poll_of_others_only_skips_this_store_s_own_writes(database_url: str) -> None:
    mine = EnforcementStore.open(database_url)
    other = EnforcementStore(mine.engine)  # another process on the same database
    try:
        assert mine.origin != other.origin
        mine.add_violations([viol(1)])
        mine.add_sanction(sanc("s1"))
        assert mine.last_written is not None and other.last_written is None
        since = T0 - timedelta(days=1)
        assert mine.changed_since(since, others_only=True).violations == []
        seen = other.changed_since(since, others_only=True)
        assert [v.violation_id for v in seen.violations] == ["event:e1"]
        assert [s.sanction_id for s in seen.sanctions] == ["s1"]
        # another store reverses a row this one wrote: the row is the other's now, and this one sees it
        other.reverse_violations(["event:e1"], at=T0, by="person:bob")
        other.lift_sanctions(["s1"], at=T0, by="person:bob", reason="appeal upheld")
        back = mine.changed_since(since, others_only=True)
        assert [(v.violation_id, v.status) for v in back.violations] == [("event:e1", "reversed")]
        assert [(s.sanction_id, s.status) for s in back.sanctions] == [("s1", "lifted")]
        assert other.changed_since(since, others_only=True).violations == []
        assert len(mine.changed_since(None).violations) == 1  # everything, whoever wrote it
    finally:
        mine.close()


def test_a_ledger_reads_back_only_what_others_wrote_and_sees_all_of_it(database_url: str) -> None:
    from cvguard.pipeline.enforce import Enforcer, Ledger

    here = EnforcementStore.open(database_url)
    try:
        a = Enforcer(Ledger(here, poll_s=0))
        b = Enforcer(Ledger(EnforcementStore(here.engine), poll_s=0))
        read: list[int] = []
        changed_since = here.changed_since

        def counted(since: datetime | None, *, others_only: bool = False) -> object:
            got = changed_since(since, others_only=others_only)
            read.append(len(got.violations) + len(got.sanctions))
            return got

        here.changed_since = counted  # type: ignore[method-assign]
        v, issued = a.confirm(account_id="u1", actor="alice", at=T0, reason="insults")
        assert issued is not None
        a.ledger.refresh()
        assert read[-1] == 0  # its own violation and sanction are in memory already, not read back
        b.ledger.refresh()
        assert b.ledger.history("u1") == [v] and b.ledger.standing("u1", "comment", T0)[0] == 1
        b.reverse(issued.sanction.sanction_id, actor="person:bob", reason="appeal upheld", now=T0)
        a.ledger.refresh()
        assert read[-1] == 2  # the other's reversal and lift
        assert a.ledger.standing("u1", "comment", T0) == (0, False)
        assert [x.status for x in a.ledger.history("u1")] == ["reversed"]
    finally:
        here.close()


def test_the_feed_appends_without_reading_back_once_by_key(database_url: str) -> None:
    from cvguard.policy.feed import PlannedAction
    from cvguard.store.actions import ActionFeed

    feed = ActionFeed.open(database_url)
    try:
        actions = [
            PlannedAction(key=f"k{i}", kind="sanction", surface="account", subject_type="account",
                          subject=f"a{i}", reason="r", params={"sanction_id": f"s{i}"})
            for i in (1, 2)
        ]
        assert feed.append(actions[:1]) and feed.append(actions, read_back=False) == []
        assert feed.append(actions, read_back=False) == []  # nothing twice
        entries, _ = feed.after(0, 10)
        assert [(e.key, e.params["sanction_id"]) for e in entries] == [("k1", "s1"), ("k2", "s2")]
    finally:
        feed.close()

"""The MCN store and desk against SQLite and PostgreSQL: organisations and members, violations put
on MCNs and reversed, measures taken into the feed and the audit trail, and lifted when a reversal
takes the MCN back under its threshold."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cvguard.enforcement import Violation
from cvguard.events import Event
from cvguard.pipeline.mcn import McnDesk, register
from cvguard.store.actions import ActionFeed
from cvguard.store.audit import AuditLog
from cvguard.store.mcns import McnStore

T0 = datetime(2026, 11, 20, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


@pytest.fixture
def mcns(database_url: str) -> Iterator[McnStore]:
    store = McnStore.open(database_url)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def desk(mcns: McnStore) -> McnDesk:
    return McnDesk(mcns, ActionFeed(mcns.engine), audit=AuditLog(mcns.engine))


def event(i: int, author: str, mcn: str | None, day: float = 0) -> Event:
    return Event.model_validate({
        "event_id": f"e{i}", "surface": "comment", "occurred_at": at(day).isoformat(),
        "author": {"id": author, "mcn_id": mcn}, "text": "hi",
    })


def violation(vid: str, account: str, *roles: str, mcn: str | None = "m1", day: float = 1) -> Violation:
    return Violation(
        violation_id=vid, account_id=account, at=at(day), confirmed_by="policy:r1",
        roles=roles or ("first_time",), mcn_id=mcn,  # type: ignore[arg-type]
    )


def test_put_declares_the_organisation_and_its_member_list(mcns: McnStore) -> None:
    org = mcns.put("m1", name="Star Media", contact="ops@star.example", members=["u1", "u2"], at=at(0))
    assert (org.name, org.contact, org.status) == ("Star Media", "ops@star.example", "active")
    assert [(x.account_id, x.source, x.left_at) for x in mcns.members("m1")] == [
        ("u1", "platform", None), ("u2", "platform", None)]
    # the list is the list: u1 left, u3 joined, u2 stays with its first date
    mcns.put("m1", name="Star Media", contact=None, members=["u2", "u3"], at=at(2))
    got = {x.account_id: x for x in mcns.members("m1")}
    assert got["u1"].left_at == at(2) and got["u2"].since == at(0) and got["u3"].since == at(2)
    assert mcns.mcns_of(["u1", "u2", "u3", "u9"]) == {"u2": "m1", "u3": "m1"}
    # without a member list the members stay
    mcns.put("m1", name="Renamed", contact=None, at=at(3))
    assert len(mcns.members("m1")) == 3 and mcns.get("m1").name == "Renamed"  # type: ignore[union-attr]
    assert mcns.get("nope") is None


def test_observe_writes_only_unseen_pairs_and_never_overrides_the_platform(desk: McnDesk) -> None:
    store = desk.store
    assert desk.observe([event(1, "u1", "m1"), event(2, "u2", "m1"), event(3, "u3", None)]) == 2
    assert desk.observe([event(4, "u1", "m1"), event(5, "u2", "m1")]) == 0  # known: not even written
    assert [x.account_id for x in store.members("m1")] == ["u1", "u2"]
    assert store.get("m1") is not None  # an MCN first seen on an event is declared, nameless
    store.put("m1", name="Star", contact=None, members=["u2"], at=at(1))
    fresh = McnDesk(store)  # another process: the pair is unknown to it, the row stays as it is
    assert fresh.observe([event(6, "u1", "m1", day=2)]) == 0
    assert {x.account_id: x.left_at for x in store.members("m1")} == {"u1": at(1), "u2": None}


def test_three_inciters_warn_the_mcn_and_its_members_and_a_reversal_lifts_it(desk: McnDesk) -> None:
    store, feed = desk.store, desk.feed
    assert feed is not None and desk.audit is not None
    store.put("m1", name="Star", contact=None, members=["u1", "u2", "u3", "u4"], at=at(0))
    before = (store.violations("m1"), store.measures("m1"), feed.after(0, 1000)[0])
    three = [violation(f"v{i}", f"u{i}", "first_time", "initiator") for i in (1, 2, 3)]
    desk.on_violations(three[:2], now=at(1))
    assert store.measures("m1") == []  # two inciters: nothing yet
    desk.on_violations(three[2:], now=at(1))
    (measure,) = store.measures("m1")
    assert measure.kind == "warning" and measure.state_at(at(1)) == "active"
    assert measure.statement["violations"] == ["v1", "v2", "v3"]
    assert measure.statement["inciters"] == ["u1", "u2", "u3"]
    entries, cursor = feed.after(0, 1000)
    assert [(e.kind, e.subject_type, e.subject) for e in entries] == [
        ("mcn_measure", "mcn", "m1"), *(("mcn_measure", "account", f"u{i}") for i in (1, 2, 3, 4))]
    assert entries[1].params["statement"]["members"][0]["account_id"] == "u1"
    assert entries[0].params["expires_at"] == measure.expires_at.isoformat()  # type: ignore[union-attr]
    # told again (a retried call): nothing twice
    desk.on_violations(three, now=at(1))
    assert len(store.measures("m1")) == 1 and feed.after(cursor, 1000)[0] == []
    # an appeal reverses v2: two inciters left, the warning no longer holds and is lifted
    desk.on_reversed([three[1]], now=at(2))
    (lifted,) = store.measures("m1")
    assert lifted.status == "lifted" and lifted.lifted_by == "cvguard"
    assert "violations reversed: v2" in (lifted.lift_reason or "")
    undo, _ = feed.after(cursor, 1000)
    assert [(e.kind, e.subject) for e in undo] == [("lift_mcn_measure", "m1"),
                                                   *(("lift_mcn_measure", f"u{i}") for i in (1, 2, 3, 4))]
    assert [e.undoes for e in undo] == [e.key for e in entries]
    # counts corrected exactly: the violations as before the reversal, v2 marked reversed
    assert {v.violation_id: v.status for v in store.violations("m1")} == {
        "v1": "active", "v2": "reversed", "v3": "active"}
    assert desk.figures("m1", now=at(2)).inciters == ("u1", "u3")
    assert before[0] == [] and before[1] == [] and before[2] == []
    # reversed twice: nothing more
    desk.on_reversed([three[1]], now=at(3))
    assert len(feed.after(0, 1000)[0]) == 10
    trail = desk.audit.entries(limit=10)
    assert [(e.actor, e.action) for e in trail] == [
        ("cvguard", "mcn.measure"), ("cvguard", "mcn.measure.lift")]
    assert trail[0].inputs["violation_ids"] == ["v1", "v2", "v3"] and trail[1].after["state"] == "lifted"
    assert desk.audit.verify().ok


def test_a_violation_without_mcn_goes_to_the_accounts_mcn(desk: McnDesk) -> None:
    desk.store.put("m2", name=None, contact=None, members=["u5"], at=at(0))
    desk.on_violations([violation("v5", "u5", mcn=None), violation("v6", "u6", mcn=None)], now=at(1))
    assert [v.violation_id for v in desk.store.violations("m2")] == ["v5"]
    assert desk.store.mcns_with(["v5", "v6"]) == ["m2"]


def test_the_desk_holds_memberships_and_sees_every_change_of_them(desk: McnDesk) -> None:
    reads: list[str] = []
    for name in ("mcns_of", "current_members", "members_stamp"):
        method = getattr(desk.store, name)

        def counted(*a: object, _m: object = method, _n: str = name, **k: object) -> object:
            reads.append(_n)
            return _m(*a, **k)  # type: ignore[operator]

        setattr(desk.store, name, counted)
    clock = [0.0]
    desk._monotonic = lambda: clock[0]
    assert desk.mcns_of(["u1", "u2", "u3"]) == {}
    before = len(reads)
    assert desk.mcns_of(["u2", "u1"]) == {} and len(reads) == before  # from memory: no store read
    # the platform's member list through the desk's store: seen at the next call
    desk.store.put("m1", name=None, contact=None, members=["u1"], at=at(0))
    assert desk.mcns_of(["u1", "u2"]) == {"u1": "m1"}
    # a member seen on an event by this desk: seen at once, without reloading everything
    loads = reads.count("current_members")
    desk.observe([event(1, "u2", "m2")])
    assert desk.mcns_of(["u2", "u3"]) == {"u2": "m2"}
    clock[0] += desk.poll_s
    assert desk.mcns_of(["u2"]) == {"u2": "m2"} and reads.count("current_members") == loads
    # another process's change: seen once the poll interval has passed
    other = McnStore(desk.store.engine)
    other.put("m1", name=None, contact=None, members=["u1", "u3"], at=at(1))
    assert desk.mcns_of(["u3"]) == {}  # until the poll
    clock[0] += desk.poll_s
    assert desk.mcns_of(["u3", "u1"]) == {"u3": "m1", "u1": "m1"}
    other.put("m1", name=None, contact=None, members=["u3"], at=at(2))  # u1 leaves
    clock[0] += desk.poll_s
    assert desk.mcns_of(["u1", "u3"]) == {"u3": "m1"}


def test_past_its_limit_the_desk_asks_the_store(desk: McnDesk, monkeypatch: pytest.MonkeyPatch) -> None:
    import cvguard.pipeline.mcn as desk_module

    monkeypatch.setattr(desk_module, "MAX_MEMBERS", 1)
    desk.store.put("m1", name=None, contact=None, members=["u1", "u2"], at=at(0))
    assert desk.mcns_of(["u1", "u2", "u3"]) == {"u1": "m1", "u2": "m1"}


def test_by_hand_and_lift_by_a_person(desk: McnDesk) -> None:
    desk.store.put("m3", name=None, contact=None, members=["u1"], at=at(0))
    x = desk.take("m3", "revenue_pause", duration=timedelta(days=7), reason="sponsored attacks",
                  actor="moderator:k1 (alice)", now=at(1))
    assert x.measure_id == "m3:person:1" and x.expires_at == at(8)
    alice = "moderator:k1 (alice)"
    assert desk.lift("m3:person:1", actor=alice, reason="agreed a plan", now=at(2)) is not None
    assert desk.lift("m3:person:1", actor="moderator:k1 (alice)", reason="again", now=at(2)) is None
    (stored,) = desk.store.measures("m3")
    assert stored.status == "lifted" and stored.lift_reason == "agreed a plan"
    # a person's lift is never undone by a recheck, and a reversal leaves a person's measure
    y = desk.take("m3", "warning", duration=None, reason="r", actor="moderator:k1 (alice)", now=at(3))
    desk.on_reversed([violation("zz", "u1", mcn="m3")], now=at(4))
    assert desk.store.measure(y.measure_id).status == "active"  # type: ignore[union-attr]


def test_overview_counts_members_violations_and_inciters(desk: McnDesk) -> None:
    store = desk.store
    store.put("m1", name="A", contact=None, members=["u1", "u2"], at=at(0))
    store.put("m2", name="B", contact=None, members=["u3"], at=at(0))
    desk.on_violations([violation("v1", "u1", "initiator"), violation("v2", "u1"),
                        violation("v3", "u3", mcn="m2")], now=at(1))
    got = {o.organisation.mcn_id: o for o in store.overview(since=at(-30))}
    assert (got["m1"].members, got["m1"].violations, got["m1"].inciters) == (2, 2, 1)
    assert got["m1"].violations_per_member == 1.0 and got["m2"].violations_per_member == 1.0
    assert store.overview(since=at(5))[0].violations == 0


def test_register_adds_the_desk_once(desk: McnDesk) -> None:
    listeners: list[object] = []
    assert register(desk, listeners) is True  # type: ignore[arg-type]
    assert register(desk, listeners) is False  # type: ignore[arg-type]
    assert register(None, listeners) is False  # type: ignore[arg-type]
    assert listeners == [desk]


def test_a_worker_keeps_members_from_the_events_it_stores(redis_url: str, tmp_path: Path) -> None:
    import redis

    from cvguard.detection.screen import Screener
    from cvguard.pipeline.redis_bus import RedisStreamBus
    from cvguard.pipeline.shared_state import SharedBehaviour
    from cvguard.pipeline.worker import Worker
    from cvguard.store import EventStore

    client = redis.Redis.from_url(redis_url)
    try:
        bus = RedisStreamBus(client)
        bus.publish([event(1, "u1", "m1"), event(2, "u2", "m1"), event(3, "u1", "m1"), event(4, "u3", None)])
        with EventStore.open(f"sqlite:///{tmp_path / 'w.db'}") as store:
            desk = McnDesk(McnStore(store.engine))
            worker = Worker(bus=bus, behaviour=SharedBehaviour(client), store=store,
                            screener=Screener.default(), group="g", name="w1", batch=10, block_ms=50,
                            wall=lambda: at(0), mcn=desk)
            worker.run(idle_exit_s=0.3)
            assert [(x.account_id, x.source, x.since) for x in desk.store.members("m1")] == [
                ("u1", "event", at(0)), ("u2", "event", at(0))]
    finally:
        client.close()


def test_the_settings_name_the_thresholds_file(tmp_path: Path) -> None:
    from cvguard.config import Settings
    from cvguard.enforcement.mcn_thresholds import McnThresholdError, format_issue
    from cvguard.pipeline.mcn import mcn_thresholds

    assert mcn_thresholds(Settings(data_dir=tmp_path)).get("inciters-warning") is not None
    bad = tmp_path / "mcn.yaml"
    bad.write_text('version: "x"\nthresholds:\n  - id: a\n    measure: warnin\n', encoding="utf-8")
    with pytest.raises(McnThresholdError) as caught:
        mcn_thresholds(Settings(data_dir=tmp_path, mcn_thresholds_file=bad))
    said = [format_issue(i) for i in caught.value.issues]
    assert f"{bad}:4: threshold 'a' measure: unknown measure 'warnin' (hint: did you mean 'warning'?)" in said


def test_observe_keeps_what_the_store_refused_for_the_next_batch(desk: McnDesk) -> None:
    from sqlalchemy import text

    engine = desk.store.engine
    with engine.begin() as c:
        c.execute(text("ALTER TABLE mcn_members RENAME TO mcn_members_away"))
    assert desk.observe([event(1, "u1", "m1")]) == 0  # refused: logged, kept, not raised
    with engine.begin() as c:
        c.execute(text("ALTER TABLE mcn_members_away RENAME TO mcn_members"))
    assert desk.observe([event(2, "u2", "m1")]) == 2  # the kept pair comes with the next batch
    assert [x.account_id for x in desk.store.members("m1")] == ["u1", "u2"]


def test_cvguard_mcn_validate_exits_2_naming_every_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from cvguard.cli import app

    golden = Path(__file__).parents[1] / "unit" / "golden"
    monkeypatch.chdir(golden)
    runner = CliRunner()
    good = runner.invoke(app, ["mcn", "validate", "mcn_good.yaml"])
    assert good.exit_code == 0 and "mcn_good.yaml: ok (version 1, 2 thresholds)" in good.stdout
    bad = runner.invoke(app, ["mcn", "validate", "mcn_good.yaml", "mcn_bad_keys.yaml"])
    assert bad.exit_code == 2
    assert bad.stderr == (golden / "mcn_bad_keys.txt").read_text(encoding="utf-8")
    assert runner.invoke(app, ["mcn", "validate", "missing.yaml"]).exit_code == 2

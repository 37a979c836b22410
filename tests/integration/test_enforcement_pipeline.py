"""Enforcement wired into the pipeline: confirmed violations graded into sanctions (feed action,
statement, audit entry), sanction state fed back into decisions, DM escalations as violations, and
a reversal that restores exactly what the sanction took away (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cvguard.config import Settings
from cvguard.events import Author, Event, Relationship
from cvguard.pipeline import Pipeline
from cvguard.pipeline.enforce import Enforcer, Ledger
from cvguard.store.audit import AuditLog
from cvguard.store.enforcement import EnforcementStore
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLEAN = Verdict(False, 0.05, None, {}, (), {})
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {"model.zh": "m1", "lexicon": "l1"})
INSULT = "你就是个贱人，去死吧"


class Fixed:
    """A screener twin: abuse for the insult, clean otherwise."""

    def screen_many(self, texts: Sequence[str]) -> list[Verdict]:
        return [ABUSE if t == INSULT else CLEAN for t in texts]


def ev(event_id: str, t: float, author: str, text: str = INSULT, *, surface: str = "comment",
       target: str = "xiaoli", mcn: str | None = None) -> Event:
    return Event(
        event_id=event_id, surface=surface, occurred_at=T0 + timedelta(seconds=t), text=text,  # type: ignore[arg-type]
        author=Author(id=author, created_at=T0 - timedelta(days=500), mcn_id=mcn), target_ids=(target,),
        relationship=Relationship(target_follows_author=True, author_follows_target=True),
    )


@pytest.fixture
def pipeline(tmp_path: Path, database_url: str) -> Iterator[Pipeline]:
    p = Pipeline.open(Settings(data_dir=tmp_path, database_url=database_url), screener=Fixed())
    try:
        yield p
    finally:
        p.close()


def enforcer(p: Pipeline) -> Enforcer:
    assert p.enforcer is not None
    return p.enforcer


def feed(p: Pipeline) -> list[Any]:
    assert p.actions is not None
    return p.actions.feed.after(0, 1000)[0]


def state(ledger: Ledger, account: str, at: datetime) -> tuple[int, list[str], bool, float]:
    """What a sanction changes: violations counting, active sanctions, restricted, strike points."""
    ledger.refresh(force=True)
    st = ledger.of(account)
    active = [] if st is None else sorted(s.sanction_id for s in st.active_sanctions(at))
    prior, restricted = ledger.standing(account, "comment", at)
    return prior, active, restricted, ledger.strikes(account, at)


def test_a_confirmed_violation_is_graded_into_a_sanction_with_its_statement(pipeline: Pipeline) -> None:
    result = pipeline.ingest([ev("e1", 0, "a", mcn="mcn-1"), ev("e2", 1, "b", "你好")])
    assert [d.rule_id for d in result.decisions] == ["chat-harmful", None]
    store = enforcer(pipeline).store
    v = store.violation("event:e1")
    assert v is not None and v.account_id == "a" and v.confirmed_by == "policy:chat-harmful"
    assert v.roles == ("first_time",) and v.categories == ("insult",) and v.score == 0.9
    assert v.mcn_id == "mcn-1" and v.policy_version == pipeline.policy.version  # type: ignore[union-attr]
    assert v.model_version == "lexicon=l1+model.zh=m1" and v.action == "fold"
    assert store.violations(account_id="b") == []
    [s] = store.sanctions(account_id="a")
    assert s.kind == "warning" and s.starts_at == T0 and s.expires_at == T0 + timedelta(days=30)
    [entry] = [e for e in feed(pipeline) if e.kind == "sanction"]
    assert entry.subject_type == "account" and entry.subject == "a"
    assert entry.params["sanction_id"] == s.sanction_id and entry.params["kind"] == "warning"
    statement = entry.params["statement"]
    assert statement["content"] == ["e1"] and statement["rules"][0]["confirmed_by"] == "policy:chat-harmful"
    assert statement["appeal"]["until"] == (T0 + timedelta(days=14)).isoformat()
    audit = [e for e in AuditLog(store.engine).entries() if e.action.startswith("sanction.")]
    got = [(e.actor, e.action, e.subject_id) for e in audit]
    assert got == [("cvguard", "sanction.issue", s.sanction_id)]
    assert audit[0].after["kind"] == "warning" and audit[0].policy_version == v.policy_version
    # the same event again adds nothing
    pipeline.ingest([ev("e1", 0, "a", mcn="mcn-1")])
    assert len(store.sanctions(account_id="a")) == 1 and len(feed(pipeline)) == 1


def test_a_restriction_blocks_the_author_on_that_surface_and_prior_violations_are_known(
    pipeline: Pipeline,
) -> None:
    pipeline.ingest([ev("e1", 0, "a")])
    pipeline.ingest([ev("e2", 7200, "a")])  # another incident: 4 points, comment restriction for a day
    kinds = [s.kind for s in enforcer(pipeline).store.sanctions(account_id="a")]
    assert kinds == ["comment_restriction", "warning"]
    result = pipeline.ingest([ev("e3", 7260, "a", "你好"), ev("e4", 7261, "a", "你好", surface="post")])
    got = [(d.action, d.rule_id) for d in result.decisions]
    assert got == [("block", "restricted-chat"), ("allow", None)]
    # a day later the restriction has ended
    result = pipeline.ingest([ev("e5", 7200 + 86_400 + 1, "a", "你好")])
    assert result.decisions[0].action == "allow"


def test_reversal_restores_exactly_the_state_before_the_sanction(pipeline: Pipeline) -> None:
    e = enforcer(pipeline)
    listened: list[tuple[str, list[str]]] = []

    class Listener:
        def on_violations(self, violations: Sequence[Any], *, now: datetime) -> None:
            listened.append(("confirmed", [v.violation_id for v in violations]))

        def on_reversed(self, violations: Sequence[Any], *, now: datetime) -> None:
            listened.append(("reversed", [v.violation_id for v in violations]))

    e.listeners.append(Listener())
    pipeline.ingest([ev("e1", 0, "a")])
    at = T0 + timedelta(hours=5)
    before = state(e.ledger, "a", at)
    pipeline.ingest([ev("e2", 7200, "a")])  # the sanction under appeal: a day's comment restriction
    pipeline.ingest([ev("e3", 14400, "a", surface="post")])  # a later one resting on it too
    sanctions = e.store.sanctions(account_id="a")
    assert [s.kind for s in sanctions] == ["comment_restriction", "comment_restriction", "warning"]
    appealed = next(s for s in sanctions if s.violation_ids == ("event:e2",))
    later = next(s for s in sanctions if s.violation_ids == ("event:e3",))
    assert state(e.ledger, "a", at) != before
    reversal = e.reverse(appealed.sanction_id, actor="person:bob", reason="appeal upheld", now=at)
    assert reversal.violations_reversed == ("event:e2",)
    assert set(reversal.sanctions_lifted) == {appealed.sanction_id, later.sanction_id}
    assert reversal.content_restored == ("e2",)
    # e3's own violation stands; without e2's strikes it alone reaches no sanction beyond the warning
    after = state(e.ledger, "a", at)
    assert after[1:3] == before[1:3]  # the same active sanctions, not restricted
    assert after[0] == before[0] + 1 and "event:e3" in {v.violation_id for v in e.ledger.history("a")}
    # a fresh process reading the store sees the same
    fresh = Ledger(EnforcementStore(e.store.engine))
    assert state(fresh, "a", at) == after
    kinds = [(x.kind, x.subject) for x in feed(pipeline) if x.kind in ("lift_sanction", "restore")]
    assert sorted(kinds) == [("lift_sanction", "a"), ("lift_sanction", "a"), ("restore", "e2")]
    assert listened[-1] == ("reversed", ["event:e2"])
    assert [x.action for x in AuditLog(e.store.engine).entries()][-1] == "sanction.reverse"
    with pytest.raises(ValueError, match="lifted already"):
        e.reverse(appealed.sanction_id, actor="person:bob", reason="again", now=at)


def test_reversing_the_only_sanction_gives_back_the_state_before_it(pipeline: Pipeline) -> None:
    e = enforcer(pipeline)
    at = T0 + timedelta(minutes=5)
    before = state(e.ledger, "a", at)
    pipeline.ingest([ev("e1", 0, "a")])
    [s] = e.store.sanctions(account_id="a")
    e.reverse(s.sanction_id, actor="person:bob", reason="appeal upheld", now=at)
    assert state(e.ledger, "a", at) == before == (0, [], False, 0)


def test_dm_escalations_are_violations_of_the_sender(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url, dm_abuse_escalate_after=3)
    with Pipeline.open(settings, screener=Fixed()) as p:
        p.ingest([ev(f"d{i}", i * 10, "s", surface="dm", target="r") for i in range(4)])
        assert p.enforcer is not None
        found = [v for v in p.enforcer.store.violations(account_id="s") if v.confirmed_by.startswith("dm:")]
        assert len(found) == 1 and found[0].surface == "dm"


def test_a_ladder_file_from_the_settings(tmp_path: Path) -> None:
    from cvguard.enforcement.ladder import LadderError

    text = (Path(__file__).resolve().parents[1] / "unit" / "golden" / "ladder_good.yaml").read_text("utf-8")
    strict = tmp_path / "strict.yaml"
    strict.write_text(text.replace("{kind: warning, points: 1, days: 30}",
                                   "{kind: warning, points: 0.5, days: 30}")
                          .replace("{kind: comment_restriction, points: 3, days: 1}",
                                   "{kind: comment_restriction, points: 1, days: 3}"), encoding="utf-8")
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/l.db", ladder_file=strict)
    with Pipeline.open(settings, screener=Fixed()) as p:
        p.ingest([ev("e1", 0, "a")])
        assert p.enforcer is not None
        [s] = p.enforcer.store.sanctions(account_id="a")
        assert s.kind == "comment_restriction" and s.expires_at == T0 + timedelta(days=3)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("strike_days", "strike_dayz"), encoding="utf-8")
    with pytest.raises(LadderError, match=r"missing .strike_days.") as err:
        Pipeline.open(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path}/m.db", ladder_file=bad),
                      screener=Fixed())
    assert any("unknown key 'strike_dayz'" in i.message for i in err.value.issues)


def test_a_failed_write_leaves_nothing_behind_and_the_ledger_forgets_it(
    pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the violation, its sanction, the feed action and the audit entries are one transaction:
    # the audit trail failing last rolls all of it back, and the ledger takes out what grading put
    from cvguard.errors import StoreError

    e = enforcer(pipeline)
    assert e.audit is not None

    def broken(*_a: object, **_k: object) -> None:
        raise StoreError("the audit trail failed: OperationalError")

    monkeypatch.setattr(e.audit, "append_in", broken)
    with pytest.raises(StoreError):
        e.confirm(account_id="a", actor="alice", at=T0, reason="insults", event_id="e1")
    assert e.store.violations(account_id="a") == [] and e.store.sanctions(account_id="a") == []
    assert [x for x in feed(pipeline) if x.kind == "sanction"] == []
    assert e.ledger.history("a") == [] and e.ledger.standing("a", "comment", T0) == (0, False)
    assert state(Ledger(e.store), "a", T0) == (0, [], False, 0)
    monkeypatch.undo()
    v, issued = e.confirm(account_id="a", actor="alice", at=T0, reason="insults", event_id="e1")
    assert issued is not None and issued.sanction.kind == "warning"
    assert [x.violation_id for x in e.store.violations(account_id="a")] == [v.violation_id]
    assert [x.subject for x in feed(pipeline) if x.kind == "sanction"] == ["a"]


def test_a_sanction_s_statement_is_the_same_in_its_row_its_feed_action_and_the_trail_s_digest(
    pipeline: Pipeline,
) -> None:
    # the statement is encoded once and written into the sanction's row and its feed action's
    # params; the feed's audit entry digests what a reader of the feed gets
    from cvguard.store.audit_batches import feed_digest

    e = enforcer(pipeline)
    pipeline.ingest([ev("e1", 0, "a", mcn="mcn-1"), ev("e2", 60, "b")])
    e.confirm(account_id="c", actor="alice", at=T0, reason='said "\\u0000" and 你好', event_id="e9")
    entries = [x for x in feed(pipeline) if x.kind == "sanction"]
    assert len(entries) == 3
    for entry in entries:
        stored = e.store.sanction(entry.params["sanction_id"])
        assert stored is not None and entry.params["statement"] == dict(stored.statement)
        assert entry.params["statement"]["sanction_id"] == stored.sanction_id
    assert e.audit is not None
    everything = feed(pipeline)
    appends = [x for x in e.audit.entries(limit=1000) if x.action == "feed.append"]
    assert sum(x.after["count"] for x in appends) == len(everything)
    for x in appends:
        first, last = x.after["first_seq"], x.after["last_seq"]
        assert x.after["sha256"] == feed_digest([f for f in everything if first <= f.seq <= last])

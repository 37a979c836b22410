"""Decisions at ingest: every fresh event decided once in the shared ingest path, after behaviour saw
its batch; recorded in the ``decisions`` table (SQLite, PostgreSQL and the in-memory twin), shadow
decisions beside them; ``POST /v1/events`` answers them and ``GET /v1/decisions/{id}`` serves them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from apiclient import api_client
from cvguard.api import create_app
from cvguard.behavior import BehaviourEngine
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import StoreError
from cvguard.events import Author, Event, Relationship
from cvguard.pipeline import Pipeline
from cvguard.pipeline.clock import WatermarkGate
from cvguard.policy import load_policy_text
from cvguard.store import EventStore
from cvguard.store.decisions import DecisionRecord
from cvguard.store.memory import MemoryStore
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CLEAN = Verdict(False, 0.05, None, {}, (), {})
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
INSULT = "你就是个贱人，去死吧"

CANDIDATE = """\
version: "2026.12.0"
name: strict
rules:
  - id: chat-block-harmful
    surfaces: [comment, reply]
    when: {severity_at_least: harmful}
    action: block
    reason: Harmful abuse is blocked outright.
"""


class Fixed:
    """A screener twin: abuse for the insult, clean otherwise."""

    def screen_many(self, texts: Sequence[str]) -> list[Verdict]:
        return [ABUSE if t == INSULT else CLEAN for t in texts]


def ev(event_id: str, t: float, author: str, text: str = INSULT, *, mutual: bool = False) -> Event:
    rel = Relationship(target_follows_author=True, author_follows_target=True) if mutual else Relationship()
    return Event(
        event_id=event_id, surface="comment", occurred_at=T0 + timedelta(seconds=t), text=text,
        author=Author(id=author, created_at=T0 - timedelta(days=500)), target_ids=("xiaoli",),
        relationship=rel,
    )


def pile_on(n: int = 20) -> list[Event]:
    return [ev(f"s{i}", 1 + i * 3.0, f"stranger{i % 15}") for i in range(n)]


def memory_pipeline(**kw: Any) -> Pipeline:
    return Pipeline(screener=Fixed(), behaviour=BehaviourEngine(), store=MemoryStore(),
                    gate=WatermarkGate(3600.0, 1), **kw)


def test_a_pile_on_warned_by_the_batch_hides_the_strangers_abuse_in_it_friends_graded() -> None:
    pipeline = memory_pipeline()
    batch = [*pile_on(), ev("late-stranger", 62, "newcomer"), ev("friend", 63, "bff", mutual=True)]
    result = pipeline.ingest(batch)
    assert any(a.kind == "pile_on" and a.level in ("warning", "critical") for a in result.alerts)
    by_id = {d.event_id: d for d in result.decisions}
    assert [d.event_id for d in result.decisions] == result.new_ids
    assert by_id["late-stranger"].action == "hide_from_target"
    assert by_id["late-stranger"].alert_ids == ("pile_on:user:xiaoli:1",)
    # per-batch granularity: the alert raised by this batch counts for its earlier events too
    assert by_id["s0"].action == "hide_from_target"
    # a friend's abuse gets through the shield and is graded: the copy-pasted insult is a brigade
    friend = by_id["friend"]
    assert friend.action == "fold" and friend.rule_id == "chat-brigade"
    assert friend.alert_ids and friend.alert_ids[0].startswith("brigade:")
    stored = pipeline.store.get_decision("late-stranger")  # type: ignore[attr-defined]
    assert stored is not None and stored.action == "hide_from_target" and not stored.shadow
    assert stored.decision["alert_ids"] == ["pile_on:user:xiaoli:1"]
    assert stored.decided_at == T0 + timedelta(seconds=62)
    assert pipeline.stats.decisions == len(batch)


def test_one_event_a_batch_sees_the_alerts_of_the_events_before_it() -> None:
    pipeline = memory_pipeline()
    actions = [pipeline.ingest([e]).decisions[0].action for e in pile_on()]
    assert actions[0] == "fold"  # no pile-on yet: graded as harmful
    assert actions[-1] == "hide_from_target"
    first = actions.index("hide_from_target")
    assert set(actions[first:]) == {"hide_from_target"}


def test_a_duplicate_is_not_decided_again_and_no_decision_step_decides_nothing() -> None:
    pipeline = memory_pipeline()
    assert len(pipeline.ingest([ev("a", 0, "x")]).decisions) == 1
    assert pipeline.ingest([ev("a", 0, "x")]).decisions == []
    off = memory_pipeline(decide=False)
    assert off.ingest([ev("a", 0, "x")]).decisions == [] and off.store.get_decision("a") is None  # type: ignore[attr-defined]


def test_shadow_mode_records_the_candidates_decisions_beside_the_active_ones() -> None:
    candidate = load_policy_text(CANDIDATE, "candidate.yaml")
    pipeline = memory_pipeline(shadow_policy=candidate)
    result = pipeline.ingest([ev("a", 0, "x"), ev("b", 1, "y", "你好")])
    assert [d.action for d in result.decisions] == ["fold", "allow"]
    assert [d.action for d in result.shadow_decisions] == ["block", "allow"]
    store = pipeline.store
    active, shadow = store.get_decision("a"), store.get_decision("a", shadow=True)  # type: ignore[attr-defined]
    assert active is not None and active.policy_version == "2026.12.4" and active.action == "fold"
    assert shadow is not None and shadow.shadow and shadow.action == "block"
    assert shadow.policy == "strict" and shadow.policy_version == "2026.12.0"


def test_decisions_a_store_could_not_take_are_written_with_the_next_batch() -> None:
    pipeline = memory_pipeline()
    store = pipeline.store
    assert isinstance(store, MemoryStore)
    real = store.add_decisions
    calls = {"n": 0}

    def flaky(records: Sequence[DecisionRecord]) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            raise StoreError("down")
        return real(records)

    store.add_decisions = flaky  # type: ignore[method-assign]
    with pytest.raises(StoreError):
        pipeline.ingest([ev("a", 0, "x")])
    pipeline.ingest([ev("b", 1, "y")])
    assert store.get_decision("a") is not None and store.get_decision("b") is not None


def test_the_decisions_table_on_both_databases(database_url: str, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    shadow = tmp_path / "candidate.yaml"
    shadow.write_text(CANDIDATE, encoding="utf-8")
    settings = Settings(data_dir=tmp_path, database_url=database_url, shadow_policy_file=shadow)
    with Pipeline.open(settings, screener=Fixed(), offline=True) as pipeline:
        pipeline.ingest(pile_on())
        pipeline.finish()
        store = pipeline.store
        assert isinstance(store, EventStore)
        found = store.get_decision("s19")
        assert found is not None and found.action == "hide_from_target"
        assert found.rule_id == "chat-pileon-stranger"
        assert found.decision["matched"][0]["rule_id"] == "chat-pileon-stranger"
        assert found.decided_at == T0 + timedelta(seconds=58)
        assert store.get_decision("s19", shadow=True).action == "block"  # type: ignore[union-attr]
        assert store.get_decision("nope") is None
        # the first decision about an event stays
        again = DecisionRecord.of_dict({**found.decision, "action": "allow"}, found.decided_at)
        assert store.add_decisions([again]) == 0
        assert store.get_decision("s19").action == "hide_from_target"  # type: ignore[union-attr]
        # the row keeps what the policy added; the verdict's parts are read from the verdicts row
        stored_verdict = store.get_event("s19").verdict  # type: ignore[union-attr]
        assert stored_verdict is not None
        with store.engine.connect() as conn:
            raw = conn.execute(
                text("SELECT decision FROM decisions WHERE event_id = 's19' AND shadow = :s"), {"s": False}
            ).scalar_one()
        raw = json.loads(raw) if isinstance(raw, str) else raw
        assert not {"score", "severity", "categories", "spans"} & set(raw)
        assert found.decision["score"] == round(stored_verdict.score, 4)
        assert found.decision["categories"] == {
            k: round(v, 4) for k, v in stored_verdict.categories.items() if v >= 0.01
        }
        assert found.decision["spans"] == [s.to_dict() for s in stored_verdict.spans]


def test_post_events_answers_the_decisions_and_get_serves_them(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), Screener.default())
    now = datetime.now(UTC).replace(microsecond=0)
    body = {"events": [
        {"event_id": "c1", "surface": "comment", "occurred_at": now.isoformat(), "author": {"id": "a1"},
         "text": "你就是个贱人，去死吧", "target_ids": ["t1"]},
        {"event_id": "c2", "surface": "comment", "occurred_at": now.isoformat(), "author": {"id": "a2"},
         "text": "今天天气不错", "target_ids": ["t1"]},
        {"event_id": "bad", "surface": "nowhere"},
    ]}
    with api_client(app, role="platform") as platform:
        answer = platform.post("/v1/events", json=body)
        assert answer.status_code == 207, answer.text
        decisions = answer.json()["decisions"]
        assert [d["event_id"] for d in decisions] == ["c1", "c2"]
        assert decisions[0]["action"] in ("fold", "block", "nudge") and decisions[0]["rule_id"]
        assert decisions[0]["policy_version"] == "2026.12.4" and decisions[0]["matched"]
        assert decisions[1]["action"] == "allow" and decisions[1]["rule_id"] is None
        assert set(decisions[0]) == {"event_id", "action", "params", "rule_id", "reason", "matched",
                                     "alert_ids", "policy_version", "nudge"}
        got = platform.get("/v1/decisions/c1")
        assert got.status_code == 200, got.text
        assert got.json()["action"] == decisions[0]["action"] and got.json()["surface"] == "comment"
        missing = platform.get("/v1/decisions/nope")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("application/problem+json")
    for role, status in ((None, 401), ("moderator", 200), ("auditor", 200), ("admin", 200)):
        with api_client(app, role=role) as client:
            assert client.get("/v1/decisions/c1").status_code == status, role


def test_scale_out_the_api_node_screens_and_decides_against_the_shared_state(
    redis_url: str, tmp_path: Path
) -> None:
    import redis

    from cvguard.pipeline.redis_bus import RedisStreamBus
    from cvguard.pipeline.shared_state import SharedBehaviour
    from cvguard.pipeline.worker import Worker
    from cvguard.simulate import SimConfig, generate

    truth, *raws = generate(SimConfig(seed=5, hours=1, users=300, targets=50, scenarios=("pileon",)))
    target = truth["incidents"][0]["target_id"]
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, max_batch=1000, rate_limit_per_s=None)
    client = redis.Redis.from_url(redis_url)
    try:
        with api_client(create_app(settings, Screener.default()), role="platform") as api:
            first = api.post("/v1/events", json={"events": raws[:1000]})
            assert first.status_code == 202, first.text
            out = first.json()
            assert [d["event_id"] for d in out["decisions"]] == out["event_ids"]  # one per queued event
            for i in range(1000, len(raws), 1000):
                assert api.post("/v1/events", json={"events": raws[i : i + 1000]}).status_code == 202
            with EventStore.open(settings.database_url) as store:
                Worker(bus=RedisStreamBus(client), behaviour=SharedBehaviour(client), store=store,
                       screener=Screener.default(), group="cvguard-workers", name="w1", batch=250,
                       block_ms=50).run(idle_exit_s=0.3)
            last = max(raws, key=lambda r: r["occurred_at"])
            late = {"event_id": "after-the-warning", "surface": "comment", "occurred_at": last["occurred_at"],
                    "author": {"id": "a-stranger"}, "text": "你就是个贱人", "target_ids": [target]}
            reply = api.post("/v1/events", json=late)
            assert reply.status_code == 202, reply.text
            (decision,) = reply.json()["decisions"]
            assert decision["action"] == "hide_from_target", decision
            assert decision["alert_ids"] and decision["alert_ids"][0].startswith(f"pile_on:user:{target}:")
            got = api.get("/v1/decisions/after-the-warning")
            assert got.status_code == 200 and got.json()["action"] == "hide_from_target"
    finally:
        client.close()

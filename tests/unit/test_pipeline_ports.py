"""The pipeline's own ports: the event-time clock, the bounded in-process bus, the shared ingest step,
and the pipeline on the store port's in-memory twin (MemoryStore)."""

from __future__ import annotations

import ast
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from behaviour_events import comment

from cvguard.behavior import BehaviourEngine
from cvguard.events import Event
from cvguard.pipeline import BusClosed, EventClock, InProcessBus, Pipeline
from cvguard.pipeline.clock import WallGate
from cvguard.pipeline.ingest import admit_online, refusals, split_late, store_screened
from cvguard.store.memory import MemoryStore
from cvguard.verdict import Verdict

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)


def test_the_clock_follows_the_newest_event_time_and_never_goes_back() -> None:
    clock = EventClock()
    assert not clock.started and clock.now().year == 1970
    assert clock.advance(T0) == T0
    # a late event (older than one already seen) does not move the clock back
    assert clock.advance(T0 - timedelta(seconds=30)) == T0
    assert clock.advance(T0 + timedelta(seconds=1)) == T0 + timedelta(seconds=1)
    assert clock.started


def test_the_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone"):
        EventClock().advance(datetime(2026, 11, 24, 8, 0))  # naive on purpose


def test_the_bus_delivers_in_order_and_ends_on_close() -> None:
    bus: InProcessBus[int] = InProcessBus(4)
    for i in range(3):
        bus.publish(i)
    bus.close()
    assert list(bus) == [0, 1, 2]
    with pytest.raises(BusClosed):
        bus.publish(3)


def test_a_full_bus_blocks_the_producer_until_the_consumer_takes() -> None:
    bus: InProcessBus[int] = InProcessBus(2)
    produced: list[int] = []

    def produce() -> None:
        for i in range(6):
            bus.publish(i)
            produced.append(i)
        bus.close()

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(0.2)
    # back-pressure: the producer got only as far as the bound allows
    assert len(produced) == 2 and bus.qsize() == 2 and bus.blocked >= 1
    assert list(bus) == list(range(6))
    producer.join(timeout=5)
    assert not producer.is_alive()


def test_an_error_from_the_producer_comes_after_the_items_before_it() -> None:
    bus: InProcessBus[int] = InProcessBus(4)
    bus.publish(1)
    bus.publish(2)
    bus.close(ValueError("line 3: bad"))
    seen: list[int] = []
    with pytest.raises(ValueError, match="line 3"):
        for item in bus:
            seen.append(item)
    assert seen == [1, 2]


def test_cancel_wakes_a_blocked_producer() -> None:
    bus: InProcessBus[int] = InProcessBus(1)
    bus.publish(0)
    outcome: list[str] = []

    def produce() -> None:
        try:
            bus.publish(1)
        except BusClosed:
            outcome.append("closed")

    producer = threading.Thread(target=produce)
    producer.start()
    time.sleep(0.05)
    bus.cancel()
    producer.join(timeout=5)
    assert outcome == ["closed"]


def test_replay_batch_default_matches_the_pipeline_default() -> None:
    # The CLI keeps its own copy so `cvguard --help` does not import the pipeline.
    from cvguard.cli import REPLAY_BATCH
    from cvguard.pipeline.engine import DEFAULT_BATCH

    assert REPLAY_BATCH == DEFAULT_BATCH


# -- the store port's in-memory twin under the pipeline, and the shared ingest step ---------------

ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
CLEAN = Verdict(False, 0.05, None, {}, (), {})
PAST = datetime(2026, 3, 1, 12, tzinfo=UTC)
BORN = PAST - timedelta(days=500)


class CountingScreener:
    """Abusive when the text holds 贱人; counts the texts it is asked about."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def screen_many(self, texts: Sequence[str]) -> list[Verdict]:
        self.texts.extend(texts)
        return [ABUSE if "贱人" in t else CLEAN for t in texts]


def _ev(i: int | str, t: float, author: str, text: str = "说得有道理", **kw: Any) -> Event:
    return comment(f"e{i}", PAST + timedelta(seconds=t), author, text, created_at=BORN, **kw)


def _attack(start: float, n: int = 40) -> list[Event]:
    """``n`` insults at xiaoli from distinct strangers, three seconds apart."""
    return [_ev(f"a{start}-{i}", start + i * 3.0, f"s{i}", "你就是个贱人", target_ids=("xiaoli",))
            for i in range(n)]


def _chatter(start: float, hours: float) -> list[Event]:
    return [_ev(f"c{start}-{i}", start + i * 60.0, f"c{i % 9}", target_ids=(f"other{i % 5}",))
            for i in range(int(hours * 60))]


def _memory_pipeline(store: MemoryStore | None = None) -> Pipeline:
    return Pipeline(screener=CountingScreener(), behaviour=BehaviourEngine(),
                    store=store if store is not None else MemoryStore())


def test_the_pipeline_on_the_memory_store_is_idempotent_and_names_conflicts() -> None:
    pipeline = _memory_pipeline()
    batch = _chatter(0, 0.5)
    first = pipeline.ingest(batch)
    assert first.new_ids == [e.event_id for e in batch] and first.duplicates == 0
    again = pipeline.ingest([*batch[:3], batch[0].model_copy(update={"text": "改过的"})])
    assert (again.new_ids, again.duplicates, again.conflicts) == ([], 3, [batch[0].event_id])
    assert pipeline.stats.conflicts == 1 and pipeline.stats.duplicates == 3
    assert isinstance(pipeline.store, MemoryStore) and pipeline.store.count_events() == len(batch)


def test_the_pipeline_refuses_future_events_and_keeps_late_ones_from_behaviour() -> None:
    pipeline = _memory_pipeline()
    ahead = _ev("future", 0, "x").model_copy(update={"occurred_at": datetime.now(UTC) + timedelta(days=2)})
    now = _ev("now", 3600, "y")
    late = _ev("late", 0, "z")  # an hour behind the clock: more than the detectors' lateness
    result = pipeline.ingest([ahead, now])
    assert [i for i, _ in result.future] == ["efuture"] and result.new_ids == ["enow"]
    late_result = pipeline.ingest([late])
    assert late_result.new_ids == ["elate"] and late_result.late == ["elate"]
    assert isinstance(pipeline.store, MemoryStore) and pipeline.store.get_event("elate") is not None


def test_alerts_reach_the_memory_store_and_a_persons_status_survives_the_closing() -> None:
    store = MemoryStore()
    pipeline = _memory_pipeline(store)
    pipeline.ingest(_chatter(-7200, 2))
    raised = pipeline.ingest(_attack(0)).alerts
    pile = [a for a in raised if a.kind == "pile_on" and a.subject_id == "xiaoli"]
    assert pile and pile[-1].level in ("warning", "critical")
    stored = store.list_alerts(subject_id="xiaoli", kind="pile_on")
    assert [a.alert_id for a in stored] == [pile[0].alert_id] and stored[0].status == "open"
    store.set_alert_status(pile[0].alert_id, status="acknowledged", actor="mod-1")
    closing = [a for a in pipeline.ingest(_chatter(200, 15)).alerts if a.alert_id == pile[0].alert_id]
    assert len(closing) == 1 and closing[0].resolved_at is not None
    done = store.get_alert(pile[0].alert_id)
    assert done is not None and done.resolved_at == closing[0].resolved_at
    assert done.status == "acknowledged"  # automation never overrides a person


def test_a_pipeline_on_the_memory_store_checkpoints_and_resumes() -> None:
    store = MemoryStore()
    pipeline = _memory_pipeline(store)
    pipeline.ingest(_chatter(-7200, 2))
    pipeline.ingest(_attack(0)[:20])
    assert pipeline.checkpoint() and store.load_snapshot("embedded") is not None
    pipeline.ingest(_attack(0)[20:])  # after the checkpoint: fed again on resume
    at, before = pipeline.target_state("xiaoli")
    again = _memory_pipeline(store)  # a restart on the same store
    again.resume()
    assert again.stats.resumed == 20
    at2, after = again.target_state("xiaoli")
    assert at2 == at and after.to_dict() == before.to_dict() and after.level in ("warning", "critical")


def test_the_shared_ingest_step_screens_stores_and_names_what_was_new() -> None:
    screener, store = CountingScreener(), MemoryStore()
    batch = [_ev(1, 0, "a", "你就是个贱人"), _ev(2, 1, "b"), _ev(1, 0, "a", "你就是个贱人")]
    step = store_screened(screener, store, batch, keep_text=True)
    assert step.new_ids == ["e1", "e2"] and step.duplicates == 1 and step.conflicts == []
    assert [e.event_id for e, _ in step.fresh] == ["e1", "e2"] and step.fresh[0][1] is step.verdicts[0]
    changed = [batch[1].model_copy(update={"text": "别的"})]
    assert store_screened(screener, store, changed, keep_text=True).conflicts == ["e2"]
    quiet = store_screened(screener, store, changed, keep_text=True, find_conflicts=False)
    assert (quiet.conflicts, quiet.duplicates) == ([], 1)  # the worker's choice: counted as a duplicate
    assert len(screener.texts) == 5


def test_the_shared_gate_and_lateness_rules() -> None:
    gate = WallGate(300, lambda: PAST)
    events = [_ev(1, 0, "a"), _ev(2, 301, "b"), _ev(3, 299, "c")]
    why = refusals(gate, events)
    assert why[0] is None and why[2] is None and why[1] is not None and why[1].startswith("occurred_at ")
    assert admit_online(gate, events) == ([events[0], events[2]], [("e2", why[1])])
    items = [(e, CLEAN) for e in (_ev(1, 1000, "a"), _ev(2, 300, "b"), _ev(3, 500, "c"))]
    on_time, late = split_late(items, newest=-float("inf"), lateness_s=600)
    assert [e.event_id for e, _ in on_time] == ["e1", "e3"] and late == ["e2"]


def test_pipeline_and_worker_share_the_one_ingest_step() -> None:
    root = Path(__file__).resolve().parents[2] / "src" / "cvguard" / "pipeline"
    for name in ("engine.py", "worker.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        calls = {n.func.id for n in ast.walk(tree)
                 if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
        assert "store_screened" in calls, name
        # neither screens nor writes a batch itself any more
        attrs = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
        assert not {"screen_many", "add_batch"} & attrs, name

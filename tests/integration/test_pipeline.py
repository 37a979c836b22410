"""The pipeline end to end on a small simulated stream: stored once, pile-on warned, idempotent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from cvguard.behavior import Alert, BehaviourEngine, TargetState
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.errors import StoreError
from cvguard.events import Event, parse_event
from cvguard.pipeline import Pipeline, ReplaySummary, replay
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore, StoredAlert

# 3 simulated hours, 300 accounts: one labelled pile-on and one civil debate, about 4,000 events
CONFIG = SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon", "debate"))


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], int]:
    path = tmp_path_factory.mktemp("stream") / "events.jsonl"
    lines = list(generate(CONFIG))
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path, lines[0], len(lines) - 1


def open_pipeline(url: str, tmp_path: Path, **settings: Any) -> Pipeline:
    return Pipeline.open(
        Settings(data_dir=tmp_path, database_url=url, **settings), screener=Screener.default()
    )


def run(pipeline: Pipeline, path: Path) -> tuple[ReplaySummary, list[Alert]]:
    emitted: list[Alert] = []
    with path.open("rb") as src:
        summary = replay(pipeline, src, on_alerts=emitted.extend)
    return summary, emitted


def stored_alerts(store: EventStore) -> list[StoredAlert]:
    return sorted(store.list_alerts(limit=10_000), key=lambda a: a.alert_id)


def test_every_event_stored_once_and_the_pile_on_warned(
    stream: tuple[Path, dict[str, Any], int], database_url: str, tmp_path: Path
) -> None:
    path, truth, n_events = stream
    (incident,) = truth["incidents"]
    with open_pipeline(database_url, tmp_path) as pipeline:
        summary, emitted = run(pipeline, path)
        store = pipeline.store
        assert isinstance(store, EventStore)
        assert summary.events == summary.new == n_events
        assert summary.duplicates == 0
        assert store.count_events() == n_events
        warned = store.list_alerts(
            subject_id=incident["target_id"], kind="pile_on", level_at_least="warning"
        )
        assert warned, "the labelled pile-on raised no warning"
        # the alert names its subject and the events behind it, and those events are stored
        assert warned[0].subject_type == "user"
        assert warned[0].event_ids
        assert all(store.get_event(e) is not None for e in warned[0].event_ids)
        # every storable alert that was emitted is in the store at its last emitted level
        last = {a.alert_id: a for a in emitted if a.subject_type != "cluster"}
        assert {a.alert_id: a.level for a in stored_alerts(store)} == {k: a.level for k, a in last.items()}
        # the clock followed event time, not the wall clock
        assert pipeline.now() == max(parse_event(x).occurred_at for x in _events(path))


def test_replaying_the_same_file_twice_changes_nothing(
    stream: tuple[Path, dict[str, Any], int], database_url: str, tmp_path: Path
) -> None:
    path, _, n_events = stream
    with open_pipeline(database_url, tmp_path) as pipeline:
        _, emitted = run(pipeline, path)
        assert isinstance(pipeline.store, EventStore)
        before = stored_alerts(pipeline.store)
        assert emitted and before
        # the same pipeline (behaviour state kept) ...
        again, emitted_again = run(pipeline, path)
        assert (again.new, again.duplicates, emitted_again) == (0, n_events, [])
    # ... and a fresh one (a restarted process) on the same database
    with open_pipeline(database_url, tmp_path) as pipeline:
        third, emitted_third = run(pipeline, path)
        assert isinstance(pipeline.store, EventStore)
        assert (third.new, third.duplicates, emitted_third) == (0, n_events, [])
        assert pipeline.store.count_events() == n_events
        assert stored_alerts(pipeline.store) == before


def _events(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if "kind" not in r]


Stream = tuple[Path, dict[str, Any], int]


def test_an_event_twice_in_one_batch_counts_once(stream: Stream, tmp_path: Path) -> None:
    path, _, _ = stream
    raw = _events(path)[:3]
    behaviour = BehaviourEngine()
    with Pipeline.open(
        Settings(data_dir=tmp_path), screener=Screener.default(), behaviour=behaviour
    ) as pipeline:
        events = [parse_event(r) for r in raw]
        result = pipeline.ingest([events[0], events[1], events[0], events[2]])
        assert (result.received, result.accepted, result.duplicates) == (4, 3, 1)
        assert result.new_ids == [e.event_id for e in events]
        assert behaviour.processed == 3
        assert pipeline.ingest(events).accepted == 0
        assert behaviour.processed == 3


def test_submit_keeps_the_good_and_names_the_bad(tmp_path: Path, stream: Stream) -> None:
    good = _events(stream[0])[0]
    bad = {**good, "event_id": "bad-1", "occurred_at": "2026-11-24T08:00:00"}  # no timezone
    with Pipeline.open(Settings(data_dir=tmp_path), screener=Screener.default()) as pipeline:
        result = pipeline.submit([good, bad])
    assert (result.received, result.accepted, result.duplicates) == (2, 1, 0)
    (refused,) = result.errors
    assert refused["index"] == 1 and refused["event_id"] == "bad-1"
    assert refused["errors"][0]["field"] == "occurred_at"


def test_raw_text_is_not_kept_when_retention_says_so(
    tmp_path: Path, stream: tuple[Path, dict[str, Any], int]
) -> None:
    raw = _events(stream[0])[0]
    with open_pipeline(f"sqlite:///{tmp_path / 'db.sqlite'}", tmp_path, keep_text=False) as pipeline:
        pipeline.ingest([parse_event(raw)])
        assert isinstance(pipeline.store, EventStore)
        stored = pipeline.store.get_event(raw["event_id"])
    assert stored is not None and stored.text is None and stored.text_sha256


class FlakyStore:
    """The real store, except that ``upsert_alerts`` fails while ``down`` is set."""

    def __init__(self, store: EventStore) -> None:
        self.inner = store
        self.down = False

    def add_batch(self, events: Sequence[Event], verdicts: Sequence[Any], *, keep_text: bool) -> list[str]:
        return self.inner.add_batch(events, verdicts, keep_text=keep_text)

    def upsert_alerts(self, alerts: Sequence[Any]) -> int:
        if self.down:
            raise StoreError("database is locked")
        return self.inner.upsert_alerts(alerts)

    def close(self) -> None:
        self.inner.close()


def test_an_alert_the_store_refused_is_written_with_the_next_batch(
    tmp_path: Path, stream: tuple[Path, dict[str, Any], int]
) -> None:
    path, truth, _ = stream
    events = [parse_event(r) for r in _events(path)]
    store = FlakyStore(EventStore.open(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    pipeline = Pipeline(screener=Screener.default(), behaviour=BehaviourEngine(), store=store)
    store.down = True
    failed_at = None
    for i in range(0, len(events), 200):
        try:
            pipeline.ingest(events[i : i + 200])
        except StoreError:
            failed_at = i
            break
    assert failed_at is not None and pipeline.pending_alerts > 0
    store.down = False
    pipeline.ingest(events[failed_at : failed_at + 200])  # a retry: all duplicates, alerts flushed
    assert pipeline.pending_alerts == 0
    for i in range(failed_at + 200, len(events), 200):
        pipeline.ingest(events[i : i + 200])
    target = truth["incidents"][0]["target_id"]
    assert store.inner.list_alerts(subject_id=target, kind="pile_on", level_at_least="warning")
    assert store.inner.count_events() == len({e.event_id for e in events})
    pipeline.close()


def test_reads_are_as_of_event_time(tmp_path: Path, stream: tuple[Path, dict[str, Any], int]) -> None:
    path, truth, _ = stream
    target = truth["incidents"][0]["target_id"]
    with Pipeline.open(Settings(data_dir=tmp_path), screener=Screener.default()) as pipeline:
        at, state = pipeline.target_state(target)
        assert state.risk == 0 and state.level is None
        run(pipeline, path)
        at, state = pipeline.target_state(target)
    assert at.year == 2026 and isinstance(at, datetime)
    assert state.level in ("warning", "critical")


# -- behaviour across restarts ----------------------------------------------------------------------


def windows(state: TargetState) -> dict[str, Any]:
    return {name: {k: w[k] for k in ("total", "abusive", "distinct_senders")}
            for name, w in state.pile_on["windows"].items()}


def replayed(stream: Stream, url: str, tmp_path: Path, target: str) -> tuple[datetime, TargetState, int]:
    """Replay the stream into a fresh pipeline and close it: (as of, target state, events processed)."""
    with open_pipeline(url, tmp_path) as pipeline:
        run(pipeline, stream[0])
        at, state = pipeline.target_state(target)
        return at, state, pipeline.behaviour.processed  # type: ignore[attr-defined]


def test_a_restart_resumes_the_windows_from_the_checkpoint(
    stream: Stream, database_url: str, tmp_path: Path
) -> None:
    path, truth, n_events = stream
    target = truth["incidents"][0]["target_id"]
    at, before, processed = replayed(stream, database_url, tmp_path, target)
    assert processed == n_events and before.level in ("warning", "critical")
    with open_pipeline(database_url, tmp_path) as again:  # close() saved a checkpoint
        assert again.stats.resumed == 0  # it covered everything: nothing fed twice
        at2, after = again.target_state(target)
        assert at2 == at and windows(after) == windows(before) and after.level == before.level
        # the same stream once more: all duplicates, nothing moves, no alert raised again
        summary, emitted = run(again, path)
        assert summary.new == 0 and emitted == []
        assert windows(again.target_state(target)[1]) == windows(before)


def test_after_a_crash_the_events_since_the_checkpoint_are_fed_again_once(
    stream: Stream, database_url: str, tmp_path: Path
) -> None:
    path, truth, _ = stream
    target = truth["incidents"][0]["target_id"]
    events = [parse_event(r) for r in _events(path)]
    half = len(events) // 2
    pipeline = open_pipeline(database_url, tmp_path)
    pipeline.ingest(events[:half])
    assert pipeline.checkpoint()
    pipeline.ingest(events[half:])
    pipeline.store.close()  # killed: no close(), so no checkpoint of the second half
    with open_pipeline(database_url, tmp_path) as again:
        assert again.stats.resumed == len(events) - half
        reference = BehaviourEngine()
        verdicts = Screener.default().screen_many([e.text for e in events])
        reference.process_many(zip(events, verdicts, strict=True))
        at, state = again.target_state(target)
        assert windows(state) == windows(reference.target_state(target, at))
        assert again.behaviour.processed == len(events)  # type: ignore[attr-defined]


def test_without_a_checkpoint_the_recent_days_are_fed_again(
    stream: Stream, database_url: str, tmp_path: Path
) -> None:
    _, truth, n_events = stream
    target = truth["incidents"][0]["target_id"]
    _, state, _ = replayed(stream, database_url, tmp_path, target)
    with EventStore.open(database_url) as store, store.engine.begin() as conn:
        conn.execute(text("DELETE FROM behaviour_snapshots"))  # e.g. a database from before checkpoints
    with open_pipeline(database_url, tmp_path) as again:
        assert again.stats.resumed == n_events  # the whole (3-hour) stream is within 3 days
        assert windows(again.target_state(target)[1]) == windows(state)


def test_raw_text_is_dropped_after_the_retention_in_event_time(
    stream: Stream, database_url: str, tmp_path: Path
) -> None:
    path, _, n_events = stream  # three simulated hours
    with open_pipeline(database_url, tmp_path, text_retention_days=1 / 24) as pipeline:  # one hour
        run(pipeline, path)
        store = pipeline.store
        assert isinstance(store, EventStore) and pipeline.retention is not None
        newest = pipeline.clock.now()
        with store.engine.connect() as conn:
            rows = conn.execute(text("SELECT occurred_at, text IS NULL FROM events")).all()
    assert len(rows) == n_events and pipeline.retention.purged > 0
    for occurred, purged in rows:
        at = occurred if isinstance(occurred, datetime) else datetime.fromisoformat(occurred)
        age = newest - (at if at.tzinfo else at.replace(tzinfo=newest.tzinfo))
        if age.total_seconds() < 3600:
            assert not purged  # within the retention: kept
        elif age.total_seconds() > 2 * 3600:
            assert purged  # past it (purges run once an event-hour): gone, the hash stays

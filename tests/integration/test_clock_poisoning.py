"""One event dated 2099 among a simulated day: it must not move the clock that drives behaviour
windows and text retention, online (the API, refused) or offline (``replay``, set aside), before or
after a restart. Before, it was accepted: retention dropped the text of every stored event, the
pile-on that followed was missed, and ``as_of`` read 2099, all of it kept across restarts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from apiclient import api_client
from cvguard.api import create_app
from cvguard.behavior import TargetState, TopicState
from cvguard.cli import app as cli
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.pipeline import Pipeline
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore
from cvguard.store import models as m

# 14,281 events over ten hours; the pile-on heats up after the 5,719th
CONFIG = SimConfig(seed=5, hours=10, users=1500, targets=200, scenarios=("pileon",))
WALL = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # the receiving clock: an hour after the day ends
AT = 5000  # the 2099 event comes after this many normal ones


@pytest.fixture(scope="module")
def day() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rows = list(generate(CONFIG))
    return rows[0], rows[1:]


def future_event(target: str) -> dict[str, Any]:
    return {
        "event_id": "ev-2099",
        "surface": "comment",
        "occurred_at": "2099-01-01T00:00:00Z",
        "author": {"id": "u-typo", "created_at": "2026-01-01T00:00:00Z"},
        "text": "see you in the future",
        "target_ids": [target],
    }


def purged_texts(database_url: str) -> int:
    with EventStore.open(database_url) as store, store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(m.events.c.text.is_(None))).scalar_one())


def test_replay_sets_a_2099_event_aside_and_loses_nothing(
    day: tuple[dict[str, Any], list[dict[str, Any]]], database_url: str, tmp_path: Path
) -> None:
    truth, events = day
    target = truth["incidents"][0]["target_id"]
    rows = [*events[:AT], future_event(target), *events[AT:]]
    src, out = tmp_path / "events.jsonl", tmp_path / "alerts.jsonl"
    src.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    result = CliRunner().invoke(cli, ["replay", str(src), "--out", str(out), "--db", database_url])
    assert result.exit_code == 0, result.output
    assert "1 set aside" in result.output and "ev-2099" in result.output
    alerts = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    # the pile-on after it is still warned
    assert any(
        a["kind"] == "pile_on" and a["subject_id"] == target and a["level"] in ("warning", "critical")
        for a in alerts
    )
    with EventStore.open(database_url) as store:
        assert store.count_events() == len(events) and store.get_event("ev-2099") is None
    assert purged_texts(database_url) == 0  # retention did not jump to 2099

    # after a restart the clock is where the day ended, not in 2099
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    with Pipeline.open(settings, screener=Screener.default()) as pipeline:
        assert pipeline.now().year == 2026
        at, _state = pipeline.target_state(target)
        assert at.year == 2026


def test_the_api_refuses_a_2099_event_and_loses_nothing(
    day: tuple[dict[str, Any], list[dict[str, Any]]], database_url: str, tmp_path: Path
) -> None:
    truth, events = day
    target = truth["incidents"][0]["target_id"]
    settings = Settings(data_dir=tmp_path, database_url=database_url, max_batch=1001)
    screener = Screener.default()
    pipeline = Pipeline.open(settings, screener=screener)  # the real wall clock: the day is past
    try:
        app = create_app(settings, screener, pipeline=pipeline)
        with api_client(app, role="platform") as client, api_client(app, role="moderator") as reader:
            # a single one: refused like any invalid field
            single = client.post("/v1/events", json=future_event(target))
            assert single.status_code == 422, single.text
            assert single.json()["errors"][0]["loc"] == "occurred_at"
            raised: list[dict[str, Any]] = []
            for i in range(0, len(events), 1000):
                batch = events[i : i + 1000]
                if i == AT:  # in a batch: refused per event, the others stored (207)
                    batch = [future_event(target), *batch]
                response = client.post("/v1/events", json={"events": batch})
                assert response.status_code == (207 if i == AT else 200), response.text
                body = response.json()
                if i == AT:
                    (refused,) = body["errors"]
                    assert refused["index"] == 0 and refused["event_id"] == "ev-2099"
                    assert refused["errors"][0]["field"] == "occurred_at"
                    assert "ahead of the server's clock" in refused["errors"][0]["error"]
                    assert body["accepted"] == len(batch) - 1
                raised += body["alerts"]
            assert any(
                a["kind"] == "pile_on" and a["subject_id"] == target and a["level"] in ("warning", "critical")
                for a in raised
            )
            state = reader.get(f"/v1/targets/{target}").json()
            assert state["as_of"].startswith("2026-11-24")
    finally:
        pipeline.close()
    assert purged_texts(database_url) == 0
    with Pipeline.open(settings, screener=screener) as again:
        assert again.now().year == 2026


def test_retention_never_purges_more_than_the_wall_clock_allows(event_store: EventStore) -> None:
    """Even if an event from the future reached the clock, the purge cutoff is capped by the wall."""
    from cvguard.store.retention import TextRetention

    pipeline_events = list(generate(SimConfig(seed=1, hours=1, users=100, targets=10, scenarios=())))[1:]
    with Pipeline(
        screener=Screener.default(), behaviour=_Nothing(), store=event_store, wall=lambda: WALL
    ) as pipeline:
        pipeline.submit(pipeline_events)
        newest = max(datetime.fromisoformat(e["occurred_at"]) for e in pipeline_events)
        retention = TextRetention(event_store, timedelta(days=30), wall=lambda: WALL)
        assert retention.advance(datetime(2099, 1, 1, tzinfo=UTC)) == 0  # cutoff: WALL - 30 days
        short = TextRetention(event_store, timedelta(hours=1), wall=lambda: newest + timedelta(minutes=30))
        purged = short.advance(datetime(2099, 1, 1, tzinfo=UTC))
        # only what was an hour old by the wall clock: older than half an hour before the newest
        cutoff = newest - timedelta(minutes=30)
        old = {e["event_id"] for e in pipeline_events if datetime.fromisoformat(e["occurred_at"]) < cutoff}
        assert 0 < purged == len(old) < len(pipeline_events)


class _Nothing:
    """A behaviour twin that raises nothing."""

    def process_many(self, items: Any, batch: int = 0) -> list[Any]:
        return []

    def target_state(self, target_id: str, t: Any) -> TargetState:
        return TargetState(target_id, 0.0, None, {}, {}, [])

    def topic_state(self, topic_id: str, t: Any) -> TopicState:
        return TopicState(topic_id, 0.0, None, {})

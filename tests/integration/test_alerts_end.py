"""Alerts end in the store: an incident that ended hours before the stream's end is resolved by then.

The behaviour side closes an episode after its quiet period (tests/unit/test_behavior_alerts.py);
this checks the whole path: replay → pipeline → store, on both databases.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.pipeline import Pipeline, replay
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

# 16 simulated hours: the early pile-ons end well over the 6-hour quiet period before the end
CONFIG = SimConfig(seed=3, hours=16, users=300, targets=100, scenarios=("pileon",))
QUIET = timedelta(hours=6)


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    path = tmp_path_factory.mktemp("stream") / "events.jsonl"
    lines = list(generate(CONFIG))
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path, lines[0]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def test_the_alerts_of_an_incident_over_for_hours_are_resolved(
    stream: tuple[Path, dict[str, Any]], database_url: str, tmp_path: Path
) -> None:
    path, truth = stream
    end = when(truth["end"])
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    with Pipeline.open(settings, screener=Screener.default(), offline=True) as pipeline:
        with path.open("rb") as src:
            replay(pipeline, src, on_alerts=lambda _alerts: None)
        store = pipeline.store
        assert isinstance(store, EventStore)
        over = [i for i in truth["incidents"] if when(i["end"]) + QUIET + timedelta(hours=1) <= end]
        assert over, "the stream holds no incident that ended long enough before its end"
        for incident in over:
            alerts = store.list_alerts(subject_id=incident["target_id"], kind="pile_on")
            assert alerts, f"{incident['incident_id']} raised no pile-on alert"
            for alert in alerts:
                assert alert.status == "resolved", (incident["incident_id"], alert.alert_id, alert.status)
                assert alert.resolved_at is not None and alert.resolved_at <= end
                # not before the behaviour was quiet for the whole period
                assert alert.resolved_at >= when(incident["start"]) + QUIET
                assert alert.resolution

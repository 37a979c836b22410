"""The API in scale-out mode, against a real Redis: POST /v1/events queues for the workers, and
the reads show what the workers stored and the behaviour state they share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from apiclient import ApiClient as TestClient
from apiclient import api_client
from cvguard.api import create_app
from cvguard.api.scaleout import StreamIngest
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.pipeline.redis_bus import RedisStreamBus
from cvguard.pipeline.shared_state import SharedBehaviour
from cvguard.pipeline.worker import Worker
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

# one simulated hour with one labelled pile-on
CONFIG = SimConfig(seed=5, hours=1, users=300, targets=50, scenarios=("pileon",))


@pytest.fixture
def setup(redis_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Settings, redis.Redis]]:
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, max_batch=1000)
    client = redis.Redis.from_url(redis_url)
    try:
        with api_client(create_app(settings, Screener.default()), role="platform") as api:
            yield api, settings, client
    finally:
        client.close()


def drain(settings: Settings, client: redis.Redis) -> SharedBehaviour:
    """One worker, in process, until the stream is empty (what `cvguard worker` does)."""
    shared = SharedBehaviour(client)
    with EventStore.open(settings.database_url) as store:
        Worker(bus=RedisStreamBus(client), behaviour=shared, store=store, screener=Screener.default(),
               group="cvguard-workers", name="w1", batch=250, block_ms=50).run(idle_exit_s=0.3)
    return shared


def test_events_are_queued_for_the_workers_and_read_back_from_what_they_share(
    setup: tuple[TestClient, Settings, redis.Redis]
) -> None:
    api, settings, client = setup
    lines = list(generate(CONFIG))
    truth, raws = lines[0], lines[1:]
    target = truth["incidents"][0]["target_id"]
    bad = {**raws[3], "occurred_at": "yesterday"}
    body: list[dict[str, Any]] = [*raws[:3], bad, *raws[3:]]
    queued = 0
    for i in range(0, len(body), 1000):
        reply = api.post("/v1/events", json={"events": body[i : i + 1000]})
        assert reply.status_code == 202, reply.text
        out = reply.json()
        queued += out["queued"]
        assert out["accepted"] == 0 and out["alerts"] == []  # not processed yet: only queued
        if i == 0:  # the bad one is refused at the door, with its field; the rest go on
            assert [(e["index"], e["errors"][0]["field"]) for e in out["errors"]] == [(3, "occurred_at")]
    assert queued == len(raws)
    assert RedisStreamBus(client).backlog() == len(raws)  # waiting for a worker

    # before any worker ran: nothing stored, no behaviour yet
    moderator = api_client(api.app, role="moderator")  # type: ignore[arg-type]
    early = moderator.get(f"/v1/targets/{target}")
    assert early.status_code == 200 and early.json()["level"] is None

    shared = drain(settings, client)
    reply = moderator.get(f"/v1/targets/{target}")
    assert reply.status_code == 200, reply.text
    state = reply.json()
    assert state["level"] in ("warning", "critical")
    at = shared.engine.target_state(target, shared.newest)
    assert state["pile_on"]["windows"] == at.pile_on["windows"]  # the workers' shared windows
    assert state["abusive_events"] and state["alerts"]  # and what they stored
    alerts = moderator.get("/v1/alerts", params={"subject_id": target, "kind": "pile_on"}).json()["alerts"]
    assert alerts and alerts[0]["level"] in ("warning", "critical")
    topic = next(t for r in raws for t in r.get("topic_ids", []))
    assert moderator.get(f"/v1/topics/{topic}").status_code == 200
    # the API only reads the store here: it keeps no embedded behaviour checkpoint of its own
    pipeline = api.app.state.pipeline()  # type: ignore[attr-defined]
    assert not pipeline.persist_behaviour and not pipeline.checkpoint()


def test_a_full_stream_is_a_503_not_a_lost_event(setup: tuple[TestClient, Settings, redis.Redis]) -> None:
    api, _, client = setup
    api.app.state.ingest = StreamIngest(client, max_backlog=5, wait_s=0.1)  # type: ignore[attr-defined]
    raws = list(generate(CONFIG))[1:20]
    first = api.post("/v1/events", json={"events": raws[:10]})
    assert first.status_code == 202
    full = api.post("/v1/events", json={"events": raws[10:]})
    assert full.status_code == 503
    assert full.headers["content-type"].startswith("application/problem+json")
    assert full.json()["type"] == "urn:cvguard:problem:overloaded" and "behind" in full.json()["detail"]
    assert int(full.headers["retry-after"]) > 0
    assert RedisStreamBus(client).backlog() == 10  # the refused batch was not half-queued

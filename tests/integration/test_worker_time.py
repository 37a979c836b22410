"""``cvguard worker``: an event dated far ahead of the wall clock is refused (dead-lettered with
why) before it is stored, so it cannot move the shared behaviour clock or the text retention.
Before, it was stored and applied: the shared clock jumped to 2099."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from cvguard.detection.screen import Screener
from cvguard.events import parse_event
from cvguard.pipeline.redis_bus import RedisStreamBus
from cvguard.pipeline.shared_state import SharedBehaviour
from cvguard.pipeline.worker import Worker
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

WALL = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    c = redis.Redis.from_url(redis_url)
    try:
        yield c
    finally:
        c.close()


def test_a_worker_refuses_an_event_from_the_future(client: redis.Redis, tmp_path: Path) -> None:
    lines = list(generate(SimConfig(seed=2, hours=1, users=100, targets=10, scenarios=())))[1:300]
    events = [parse_event(x) for x in lines]
    future = events[0].model_copy(update={"event_id": "ev-2099",
                                          "occurred_at": datetime(2099, 1, 1, tzinfo=UTC)})
    bus = RedisStreamBus(client)
    bus.publish([*events[:100], future, *events[100:]])
    with EventStore.open(f"sqlite:///{tmp_path / 'w.db'}") as store:
        shared = SharedBehaviour(client)
        worker = Worker(bus=bus, behaviour=shared, store=store, screener=Screener.default(), group="g",
                        name="w1", batch=50, block_ms=50, text_retention_days=30, wall=lambda: WALL)
        stats = worker.run(idle_exit_s=0.3)
        assert stats.future == 1 and stats.dead_letters == 1
        assert store.get_event("ev-2099") is None and store.count_events() == len(events)
        assert shared.newest is not None and datetime.fromtimestamp(shared.newest, UTC).year == 2026
        ((_, fields),) = client.xrange(bus.dead_letter)
        assert b"occurred_at" in fields[b"error"] and b"ahead of the server's clock" in fields[b"error"]
        assert b"ev-2099" in fields[b"raw"]

"""The pipeline's own ports: the event-time clock and the bounded in-process bus."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from cvguard.pipeline import BusClosed, EventClock, InProcessBus

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

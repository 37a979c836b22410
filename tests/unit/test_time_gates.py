"""What may move the event clock (``pipeline.clock``), and which dates and ids an event may carry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cvguard.errors import InputError
from cvguard.events import Event, parse_event, parse_events
from cvguard.pipeline.clock import WallGate, WatermarkGate

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
HOUR = 3600.0


def ev(i: int | str, at: datetime) -> Event:
    return Event(event_id=f"e{i}", surface="comment", occurred_at=at, author={"id": "a"}, text="hi")


def stream(n: int, start: datetime = T0, step_s: float = 10.0, prefix: str = "") -> list[Event]:
    return [ev(f"{prefix}{i}", start + timedelta(seconds=i * step_s)) for i in range(n)]


def ids(events: list[Event]) -> list[str]:
    return [e.event_id for e in events]


# -- online: the wall clock --------------------------------------------------------------------------


def test_the_wall_gate_refuses_only_what_is_beyond_the_skew() -> None:
    gate = WallGate(300, wall=lambda: T0)
    assert gate.refusal(T0 + timedelta(seconds=300)) is None  # at the limit: accepted
    assert gate.refusal(T0 - timedelta(days=400)) is None  # old is not the gate's business
    why = gate.refusal(datetime(2099, 1, 1, tzinfo=UTC))
    assert why is not None and "ahead of the server's clock" in why


# -- offline: the stream's own watermark ----------------------------------------------------------


def test_a_lone_2099_event_in_the_middle_is_set_aside_and_the_rest_flows() -> None:
    gate = WatermarkGate(HOUR, quorum=10)
    events = stream(100)
    bad = ev("x", datetime(2099, 1, 1, tzinfo=UTC))
    admitted = gate.admit(events[:50]) + gate.admit([bad]) + gate.admit(events[50:])
    kept, aside = gate.flush()
    assert ids(admitted + kept) == ids(events)  # in arrival order, none lost
    assert ids(aside) == ["ex"]
    assert gate.mark == events[-1].occurred_at.timestamp()  # the clock never saw 2099


def test_a_lone_outlier_on_the_first_line_cannot_set_the_watermark() -> None:
    gate = WatermarkGate(HOUR, quorum=10)
    bad = ev("x", datetime(2099, 1, 1, tzinfo=UTC))
    events = stream(30)
    admitted = gate.admit([bad, *events])
    kept, aside = gate.flush()
    assert ids(admitted + kept) == ids(events) and ids(aside) == ["ex"]


def test_a_small_group_far_ahead_is_set_aside_a_quorum_moves_the_mark() -> None:
    gate = WatermarkGate(HOUR, quorum=10)
    ahead = T0 + timedelta(days=30)
    small = stream(9, start=ahead, prefix="g")  # nine: one short of the quorum
    admitted = gate.admit(stream(50)) + gate.admit(small)
    assert len(admitted) == 50 and gate.waiting == 9
    assert gate.flush() == ([], small)
    # a real jump (the stream resumed after a quiet month): the tenth event vouches for all of them
    gate = WatermarkGate(HOUR, quorum=10)
    gate.admit(stream(50))
    later = stream(40, start=ahead, prefix="l")
    admitted = gate.admit(later)
    assert ids(admitted) == ids(later)
    assert gate.mark is not None and gate.mark >= later[9].occurred_at.timestamp()


def test_a_quiet_gap_in_an_ordered_stream_delays_events_but_loses_none() -> None:
    gate = WatermarkGate(HOUR, quorum=5)
    night = T0 + timedelta(hours=8)
    events = stream(20) + stream(20, start=night, prefix="n")
    admitted: list[Event] = []
    for e in events:  # one at a time, as a slow reader delivers them
        admitted += gate.admit([e])
    kept, aside = gate.flush()
    assert ids(admitted + kept) == ids(events) and aside == []


def test_a_stream_too_short_for_a_quorum_keeps_the_events_around_its_median() -> None:
    gate = WatermarkGate(HOUR, quorum=10)
    events = [ev("a", T0), ev("x", datetime(2099, 1, 1, tzinfo=UTC)), ev("b", T0 + timedelta(minutes=1))]
    assert gate.admit(events) == []
    kept, aside = gate.flush()
    assert ids(kept) == ["ea", "eb"] and ids(aside) == ["ex"]


# -- dates and ids an event may carry -------------------------------------------------------------

GOOD: dict[str, Any] = {
    "event_id": "e1",
    "surface": "comment",
    "occurred_at": "2026-11-24T08:00:00Z",
    "author": {"id": "u1", "created_at": "2026-01-01T00:00:00Z"},
    "text": "hi",
}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"occurred_at": "9999-12-31T23:59:59-01:00"}, "occurred_at"),  # overflowed (OverflowError, 500)
        ({"occurred_at": "1999-12-31T23:59:59Z"}, "occurred_at"),  # before any plausible platform
        ({"occurred_at": "2101-01-01T00:00:00Z"}, "occurred_at"),
        ({"author": {"id": "u1", "created_at": "0001-01-01T00:00:00+01:00"}}, "author.created_at"),
        ({"author": {"id": "u1", "created_at": "2026-11-25T00:00:00Z"}}, "(event)"),  # after posting
        ({"target_ids": [f"u{i}" for i in range(101)]}, "target_ids"),  # more than 100 ids
        ({"target_ids": ["u" * 129]}, "target_ids.0"),  # one id too long
        ({"topic_ids": [f"t{i}" for i in range(101)]}, "topic_ids"),
        ({"topic_ids": [""]}, "topic_ids.0"),
    ],
)
def test_implausible_dates_and_unbounded_ids_are_invalid_fields(change: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_event({**GOOD, **change})
    assert caught.value.field == field
    # in a batch: named, and the good event beside it kept
    good, bad = parse_events([GOOD, {**GOOD, "event_id": "e2", **change}])
    assert [e.event_id for e in good] == ["e1"] and bad[0]["index"] == 1


def test_a_lone_surrogate_in_the_text_is_cleaned_as_screening_cleans_it() -> None:
    event = parse_event({**GOOD, "text": "x\ud800y"})
    assert event.text == "x\ufffdy"
    event.text.encode("utf-8")  # storable, hashable

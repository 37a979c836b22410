"""One generic suite run against every behaviour detector (river's style, STYLE.md).

Each detector is fed the same mixed stream (a pile-on, an incitement post and its copycats, a
copy-paste brigade from new accounts, topic traffic, background chatter) spanning hour boundaries,
so that windows evict and baselines fold while the checks run.
"""

from __future__ import annotations

import copy
import json
import math
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from behaviour_events import comment

from cvguard.behavior import (
    BehaviourDetector,
    BrigadeDetector,
    IncitementDetector,
    PileOnDetector,
    TopicDetector,
)
from cvguard.events import Event
from cvguard.verdict import Verdict

T0 = datetime(2026, 3, 1, 11, 20, tzinfo=UTC)
CLEAN = Verdict(False, 0.05, None, {}, (), {})
ABUSE = Verdict(True, 0.9, "harmful", {"insult": 0.9}, (), {})
CALL = Verdict(True, 0.8, "harmful", {"pile_on_incitement": 0.8}, (), {})


def event(i: int, t: float, author: str, text: str, *, new: bool = False, **kw: Any) -> Event:
    """Event ``e<i>`` at ``T0 + t`` seconds; ``new``: an account a day old (else 400 days)."""
    created = T0 - timedelta(days=1 if new else 400)
    return comment(f"e{i}", T0 + timedelta(seconds=t), author, text, created_at=created, **kw)


def stream(seed: int = 3) -> list[tuple[Event, Verdict]]:
    rng = random.Random(seed)
    out: list[tuple[Event, Verdict]] = []
    chars = "今天天气不错我们一起去吃饭吧这个电影真好看大家周末愉快学习工作加油"
    for i in range(500):  # background over ~2.5 hours
        t = i * 18.0 + rng.random()
        text = "".join(rng.choice(chars) for _ in range(rng.randint(8, 20)))
        abusive = rng.random() < 0.05
        out.append(
            (
                event(
                    i,
                    t,
                    f"bg{rng.randrange(80)}",
                    text,
                    target_ids=(f"t{rng.randrange(20)}",),
                    topic_ids=(f"topic{rng.randrange(3)}",),
                    thread_id=f"th{rng.randrange(10)}",
                ),
                ABUSE if abusive else CLEAN,
            )
        )
    base = 8400.0  # the incidents come late, so they are still inside their windows at the end
    out.append((event(1000, base, "boss", "兄弟们冲，去她评论区骂", target_ids=("victim",)), CALL))
    for j in range(40):  # the pile-on that follows the call (copycats)
        t = base + 5 + j * 9.0
        out.append(
            (
                event(
                    1001 + j,
                    t,
                    f"troll{j % 25}",
                    "你就是个傻逼滚出网络",
                    target_ids=("victim",),
                    topic_ids=("topic0",),
                    new=j % 2 == 0,
                ),
                ABUSE,
            )
        )
    for j in range(30):  # a brigade: one text, thirty new accounts, two minutes
        out.append(
            (
                event(
                    2000 + j,
                    8700 + j * 4.0,
                    f"bot{j}",
                    "这个人就是骗子大家千万别信他的话！",
                    thread_id="th1",
                    new=True,
                ),
                CLEAN,
            )
        )
    out.sort(key=lambda ev: (ev[0].occurred_at, ev[0].event_id))
    return out


Factory = Callable[[], BehaviourDetector]
DETECTORS: list[tuple[str, Factory]] = [
    ("pile_on", PileOnDetector),
    ("incitement", IncitementDetector),
    ("brigade", BrigadeDetector),
    ("topic", TopicDetector),
]


def feed(detector: BehaviourDetector, items: list[tuple[Event, Verdict]]) -> None:
    for e, v in items:
        detector.update(e, v, e.occurred_at.timestamp())


def scores(detector: BehaviourDetector, t: float) -> dict[str, float]:
    return {s: detector.score(s, t) for s in detector.subjects()}


def close(a: Any, b: Any) -> bool:
    """Equal, floats to 1e-9 relative (baselines fold closed hours in chunks that vary by order)."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.fixture(scope="module")
def items() -> list[tuple[Event, Verdict]]:
    return stream()


def end_time(items: list[tuple[Event, Verdict]]) -> float:
    return items[-1][0].occurred_at.timestamp()


@pytest.mark.parametrize(("name", "factory"), DETECTORS, ids=[n for n, _ in DETECTORS])
def test_update_does_not_mutate_its_inputs(
    name: str, factory: Factory, items: list[tuple[Event, Verdict]]
) -> None:
    before = copy.deepcopy(items)
    feed(factory(), items)
    assert items == before


@pytest.mark.parametrize(("name", "factory"), DETECTORS, ids=[n for n, _ in DETECTORS])
def test_the_stream_gives_every_detector_something_to_score(
    name: str, factory: Factory, items: list[tuple[Event, Verdict]]
) -> None:
    detector = factory()
    feed(detector, items)
    assert max(scores(detector, end_time(items)).values()) > 0.3


@pytest.mark.parametrize(("name", "factory"), DETECTORS, ids=[n for n, _ in DETECTORS])
def test_save_restore_round_trip_through_json_gives_identical_scores(
    name: str, factory: Factory, items: list[tuple[Event, Verdict]]
) -> None:
    detector = factory()
    feed(detector, items[: len(items) // 2])
    saved = json.loads(json.dumps(detector.save()))  # JSON-serialisable, and survives it
    twin = factory()
    twin.restore(saved)
    t = items[len(items) // 2][0].occurred_at.timestamp()
    assert scores(twin, t) == scores(detector, t)
    assert json.loads(json.dumps(twin.save())) == saved
    # and both go on identically
    feed(detector, items[len(items) // 2 :])
    feed(twin, items[len(items) // 2 :])
    assert scores(twin, end_time(items)) == scores(detector, end_time(items))


@pytest.mark.parametrize(("name", "factory"), DETECTORS, ids=[n for n, _ in DETECTORS])
@pytest.mark.parametrize("seed", [1, 2])
def test_out_of_order_events_within_lateness_give_the_in_order_state(
    name: str, factory: Factory, seed: int, items: list[tuple[Event, Verdict]]
) -> None:
    rng = random.Random(seed)
    # Arrival = event time + up to 5 minutes of delay: well inside the 10-minute lateness.
    shuffled = sorted(items, key=lambda ev: ev[0].occurred_at.timestamp() + rng.uniform(0, 300))
    assert shuffled != items
    in_order, out_of_order = factory(), factory()
    feed(in_order, items)
    feed(out_of_order, shuffled)
    t = end_time(items)
    assert close(out_of_order.save(), in_order.save())
    assert close(scores(out_of_order, t), scores(in_order, t))


@pytest.mark.parametrize(("name", "factory"), DETECTORS, ids=[n for n, _ in DETECTORS])
def test_scores_are_deterministic(name: str, factory: Factory, items: list[tuple[Event, Verdict]]) -> None:
    a, b = factory(), factory()
    feed(a, items)
    feed(b, items)
    t = end_time(items)
    assert scores(a, t) == scores(b, t)
    assert json.dumps(a.save()) == json.dumps(b.save())


@pytest.mark.parametrize(("name", "factory"), DETECTORS, ids=[n for n, _ in DETECTORS])
def test_an_event_later_than_the_lateness_horizon_changes_nothing(
    name: str, factory: Factory, items: list[tuple[Event, Verdict]]
) -> None:
    detector = factory()
    feed(detector, items)
    before = json.dumps(detector.save())
    e, v = items[len(items) // 2]  # an hour or more behind the newest event
    late = e.model_copy(update={"event_id": "late-one"})
    assert detector.update(late, v, late.occurred_at.timestamp()) == ()
    assert json.dumps(detector.save()) == before

"""The embedded pipeline queues for review what it held, alerted and escalated (pipeline.review),
once, with a minor author's content first; screening is a test twin giving fixed verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cvguard.config import Settings
from cvguard.events import parse_event
from cvguard.pipeline import Pipeline
from cvguard.reports.priority import Priority
from cvguard.verdict import Span, Verdict

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CLEAN = Verdict(False, 0.01, None, {}, (), {})


class FixedScreening:
    """The screening port's twin: ``borderline`` texts are possibly unlawful, ``abuse`` insults."""

    def screen_many(self, texts: Sequence[str]) -> list[Verdict]:
        out = []
        for text in texts:
            if text.startswith("borderline"):
                out.append(
                    Verdict(
                        True,
                        0.6,
                        "illegal",
                        {"defamation": 0.6},
                        (Span(0, 2, "xx", "defamation", "lexicon"),),
                        {},
                    )
                )
            elif text.startswith("abuse"):
                out.append(
                    Verdict(
                        True, 0.95, "harmful", {"insult": 0.95}, (Span(0, 2, "xx", "insult", "lexicon"),), {}
                    )
                )
            else:
                out.append(CLEAN)
        return out


def ev(
    event_id: str,
    text: str,
    minute: int,
    *,
    surface: str = "comment",
    author: str = "a1",
    minor: bool = False,
    target: str = "t1",
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "surface": surface,
        "occurred_at": (T0 + timedelta(minutes=minute)).isoformat(),
        "author": {"id": author, "minor": minor},
        "text": text,
        "target_ids": [target],
    }


def test_held_content_and_dm_escalations_enter_the_queue_once(tmp_path: Path) -> None:
    pipeline = Pipeline.open(Settings(data_dir=tmp_path), screener=FixedScreening(), wall=lambda: T0)
    try:
        batch = [
            ev("e1", "borderline 1", 0),
            ev("e2", "borderline 2", 1, author="kid", minor=True),
            ev("e3", "hello", 2),
            *[ev(f"d{i}", f"abuse {i}", 3 + i, surface="dm", author="s1", target="r1") for i in range(3)],
        ]
        result = pipeline.ingest([parse_event(x) for x in batch])
        assert {d.event_id for d in result.decisions if d.action == "hold_for_review"} == {"e1", "e2"}
        assert result.escalations, "three abusive messages to one person escalate"
        review = pipeline.review
        assert review is not None
        queue = review.store.queue(now=T0)
        held = {i.ref_id: i for i in queue if i.kind == "held"}
        assert set(held) == {"e1", "e2"}
        assert held["e2"].priority == Priority.URGENT and "a minor is involved" in held["e2"].reasons
        assert held["e1"].priority == Priority.HIGH and held["e1"].context["surface"] == "comment"
        assert [i.kind for i in queue if i.kind == "escalation"] == ["escalation"]
        # the same batch again (redelivered): nothing new is queued
        pipeline.ingest([parse_event(x) for x in batch])
        assert len(review.store.queue(now=T0)) == len(queue)
    finally:
        pipeline.close()

"""The behaviour engine: one event and its verdict in, new or escalated alerts out.

It composes the four detectors and the alert book, and answers the API's questions about a
target or a topic. Everything runs in event time (``Event.occurred_at``); nothing reads a clock.
State is the detectors' per-subject records plus the open alert episodes, all plain dicts through
``save()`` / ``restore()``; a shared-state (Redis) variant swaps the record maps, not the logic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cvguard.behavior.alerts import RANK, Alert, AlertBook, Assessment, max_level
from cvguard.behavior.brigade import BrigadeConfig, BrigadeDetector
from cvguard.behavior.incitement import IncitementConfig, IncitementDetector, Role
from cvguard.behavior.pileon import PileOnConfig, PileOnDetector
from cvguard.behavior.state import TargetState, TopicState
from cvguard.behavior.topics import TopicConfig, TopicDetector
from cvguard.behavior.windows import seconds
from cvguard.events import Event
from cvguard.verdict import Verdict
from cvguard.vocabulary import Level


class Explaining(Protocol):
    def assess(self, subject: str, t: float, *, explain: bool = True) -> Assessment: ...


@dataclass(frozen=True, slots=True)
class BehaviourConfig:
    pile_on: PileOnConfig = field(default_factory=PileOnConfig)
    incitement: IncitementConfig = field(default_factory=IncitementConfig)
    brigade: BrigadeConfig = field(default_factory=BrigadeConfig)
    topic: TopicConfig = field(default_factory=TopicConfig)
    quiet_s: tuple[tuple[str, float], ...] = ()  # per-kind overrides of the episode quiet period
    refresh_factor: float = 10.0  # re-emit at the same level when the headline count grows this much
    prune_every_s: float = 3600.0
    sweep_every_s: float = 60.0  # how often, in event time, the book looks for episodes gone quiet


class BehaviourEngine:
    def __init__(self, config: BehaviourConfig | None = None) -> None:
        cfg = self.config = config or BehaviourConfig()
        self.pile_on = PileOnDetector(cfg.pile_on)
        self.incitement = IncitementDetector(cfg.incitement)
        self.brigade = BrigadeDetector(cfg.brigade)
        self.topics = TopicDetector(cfg.topic)
        self.book = AlertBook(dict(cfg.quiet_s), cfg.refresh_factor)
        self._next_prune = -math.inf
        self._next_sweep = -math.inf
        self.processed = 0

    def process(self, event: Event, verdict: Verdict) -> list[Alert]:
        """Feed one event; returns the alerts raised or escalated by it (usually none)."""
        return self._process(event, verdict, self.brigade.band_keys([event.text])[0])

    def process_many(self, items: Iterable[tuple[Event, Verdict]], batch: int = 512) -> list[Alert]:
        """``process`` over many events, in order; near-duplicate hashing is batched (faster)."""
        out: list[Alert] = []
        chunk: list[tuple[Event, Verdict]] = []
        for item in items:
            chunk.append(item)
            if len(chunk) >= batch:
                out.extend(self._process_chunk(chunk))
                chunk = []
        out.extend(self._process_chunk(chunk))
        return out

    def process_keyed(self, items: Iterable[tuple[Event, Verdict, list[str] | None]]) -> list[Alert]:
        """``process_many`` with each text's near-duplicate band keys already computed
        (``brigade.band_keys``), e.g. by the worker that screened the event."""
        out: list[Alert] = []
        for event, verdict, keys in items:
            out.extend(self._process(event, verdict, keys))
        return out

    def _process_chunk(self, chunk: list[tuple[Event, Verdict]]) -> list[Alert]:
        out: list[Alert] = []
        keys = self.brigade.band_keys([e.text for e, _ in chunk])
        for (event, verdict), k in zip(chunk, keys, strict=True):
            out.extend(self._process(event, verdict, k))
        return out

    def _process(self, event: Event, verdict: Verdict, band_keys: list[str] | None) -> list[Alert]:
        t = event.occurred_at.timestamp()
        self.processed += 1
        out: list[Alert] = []
        if t >= self._next_sweep:
            out.extend(self.sweep(t))
        topics: dict[str, None] = dict.fromkeys(self.topics.update(event, verdict, t))
        for target in self.pile_on.update(event, verdict, t):
            level = self._assess_and_offer(self.pile_on, target, t, out)
            if RANK[level] >= RANK["warning"]:
                for topic in event.topic_ids:
                    self.topics.note_pileon(topic, target, t)
                    topics[topic] = None
        for subject in self.incitement.update(event, verdict, t):
            self._assess_and_offer(self.incitement, subject, t, out)
        keys = self.brigade.update_keyed(event, verdict, t, band_keys)
        if keys:
            quick = self.brigade.assess_keys(keys, t, explain=False)
            if self.book.due(quick, t):
                self._offer(self.brigade.assess_keys(keys, t), t, out)
            else:
                self.book.touch(quick, t)
        for topic in topics:
            self._assess_and_offer(self.topics, topic, t, out)
        if t >= self._next_prune:
            out.extend(self.prune(t))
        return out

    def _assess_and_offer(
        self, detector: Explaining, subject: str, t: float, out: list[Alert]
    ) -> Level | None:
        """Assess cheaply; build the evidence only when the book will emit."""
        quick = detector.assess(subject, t, explain=False)
        if self.book.due(quick, t):
            self._offer(detector.assess(subject, t), t, out)
        else:
            self.book.touch(quick, t)
        return quick.level

    def _offer(self, a: Assessment, t: float, out: list[Alert]) -> None:
        alert = self.book.offer(a, t)
        out.extend(self.book.drain_closed())  # an episode this offer found over comes first
        if alert is not None:
            out.append(alert)

    def sweep(self, t: Any) -> list[Alert]:
        """The closing emissions of episodes whose quiet period has passed by event time ``t``.

        The engine sweeps as the events it is fed advance event time (every ``sweep_every_s``);
        a caller whose stream has gone silent can call it with the clock's time."""
        ts = seconds(t)
        self.book.sweep(ts, lambda alert: self._final(alert, ts))
        self._next_sweep = max(self._next_sweep, ts + self.config.sweep_every_s)
        return self.book.drain_closed()

    def _final(self, alert: Alert, t: float) -> tuple[dict[str, Any], tuple[str, ...]] | None:
        """An incitement episode's closing account names every initiator and copycat known by
        then (its emissions stop once its level stops rising); other kinds keep their evidence."""
        if alert.kind != "incitement":
            return None
        a = self.incitement.assess(f"{alert.subject_type}:{alert.subject_id}", t)
        if not a.evidence:
            return None
        return a.evidence, a.event_ids

    def prune(self, t: float) -> list[Alert]:
        """Forget idle subjects; close episodes gone quiet (the engine calls this hourly in event
        time) and return their closing emissions."""
        for detector in (self.pile_on, self.incitement, self.brigade, self.topics):
            detector.prune(t)
        self._next_prune = t + self.config.prune_every_s
        return self.sweep(t)

    def role_of(self, author_id: str, target_id: str) -> Role | None:
        return self.incitement.role_of(author_id, target_id)

    def target_state(self, target_id: str, t: Any) -> TargetState:
        """Risk in [0, 1], level, per-window evidence and a timeline for one user (API view)."""
        ts = seconds(t)
        pile = self.pile_on.assess(target_id, ts)
        inc = self.incitement.assess(f"user:{target_id}", ts)
        alerts = [
            a
            for kind in ("pile_on", "incitement", "brigade")
            if (a := self.book.current(kind, "user", target_id, ts)) is not None
        ]
        return TargetState(
            target_id=target_id,
            risk=round(max(pile.score, inc.score), 4),
            level=max_level(pile.level, inc.level, *(a.level for a in alerts)),
            pile_on={"level": pile.level, "score": pile.score, **pile.evidence},
            incitement={"level": inc.level, **inc.evidence},
            timeline=self.pile_on.timeline(target_id, ts),
            alerts=[a.to_dict() for a in alerts],
        )

    def topic_state(self, topic_id: str, t: Any) -> TopicState:
        ts = seconds(t)
        a = self.topics.assess(topic_id, ts)
        alert = self.book.current("topic", "topic", topic_id, ts)
        return TopicState(
            topic_id=topic_id,
            risk=round(a.score, 4),
            level=max_level(a.level, alert.level if alert else None),
            behaviour=dict(a.evidence),
            alerts=[alert.to_dict()] if alert else [],
        )

    def open_alerts(self, t: Any = None) -> list[Alert]:
        return self.book.open_alerts(None if t is None else seconds(t))

    def late(self) -> dict[str, int]:
        """Events each detector refused as later than its lateness allows, since this replica started
        (a metric, not state: a restored replica starts again from zero)."""
        return {
            "pile_on": self.pile_on.watermark.late,
            "incitement": self.incitement.watermark.late,
            "brigade": self.brigade.watermark.late,
            "topic": self.topics.watermark.late,
        }

    def save(self) -> dict[str, Any]:
        return {
            "version": 1,
            "pile_on": self.pile_on.save(),
            "incitement": self.incitement.save(),
            "brigade": self.brigade.save(),
            "topic": self.topics.save(),
            "alerts": self.book.save(),
            "next_prune": None if self._next_prune == -math.inf else self._next_prune,
            "next_sweep": None if self._next_sweep == -math.inf else self._next_sweep,
            "processed": self.processed,
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.pile_on.restore(data["pile_on"])
        self.incitement.restore(data["incitement"])
        self.brigade.restore(data["brigade"])
        self.topics.restore(data["topic"])
        self.book.restore(data["alerts"])
        self._next_prune = -math.inf if data["next_prune"] is None else float(data["next_prune"])
        sweep = data.get("next_sweep")  # absent from snapshots written before episodes closed
        self._next_sweep = -math.inf if sweep is None else float(sweep)
        self.processed = int(data["processed"])

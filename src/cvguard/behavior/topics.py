"""Topic tendency: a topic or hot-list item turning violent, against its own baseline.

Per topic, the 10 min and 1 h windows count messages and abusive messages; the abusive *share*
is tested against the topic's usual share (Beta prior of 5%, floored at 3%, EWMA over closed
hours). Pile-on warnings raised on targets inside the topic are counted too (``note_pileon``).

    watch     p <= 1e-4   abusive >= 10   share >= 10%    or >= 1 target piled on in the hour
    warning   p <= 1e-8   abusive >= 30   share >= 20%    or >= 2 targets piled on
    critical  p <= 1e-14  abusive >= 100  share >= 30%    or >= 5 targets piled on
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cvguard.behavior.alerts import RANK, Assessment
from cvguard.behavior.base import Watermark, is_abusive
from cvguard.behavior.stats import share_tail, strength
from cvguard.behavior.windows import WINDOWS, HourlyBaseline, LatestSeen, SlidingCounts
from cvguard.events import Event
from cvguard.verdict import Verdict
from cvguard.vocabulary import Level

TOTAL, ABUSIVE = 0, 1
DAY = len(WINDOWS) - 1
HOUR_WINDOW = 2


@dataclass(frozen=True, slots=True)
class TopicRule:
    max_p: float
    min_abusive: int
    min_share: float
    piled_targets: int


@dataclass(frozen=True, slots=True)
class TopicConfig:
    abusive_threshold: float = 0.5
    lateness_s: float = 600.0
    half_life_hours: float = 72.0
    prior_share_abusive: float = 1.0
    prior_share_clean: float = 19.0
    share_floor: float = 0.03
    watch: TopicRule = TopicRule(1e-4, 10, 0.10, 1)
    warning: TopicRule = TopicRule(1e-8, 30, 0.20, 2)
    critical: TopicRule = TopicRule(1e-14, 100, 0.30, 5)
    test_windows: tuple[int, ...] = (1, 2)  # 10m, 1h
    idle_days: float = 14.0


class _Topic:
    __slots__ = ("baseline", "counts", "piled")

    def __init__(self, half_life_hours: float) -> None:
        self.counts = SlidingCounts(2)
        self.baseline = HourlyBaseline(half_life_hours)
        self.piled = LatestSeen()  # targets with a pile-on warning inside this topic

    def hourly(self, hour: int) -> tuple[int, int]:
        row = self.counts.bucket(DAY, hour)
        return (row[ABUSIVE], row[TOTAL]) if row else (0, 0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts.to_dict(),
            "baseline": self.baseline.to_dict(),
            "piled": self.piled.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], half_life_hours: float) -> _Topic:
        out = cls(half_life_hours)
        out.counts = SlidingCounts.from_dict(data["counts"], 2)
        out.baseline = HourlyBaseline.from_dict(data["baseline"], half_life_hours)
        out.piled = LatestSeen.from_dict(data["piled"])
        return out


class TopicDetector:
    kind = "topic"

    def __init__(self, config: TopicConfig | None = None) -> None:
        self.config = config or TopicConfig()
        self.watermark = Watermark(self.config.lateness_s)
        self._topics: dict[str, _Topic] = {}

    def _record(self, topic: str) -> _Topic:
        rec = self._topics.get(topic)
        if rec is None:
            rec = self._topics[topic] = _Topic(self.config.half_life_hours)
        return rec

    def update(self, event: Event, verdict: Verdict, t: float) -> tuple[str, ...]:
        if not event.topic_ids or not self.watermark.accept(t):
            return ()
        cfg = self.config
        abusive = is_abusive(verdict, cfg.abusive_threshold)
        row = [1, int(abusive)]
        topics = tuple(dict.fromkeys(event.topic_ids))
        for topic in topics:
            rec = self._record(topic)
            if t > rec.counts.newest and rec.baseline.due(t - cfg.lateness_s):
                rec.baseline.fold_until(t - cfg.lateness_s, rec.hourly, rec.counts.nonempty_indices(DAY))
            rec.baseline.observe(t)
            rec.counts.add(t, row)
        return topics if abusive else ()

    def note_pileon(self, topic: str, target: str, t: float) -> None:
        """A pile-on warning was raised on ``target`` by an event inside ``topic``."""
        self._record(topic).piled.add(target, t)

    def assess(self, subject: str, t: float, *, explain: bool = True) -> Assessment:
        rec = self._topics.get(subject)
        if rec is None:
            return Assessment("topic", "topic", subject, None, 0.0, 0, {})
        cfg = self.config
        b = rec.baseline
        share0 = max(
            cfg.share_floor,
            (cfg.prior_share_abusive + b.a) / (cfg.prior_share_abusive + cfg.prior_share_clean + b.n),
        )
        piled = rec.piled.distinct(HOUR_WINDOW, t)
        level: Level | None = None
        best = 0.0
        headline = 0
        windows: dict[str, dict[str, Any]] = {}
        rules: tuple[tuple[Level, TopicRule], ...] = (
            ("critical", cfg.critical),
            ("warning", cfg.warning),
            ("watch", cfg.watch),
        )
        for name, rule in rules:
            if piled >= rule.piled_targets and RANK[name] > RANK[level]:
                level, headline = name, piled
                break
        for wi, w in enumerate(WINDOWS):
            total, abusive = rec.counts.totals(wi, t)
            share = abusive / total if total else 0.0
            info: dict[str, Any] = {"abusive": abusive, "total": total, "abusive_share": round(share, 4)}
            windows[w.name] = info
            if wi not in cfg.test_windows or not abusive:
                continue
            p = share_tail(abusive, total, share0)
            info["p_value"] = p
            best = max(best, strength(p))
            for name, rule in rules:
                if p <= rule.max_p and abusive >= rule.min_abusive and share >= rule.min_share:
                    if RANK[name] > RANK[level]:
                        level, headline = name, abusive
                    break
        score = {None: 0.0, "watch": 0.3, "warning": 0.6, "critical": 0.9}[level]
        score = round(score + (0.1 if level else 0.3) * min(1.0, best / 20.0), 6)
        if not explain:
            return Assessment("topic", "topic", subject, level, score, headline, {})
        evidence: dict[str, Any] = {
            "windows": windows,
            "baseline": {"abusive_share": round(share0, 4)},
            "piled_on_targets_1h": piled,
            "piled_on_targets_1d": rec.piled.distinct(DAY, t),
            "timeline": rec.counts.series(HOUR_WINDOW, t, ABUSIVE),
        }
        return Assessment("topic", "topic", subject, level, score, headline, evidence)

    def score(self, subject: str, t: float) -> float:
        return self.assess(subject, t).score

    def subjects(self) -> list[str]:
        return sorted(self._topics)

    def prune(self, t: float) -> None:
        horizon = t - self.config.idle_days * 86400
        for key in [k for k, r in self._topics.items() if max(r.counts.newest, r.piled.newest) < horizon]:
            del self._topics[key]

    def save(self) -> dict[str, Any]:
        return {
            "version": 1,
            "watermark": self.watermark.to_json(),
            "topics": {k: self._topics[k].to_dict() for k in sorted(self._topics)},
        }

    def restore(self, data: dict[str, Any]) -> None:
        hl = self.config.half_life_hours
        self.watermark.load(data["watermark"])
        self._topics = {k: _Topic.from_dict(v, hl) for k, v in data["topics"].items()}

"""Pile-on detection: many people aiming abuse at one target, against that target's own baseline.

Per target, four windows (1 min, 10 min, 1 h, 1 day) count messages, abusive messages, abusive
ones from strangers and from new accounts, and distinct abusive senders. In each of the 1 min /
10 min / 1 h windows two surge tests are run (see ``stats``): the abusive *rate* against the
target's long-run rate (Gamma-Poisson, EWMA over closed hours plus a prior of about one abusive
message per five hours) and the abusive *share* against the target's usual share (Beta prior of 5%,
floored at 3% so that screening noise on heated but civil talk is not a surge). The window's
p-value is the larger of the two. A level is reached when one window meets its rule:

    watch     p <= 1e-4   abusive >= 5    distinct senders >= 3
    warning   p <= 1e-8   abusive >= 8    distinct senders >= 5   strangers >= 50% (or senders >= 15)
    critical  p <= 1e-14  abusive >= 30   distinct senders >= 20

An ordinary person with no history reaches *warning* with the 8th abusive message from 5 strangers
(a share test p of about 1e-9 even with a few friendly replies mixed in); a celebrity with 2,000
mentions an hour at a steady 2% abusive share stays far from p <= 1e-8 in every window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cvguard.behavior.alerts import RANK, Assessment, Level
from cvguard.behavior.base import Watermark, is_abusive, is_new_account, is_stranger
from cvguard.behavior.stats import rate_tail, share_tail, strength
from cvguard.behavior.windows import (
    WINDOWS,
    HourlyBaseline,
    LatestSeen,
    SlidingCounts,
    top_k_insert,
)
from cvguard.detection.verdict import Verdict
from cvguard.events import Event

TOTAL, ABUSIVE, STRANGER, NEW = range(4)
DAY = len(WINDOWS) - 1


@dataclass(frozen=True, slots=True)
class LevelRule:
    """All must hold in one window: p-value, abusive count, distinct senders, stranger share.

    The stranger-share requirement is waived from ``waive_strangers_at`` distinct senders on.
    """

    max_p: float
    min_abusive: int
    min_senders: int
    min_stranger_share: float = 0.0
    waive_strangers_at: int | None = None

    def met(self, p: float, abusive: int, senders: int, stranger_share: float) -> bool:
        if p > self.max_p or abusive < self.min_abusive or senders < self.min_senders:
            return False
        if stranger_share >= self.min_stranger_share:
            return True
        return self.waive_strangers_at is not None and senders >= self.waive_strangers_at

    def describe(self) -> str:
        text = f"p<={self.max_p:g}, abusive>={self.min_abusive}, senders>={self.min_senders}"
        if self.min_stranger_share:
            text += f", strangers>={self.min_stranger_share:.0%}"
            if self.waive_strangers_at is not None:
                text += f" (or senders>={self.waive_strangers_at})"
        return text


@dataclass(frozen=True, slots=True)
class PileOnConfig:
    abusive_threshold: float = 0.5
    lateness_s: float = 600.0
    new_account_days: float = 7.0
    half_life_hours: float = 72.0
    prior_rate_events: float = 1.0  # Gamma prior on the abusive rate: this many messages ...
    prior_rate_hours: float = 5.0  # ... over this many hours
    prior_share_abusive: float = 1.0  # Beta prior on the abusive share: 1 in 20
    prior_share_clean: float = 19.0
    share_floor: float = 0.03
    watch: LevelRule = LevelRule(1e-4, 5, 3)
    warning: LevelRule = LevelRule(1e-8, 8, 5, 0.5, 15)
    critical: LevelRule = LevelRule(1e-14, 30, 20)
    test_windows: tuple[int, ...] = (0, 1, 2)  # 1m, 10m, 1h; the day is reported, not tested
    sample_ids: int = 20
    idle_days: float = 14.0  # a target silent this long is forgotten, baseline included
    rules: tuple[tuple[Level, LevelRule], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "rules", (("critical", self.critical), ("warning", self.warning), ("watch", self.watch))
        )


class _Target:
    """Everything known about one target; serialises to a dict (a Redis hash later)."""

    __slots__ = ("baseline", "counts", "recent", "senders")

    def __init__(self, half_life_hours: float) -> None:
        self.counts = SlidingCounts(4)
        self.senders = LatestSeen()
        self.baseline = HourlyBaseline(half_life_hours)
        self.recent: list[tuple[float, str]] = []  # latest abusive (time, event id)

    def hourly(self, hour: int) -> tuple[int, int]:
        row = self.counts.bucket(DAY, hour)
        return (row[ABUSIVE], row[TOTAL]) if row else (0, 0)

    def add(self, t: float, row: list[int], author: str, event_id: str, cfg: PileOnConfig) -> None:
        if t > self.counts.newest and self.baseline.due(t - cfg.lateness_s):
            self.baseline.fold_until(t - cfg.lateness_s, self.hourly, self.counts.nonempty_indices(DAY))
        self.baseline.observe(t)
        self.counts.add(t, row)
        if row[ABUSIVE]:
            self.senders.add(author, t)
            top_k_insert(self.recent, (t, event_id), cfg.sample_ids)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counts": self.counts.to_dict(),
            "senders": self.senders.to_dict(),
            "baseline": self.baseline.to_dict(),
            "recent": [list(r) for r in self.recent],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], half_life_hours: float) -> _Target:
        out = cls(half_life_hours)
        out.counts = SlidingCounts.from_dict(data["counts"], 4)
        out.senders = LatestSeen.from_dict(data["senders"])
        out.baseline = HourlyBaseline.from_dict(data["baseline"], half_life_hours)
        out.recent = [(float(t), str(i)) for t, i in data["recent"]]
        return out


_BASE = {None: 0.0, "watch": 0.3, "warning": 0.6, "critical": 0.9}


class PileOnDetector:
    kind = "pile_on"

    def __init__(self, config: PileOnConfig | None = None) -> None:
        self.config = config or PileOnConfig()
        self.watermark = Watermark(self.config.lateness_s)
        self._targets: dict[str, _Target] = {}

    def update(self, event: Event, verdict: Verdict, t: float) -> tuple[str, ...]:
        if not event.target_ids or not self.watermark.accept(t):
            return ()
        cfg = self.config
        abusive = is_abusive(verdict, cfg.abusive_threshold)
        row = [1, 0, 0, 0]
        if abusive:
            row = [1, 1, int(is_stranger(event)), int(is_new_account(event, cfg.new_account_days))]
        author = event.author.id
        touched: list[str] = []
        for target in dict.fromkeys(event.target_ids):
            if target == author:
                continue  # talking about oneself is not a pile-on
            rec = self._targets.get(target)
            if rec is None:
                rec = self._targets[target] = _Target(cfg.half_life_hours)
            rec.add(t, row, author, event.event_id, cfg)
            touched.append(target)
        return tuple(touched) if abusive else ()

    def assess(self, subject: str, t: float, *, explain: bool = True) -> Assessment:
        """Level and score now; with ``explain`` the evidence too (windows, timeline, samples)."""
        rec = self._targets.get(subject)
        if rec is None:
            return Assessment("pile_on", "user", subject, None, 0.0, 0, {})
        cfg = self.config
        b = rec.baseline
        alpha = cfg.prior_rate_events + b.a
        beta = cfg.prior_rate_hours + b.h
        share0 = max(
            cfg.share_floor,
            (cfg.prior_share_abusive + b.a) / (cfg.prior_share_abusive + cfg.prior_share_clean + b.n),
        )
        windows: dict[str, dict[str, Any]] = {}
        level: Level | None = None
        trigger: tuple[int, float, str] | None = None  # (rank, strength, window)
        best = 0.0
        headline = 0
        for wi, w in enumerate(WINDOWS):
            tested = wi in cfg.test_windows
            if not (tested or explain):
                continue
            total, abusive, strangers, new = rec.counts.totals(wi, t)
            senders = rec.senders.distinct(wi, t)
            info: dict[str, Any] = {}
            if explain:
                info = windows[w.name] = {
                    "abusive": abusive,
                    "total": total,
                    "distinct_senders": senders,
                    "stranger_share": round(strangers / abusive, 4) if abusive else 0.0,
                    "new_account_share": round(new / abusive, 4) if abusive else 0.0,
                }
            if not tested or not abusive:
                continue
            p_rate = rate_tail(abusive, w.seconds, alpha, beta)
            p_share = share_tail(abusive, total, share0)
            p = max(p_rate, p_share)
            if explain:
                info.update(p_rate=p_rate, p_share=p_share, p_value=p)
            s = strength(p)
            best = max(best, s)
            for name, rule in cfg.rules:
                if rule.met(p, abusive, senders, strangers / abusive):
                    key = (RANK[name], s, w.name)
                    if trigger is None or key[:2] > trigger[:2]:
                        trigger, level, headline = key, name, abusive
                    break
        score = round(_BASE[level] + (0.1 if level else 0.3) * min(1.0, best / 20.0), 6)
        if not explain:
            return Assessment("pile_on", "user", subject, level, score, headline, {})
        evidence: dict[str, Any] = {
            "windows": windows,
            "baseline": {"abusive_per_hour": round(alpha / beta, 4), "abusive_share": round(share0, 4)},
            "timeline": rec.counts.series(1, t, ABUSIVE),
            "sample_event_ids": [i for _, i in reversed(rec.recent)],
        }
        if trigger is not None and level is not None:
            rule = dict(cfg.rules)[level]
            evidence.update(
                trigger_window=trigger[2],
                p_value=windows[trigger[2]]["p_value"],
                rule=f"{level}: {rule.describe()}",
            )
        ids = tuple(evidence["sample_event_ids"])
        return Assessment("pile_on", "user", subject, level, score, headline, evidence, ids)

    def score(self, subject: str, t: float) -> float:
        return self.assess(subject, t).score

    def subjects(self) -> list[str]:
        return sorted(self._targets)

    def timeline(self, subject: str, t: float, window: int = 2) -> list[list[Any]]:
        rec = self._targets.get(subject)
        if rec is None:
            return []
        return rec.counts.series(window, t, ABUSIVE)

    def prune(self, t: float) -> None:
        horizon = t - self.config.idle_days * 86400
        for key in [k for k, r in self._targets.items() if r.counts.newest < horizon]:
            del self._targets[key]

    def save(self) -> dict[str, Any]:
        return {
            "version": 1,
            "watermark": self.watermark.to_json(),
            "targets": {k: self._targets[k].to_dict() for k in sorted(self._targets)},
        }

    def restore(self, data: dict[str, Any]) -> None:
        hl = self.config.half_life_hours
        self.watermark.load(data["watermark"])
        self._targets = {k: _Target.from_dict(v, hl) for k, v in data["targets"].items()}


__all__ = ["LevelRule", "PileOnConfig", "PileOnDetector"]

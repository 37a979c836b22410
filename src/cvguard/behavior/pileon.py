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

A pile-on on an ordinary person is usually preceded by a *surge of attention*: a hot event brings
strangers to the person's posts before the insults start, and the first minute of the attack holds
only one to three abusive messages. So there is a second way to *warning*, the **onset** rule:

    attention  in the 10 min or 1 h window, messages from strangers >= 5, at least 10 times the
               target's usual message rate, and p <= 1e-8 against that rate (Gamma-Poisson, prior
               one message per two hours)
    hostility  a clearly abusive message (score >= 0.6) from a stranger in the last 10 minutes, and
               abuse at that rate unusual for the target (abusive-rate p <= 0.01 in the 1 min or
               10 min window), and hostility that scales with the crowd: distinct abusive senders
               in 10 minutes >= 1 per 100 strangers' messages in the hour (at least one), and an abusive share
               of the 1 min or 10 min window >= 15% and >= 2 times the target's usual share, and
               no more abuse aimed elsewhere (a third party, a group) than at the target in 10 min,
               and not a brawl (most of those abusive senders under abuse themselves in the hour)
    history    the target's usual rate rests on at least 1 hour of watching

Attention is not hostility: a viral post draws thousands of friendly strangers and, among them, a
rude comment or two; the share and the senders-per-crowd tests keep that out while the first insult
that lands amid a few dozen strangers' messages still warns.

A *fight* (the target abused someone in the last hour) needs 15 distinct senders for warning and
gets no onset; a *brawl* (most of the last 10 minutes' abusive senders abused someone else within
the hour too: a fan war, a flame war) stays at watch.

Only abuse *aimed at the target* counts, in every window and rule (``direction.aim``): a comment
under a post names the poster as its target, but abuse of a third party in a news thread, of a
group, or of a rival fandom is not abuse of the poster. Such messages count as messages (attention),
not as abuse.

A target never mentioned while the detector has been watching had no messages in those hours, and
its baseline says so (``quiet_before``): otherwise everyone would be a newcomer with no baseline on
their first hot day. The ratio keeps a celebrity's evening live stream (twice the usual traffic,
a p-value near zero on sheer volume) out; the abusive-rate test keeps out a target whose abuse is
routine; the score floor keeps borderline screening (sharp but civil debate) out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from cvguard.behavior.alerts import RANK, Assessment
from cvguard.behavior.base import Watermark, is_abusive, is_new_account, is_stranger
from cvguard.behavior.direction import aim, is_news
from cvguard.behavior.stats import rate_tail, share_tail, strength
from cvguard.behavior.windows import (
    WINDOWS,
    HourlyBaseline,
    LatestSeen,
    SlidingCounts,
    top_k_insert,
)
from cvguard.events import Event, Surface
from cvguard.verdict import Verdict
from cvguard.vocabulary import Level

# Per bucket: messages, abusive ones (aimed at the target), abusive from strangers, abusive from
# new accounts, messages from strangers (attention), clearly abusive from strangers (hostility, for
# the onset rule), abusive ones aimed at someone else (a third party, a group: ``direction.aim``).
TOTAL, ABUSIVE, STRANGER, NEW, HEARD, CLEAR, OFF = range(7)
WIDTH = 7
DAY = len(WINDOWS) - 1
HOUR_S = 3600.0


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
    min_share: float = 0.0  # abusive share of the window's messages: hostility, not just attention

    def met(self, p: float, abusive: int, senders: int, stranger_share: float, share: float = 1.0) -> bool:
        if p > self.max_p or abusive < self.min_abusive or senders < self.min_senders:
            return False
        if share < self.min_share:
            return False
        if stranger_share >= self.min_stranger_share:
            return True
        return self.waive_strangers_at is not None and senders >= self.waive_strangers_at

    def describe(self) -> str:
        text = f"p<={self.max_p:g}, abusive>={self.min_abusive}, senders>={self.min_senders}"
        if self.min_share:
            text += f", abusive share>={self.min_share:.0%}"
        if self.min_stranger_share:
            text += f", strangers>={self.min_stranger_share:.0%}"
            if self.waive_strangers_at is not None:
                text += f" (or senders>={self.waive_strangers_at})"
        return text


@dataclass(frozen=True, slots=True)
class OnsetRule:
    """Warning at the first clear insult once a stranger crowd has surged on the target (see above)."""

    attention_windows: tuple[int, ...] = (1, 2)  # 10m, 1h
    min_attention: int = 5  # messages from strangers in the window
    max_attention_p: float = 1e-8
    min_ratio: float = 10.0  # window rate over the usual rate
    prior_messages: float = 1.0  # Gamma prior on the message rate: this many messages ...
    prior_hours: float = 2.0  # ... over this many hours
    min_history_hours: float = 1.0  # a cold stream folds its first hour before judging attention
    clear_score: float = 0.6  # screening score of a "clearly abusive" message
    hostility_windows: tuple[int, ...] = (0, 1)  # 1m, 10m
    max_hostility_p: float = 0.01
    min_senders: int = 1  # distinct abusive senders in 10 min, however small the crowd
    crowd_per_sender: float = 100.0  # strangers' messages in the hour per distinct abusive sender needed
    min_share: float = 0.15  # abusive share of a hostility window ...
    share_ratio: float = 2.0  # ... and this many times the target's usual share

    def describe(self) -> str:
        return (
            f"onset: strangers' messages>={self.min_attention}, >={self.min_ratio:g}x usual,"
            f" p<={self.max_attention_p:g}; a clear insult from a stranger, abusive-rate"
            f" p<={self.max_hostility_p:g}, abusive senders>=1 per {self.crowd_per_sender:g} strangers'"
            f" messages, abusive share>={self.min_share:.0%} and >={self.share_ratio:g}x usual"
        )


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
    watch: LevelRule = LevelRule(1e-4, 5, 3, min_share=0.1)
    warning: LevelRule = LevelRule(1e-8, 8, 5, 0.5, 15, min_share=0.2)
    critical: LevelRule = LevelRule(1e-14, 30, 20, min_share=0.2)
    fight_abusive: int = 1  # the target's own abusive messages in the last hour that make a fight ...
    fight_senders: int = 15  # ... in which warning needs this many distinct abusive senders
    test_windows: tuple[int, ...] = (0, 1, 2)  # 1m, 10m, 1h; the day is reported, not tested
    onset: OnsetRule = OnsetRule()
    sample_ids: int = 20
    idle_days: float = 14.0  # a target silent this long is forgotten, baseline included
    rules: tuple[tuple[Level, LevelRule], ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "rules", (("critical", self.critical), ("warning", self.warning), ("watch", self.watch))
        )


class _Target:
    """Everything known about one target; serialises to a dict (a Redis hash later)."""

    __slots__ = ("baseline", "counts", "first", "recent", "senders")

    def __init__(self, half_life_hours: float) -> None:
        self.counts = SlidingCounts(WIDTH)
        self.senders = LatestSeen()
        self.baseline = HourlyBaseline(half_life_hours)
        self.recent: list[tuple[float, str]] = []  # latest abusive (time, event id)
        self.first = math.inf  # earliest event time seen about this target

    def hourly(self, hour: int) -> tuple[int, int]:
        row = self.counts.bucket(DAY, hour)
        return (row[ABUSIVE], row[TOTAL]) if row else (0, 0)

    def add(self, t: float, row: list[int], author: str, event_id: str, cfg: PileOnConfig) -> None:
        if t > self.counts.newest and self.baseline.due(t - cfg.lateness_s):
            self.baseline.fold_until(t - cfg.lateness_s, self.hourly, self.counts.nonempty_indices(DAY))
        self.baseline.observe(t)
        if t < self.first:
            self.first = t
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
            "first": None if self.first == math.inf else self.first,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], half_life_hours: float) -> _Target:
        out = cls(half_life_hours)
        out.counts = SlidingCounts.from_dict(data["counts"], WIDTH)
        out.senders = LatestSeen.from_dict(data["senders"])
        out.baseline = HourlyBaseline.from_dict(data["baseline"], half_life_hours)
        out.recent = [(float(t), str(i)) for t, i in data["recent"]]
        out.first = math.inf if data["first"] is None else float(data["first"])
        return out


_BASE = {None: 0.0, "watch": 0.3, "warning": 0.6, "critical": 0.9}


class PileOnDetector:
    kind = "pile_on"

    def __init__(self, config: PileOnConfig | None = None) -> None:
        self.config = config or PileOnConfig()
        self.watermark = Watermark(self.config.lateness_s)
        self._targets: dict[str, _Target] = {}
        # Latest (time, target) each person sent abuse aimed at someone: a target who is abusing
        # others herself is in a fight, and a crowd whose members abuse others too is a brawl (a
        # fan war, a flame war), not a crowd on one person.
        self._fought: dict[str, list[tuple[float, str]]] = {}
        self._news: dict[str, float] = {}  # threads opened by a news report -> when
        self.since = math.inf  # earliest event time accepted: since when the detector has watched

    def update(self, event: Event, verdict: Verdict, t: float) -> tuple[str, ...]:
        cfg = self.config
        if t < self.since and t >= self.watermark.newest - cfg.lateness_s:
            self.since = t  # every event in time counts as watching, with a target or not
        if event.surface == Surface.post and event.thread_id and is_news(event.text):
            self._news[event.thread_id] = max(t, self._news.get(event.thread_id, t))
        if not event.target_ids or not self.watermark.accept(t):
            return ()
        # Abuse counts against the target only when aimed at them (see the module docstring).
        hostile = is_abusive(verdict, cfg.abusive_threshold)
        news = event.thread_id is not None and event.thread_id in self._news
        abusive = hostile and aim(event, verdict, news=news)[0] == "target"
        stranger = int(is_stranger(event))
        row = [1, 0, 0, 0, stranger, 0, int(hostile)]
        if abusive:
            clear = stranger and verdict.score >= cfg.onset.clear_score
            new = int(is_new_account(event, cfg.new_account_days))
            row = [1, 1, stranger, new, stranger, int(clear), 0]
        author = event.author.id
        if abusive:
            for target in event.target_ids:
                top_k_insert(self._fought.setdefault(author, []), (t, target), 8)
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
        hours = b.h + self._quiet_before(rec, t)
        alpha = cfg.prior_rate_events + b.a
        beta = cfg.prior_rate_hours + hours
        share0 = max(
            cfg.share_floor,
            (cfg.prior_share_abusive + b.a) / (cfg.prior_share_abusive + cfg.prior_share_clean + b.n),
        )
        windows: dict[str, dict[str, Any]] = {}
        totals: dict[int, list[int]] = {}
        p_rates: dict[int, float] = {}
        level: Level | None = None
        trigger: tuple[int, float, str] | None = None  # (rank, strength, window)
        fought = self._fought.get(subject, ())
        fight = sum(1 for x, _ in fought if t - HOUR_S <= x <= t) >= cfg.fight_abusive
        best = 0.0
        headline = 0
        needed = (
            set(cfg.test_windows) | set(cfg.onset.attention_windows) | set(cfg.onset.hostility_windows) | {2}
        )
        for wi, w in enumerate(WINDOWS):
            tested = wi in cfg.test_windows
            if not (explain or wi in needed):
                continue
            row = totals[wi] = rec.counts.totals(wi, t)
            total, abusive, strangers, new = row[TOTAL], row[ABUSIVE], row[STRANGER], row[NEW]
            info: dict[str, Any] = {}
            if explain:
                info = windows[w.name] = {
                    "abusive": abusive + row[OFF],  # every abusive message, whomever it is aimed at
                    "total": total,
                    "from_strangers": row[HEARD],
                    "abusive_aimed_at_target": abusive,  # what the tests and rules count
                    "abusive_aimed_elsewhere": row[OFF],
                    "distinct_senders": rec.senders.distinct(wi, t),  # of abuse aimed at the target
                    "stranger_share": round(strangers / abusive, 4) if abusive else 0.0,
                    "new_account_share": round(new / abusive, 4) if abusive else 0.0,
                }
            if not abusive or not (tested or wi in cfg.onset.hostility_windows):
                continue
            p_rate = p_rates[wi] = rate_tail(abusive, w.seconds, alpha, beta)
            if not tested:
                continue
            p_share = share_tail(abusive, total, share0)
            p = max(p_rate, p_share)
            if explain:
                info.update(p_rate=p_rate, p_share=p_share, p_value=p)
            s = strength(p)
            best = max(best, s)
            senders = info["distinct_senders"] if explain else rec.senders.distinct(wi, t)
            for name, rule in cfg.rules:
                if name == "warning" and fight and senders < cfg.fight_senders:
                    continue
                if rule.met(p, abusive, senders, strangers / abusive, abusive / total):
                    key = (RANK[name], s, w.name)
                    if trigger is None or key[:2] > trigger[:2]:
                        trigger, level, headline = key, name, abusive
                    break
        brawl = RANK[level] >= RANK["warning"] and self._brawl(subject, rec, t)
        if brawl:
            level, trigger = "watch", None  # a brawl among people who abuse each other is no pile-on
        onset = None
        if RANK[level] < RANK["warning"] and not fight and not brawl:
            onset = self._onset(subject, rec, t, hours, share0, totals, p_rates)
            if onset is not None:
                level, headline = "warning", totals[1][ABUSIVE]
                best = max(best, strength(onset["p_value"]))
        score = round(_BASE[level] + (0.1 if level else 0.3) * min(1.0, best / 20.0), 6)
        if not explain:
            return Assessment("pile_on", "user", subject, level, score, headline, {})
        rate = (cfg.onset.prior_messages + b.n) / (cfg.onset.prior_hours + hours)
        evidence: dict[str, Any] = {
            "windows": windows,
            "baseline": {
                "abusive_per_hour": round(alpha / beta, 4),
                "abusive_share": round(share0, 4),
                "messages_per_hour": round(rate, 4),
                "hours": round(hours, 2),
            },
            "timeline": rec.counts.series(1, t, ABUSIVE),
            "sample_event_ids": [i for _, i in reversed(rec.recent)],
        }
        if brawl:
            evidence["brawl"] = "most abusive senders of the last 10 min abuse others too: capped at watch"
        if fight:
            evidence["fight"] = {
                "own_abusive_messages_1h": sum(1 for x, _ in fought if t - HOUR_S <= x <= t),
                "rule": f"the target abuses others too: warning needs senders>={cfg.fight_senders}",
            }
        if onset is not None:
            evidence.update(
                trigger_window=onset["window"], p_value=onset["p_value"], attention=onset,
                rule=f"warning: {cfg.onset.describe()}",
            )
        elif trigger is not None and level is not None:
            rule = dict(cfg.rules)[level]
            evidence.update(
                trigger_window=trigger[2],
                p_value=windows[trigger[2]]["p_value"],
                rule=f"{level}: {rule.describe()}",
            )
        ids = tuple(evidence["sample_event_ids"])
        return Assessment("pile_on", "user", subject, level, score, headline, evidence, ids)

    def _quiet_before(self, rec: _Target, t: float) -> float:
        """Hours the detector watched before the target was first mentioned, decayed like the baseline.

        Those hours held no message about the target; the baseline counts closed hours only from
        the target's first mention, so without them a person's first hot day would look like a
        cold start.
        """
        quiet = (rec.first - self.since) / HOUR_S
        if not quiet > 0.0:
            return 0.0
        decay: float = rec.baseline.decay
        since_first = max(0.0, (t - rec.first) / HOUR_S)
        return math.pow(decay, since_first) * (1.0 - math.pow(decay, quiet)) / (1.0 - decay)

    def _onset(
        self,
        subject: str,
        rec: _Target,
        t: float,
        hours: float,
        share0: float,
        totals: dict[int, list[int]],
        p_rates: dict[int, float],
    ) -> dict[str, Any] | None:
        """The onset rule's evidence when it holds (see the module docstring), else None."""
        rule = self.config.onset
        if hours < rule.min_history_hours or not totals[1][CLEAR]:
            return None
        if totals[1][OFF] > totals[1][ABUSIVE]:
            return None  # the crowd's abuse is mostly aimed elsewhere: an insult here may be too
        if min((p_rates.get(wi, 1.0) for wi in rule.hostility_windows), default=1.0) > rule.max_hostility_p:
            return None
        share_needed = max(rule.min_share, rule.share_ratio * share0)
        shares = [
            totals[wi][ABUSIVE] / totals[wi][TOTAL] for wi in rule.hostility_windows if totals[wi][TOTAL]
        ]
        if max(shares, default=0.0) < share_needed:
            return None  # attention with a rude comment or two in it, not hostility
        senders = rec.senders.distinct(1, t)
        senders_needed = max(rule.min_senders, math.ceil(totals[2][HEARD] / rule.crowd_per_sender))
        if senders < senders_needed:
            return None
        if self._brawl(subject, rec, t):
            return None
        alpha = rule.prior_messages + rec.baseline.n
        beta = rule.prior_hours + hours
        usual = alpha / beta  # messages per hour
        found: dict[str, Any] | None = None
        for wi in rule.attention_windows:
            w = WINDOWS[wi]
            heard = totals[wi][HEARD]
            if heard < rule.min_attention:
                continue
            ratio = heard * HOUR_S / w.seconds / usual
            if ratio < rule.min_ratio:
                continue
            p = rate_tail(heard, w.seconds, alpha, beta)
            if p <= rule.max_attention_p and (found is None or p < found["p_value"]):
                found = {
                    "window": w.name,
                    "messages_from_strangers": heard,
                    "usual_per_hour": round(usual, 4),
                    "ratio": round(ratio, 1),
                    "p_value": p,
                    "clear_insults_10m": totals[1][CLEAR],
                    "abusive_senders_10m": senders,
                    "abusive_senders_needed": senders_needed,
                    "abusive_share": round(max(shares), 4),
                    "abusive_share_needed": round(share_needed, 4),
                }
        return found

    def _brawl(self, subject: str, rec: _Target, t: float) -> bool:
        """Whether most of the target's abusive senders of the last 10 minutes abused someone else
        too within the hour (a fan war, a flame war): that is a brawl, not a crowd on one person."""
        lo = t - WINDOWS[1].seconds
        senders = [a for a, at in rec.senders.latest.items() if at >= lo]
        elsewhere = sum(
            any(x != subject and t - HOUR_S <= at <= t for at, x in self._fought.get(a, ())) for a in senders
        )
        return bool(senders) and elsewhere * 2 >= len(senders)

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
        for key in [k for k, f in self._fought.items() if f[-1][0] < t - HOUR_S - self.config.lateness_s]:
            del self._fought[key]
        for key in [k for k, at in self._news.items() if at < horizon]:
            del self._news[key]

    def save(self) -> dict[str, Any]:
        return {
            "version": 2,
            "watermark": self.watermark.to_json(),
            "since": None if self.since == math.inf else self.since,
            "targets": {k: self._targets[k].to_dict() for k in sorted(self._targets)},
            "fought": {k: [list(x) for x in self._fought[k]] for k in sorted(self._fought)},
            "news_threads": {k: self._news[k] for k in sorted(self._news)},
        }

    def restore(self, data: dict[str, Any]) -> None:
        hl = self.config.half_life_hours
        self.watermark.load(data["watermark"])
        self.since = math.inf if data["since"] is None else float(data["since"])
        self._targets = {k: _Target.from_dict(v, hl) for k, v in data["targets"].items()}
        self._fought = {k: [(float(x), str(i)) for x, i in v] for k, v in data.get("fought", {}).items()}
        self._news = {k: float(v) for k, v in data.get("news_threads", {}).items()}


__all__ = ["LevelRule", "OnsetRule", "PileOnConfig", "PileOnDetector"]

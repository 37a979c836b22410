"""Incitement: messages that call a crowd onto a person, and who followed the call.

A message incites when screening puts it in ``pile_on_incitement`` or ``privacy`` (doxxing), or
when it matches a call-to-attack pattern (冲他, 挂人, 开盒, 人肉, 大家去他评论区…). Pointing at a
person (an @handle or a link) while abusing them is direct abuse, not a call: it is noted beside
another reason, never alone.

Its author is an *initiator* for each of the event's targets (or for its thread when it names no
target) only when the call comes *before* a crowd (``CrowdRule``: anyone newly abusing the subject
in the hour before it, at 5 times the usual pace of new abusers over the 23 hours before that,
means a crowd is under way). Roles must be right before anyone is punished for them, so a call
that follows someone else's fresh abuse is not named an initiation: the caller may have joined a
pile-on that was already forming. A call made inside a crowd already under way ("兄弟们冲",
a phone number posted in the middle of a pile-on) echoes the crowd: its author is a *copycat*,
like anyone whose abusive message against the same subject is not older than the first
incitement. An initiator keeps the role for every later call. Roles are computed from
order-independent facts (earliest call and earliest abuse per author, latest abuse per author),
so a late event changes nothing but what it adds.

A call is only words until people act on it, and a public figure is abused every hour whether or
not someone called for it. So the level rests on *followers*: copycats whose abuse falls within an
hour of the first call, when they are more than the subject's own rate of abusers before the call
predicts (a Gamma-Poisson tail, prior one abuser per five hours, p <= 1e-6, and at five times the
usual rate or more; hours the detector watched without hearing of the subject count as hours
without abusers). The hour and the ratio keep out a slow drift: a call at night, when the usual
rate was measured low, followed by an ordinary busy day. A call made within the detector's first
hour of watching has no usual rate to compare with and stays at watch. A call nobody follows is no
alert (screening flags the message itself: a doxxing message is a privacy violation on its own),
and a call is live for ``live_s`` (6 hours) after it was made: later abuse is the pile-on
detector's to judge.

    (none)    a call with fewer than 3 followers (p <= 1e-4), or older than 6 hours
    watch     a call with >= 3 followers beyond the usual abuse at p <= 1e-4
    warning   a call with >= 3 followers, or a doxxing call (it exposes a person) with >= 2
    critical  an abusive call with >= 10 followers, or a doxxing call with >= 5

An alert's evidence lists every call (``calls``) but names initiators and copycats, with their ids
(``initiator_ids``, ``copycat_ids``), only once the call was followed as warning requires
(``roles_confirmed``): a call nobody answered, or answered at the usual pace of abuse, names no one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

from cvguard.behavior.alerts import Assessment
from cvguard.behavior.base import Watermark, is_abusive
from cvguard.behavior.direction import aim
from cvguard.behavior.stats import rate_tail
from cvguard.behavior.windows import iso, top_k_insert
from cvguard.events import Event
from cvguard.verdict import Verdict
from cvguard.vocabulary import Level, SubjectType

Role = Literal["initiator", "copycat"]

_PRONOUN = r"(?:他|她|它|ta|TA|这人|此人)"
CALL = re.compile(
    r"开盒|人肉|挂人|挂出来|扒皮|网暴"
    + _PRONOUN
    + r"|(?:兄弟|姐妹|家人|朋友)们?.{0,3}冲|冲"
    + _PRONOUN
    + r"|冲(?:爆|烂|死)"
    + r"|大家(?:一起)?(?:去|来).{0,10}(?:评论区|主页|微博|私信|直播间|超话)"
    + r"|去"
    + _PRONOUN
    + r"的?(?:评论区|主页|微博|私信|直播间)"
    + r"|(?:一起|集体)(?:举报|骂)"
    + _PRONOUN,
    re.IGNORECASE,
)
DOX = re.compile(r"开盒|人肉|扒皮")
POINTER = re.compile(r"@[\w\-]{2,}|https?://\S+", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class CrowdRule:
    """A call echoes a crowd when, in the ``window_s`` before it, at least ``min_abusers`` other
    people first turned on the subject, and ``ratio`` times more than the subject's usual pace of
    new abusers over the rest of the ``history_s`` before (prior: one per five hours) predicts.
    A public figure abused every hour is not a crowd under way; a pile-on starting, or in full
    swing, is (the crowd's own hour does not count as the usual pace)."""

    window_s: float = 3600.0
    min_abusers: int = 1
    ratio: float = 5.0
    history_s: float = 24 * 3600.0
    prior_s: float = 5 * 3600.0


@dataclass(frozen=True, slots=True)
class IncitementConfig:
    abusive_threshold: float = 0.5
    category_threshold: float = 0.5  # pile_on_incitement / privacy scores that count as a call
    lateness_s: float = 600.0
    retention_s: float = 3 * 86400.0  # how long an initiator's call makes later abusers copycats
    warning_copycats: int = 3
    warning_dox_copycats: int = 2
    critical_copycats: int = 10
    critical_dox_copycats: int = 5
    max_follow_p: float = 1e-6  # copycats beyond the subject's usual abusers at this p-value ...
    min_follow_ratio: float = 5.0  # ... and at this many times the usual rate of abusers
    prior_abusers: float = 1.0  # Gamma prior on the rate of distinct abusers: this many ...
    prior_hours: float = 5.0  # ... over this many hours
    follow_s: float = 3600.0  # followers: copycats whose latest abuse is this soon after the call
    min_follow_s: float = 60.0  # the shortest time after a call over which followers are counted
    min_history_s: float = 3600.0  # watching before the call needed to know the usual rate
    watch_copycats: int = 3  # followers that make a call worth watching ...
    max_watch_p: float = 1e-4  # ... when beyond the subject's usual abusers at this p-value
    crowd: CrowdRule = CrowdRule()  # when a call echoes a crowd already under way
    live_s: float = 6 * 3600.0  # a call stops raising the level this long after it was made
    sample_ids: int = 20
    role_ids: int = 200  # copycat author ids named in the evidence (the count is always exact)


@dataclass(frozen=True, slots=True)
class Call:
    """How one message incites: ``strong`` when abusive or so classified, ``dox`` when exposing."""

    strong: bool
    dox: bool
    why: tuple[str, ...]


def classify_call(event: Event, verdict: Verdict, cfg: IncitementConfig) -> Call | None:
    cats = verdict.categories
    abusive = is_abusive(verdict, cfg.abusive_threshold)
    why: list[str] = []
    if cats.get("pile_on_incitement", 0.0) >= cfg.category_threshold:
        why.append("category:pile_on_incitement")
    privacy = cats.get("privacy", 0.0) >= cfg.category_threshold
    if privacy:
        why.append("category:privacy")
    pattern = CALL.search(event.text)
    if pattern:
        why.append(f"pattern:{pattern.group(0)}")
    if not why:
        return None  # abuse aimed at an @handle alone is direct abuse, not a call to others
    if abusive and POINTER.search(event.text):
        why.append("pointer+abuse")
    strong = abusive or len(why) > 1 or not pattern
    dox = privacy or bool(DOX.search(event.text))
    return Call(strong, dox, tuple(why))


class _Subject:
    __slots__ = (
        "abusers", "before", "callers", "copycats", "crowd", "first_abuse", "follow_s", "followers",
        "initiators", "newest", "recent",
    )

    def __init__(self, follow_s: float, crowd: CrowdRule) -> None:
        self.follow_s = follow_s
        self.crowd = crowd
        # author -> [earliest call time, event id, strong, dox]: everyone who made a call
        self.callers: dict[str, list[Any]] = {}
        self.abusers: dict[str, float] = {}  # author -> latest hostile time (abuse or an echoed call)
        self.first_abuse: dict[str, float] = {}  # author -> earliest hostile time
        self.recent: list[tuple[float, str]] = []  # latest abusive (time, event id)
        self.newest = -math.inf
        self.initiators: dict[str, list[Any]] = {}  # derived: callers whose call came before a crowd
        self.copycats = 0  # derived: recomputed, never saved
        self.before = 0  # derived: abusers (not initiators) whose latest abuse is older than the call
        self.followers = 0  # derived: copycats whose latest abuse is within ``follow_s`` of the call

    def first_call(self) -> float | None:
        return min((v[0] for v in self.initiators.values()), default=None)

    def amid_crowd(self, author: str, t: float) -> bool:
        """Whether a call at ``t`` came inside a crowd already under way (see ``CrowdRule``)."""
        rule = self.crowd
        recent = earlier = 0
        lo, mid = t - rule.history_s, t - rule.window_s
        start = mid
        for a, v in self.first_abuse.items():
            if lo <= v < t and a != author:
                if v >= mid:
                    recent += 1
                else:
                    earlier += 1
                    start = min(start, v)
        # The usual pace of new abusers: those before the window over the time they span (from the
        # earliest one seen, order-independent), with a prior of one per ``prior_s``.
        usual = (1.0 + earlier) * rule.window_s / (mid - start + rule.prior_s)
        return recent >= rule.min_abusers and recent >= rule.ratio * usual

    def recount(self) -> None:
        self.initiators = {a: v for a, v in self.callers.items() if not self.amid_crowd(a, v[0])}
        first = self.first_call()
        self.copycats = self.before = self.followers = 0
        if first is None:
            return
        for a, t in self.abusers.items():
            if a not in self.initiators:
                if t >= first:
                    self.copycats += 1
                    self.followers += t <= first + self.follow_s
                else:
                    self.before += 1

    def tally(self, author: str, latest: float | None, first: float | None) -> tuple[int, int, int]:
        """(copycat, before the call, follower) as 0/1 for an author whose latest abuse is ``latest``."""
        if first is None or latest is None or author in self.initiators:
            return 0, 0, 0
        if latest < first:
            return 0, 1, 0
        return 1, 0, int(latest <= first + self.follow_s)

    def is_copycat(self, author: str, latest: float | None, first: float | None) -> bool:
        return first is not None and latest is not None and latest >= first and author not in self.initiators

    def to_dict(self) -> dict[str, Any]:
        return {
            "callers": {k: list(self.callers[k]) for k in sorted(self.callers)},
            "abusers": [[k, self.first_abuse[k], self.abusers[k]] for k in sorted(self.abusers)],
            "recent": [list(r) for r in self.recent],
            "newest": None if self.newest == -math.inf else self.newest,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], follow_s: float, crowd: CrowdRule) -> _Subject:
        out = cls(follow_s, crowd)
        # Snapshots written before echoes were told apart name every caller an initiator, and keep
        # only the latest abuse per author.
        callers = data["callers"] if "callers" in data else data["initiators"]
        out.callers = {k: [float(v[0]), str(v[1]), bool(v[2]), bool(v[3])] for k, v in callers.items()}
        for row in data["abusers"]:
            k, first, latest = (row[0], row[1], row[-1])
            out.abusers[str(k)] = float(latest)
            out.first_abuse[str(k)] = float(first)
        out.recent = [(float(t), str(i)) for t, i in data["recent"]]
        out.newest = -math.inf if data["newest"] is None else float(data["newest"])
        out.recount()
        return out


def _key(subject_type: str, subject_id: str) -> str:
    return f"{subject_type}:{subject_id}"


class IncitementDetector:
    kind = "incitement"

    def __init__(self, config: IncitementConfig | None = None) -> None:
        self.config = config or IncitementConfig()
        self.watermark = Watermark(self.config.lateness_s)
        self._subjects: dict[str, _Subject] = {}
        self.since = math.inf  # earliest event time accepted: since when the detector has watched

    def update(self, event: Event, verdict: Verdict, t: float) -> tuple[str, ...]:
        cfg = self.config
        if t < self.since and t >= self.watermark.newest - cfg.lateness_s:
            self.since = t  # every event in time counts as watching, not only calls and abuse
        abusive = is_abusive(verdict, cfg.abusive_threshold)
        call = classify_call(event, verdict, cfg)
        if call is None and not abusive:
            return ()
        # Copycat abuse is abuse aimed at the subject (``direction.aim``), as for a pile-on; a
        # call aimed at a fandom, a group or the people in the news calls no one onto the subject.
        if aim(event, verdict)[0] != "target":
            return ()
        if event.target_ids:
            keys = [_key("user", i) for i in dict.fromkeys(event.target_ids) if i != event.author.id]
        elif event.thread_id:
            keys = [_key("thread", event.thread_id)]
        else:
            return ()
        if not keys or not self.watermark.accept(t):
            return ()
        author = event.author.id
        touched: list[str] = []
        for key in keys:
            # Abuse is kept even before any call: a late-arriving call turns it into copycat abuse.
            rec = self._subjects.get(key)
            if rec is None:
                rec = self._subjects[key] = _Subject(cfg.follow_s, cfg.crowd)
            self._advance(rec, t)
            horizon = self._horizon(rec)
            if t < horizon:
                continue
            # A call is hostile too: made amid a crowd, it is its author's way of joining it.
            if call is not None or abusive:
                early = rec.first_abuse.get(author)
                if early is None or t < early:
                    rec.first_abuse[author] = t
                    if any(t < v[0] <= t + cfg.crowd.history_s for v in rec.callers.values()):
                        rec.recount()  # a late arrival changes the crowd some call came after
                first = rec.first_call()
                prev = rec.abusers.get(author)
                if prev is None or t > prev:
                    was = rec.tally(author, prev, first)
                    rec.abusers[author] = t
                    now = rec.tally(author, t, first)
                    rec.copycats += now[0] - was[0]
                    rec.before += now[1] - was[1]
                    rec.followers += now[2] - was[2]
            if call is not None:
                self._add_call(rec, author, t, event.event_id, call)
            if abusive:
                top_k_insert(rec.recent, (t, event.event_id), cfg.sample_ids)
            if rec.initiators:
                touched.append(key)
        return tuple(touched)

    def _add_call(self, rec: _Subject, author: str, t: float, event_id: str, call: Call) -> None:
        old = rec.callers.get(author)
        if old is None:
            rec.callers[author] = [t, event_id, call.strong, call.dox]
        else:
            if (t, event_id) < (old[0], old[1]):
                old[0], old[1] = t, event_id
            old[2] = old[2] or call.strong
            old[3] = old[3] or call.dox
        rec.recount()

    def _horizon(self, rec: _Subject) -> float:
        # Anchored to the day of the newest event, so what is kept depends on no arrival order.
        return (rec.newest // 86400) * 86400 - self.config.retention_s

    def _advance(self, rec: _Subject, t: float) -> None:
        if t <= rec.newest:
            return
        crossed = rec.newest == -math.inf or int(t // 86400) != int(rec.newest // 86400)
        rec.newest = t
        if crossed:  # evict once a day: abusers and calls older than the retention
            horizon = self._horizon(rec)
            rec.abusers = {a: v for a, v in rec.abusers.items() if v >= horizon}
            rec.first_abuse = {a: v for a, v in rec.first_abuse.items() if a in rec.abusers}
            rec.callers = {a: v for a, v in rec.callers.items() if v[0] >= horizon}
            rec.recount()

    def role_of(self, author_id: str, target_id: str, subject_type: SubjectType = "user") -> Role | None:
        rec = self._subjects.get(_key(subject_type, target_id))
        if rec is None:
            return None
        if author_id in rec.initiators:
            return "initiator"
        if rec.is_copycat(author_id, rec.abusers.get(author_id), rec.first_call()):
            return "copycat"
        return None

    def assess(self, subject: str, t: float, *, explain: bool = True) -> Assessment:
        subject_type, _, subject_id = subject.partition(":")
        st: SubjectType = "thread" if subject_type == "thread" else "user"
        rec = self._subjects.get(subject)
        if rec is None or not rec.initiators:
            return Assessment("incitement", st, subject_id, None, 0.0, 0, {})
        cfg = self.config
        calls = list(rec.initiators.values())
        strong = any(c[2] for c in calls)
        dox = any(c[3] for c in calls)
        n = rec.copycats
        first = rec.first_call()
        assert first is not None
        p_follow, usual = self._follow_p(rec, first, t)
        followed = rec.followers if p_follow <= cfg.max_follow_p else 0  # beyond the usual abuse
        # Roles are named in evidence only once the call was followed beyond the usual abuse.
        confirmed = followed >= cfg.warning_copycats or (dox and followed >= cfg.warning_dox_copycats)
        level: Level | None = None
        if t - max(v[0] for v in calls) > cfg.live_s:
            followed = 0  # an old call: what follows now is the pile-on detector's to judge
        elif rec.followers >= cfg.watch_copycats and p_follow <= cfg.max_watch_p:
            level = "watch"
        if followed >= cfg.warning_copycats or (dox and followed >= cfg.warning_dox_copycats):
            level = "warning"
        if (strong and followed >= cfg.critical_copycats) or (dox and followed >= cfg.critical_dox_copycats):
            level = "critical"
        score = {None: 0.0, "watch": 0.3, "warning": 0.6, "critical": 0.9}[level] + 0.1 * min(1.0, n / 50)
        if not explain:
            return Assessment("incitement", st, subject_id, level, round(score, 6), len(calls) + n, {})
        initiators = sorted(rec.initiators.items(), key=lambda kv: (kv[1][0], kv[0]))[: cfg.sample_ids]
        copy_ids = [i for tt, i in reversed(rec.recent) if tt >= first]
        copycats = sorted(
            (v, a) for a, v in rec.abusers.items() if rec.is_copycat(a, v, first)
        )[: cfg.role_ids]
        named = [
            {"author_id": a, "at": iso(v[0]), "event_id": v[1], "abusive_call": v[2], "doxxing": v[3]}
            for a, v in initiators
        ]
        evidence: dict[str, Any] = {
            "calls": named,
            "roles_confirmed": confirmed,
            "initiators": named if confirmed else [],
            "initiator_ids": [a for a, _ in initiators] if confirmed else [],
            "first_call_at": iso(first),
            "copycats": n,
            # by latest abuse, at most ``role_ids``; named once the call was followed
            "copycat_ids": [a for _, a in copycats] if confirmed else [],
            "followers_first_hour": rec.followers,
            "followers_p_value": p_follow,
            "usual_abusers_per_hour": round(usual, 4),
            "doxxing": dox,
            "sample_event_ids": [v[1] for _, v in initiators] + copy_ids,
        }
        ids = tuple(dict.fromkeys(evidence["sample_event_ids"]))[: cfg.sample_ids]
        evidence["sample_event_ids"] = list(ids)
        return Assessment("incitement", st, subject_id, level, round(score, 6), len(calls) + n, evidence, ids)

    def _follow_p(self, rec: _Subject, first: float, t: float) -> tuple[float, float]:
        """P-value of the followers of the call under the subject's usual abusers, and that rate/h."""
        cfg = self.config
        start = max(self.since, self._horizon(rec))
        alpha = cfg.prior_abusers + rec.before
        beta = cfg.prior_hours + max(0.0, first - start) / 3600.0
        usual = alpha / beta
        if first - self.since < cfg.min_history_s:
            return 1.0, usual  # a cold start: the usual rate is not known yet
        elapsed = min(cfg.follow_s, max(cfg.min_follow_s, t - first))
        if rec.followers * 3600.0 / elapsed < cfg.min_follow_ratio * usual:
            return 1.0, usual
        return rate_tail(rec.followers, elapsed, alpha, beta), usual

    def score(self, subject: str, t: float) -> float:
        return self.assess(subject, t).score

    def subjects(self) -> list[str]:
        return sorted(self._subjects)

    def prune(self, t: float) -> None:
        horizon = t - self.config.retention_s
        for key in [k for k, r in self._subjects.items() if r.newest < horizon]:
            del self._subjects[key]

    def save(self) -> dict[str, Any]:
        return {
            "version": 3,
            "watermark": self.watermark.to_json(),
            "since": None if self.since == math.inf else self.since,
            "subjects": {k: self._subjects[k].to_dict() for k in sorted(self._subjects)},
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.watermark.load(data["watermark"])
        self.since = math.inf if data["since"] is None else float(data["since"])
        cfg = self.config
        self._subjects = {
            k: _Subject.from_dict(v, cfg.follow_s, cfg.crowd) for k, v in data["subjects"].items()
        }

"""Brigades: near-identical messages posted by many accounts within a short time.

Each message's canonical text (NFKC, case folded, symbols and separators dropped) is cut into character
3-shingles and summarised by a MinHash signature (24 multiply-shift hashes with fixed seeds,
numpy); LSH banding (8 bands of 3 rows) puts two messages whose Jaccard similarity is 0.6 into a
shared bucket with probability 0.86 (0.8 similar: 0.997; 0.3 similar: 0.2). A bucket keeps the messages of the
last ``window_s`` seconds of event time (at most ``bucket_cap``, the latest). A message's *cluster*
is the union of its buckets (looked at only once their tallies could reach the watch level); it is
judged on distinct accounts, the share of new accounts and of abusive messages, and its time span:

    watch     >= 10 distinct accounts within the window, and >= 50% new accounts, or >= 30% abusive
              with the messages within 5 minutes of each other
    warning   >= 20 distinct accounts, and >= 50% new accounts or >= 50% abusive
    critical  >= 50 distinct accounts, and >= 50% new accounts or >= 50% abusive

Coordinated benign copying (fans chanting the same cheer, a check-in everyone pastes, a lottery
repost) by established accounts is no alert at all: copying is not hostility. Nor is the same
common insult written by established accounts at many different people (a cluster aimed at no
single user, thread or topic), or at one busy target over ten minutes: coordination needs someone
to coordinate against and synchronised timing, or fresh accounts. A copy-pasted attack from fresh
accounts does not need to be abusive word by word to reach *warning*.
"""

from __future__ import annotations

import heapq
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from cvguard.behavior.alerts import Assessment
from cvguard.behavior.base import Watermark, is_abusive, is_new_account
from cvguard.behavior.direction import aim
from cvguard.behavior.windows import iso
from cvguard.events import Event
from cvguard.verdict import Verdict
from cvguard.vocabulary import Level, SubjectType

_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xC2B2AE3D27D4EB4F)
_SHIFT = np.uint64(32)


@dataclass(frozen=True, slots=True)
class BrigadeConfig:
    abusive_threshold: float = 0.5
    new_account_days: float = 7.0
    lateness_s: float = 600.0
    window_s: float = 600.0  # "synchronised": within ten minutes of each other
    shingle: int = 3
    bands: int = 8
    rows: int = 3
    min_chars: int = 8  # shorter texts ("哈哈哈", "加油") are too common to mean coordination
    bucket_cap: int = 256
    seed: int = 20_240_601
    watch_accounts: int = 10
    warning_accounts: int = 20
    critical_accounts: int = 50
    suspicious_share: float = 0.5
    watch_abusive_share: float = 0.3  # enough abuse in a cluster of established accounts to watch ...
    burst_s: float = 300.0  # ... when its messages fall within this span (synchronised)
    sample_ids: int = 20


class Member(NamedTuple):
    t: float
    event_id: str
    author: str
    abusive: bool
    new: bool
    target: str | None
    thread: str | None
    topic: str | None


class MinHasher:
    """Deterministic MinHash signatures and LSH band keys for short texts."""

    def __init__(self, shingle: int, bands: int, rows: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        n = bands * rows
        self.shingle, self.bands, self.rows = shingle, bands, rows
        self._a = rng.integers(1, 2**63, size=n, dtype=np.uint64) | np.uint64(1)
        self._b = rng.integers(0, 2**63, size=n, dtype=np.uint64)

    def signature(self, text: str) -> npt.NDArray[np.uint64] | None:
        sigs = self.signatures([text])
        return None if sigs[0] is None else sigs[0]

    def signatures(self, texts: list[str]) -> list[npt.NDArray[np.uint64] | None]:
        """MinHash signatures of many texts at once: one numpy pass over all their shingles."""
        k = self.shingle
        out: list[npt.NDArray[np.uint64] | None] = [None] * len(texts)
        keep = [i for i, text in enumerate(texts) if len(text) >= k]
        if not keep:
            return out
        lengths = np.array([len(texts[i]) for i in keep], dtype=np.int64)
        codes = np.frombuffer("".join(texts[i] for i in keep).encode("utf-32-le"), dtype=np.uint32)
        codes = codes.astype(np.uint64)
        m = codes.size - k + 1
        h = codes[:m] * _K1
        for j in range(1, k):
            h = (h + codes[j : m + j]) * _K2
        # Shingles that do not cross a text boundary: text i owns [start_i, start_i + len_i - k].
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        counts = lengths - k + 1
        first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        positions = np.arange(int(counts.sum())) - np.repeat(first - starts, counts)
        mins = (h[positions][:, None] * self._a + self._b) >> _SHIFT
        sigs = np.minimum.reduceat(mins, first, axis=0)
        for row, i in enumerate(keep):
            out[i] = sigs[row]
        return out

    def band_keys_many(self, texts: list[str]) -> list[list[str] | None]:
        step = 4 * self.rows
        out: list[list[str] | None] = []
        for sig in self.signatures(texts):
            if sig is None:
                out.append(None)
                continue
            raw = sig.astype(np.uint32).tobytes()
            out.append([f"{i}:{raw[i * step : (i + 1) * step].hex()}" for i in range(self.bands)])
        return out

    def band_keys(self, sig: npt.NDArray[np.uint64]) -> list[str]:
        """One key per band: the band's rows (32 bits each) as hex, after the band number."""
        raw = sig.astype(np.uint32).tobytes()
        step = 4 * self.rows
        return [f"{i}:{raw[i * step : (i + 1) * step].hex()}" for i in range(self.bands)]

    @staticmethod
    def similarity(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> float:
        return float(np.mean(a == b))


_NOT_WORD = re.compile(r"[\W_]+")


def canonical_text(text: str) -> str:
    """A light canonical form (NFKC, case folded, separators and symbols dropped).

    Lighter than ``detection.normalize`` on purpose: it runs on every message, and copy-paste
    brigades vary punctuation, spacing and emoji far more often than they spell words differently.
    """
    return _NOT_WORD.sub("", unicodedata.normalize("NFKC", text).casefold())


def _dominant(values: list[str | None], n: int) -> str | None:
    """The most common value if it covers at least half of ``n`` members (ties: smallest)."""
    counts = Counter(v for v in values if v is not None)
    if not counts:
        return None
    best, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return best if 2 * count >= n else None


class _Bucket:
    """The members of one LSH bucket (a min-heap by time) and running tallies over them."""

    __slots__ = ("_name", "abusive", "authors", "heap", "new", "pushes")

    def __init__(self) -> None:
        self.heap: list[Member] = []
        self.authors: dict[str, int] = {}
        self.new = 0
        self.abusive = 0
        self.pushes = 0
        self._name: tuple[SubjectType, str] | None = None

    def push(self, m: Member, cap: int) -> None:
        # tallies updated inline (no helper call): this runs for every band of every message
        self.pushes += 1
        authors = self.authors
        if len(self.heap) >= cap:
            out = heapq.heappushpop(self.heap, m)
            if out is m:
                return
            self.new += m.new - out.new
            self.abusive += m.abusive - out.abusive
            authors[m.author] = authors.get(m.author, 0) + 1
            n = authors[out.author] - 1
            if n:
                authors[out.author] = n
            else:
                del authors[out.author]
        else:
            heapq.heappush(self.heap, m)
            authors[m.author] = authors.get(m.author, 0) + 1
            self.new += m.new
            self.abusive += m.abusive

    def evict(self, horizon: float) -> None:
        heap = self.heap
        if not heap or heap[0].t >= horizon:
            return
        authors = self.authors
        pop = heapq.heappop
        while heap and heap[0].t < horizon:
            out = pop(heap)
            n = authors[out.author] - 1
            if n:
                authors[out.author] = n
            else:
                del authors[out.author]
            self.new -= out.new
            self.abusive -= out.abusive

    def name(self, key: str) -> tuple[SubjectType, str]:
        """Whom the cluster aims at (``name_members``).

        Recomputed every 32 new members only: a brigade's aim is stable, and a busy bucket would
        otherwise pay a scan per message.
        """
        if self._name is None or self.pushes % 32 == 0:
            self._name = name_members(self.heap, key)
        return self._name


def name_members(members: list[Member], key: str) -> tuple[SubjectType, str]:
    """Whom a cluster aims at: a target, thread or topic holding half its messages, else itself."""
    n = len(members)
    if (target := _dominant([m.target for m in members], n)) is not None:
        return "user", target
    if (thread := _dominant([m.thread for m in members], n)) is not None:
        return "thread", thread
    if (topic := _dominant([m.topic for m in members], n)) is not None:
        return "topic", topic
    return "cluster", key


class BrigadeDetector:
    """Subjects are LSH bucket keys; the engine names alerts by the cluster's target/thread/topic."""

    kind = "brigade"

    def __init__(self, config: BrigadeConfig | None = None) -> None:
        cfg = self.config = config or BrigadeConfig()
        self.hasher = MinHasher(cfg.shingle, cfg.bands, cfg.rows, cfg.seed)
        self.watermark = Watermark(cfg.lateness_s)
        self._buckets: dict[str, _Bucket] = {}
        self._single: dict[str, Member] = {}  # buckets of one member (most of them): no tallies
        self._touched: dict[int, set[str]] = {}  # minute -> bucket keys that got a member then
        self._swept: float = -math.inf  # minutes before this are swept

    def band_keys(self, texts: list[str]) -> list[list[str] | None]:
        """LSH keys for many texts in one numpy pass (None: too short to mean anything)."""
        unique = dict.fromkeys(texts)  # repeated texts (chants, copy-paste) are hashed once
        if len(unique) < len(texts):
            keyed = dict(zip(unique, self.band_keys(list(unique)), strict=True))
            return [keyed[text] for text in texts]
        canon = [canonical_text(text) for text in texts]
        return self.hasher.band_keys_many([c if len(c) >= self.config.min_chars else "" for c in canon])

    def update(self, event: Event, verdict: Verdict, t: float) -> tuple[str, ...]:
        """Index the message; returns its buckets that hold enough accounts to be worth a look."""
        return self.update_keyed(event, verdict, t, self.band_keys([event.text])[0])

    def update_keyed(
        self, event: Event, verdict: Verdict, t: float, keys: list[str] | None
    ) -> tuple[str, ...]:
        """``update`` with the band keys already computed (``band_keys`` over a batch)."""
        cfg = self.config
        if keys is None or not self.watermark.accept(t):
            return ()
        horizon = self.watermark.newest - cfg.window_s
        self._sweep(horizon)
        if t < horizon:
            return ()
        member = Member(
            t,
            event.event_id,
            event.author.id,
            # abuse aimed at whom the message is about (``direction.aim``), not at third parties
            is_abusive(verdict, cfg.abusive_threshold) and aim(event, verdict)[0] == "target",
            is_new_account(event, cfg.new_account_days),
            event.target_ids[0] if event.target_ids else None,
            event.thread_id,
            event.topic_ids[0] if event.topic_ids else None,
        )
        touched = self._touched.setdefault(int(t // 60), set())
        reach = 0
        single = self._single
        for key in keys:
            touched.add(key)
            bucket = self._buckets.get(key)
            if bucket is None:
                solo = single.get(key)
                if solo is None or solo.t < horizon:
                    single[key] = member
                    continue
                del single[key]
                bucket = self._buckets[key] = _Bucket()
                bucket.push(solo, cfg.bucket_cap)
            bucket.evict(horizon)
            bucket.push(member, cfg.bucket_cap)
            reach += len(bucket.authors)
        # The union of this message's buckets can reach the watch level only if their sum does.
        return tuple(keys) if reach >= cfg.watch_accounts else ()

    def _sweep(self, horizon: float) -> None:
        """Drop members older than the window from buckets last touched in minutes now past."""
        if not math.isfinite(horizon):
            return
        last = int(horizon // 60)  # minutes < last end before the horizon
        if last <= self._swept:
            return
        for minute in sorted(m for m in self._touched if m < last):
            for key in self._touched.pop(minute):
                solo = self._single.get(key)
                if solo is not None and solo.t < horizon:
                    del self._single[key]
                bucket = self._buckets.get(key)
                if bucket is None:
                    continue
                bucket.evict(horizon)
                if not bucket.heap:
                    del self._buckets[key]
        self._swept = last

    def _level(self, accounts: int, new_share: float, abusive_share: float) -> tuple[Level | None, float]:
        cfg = self.config
        suspicious = new_share >= cfg.suspicious_share or abusive_share >= cfg.suspicious_share
        level: Level | None = None
        if accounts >= cfg.watch_accounts and (suspicious or abusive_share >= cfg.watch_abusive_share):
            level = "watch"
        if suspicious and accounts >= cfg.warning_accounts:
            level = "warning"
        if suspicious and accounts >= cfg.critical_accounts:
            level = "critical"
        score = min(1.0, accounts / cfg.critical_accounts) * (1.0 if suspicious else 0.5 if level else 0.0)
        return level, round(score, 6)

    def assess(self, subject: str, t: float, *, explain: bool = True) -> Assessment:
        """The bucket ``subject`` as of ``t``: members within the window before ``t``."""
        return self.assess_keys((subject,), t, explain=explain)

    def assess_keys(self, keys: tuple[str, ...], t: float, *, explain: bool = True) -> Assessment:
        """The cluster formed by the union of buckets ``keys`` (one message's bands) as of ``t``."""
        cfg = self.config
        if not explain:
            big = [(-len(b.authors), k, b) for k in keys if (b := self._buckets.get(k)) is not None]
            if big and -min(big)[0] >= cfg.critical_accounts:
                # One bucket is already past the top count: its running tallies decide, O(1)
                # (a long chant in a live room would otherwise pay a union per message).
                _, key, b = min(big)
                n = len(b.heap)
                level, score = self._level(len(b.authors), b.new / n, b.abusive / n)
                st, sid = b.name(key)
                if st == "cluster" and b.new / n < cfg.suspicious_share:
                    level, score = None, 0.0  # the same abuse at many people: no one aimed at
                return Assessment("brigade", st, sid, level, score, len(b.authors), {})
        lo = t - cfg.window_s
        pool: dict[str, Member] = {}
        busiest: tuple[int, str] | None = None
        for key in keys:
            bucket = self._buckets.get(key)
            if bucket is not None:
                for m in bucket.heap:
                    pool[m.event_id] = m
                rank = (-len(bucket.authors), key)
                busiest = rank if busiest is None or rank < busiest else busiest
            elif (solo := self._single.get(key)) is not None:
                pool[solo.event_id] = solo
        members = sorted(m for m in pool.values() if lo <= m.t <= t)
        if not members:
            return Assessment("brigade", "cluster", keys[0], None, 0.0, 0, {})
        n = len(members)
        accounts = len({m.author for m in members})
        new_share = sum(m.new for m in members) / n
        abusive_share = sum(m.abusive for m in members) / n
        level, score = self._level(accounts, new_share, abusive_share)
        if busiest is not None:  # the same name for a brigade message after message
            st, sid = self._buckets[busiest[1]].name(busiest[1])
        else:
            st, sid = name_members(members, keys[0])
        if st == "cluster" and new_share < cfg.suspicious_share:
            level, score = None, 0.0  # the same abuse at many people: no one aimed at
        span = members[-1].t - members[0].t
        if level == "watch" and new_share < cfg.suspicious_share and span > cfg.burst_s:
            level, score = None, 0.0  # a common insult repeated over ten minutes is no coordination
        if not explain:
            return Assessment("brigade", st, sid, level, score, accounts, {})
        ids = tuple(m.event_id for m in members[: cfg.sample_ids])
        per_minute = Counter(int(m.t // 60) * 60 for m in members)
        evidence: dict[str, Any] = {
            "cluster_size": n,
            "distinct_accounts": accounts,
            "new_account_share": round(new_share, 4),
            "abusive_share": round(abusive_share, 4),
            "first_at": iso(members[0].t),
            "last_at": iso(members[-1].t),
            "time_span_s": round(members[-1].t - members[0].t, 3),
            "timeline": [[iso(m), c] for m, c in sorted(per_minute.items())],
            "sample_event_ids": list(ids),
            "buckets": list(keys),
        }
        return Assessment("brigade", st, sid, level, score, accounts, evidence, ids)

    def score(self, subject: str, t: float) -> float:
        return self.assess(subject, t, explain=False).score

    def subjects(self) -> list[str]:
        """Buckets with a member inside the window at the newest time (what ``save`` keeps)."""
        horizon = self.watermark.newest - self.config.window_s
        live = [k for k, b in self._buckets.items() if b.heap and max(b.heap).t >= horizon]
        return sorted([*live, *(k for k, m in self._single.items() if m.t >= horizon)])

    def prune(self, t: float) -> None:
        self._sweep(min(t, self.watermark.newest) - self.config.window_s)

    def save(self) -> dict[str, Any]:
        horizon = self.watermark.newest - self.config.window_s
        buckets = {k: [list(m) for m in sorted(b.heap) if m.t >= horizon] for k, b in self._buckets.items()}
        buckets.update({k: [list(m)] for k, m in self._single.items() if m.t >= horizon})
        buckets = dict(sorted(buckets.items()))
        return {
            "version": 1,
            "watermark": self.watermark.to_json(),
            "buckets": {k: v for k, v in buckets.items() if v},
        }

    def restore(self, data: dict[str, Any]) -> None:
        self.watermark.load(data["watermark"])
        self._buckets = {}
        self._single = {}
        self._touched = {}
        self._swept = -math.inf
        for key, rows in data["buckets"].items():
            members = [
                Member(float(r[0]), str(r[1]), str(r[2]), bool(r[3]), bool(r[4]), r[5], r[6], r[7])
                for r in rows
            ]
            if len(members) == 1:
                self._single[key] = members[0]
            else:
                bucket = self._buckets[key] = _Bucket()
                for m in members:
                    bucket.push(m, self.config.bucket_cap)
            for m in members:
                self._touched.setdefault(int(m.t // 60), set()).add(key)

"""Warnings that real Weibo comment threads draw: SWSR replayed through screening and behaviour.

    python bench/bench_swsr.py [--data ../shared/data/swsr] [--out bench/out/swsr.json]

SWSR (Sina Weibo Sexism Review, MIT, ../shared/data/README.md) holds 1,527 Weibo posts
(``SexWeibo.csv``) and 8,969 of their comments (``SexComment.csv``) with the time of each comment
(to the minute), a sexism label, and for sexist ones whether an individual (I) or a group (G) is
targeted. The replay:

- **Events.** Every post is a ``post`` event by ``p_<weibo_id>`` in thread ``th_<weibo_id>``;
  every comment a ``comment`` event replying to it, aimed at the poster (``target_ids``: the post's
  author, as a platform sends it for a direct comment). SWSR has no commenter ids: each comment
  gets its own stable synthetic author ``c_<index>`` (an upper bound on distinct senders), and no
  relationship (strangers). Comments in the same minute are spread over that minute in file order;
  a comment whose date is missing or unreadable (``##########`` in the file) is placed one minute
  after the latest readable one of its thread; times are Beijing time.
- **Replay.** All events in time order through ``Screener.screen_many`` and
  ``BehaviourEngine.process_many`` (the pipeline's behaviour, without the store).
- **Warnings.** A thread is warned when an alert at WARNING or above is about its poster or its
  thread, or cites one of its events; a thread's first warning is counted once.

SWSR labels no thread as cyberbullying, so the figures rest on a stated proxy:

- *a thread that cannot be cyberbullying of a person*: it holds no comment labelled sexist and
  aimed at an individual (``label`` 1, ``target`` I). Warnings there are the proxy's false
  warnings; its share among warned threads is the headline figure ("warned threads with no
  individual-targeted sexist comment").
- *a candidate*: at least ``--candidate`` (default 3) individual-targeted sexist comments. This
  over-counts: the individual may be a third party in the news, not the poster.

Both the engine and the naive rule of the issue (warn once a thread holds 5 comments the screener
calls abusive) are scored against the proxy: warnings per thread, share of warned threads with no
individual-targeted sexist comment, precision / recall / F1 against the candidates.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from common import ROOT
from cvguard.behavior import BehaviourConfig, BehaviourEngine
from cvguard.behavior.alerts import RANK, Alert
from cvguard.detection.screen import Screener
from cvguard.events import Event

BEIJING = timezone(timedelta(hours=8))
NAIVE_ABUSIVE = 5


@dataclass
class Thread:
    weibo_id: str
    poster: str
    comments: int = 0
    sexist: int = 0
    sexist_individual: int = 0
    sexist_group: int = 0
    abusive: int = 0  # comments the screener calls abusive
    event_ids: set[str] = field(default_factory=set)


def _when(value: str) -> datetime | None:
    try:
        return datetime.strptime(value.strip(), "%d/%m/%Y %H:%M").replace(tzinfo=BEIJING)
    except ValueError:
        return None


def load(data: Path) -> tuple[list[Event], dict[str, Thread], dict[str, dict[str, str]], dict[str, int]]:
    """Events in time order, threads by weibo id, SWSR labels by comment event id, counts."""
    with (data / "SexWeibo.csv").open(encoding="utf-8-sig", newline="") as f:
        posts = list(csv.DictReader(f))
    with (data / "SexComment.csv").open(encoding="utf-8-sig", newline="") as f:
        comments = list(csv.DictReader(f))
    threads: dict[str, Thread] = {}
    events: list[Event] = []
    counts = {"posts": 0, "posts_undated": 0, "comments": 0, "comments_undated": 0}
    post_time: dict[str, datetime] = {}
    for row in posts:
        wid = row["weibo_id"]
        when = _when(row["weibo_date"])
        thread = threads[wid] = Thread(wid, f"p_{wid}")
        counts["posts"] += 1
        if when is None:
            counts["posts_undated"] += 1
            continue  # placed at its first comment below
        post_time[wid] = when
        events.append(_post(wid, thread.poster, when, row["weibo_text"]))
    by_thread: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in comments:
        by_thread[row["weibo_id"]].append(row)
    labels: dict[str, dict[str, str]] = {}
    for wid, rows in by_thread.items():
        thread = threads.setdefault(wid, Thread(wid, f"p_{wid}"))
        dated = [(w, r) for r in rows if (w := _when(r["date"])) is not None]
        latest = max((w for w, _ in dated), default=post_time.get(wid))
        if wid not in post_time:  # a post with no date: a minute before its first comment
            first = min((w for w, _ in dated), default=None)
            if first is None:
                continue
            post_time[wid] = first - timedelta(minutes=1)
            events.append(_post(wid, thread.poster, post_time[wid], ""))
        placed: list[tuple[datetime, int, dict[str, str]]] = []
        for r in rows:
            w = _when(r["date"])
            if w is None:
                counts["comments_undated"] += 1
                w = (latest or post_time[wid]) + timedelta(minutes=1)
            placed.append((w, int(r["index"]), r))
        placed.sort(key=lambda x: (x[0], x[1]))
        minute: dict[datetime, int] = defaultdict(int)
        for w, _, _ in placed:
            minute[w] += 1
        seen: dict[datetime, int] = defaultdict(int)
        for w, index, r in placed:
            offset = 60.0 * seen[w] / minute[w]
            seen[w] += 1
            eid = f"c_{index}"
            events.append(
                Event(
                    event_id=eid,
                    surface="comment",
                    occurred_at=w + timedelta(seconds=offset),
                    author={"id": eid},
                    text=r["comment_text"],
                    target_ids=(thread.poster,),
                    thread_id=f"th_{wid}",
                    reply_to=f"p_{wid}",
                )
            )
            labels[eid] = {"label": r["label"], "target": r["target"], "thread": wid}
            thread.comments += 1
            thread.event_ids.add(eid)
            counts["comments"] += 1
            if r["label"] == "1":
                thread.sexist += 1
                thread.sexist_individual += r["target"] == "I"
                thread.sexist_group += r["target"] == "G"
    events.sort(key=lambda e: (e.occurred_at, e.event_id))
    return events, threads, labels, counts


def _post(wid: str, poster: str, when: datetime, text: str) -> Event:
    return Event(
        event_id=f"p_{wid}", surface="post", occurred_at=when, author={"id": poster}, text=text,
        thread_id=f"th_{wid}",
    )


def warned_threads(alerts: list[Alert], threads: dict[str, Thread]) -> dict[str, dict[str, Any]]:
    """Threads with a WARNING-or-higher alert, by weibo id: the kinds and the first warning."""
    by_poster = {t.poster: t.weibo_id for t in threads.values()}
    by_event = {e: t.weibo_id for t in threads.values() for e in t.event_ids}
    out: dict[str, dict[str, Any]] = {}
    for a in alerts:
        if RANK[a.level] < RANK["warning"] or a.resolved_at is not None:
            continue
        hit: set[str] = set()
        if a.subject_type == "user" and a.subject_id in by_poster:
            hit.add(by_poster[a.subject_id])
        elif a.subject_type == "thread" and a.subject_id.startswith("th_"):
            hit.add(a.subject_id[3:])
        hit.update(by_event[e] for e in a.event_ids if e in by_event)
        for wid in hit:
            rec = out.setdefault(wid, {"kinds": set(), "first": a.updated_at.isoformat(), "alerts": set()})
            rec["kinds"].add(a.kind)
            rec["alerts"].add(a.alert_id)
    return out


def score(name: str, warned: set[str], threads: dict[str, Thread], candidate: int) -> dict[str, Any]:
    positives = {w for w, t in threads.items() if t.sexist_individual >= candidate}
    no_individual = {w for w in warned if threads[w].sexist_individual == 0}
    no_sexism = {w for w in warned if threads[w].sexist == 0}
    tp = len(warned & positives)
    precision = tp / len(warned) if warned else None
    recall = tp / len(positives) if positives else None
    f1 = (
        2 * precision * recall / (precision + recall)
        if precision is not None and recall is not None and precision + recall
        else None
    )
    return {
        "rule": name,
        "warned_threads": len(warned),
        "warnings_per_thread": round(len(warned) / len(threads), 4),
        "warned_with_no_individual_sexist_comment": len(no_individual),
        "share_warned_with_no_individual_sexist_comment": round(len(no_individual) / len(warned), 3)
        if warned
        else None,
        "warned_with_no_sexist_comment": len(no_sexism),
        f"candidates_(>={candidate}_individual_sexist)": len(positives),
        "precision_vs_candidates": None if precision is None else round(precision, 3),
        "recall_vs_candidates": None if recall is None else round(recall, 3),
        "f1_vs_candidates": None if f1 is None else round(f1, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data" / "swsr")
    ap.add_argument("--candidate", type=int, default=3)
    ap.add_argument(
        "--onset-senders", type=int, default=None,
        help="distinct abusive senders the onset route needs (default: the engine's own, 1)",
    )
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "swsr.json")
    args = ap.parse_args()
    if not args.data.exists():
        fallback = Path("/work/shared/data/swsr")
        args.data = fallback if fallback.exists() else args.data
    started = time.perf_counter()
    events, threads, labels, counts = load(args.data)
    screener = Screener.default()
    verdicts = screener.screen_many([e.text for e in events])
    config = BehaviourConfig()
    if args.onset_senders is not None:
        onset = replace(config.pile_on.onset, min_senders=args.onset_senders)
        config = replace(config, pile_on=replace(config.pile_on, onset=onset))
    engine = BehaviourEngine(config)
    alerts = engine.process_many(zip(events, verdicts, strict=True))
    elapsed = time.perf_counter() - started

    abusive_by_thread: dict[str, int] = defaultdict(int)
    for e, v in zip(events, verdicts, strict=True):
        if e.event_id in labels and (v.violation or v.score >= 0.5):
            abusive_by_thread[labels[e.event_id]["thread"]] += 1
    for wid, n in abusive_by_thread.items():
        threads[wid].abusive = n
    warned = warned_threads(alerts, threads)
    naive = {w for w, t in threads.items() if t.abusive >= NAIVE_ABUSIVE}
    kinds: dict[str, int] = defaultdict(int)
    for rec in warned.values():
        for k in rec["kinds"]:
            kinds[k] += 1
    sexist = [
        v for e, v in zip(events, verdicts, strict=True) if labels.get(e.event_id, {}).get("label") == "1"
    ]
    report = {
        "data": counts | {"threads": len(threads)},
        "threads_with_individual_sexist_comment": sum(t.sexist_individual > 0 for t in threads.values()),
        "threads_with_sexist_comment": sum(t.sexist > 0 for t in threads.values()),
        "screener_flags_sexist_comments": round(
            sum(v.violation or v.score >= 0.5 for v in sexist) / max(1, len(sexist)), 3
        ),
        "engine": score("engine (warning or higher)", set(warned), threads, args.candidate),
        "engine_warned_threads_by_kind": dict(kinds),
        "naive": score(f"naive (>= {NAIVE_ABUSIVE} abusive comments)", naive, threads, args.candidate),
        "onset_min_senders": config.pile_on.onset.min_senders,
        "alert_emissions": len(alerts),
        "replay_s": round(elapsed, 1),
        "warned_examples": [
            {
                "weibo_id": w,
                "comments": threads[w].comments,
                "sexist_individual": threads[w].sexist_individual,
                "sexist_group": threads[w].sexist_group,
                "kinds": sorted(rec["kinds"]),
            }
            for w, rec in sorted(warned.items())[:15]
        ],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

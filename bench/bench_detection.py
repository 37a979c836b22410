"""Early-warning quality on simulated streams with ground truth, several seeds.

    python bench/bench_detection.py [--seeds 1 2 3] [--hours 24] [--users 5000] [--out bench/out]

For each seed: ``cvguard simulate`` writes a stream (truth header on line 1), ``cvguard replay``
pushes it through the whole pipeline into a fresh SQLite file and writes ALERTS.jsonl, and this
script scores the alerts against the truth:

- **pile-on on time**: for every labelled pile-on, the first WARNING-or-higher ``pile_on`` alert
  about its target, in event time, must come no later than the earlier of (first abusive message
  + 60 s) and (the 20th abusive message). Delay is reported in seconds and in messages (abusive
  messages of the incident up to and including the alert's event time).
- **false warnings per 1,000 targets·day**: alert episodes that reached WARNING about a user,
  thread or brigade cluster that no incident explains (not an incident target, no incident event
  among its evidence) — the celebrity's busy day and the civil debates included — divided by
  the distinct users that received any event × simulated days. Topic alerts are counted apart,
  per 1,000 topics·day.
- **precision / recall per alert kind**: an episode (one ``alert_id``) that reached WARNING is a
  true positive when an incident explains it; recall is the share of incidents of the matching
  kind (pile_on, incitement, brigade; for ``topic``: the pile-ons, whose topic heats) that got a
  WARNING of that kind.
- **alerts on no true incident**: every episode, watch level included, that no incident explains,
  over all episodes; the brigade episodes among them that stayed at watch on copy-paste with an
  abusive share of 0 (the noise of issue 7) are counted apart; false warnings are attributed to
  the non-incident (viral post, news thread, fan war, group debate, celebrity day, civil debate)
  whose target, member, topic or thread they are about, else to background traffic.
- **roles**: every incitement episode's final emission names its initiators and copycats (ids);
  a named initiator is right when the episode's subject is the target of an incitement incident
  whose truth lists that initiator, a named copycat when the truth lists it as a member. Recall:
  the share of true initiators (copycats) named by an episode about their incident's target.
- **alerts end**: an incident's episodes (the alerts it explains) must be resolved, with a
  ``resolved_at``, when the incident ended more than the kind's quiet period (plus an hour) before
  the stream's end; reported with the hours between resolution and the stream's end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from statistics import median
from typing import Any

from common import ROOT
from cvguard.behavior.alerts import DEFAULT_QUIET

WARN = {"warning", "critical"}
KINDS = ("pile_on", "incitement", "brigade", "topic")
ON_TIME_S = 60.0
ON_TIME_MESSAGES = 20


def ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def cvguard(*args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    subprocess.run([sys.executable, "-m", "cvguard", *args], check=True, env=env)


@dataclass
class Stream:
    truth: dict[str, Any]
    times: dict[str, float]  # event time of every incident abusive event
    targets: set[str] = field(default_factory=set)  # users that received any event
    topics: set[str] = field(default_factory=set)
    events: int = 0


def read_stream(path: Path) -> Stream:
    with path.open("rb") as src:
        truth = json.loads(src.readline())
        wanted = {e for inc in truth["incidents"] for e in inc["abusive_event_ids"]}
        stream = Stream(truth, {})
        for line in src:
            ev = json.loads(line)
            stream.events += 1
            stream.targets.update(ev.get("target_ids", ()))
            stream.topics.update(ev.get("topic_ids", ()))
            if ev["event_id"] in wanted:
                stream.times[ev["event_id"]] = ts(ev["occurred_at"])
    return stream


@dataclass
class Episode:
    alert_id: str
    kind: str
    subject_type: str
    subject_id: str
    warned_at: float | None = None  # event time it first reached warning or higher
    event_ids: set[str] = field(default_factory=set)
    first_evidence: dict[str, Any] = field(default_factory=dict)
    final_evidence: dict[str, Any] = field(default_factory=dict)  # of the last emission
    level: str = "watch"  # the highest reached
    resolved_at: float | None = None
    resolution: str | None = None
    raised_at: float = 0.0


def read_alerts(path: Path) -> dict[str, Episode]:
    episodes: dict[str, Episode] = {}
    rank = {"watch": 1, "warning": 2, "critical": 3}
    for line in path.read_text(encoding="utf-8").splitlines():
        a = json.loads(line)
        ep = episodes.get(a["alert_id"])
        if ep is None:
            ep = Episode(a["alert_id"], a["kind"], a["subject_type"], a["subject_id"])
            ep.first_evidence = a["evidence"]
            ep.raised_at = ts(a["raised_at"])
            episodes[a["alert_id"]] = ep
        ep.event_ids.update(a["event_ids"])
        ep.final_evidence = a["evidence"]
        if rank[a["level"]] > rank[ep.level]:
            ep.level = a["level"]
        if a["level"] in WARN and ep.warned_at is None:
            ep.warned_at = ts(a["updated_at"])  # the emission's event time
        if a.get("resolved_at"):
            ep.resolved_at = ts(a["resolved_at"])
            ep.resolution = a.get("resolution")
    return episodes


def explains(incident: dict[str, Any], ep: Episode) -> bool:
    if ep.subject_type == "topic":
        return ep.subject_id == incident.get("topic_id")
    if ep.subject_type == "user" and ep.subject_id == incident.get("target_id"):
        return True
    return bool(ep.event_ids & set(incident["abusive_event_ids"]))


def score_seed(stream: Stream, episodes: dict[str, Episode]) -> dict[str, Any]:
    truth = stream.truth
    incidents = truth["incidents"]
    warned = [ep for ep in episodes.values() if ep.warned_at is not None]
    days = (ts(truth["end"]) - ts(truth["start"])) / 86400.0

    pile_ons = []
    for inc in incidents:
        if inc["kind"] != "pile_on":
            continue
        times = sorted(stream.times[e] for e in inc["abusive_event_ids"] if e in stream.times)
        t0 = times[0]
        t20 = times[min(ON_TIME_MESSAGES, len(times)) - 1]
        hits = sorted(
            ep.warned_at
            for ep in warned
            if ep.kind == "pile_on"
            and ep.subject_type == "user"
            and ep.subject_id == inc["target_id"]
            and ep.warned_at >= t0 - ON_TIME_S  # type: ignore[operator]
        )
        detected = hits[0] if hits else None
        pile_ons.append(
            {
                "incident": inc["incident_id"],
                "target": inc["target_id"],
                "minor": inc.get("minor_target", False),
                "abusive": len(times),
                "detected": detected is not None,
                # "within 60 s or within its first 20 messages, whichever comes first": both must hold
                "on_time": detected is not None and detected <= min(t0 + ON_TIME_S, t20),
                # the lenient reading (either one) for comparison
                "within_60s": detected is not None and detected <= t0 + ON_TIME_S,
                "within_20_messages": detected is not None and detected <= t20,
                "delay_s": None if detected is None else round(detected - t0, 1),
                "delay_messages": None if detected is None else sum(t <= detected for t in times),
                "twentieth_message_s": round(t20 - t0, 1),
            }
        )

    explained = {ep.alert_id: [inc["incident_id"] for inc in incidents if explains(inc, ep)] for ep in warned}
    per_kind: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        eps = [ep for ep in warned if ep.kind == kind]
        tp = sum(bool(explained[ep.alert_id]) for ep in eps)
        source = "pile_on" if kind == "topic" else kind
        relevant = [inc for inc in incidents if inc["kind"] == source]
        found = sum(any(ep.kind == kind and explains(inc, ep) for ep in warned) for inc in relevant)
        per_kind[kind] = {
            "warnings": len(eps),
            "true": tp,
            "precision": round(tp / len(eps), 3) if eps else None,
            "incidents": len(relevant),
            "found": found,
            "recall": round(found / len(relevant), 3) if relevant else None,
        }

    non_incidents = truth["non_incidents"]
    debate_topics = {n["topic_id"] for n in non_incidents if n["kind"] == "civil_debate"}
    false_subjects = [ep for ep in warned if ep.subject_type != "topic" and not explained[ep.alert_id]]
    false_topics = [ep for ep in warned if ep.subject_type == "topic" and not explained[ep.alert_id]]
    # Which non-incident a false alert is about: its target first, then its members, topic, thread.
    owner: dict[str, str] = {}
    for n in non_incidents:
        for key in ("target_id", "topic_id", "thread_id"):
            if n.get(key):
                owner.setdefault(n[key], f"{n['kind']} ({key[:-3]})")
    for n in non_incidents:
        for m in n["member_ids"]:
            owner.setdefault(m, f"{n['kind']} (member)")
    where: dict[str, int] = defaultdict(int)
    for ep in false_subjects:
        where[owner.get(ep.subject_id, "background")] += 1

    every = list(episodes.values())
    unexplained = [ep for ep in every if not any(explains(inc, ep) for inc in incidents)]
    noise = [
        ep for ep in unexplained
        if ep.kind == "brigade" and ep.level == "watch" and ep.first_evidence.get("abusive_share") == 0
    ]
    return {
        "events": stream.events,
        "days": round(days, 3),
        "targets": len(stream.targets),
        "topics": len(stream.topics),
        "pile_ons": pile_ons,
        "per_kind": per_kind,
        "false_warnings": len(false_subjects),
        "false_warnings_by_kind": _count(ep.kind for ep in false_subjects),
        "false_warnings_where": dict(where),
        "false_per_1000_target_days": round(1000 * len(false_subjects) / (len(stream.targets) * days), 3),
        "false_topic_warnings": len(false_topics),
        "false_topic_warnings_on_debates": sum(ep.subject_id in debate_topics for ep in false_topics),
        "false_per_1000_topic_days": round(1000 * len(false_topics) / max(1, len(stream.topics)) / days, 3),
        "false_examples": [
            f"{ep.kind} {ep.subject_type}:{ep.subject_id} ({owner.get(ep.subject_id, 'background')})"
            for ep in false_subjects[:10]
        ],
        "alerts": len(every),
        "alerts_on_no_incident": len(unexplained),
        "share_alerts_on_no_incident": round(len(unexplained) / len(every), 3) if every else None,
        "alerts_on_no_incident_by_kind": _count(f"{ep.kind}:{ep.level}" for ep in unexplained),
        "alerts_on_no_incident_where": _count(owner.get(ep.subject_id, "background") for ep in unexplained),
        "brigade_watch_on_benign_copying": len(noise),
        "roles": score_roles(incidents, episodes),
        "resolution": score_resolution(truth, incidents, episodes),
    }


def score_roles(incidents: list[dict[str, Any]], episodes: dict[str, Episode]) -> dict[str, Any]:
    """Initiators and copycats named by incitement episodes against the truth (see the docstring)."""
    truth_init: dict[str, set[str]] = defaultdict(set)
    truth_copy: dict[str, set[str]] = defaultdict(set)
    for inc in incidents:
        if inc["kind"] == "incitement":
            truth_init[inc["target_id"]].update(inc["initiator_ids"])
            truth_copy[inc["target_id"]].update(inc["member_ids"])
    named_init: set[tuple[str, str]] = set()
    named_copy: set[tuple[str, str]] = set()
    for ep in episodes.values():
        if ep.kind != "incitement":
            continue
        ev = ep.final_evidence
        named_init.update((ep.subject_id, a) for a in ev.get("initiator_ids", ()))
        named_copy.update((ep.subject_id, a) for a in ev.get("copycat_ids", ()))
    all_init = {(t, a) for t, ids in truth_init.items() for a in ids}
    all_copy = {(t, a) for t, ids in truth_copy.items() for a in ids}

    def pr(named: set[tuple[str, str]], true: set[tuple[str, str]]) -> dict[str, Any]:
        hit = len(named & true)
        return {
            "named": len(named),
            "true": len(true),
            "correct": hit,
            "precision": round(hit / len(named), 3) if named else None,
            "recall": round(hit / len(true), 3) if true else None,
        }

    per_episode = [
        len(ep.final_evidence.get("initiator_ids", ())) for ep in episodes.values() if ep.kind == "incitement"
    ]
    return {
        "initiator": pr(named_init, all_init),
        "copycat": pr(named_copy, all_copy),
        "initiators_named_per_incitement_episode": per_episode,
    }


def score_resolution(
    truth: dict[str, Any], incidents: list[dict[str, Any]], episodes: dict[str, Episode]
) -> dict[str, Any]:
    """Whether the alerts of incidents that ended long enough before the stream's end are resolved."""
    end = ts(truth["end"])
    rows = []
    for inc in incidents:
        over = ts(inc["end"])
        for ep in episodes.values():
            if not explains(inc, ep) or ep.raised_at > over:
                continue  # (a topic's later episode, about a later incident on it)
            due = over + DEFAULT_QUIET[ep.kind] + 3600.0 <= end
            rows.append(
                {
                    "incident": inc["incident_id"],
                    "alert_id": ep.alert_id,
                    "due": due,
                    "resolved": ep.resolved_at is not None,
                    "hours_resolved_before_stream_end": None
                    if ep.resolved_at is None
                    else round((end - ep.resolved_at) / 3600.0, 2),
                    "resolution": ep.resolution,
                }
            )
    due = [r for r in rows if r["due"]]
    return {
        "episodes_of_incidents": len(rows),
        "due": len(due),
        "due_and_resolved": sum(r["resolved"] for r in due),
        "not_due_resolved": sum(r["resolved"] for r in rows if not r["due"]),
        "hours_before_end_median": median(h for r in due if (h := r["hours_resolved_before_stream_end"]))
        if any(r["resolved"] for r in due)
        else None,
        "unresolved_due": [r["alert_id"] for r in due if not r["resolved"]],
        "example": next((r["resolution"] for r in due if r["resolved"]), None),
    }


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for item in items:
        out[item] += 1
    return dict(out)


def summarise(seeds: dict[int, dict[str, Any]]) -> dict[str, Any]:
    piles = [p for s in seeds.values() for p in s["pile_ons"]]
    delays = [p["delay_s"] for p in piles if p["delay_s"] is not None]
    msgs = [p["delay_messages"] for p in piles if p["delay_messages"] is not None]
    targets_days = sum(s["targets"] * s["days"] for s in seeds.values())
    false = sum(s["false_warnings"] for s in seeds.values())
    alerts = sum(s["alerts"] for s in seeds.values())
    unexplained = sum(s["alerts_on_no_incident"] for s in seeds.values())
    per_kind = {}
    for kind in KINDS:
        w = sum(s["per_kind"][kind]["warnings"] for s in seeds.values())
        tp = sum(s["per_kind"][kind]["true"] for s in seeds.values())
        n = sum(s["per_kind"][kind]["incidents"] for s in seeds.values())
        f = sum(s["per_kind"][kind]["found"] for s in seeds.values())
        per_kind[kind] = {
            "precision": round(tp / w, 3) if w else None,
            "recall": round(f / n, 3) if n else None,
            "warnings": w,
            "incidents": n,
        }
    return {
        "pile_ons": len(piles),
        "pile_ons_detected": sum(p["detected"] for p in piles),
        "pile_ons_on_time": sum(p["on_time"] for p in piles),
        "pile_ons_within_60s": sum(p["within_60s"] for p in piles),
        "pile_ons_within_20_messages": sum(p["within_20_messages"] for p in piles),
        "delay_s_median": median(delays) if delays else None,
        "delay_s_max": max(delays) if delays else None,
        "delay_messages_median": median(msgs) if msgs else None,
        "delay_messages_max": max(msgs) if msgs else None,
        "false_warnings": false,
        "target_days": round(targets_days, 1),
        "false_per_1000_target_days": round(1000 * false / targets_days, 3) if targets_days else None,
        "per_kind": per_kind,
        "alerts": alerts,
        "alerts_on_no_incident": unexplained,
        "share_alerts_on_no_incident": round(unexplained / alerts, 3) if alerts else None,
        "brigade_watch_on_benign_copying": sum(s["brigade_watch_on_benign_copying"] for s in seeds.values()),
        "roles": {role: _roles(seeds, role) for role in ("initiator", "copycat")},
        "resolution": {
            "due": sum(s["resolution"]["due"] for s in seeds.values()),
            "due_and_resolved": sum(s["resolution"]["due_and_resolved"] for s in seeds.values()),
        },
    }


def _roles(seeds: dict[int, dict[str, Any]], role: str) -> dict[str, Any]:
    named = sum(s["roles"][role]["named"] for s in seeds.values())
    true = sum(s["roles"][role]["true"] for s in seeds.values())
    correct = sum(s["roles"][role]["correct"] for s in seeds.values())
    return {
        "named": named,
        "true": true,
        "precision": round(correct / named, 3) if named else None,
        "recall": round(correct / true, 3) if true else None,
    }


def print_table(seeds: dict[int, dict[str, Any]], total: dict[str, Any]) -> None:
    print(
        f"{'seed':>4} {'events':>8} {'pile-ons':>8} {'on time':>7} {'delay s':>16} {'delay msgs':>12}"
        f" {'false':>5} {'per 1k t·d':>10} {'topic fp':>8}"
    )
    for seed, s in seeds.items():
        p = s["pile_ons"]
        d = [x["delay_s"] for x in p if x["delay_s"] is not None]
        m = [x["delay_messages"] for x in p if x["delay_messages"] is not None]
        print(
            f"{seed:>4} {s['events']:>8} {len(p):>8} {sum(x['on_time'] for x in p):>7}"
            f" {','.join(f'{x:g}' for x in d):>16} {','.join(map(str, m)):>12} {s['false_warnings']:>5}"
            f" {s['false_per_1000_target_days']:>10} {s['false_topic_warnings']:>8}"
        )
    print(f"\n{'kind':>11} {'precision':>9} {'recall':>7} {'warnings':>8} {'incidents':>9}")
    for kind, k in total["per_kind"].items():
        print(f"{kind:>11} {k['precision']!s:>9} {k['recall']!s:>7} {k['warnings']:>8} {k['incidents']:>9}")
    print(
        f"\npile-ons on time (60 s and 20 messages): {total['pile_ons_on_time']}/{total['pile_ons']};"
        f" within 60 s {total['pile_ons_within_60s']}, within 20 messages"
        f" {total['pile_ons_within_20_messages']}; median delay"
        f" {total['delay_s_median']} s / {total['delay_messages_median']} messages;"
        f" false warnings {total['false_per_1000_target_days']} per 1,000 targets·day"
    )
    roles = total["roles"]
    print(
        f"alerts on no true incident: {total['alerts_on_no_incident']}/{total['alerts']}"
        f" ({total['share_alerts_on_no_incident']:.1%}); brigade watch on benign copying:"
        f" {total['brigade_watch_on_benign_copying']}; initiator precision/recall"
        f" {roles['initiator']['precision']}/{roles['initiator']['recall']}, copycat"
        f" {roles['copycat']['precision']}/{roles['copycat']['recall']}; incident alerts resolved when due:"
        f" {total['resolution']['due_and_resolved']}/{total['resolution']['due']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--users", type=int, default=5000)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "detection")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    seeds: dict[int, dict[str, Any]] = {}
    for seed in args.seeds:
        events, alerts, db = (
            args.out / f"events-{seed}.jsonl",
            args.out / f"alerts-{seed}.jsonl",
            args.out / f"seed-{seed}.db",
        )
        for old in args.out.glob(f"seed-{seed}.db*"):
            old.unlink()
        cvguard(
            "simulate",
            "--seed",
            str(seed),
            "--hours",
            str(args.hours),
            "--users",
            str(args.users),
            "--out",
            str(events),
        )
        started = time.perf_counter()
        cvguard("replay", str(events), "--out", str(alerts), "--db", f"sqlite:///{db}")
        seeds[seed] = score_seed(read_stream(events), read_alerts(alerts))
        seeds[seed]["replay_s"] = round(time.perf_counter() - started, 1)
    total = summarise(seeds)
    print_table(seeds, total)
    report = {
        "config": {"hours": args.hours, "users": args.users, "seeds": args.seeds},
        "total": total,
        "seeds": seeds,
    }
    text = json.dumps(report, indent=2, ensure_ascii=False)
    (args.out / "detection.json").write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()

"""Protection on simulated pile-ons: what still reaches the person, what friendly words are held back,
how soon protection comes, and what it costs per event.

    python bench/bench_protection.py [--seed 7] [--hours 6] [--incidents 6] [--batch 200]
    python bench/bench_protection.py --scenarios pileon,debate,viral,news,fanwar --hours 24 --no-compare
    python bench/bench_protection.py --min-authors 3 --no-severe   # the early signal set otherwise
    python bench/bench_protection.py --cost [--rounds 5] [--hours 3] [--batch 500]

Effectiveness (the embedded pipeline, SQLite, the packaged screener, the default policy): the
simulator's pile-ons with their ground truth (every third against a minor, whose key group is
marked before the stream). A minor's shield turns on by itself at the warning; everyone else is
offered one and, here, accepts it at once (the next batch, in event time: the prompt's time). Per
pile-on, over the messages aimed at the target after its first warning (``pile_on`` or
``incitement`` at warning or above, the emission's event time):

- abusive that reaches the target's view: ground-truth abusive messages whose decision lets the
  person see them: ``allow``, ``nudge``, ``deliver``, ``fold`` (a folded comment is one tap away:
  counted as reaching, and shown apart), ``limit_visibility`` / ``exclude_from_recommendation``
  (the post still reaches its followers and mentions). Not reaching: ``hide_from_target``,
  ``filter_folder`` (the person may open the folder: that is their choice), ``block``,
  ``hold_for_review``, ``remove``;
- friendly held back: messages aimed at the target that are not in the ground truth's abusive set,
  decided ``hide_from_target``, ``filter_folder``, ``block``, ``hold_for_review`` or ``remove``;
- time to protection: from the ground truth's start (the first abusive message) to the event time
  of the ``protection_on`` or ``offer_protection`` feed action (the early signal's, or the
  warning's: whichever came first);
- prompts to people not attacked: people prompted (offered a shield, or a key-group member's turned
  on) who are no incident's target in the ground truth, per 1,000 people who received anything
  aimed at them, per day of simulated time. With ``--scenarios`` the other scenarios (look-alikes
  that are not incidents: debates, viral posts, news threads, fan wars...) are mixed in; the
  effect figures are over the pile-ons only.

The same stream without protection (no shields, no groups) is run too, for comparison.

``--cost``: the per-event pipeline cost with and without protection (the people cache read for
every event's targets, the folder written, the prompts planned), interleaved rounds like
``bench_decide.py --pipeline`` (order alternating, a fresh database each), one core.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import cvguard.protection.plan as shield_plan
from common import pin_one_core
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.events import Event, parse_event
from cvguard.pipeline import Pipeline
from cvguard.protection import DEFAULT_SCOPES, ConvergenceWatch, EarlyConfig
from cvguard.simulate import SimConfig, generate

REACH = frozenset({"allow", "nudge", "deliver", "fold", "limit_visibility", "exclude_from_recommendation"})
HELD = frozenset({"hide_from_target", "filter_folder", "block", "hold_for_review", "remove"})
# Rules that act on the author's sanction (enforcement), not on the person's protection: what they
# hold back is counted apart from "friendly held back" (an attacker under comment restriction is
# blocked whatever they write).
SANCTIONED = "restricted-"


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _open(tmp: str, screener: Screener, batch: int) -> Pipeline:
    settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.db")
    return Pipeline.open(settings, screener=screener, batch_size=batch, offline=True)


def _without_protection(pipeline: Pipeline) -> None:
    pipeline.people = None
    if pipeline.actions is not None:
        pipeline.actions.protection = None


def effectiveness(args: argparse.Namespace) -> dict[str, Any]:
    scenarios = tuple(args.scenarios.split(","))
    truth, *raws = generate(
        SimConfig(seed=args.seed, hours=args.hours, users=args.users, targets=args.users // 3,
                  scenarios=scenarios, incidents=args.incidents if scenarios == ("pileon",) else None)
    )
    events = [parse_event(r) for r in raws]
    incidents = [i for i in truth["incidents"] if i["kind"] == "pile_on"]
    # every incident's target is a true target of a prompt (a brigade or an incitement is an attack too)
    attacked = {i["target_id"] for i in truth["incidents"] if "target_id" in i}
    targeted = {t for e in events for t in e.target_ids}
    screener = Screener.default()
    early = _early_config(args)
    out: dict[str, Any] = {"seed": args.seed, "scenarios": list(scenarios), "hours": args.hours,
                           "early_signal": {"min_authors": early.min_authors, "window_s": early.window_s,
                                            "severe": early.severe},
                           "events": len(events), "pile_ons": len(incidents),
                           "other_incidents": len(truth["incidents"]) - len(incidents),
                           "non_incidents": len(truth.get("non_incidents", ())),
                           "people_targeted": len(targeted),
                           "minor_targets": sum(bool(i.get("minor_target")) for i in incidents)}
    for protect in (True, False) if args.compare else (True,):
        with tempfile.TemporaryDirectory() as tmp:
            pipeline = _open(tmp, screener, args.batch)
            try:
                if protect and pipeline.people is not None:
                    pipeline.people.early = ConvergenceWatch(_early_config(args))
                result = _run(pipeline, events, incidents, args.batch, protect)
                if protect:
                    prompts: dict[str, str] = result.pop("prompted")
                    false = sorted(u for u in prompts if u not in attacked)
                    result["prompts"] = {
                        "people_prompted": len(prompts),
                        "of_them_attacked": len(prompts) - len(false),
                        "not_attacked": len(false),
                        "not_attacked_by_signal": _count(prompts[u] for u in false),
                        # false prompts per 1,000 people who received anything aimed at them, per day
                        "false_per_1000_targeted_per_day": round(
                            len(false) / len(targeted) * 1000 * 24 / args.hours, 1
                        ) if targeted else None,
                    }
                else:
                    result.pop("prompted")
                out["with_protection" if protect else "without_protection"] = result
            finally:
                pipeline.persist_behaviour = False
                pipeline.close()
    return out


def _run(
    pipeline: Pipeline, events: Sequence[Event], incidents: list[dict[str, Any]], batch: int, protect: bool
) -> dict[str, Any]:
    people = pipeline.people
    if protect:
        assert people is not None and pipeline.actions is not None
        for i in incidents:
            if i.get("minor_target"):
                people.set_groups(i["target_id"], frozenset({"minor"}), actor="bench")
    else:
        _without_protection(pipeline)
    decisions: dict[str, str] = {}
    rules: dict[str, str] = {}  # event id -> the winning rule
    warned: dict[str, datetime] = {}
    watched: dict[str, datetime] = {}  # a pile-on's first alert at any level (watch, usually)
    protected_at: dict[str, tuple[str, datetime]] = {}
    prompted: dict[str, str] = {}  # person -> what first prompted them (early signal kind, or warning)
    cursor = 0
    for i in range(0, len(events), batch):
        result = pipeline.ingest(events[i : i + batch])
        decisions.update((d.event_id, d.action) for d in result.decisions)
        rules.update((d.event_id, d.rule_id or "") for d in result.decisions)
        for a in result.alerts:
            if a.kind == "pile_on" and a.subject_type == "user" and a.subject_id not in watched:
                watched[a.subject_id] = a.updated_at  # its first emission, watch or above
            if a.kind in ("pile_on", "incitement") and a.subject_type == "user" \
                    and a.level in ("warning", "critical") and a.subject_id not in warned:
                warned[a.subject_id] = a.updated_at
        if protect and pipeline.actions is not None and people is not None:
            entries, cursor = pipeline.actions.feed.after(cursor, limit=1000)
            for e in entries:
                if e.kind in ("protection_on", "offer_protection") and e.subject not in protected_at:
                    at = _at(e.params["at"])
                    signal = e.params.get("signal")
                    prompted[e.subject] = f"early_{signal}" if signal else "warning"
                    protected_at[e.subject] = (e.kind, at)
                    if e.kind == "offer_protection":  # the person accepts the prompt at once
                        people.turn_on(e.subject, at=at, duration_days=7, scopes=DEFAULT_SCOPES,
                                       audience=shield_plan.AUTO_AUDIENCE, close_friends=frozenset(),
                                       actor=e.subject, reason="accepted the prompt")
    pipeline.finish()
    by_target: dict[str, list[Event]] = {}
    for e in events:
        for t in e.target_ids:
            by_target.setdefault(t, []).append(e)
    abusive_n = abusive_reach = abusive_fold = friendly_n = friendly_held = 0
    latencies: list[float] = []
    per: list[dict[str, Any]] = []
    reached_by: dict[str, int] = {}  # surface/action of the abusive messages that reached
    friendly_held_by: dict[str, int] = {}  # the rules that held friendly messages back
    sanctioned = 0  # non-abusive messages blocked because their author is under a sanction
    for inc in incidents:
        target = inc["target_id"]
        abusive = set(inc["abusive_event_ids"])
        w = warned.get(target)
        row: dict[str, Any] = {"target": target, "minor": bool(inc.get("minor_target")),
                               "warned": w is not None}
        if w is None:
            per.append(row)
            continue
        a_n = a_r = a_f = f_n = f_h = 0
        for e in by_target.get(target, ()):
            if e.occurred_at <= w or e.event_id not in decisions:
                continue
            action = decisions[e.event_id]
            if e.event_id in abusive:
                a_n += 1
                a_r += action in REACH
                a_f += action == "fold"
                if action in REACH:
                    key = f"{e.surface.value}/{action}"
                    reached_by[key] = reached_by.get(key, 0) + 1
            elif rules.get(e.event_id, "").startswith(SANCTIONED):
                sanctioned += action in HELD  # the author is under a sanction: not the shield's doing
            else:
                f_n += 1
                f_h += action in HELD
                if action in HELD:
                    key = f"{e.surface.value}/{rules.get(e.event_id, '')}"
                    friendly_held_by[key] = friendly_held_by.get(key, 0) + 1
        abusive_n, abusive_reach, abusive_fold = abusive_n + a_n, abusive_reach + a_r, abusive_fold + a_f
        friendly_n, friendly_held = friendly_n + f_n, friendly_held + f_h
        row |= {"abusive_after_warning": a_n, "reached": a_r, "folded": a_f,
                "friendly_after_warning": f_n, "friendly_held": f_h}
        if target in protected_at:
            kind, at = protected_at[target]
            latency = (at - _at(inc["start"])).total_seconds()
            latencies.append(latency)
            row |= {"protection": kind, "prompted_by": prompted.get(target),
                    "onset_to_protection_s": round(latency, 1),
                    "onset_to_warning_s": round((w - _at(inc["start"])).total_seconds(), 1),
                    "onset_to_first_alert_s": round((watched[target] - _at(inc["start"])).total_seconds(), 1)
                    if target in watched else None}
        per.append(row)
    return {
        "abusive_after_warning": abusive_n,
        "abusive_reach_share": round(abusive_reach / abusive_n, 4) if abusive_n else None,
        "abusive_folded_share": round(abusive_fold / abusive_n, 4) if abusive_n else None,
        "friendly_after_warning": friendly_n,
        "friendly_held_share": round(friendly_held / friendly_n, 4) if friendly_n else None,
        "reached_by": dict(sorted(reached_by.items(), key=lambda kv: -kv[1])),
        "friendly_held_by": dict(sorted(friendly_held_by.items(), key=lambda kv: -kv[1])),
        "non_abusive_blocked_by_a_sanction": sanctioned,
        "onset_to_protection_s": sorted(round(x, 1) for x in latencies),
        "onset_to_protection_over_60s": sum(x > 60 for x in latencies),
        "per_pile_on": per,
        "prompted": prompted,
    }


def _early_config(args: argparse.Namespace) -> EarlyConfig:
    """The early signal's settings for this run (the defaults unless the command line says)."""
    base = EarlyConfig()
    return EarlyConfig(
        min_authors=args.min_authors or base.min_authors,
        window_s=args.window or base.window_s,
        severe=base.severe and not args.no_severe,
    )


def _count(items: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for x in items:
        out[x] = out.get(x, 0) + 1
    return dict(sorted(out.items()))


def cost(args: argparse.Namespace) -> dict[str, Any]:
    pinned = pin_one_core()
    truth, *raws = generate(
        SimConfig(seed=3, hours=args.hours, users=300, targets=100, scenarios=("pileon", "debate"))
    )
    events = [parse_event(r) for r in raws]
    minors = [i["target_id"] for i in truth["incidents"] if i.get("minor_target")]
    screener = Screener.default()
    screener.screen_many([e.text for e in events[:500]])  # warm

    own: list[float] = []  # protection's own work per event, timed inside the protected runs
    parts: list[tuple[float, float]] = []  # (folder and reminders, the context's reads) per event

    def run(protect: bool) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            pipeline = _open(tmp, screener, args.batch)
            spent = [0.0]
            if protect:
                people = pipeline.people
                assert people is not None
                for m in minors:
                    people.set_groups(m, frozenset({"minor"}), actor="bench")
                step = pipeline._protect

                def timed(fresh: Any, decisions: Any) -> None:  # the folder and the reminders
                    s = time.perf_counter()
                    step(fresh, decisions)
                    spent[0] += time.perf_counter() - s

                pipeline._protect = timed  # type: ignore[method-assign]
                watch = people.watch

                def timed_watch(items: Any, feed: Any, alerts: Any = ()) -> Any:  # the early signal
                    s = time.perf_counter()
                    out = watch(items, feed, alerts)
                    spent[0] += time.perf_counter() - s
                    return out

                people.watch = timed_watch  # type: ignore[method-assign]
            else:
                _without_protection(pipeline)
            gc.collect()
            t0 = time.perf_counter()
            for i in range(0, len(events), args.batch):
                pipeline.ingest(events[i : i + args.batch])
            pipeline.finish()
            took = time.perf_counter() - t0
            if protect:
                parts.append((spent[0] / len(events) * 1e6, _context_delta(pipeline, events)))
                own.append(sum(parts[-1]))
            pipeline.persist_behaviour = False
            pipeline.close()
        return took / len(events) * 1e6

    run(True)  # warm
    own.clear()
    parts.clear()
    rows = []
    for r in range(args.rounds):
        got: dict[bool, float] = {}
        for protect in ((False, True) if r % 2 == 0 else (True, False)):
            got[protect] = run(protect)
        rows.append((got[False], got[True], got[True] / got[False]))
    ratios = sorted(x[2] for x in rows)
    return {
        "cpu": pinned,
        "events": len(events),
        "batch": args.batch,
        "rounds": [
            {"without_us": round(a, 1), "with_us": round(b, 1), "ratio": round(c, 3)} for a, b, c in rows
        ],
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_range": [round(ratios[0], 3), round(ratios[-1], 3)],
        # protection's own work (reading shields and groups for every event's targets, the folder,
        # the reminders), timed inside the runs, against the run without it: less exposed to noise
        "protection_step_us_median": round(statistics.median(own), 2),
        "folder_and_reminders_us_median": round(statistics.median(p[0] for p in parts), 2),
        "context_reads_us_median": round(statistics.median(p[1] for p in parts), 2),
        "protection_step_share_median": round(
            statistics.median(o / x[0] for o, x in zip(own, rows, strict=True)), 4
        ),
    }


def _context_delta(pipeline: Pipeline, events: Sequence[Event], reps: int = 5) -> float:
    """What reading the people cache adds to building one event's decision input (µs), measured
    after the stream, with and without the cache, interleaved, best of ``reps``."""
    from cvguard.pipeline.context import DecisionContext

    at = pipeline.clock.now()
    plain, with_people = [], []
    for r in range(reps):
        for people in ((None, pipeline.people) if r % 2 == 0 else (pipeline.people, None)):
            ctx = DecisionContext(pipeline.behaviour, at, pipeline.dm, people=people)
            s = time.perf_counter()
            for e in events:
                ctx.input_for(e, None)
            (plain if people is None else with_people).append(time.perf_counter() - s)
    return max(0.0, (min(with_people) - min(plain)) / len(events) * 1e6)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cost", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--hours", type=float, default=6)
    ap.add_argument("--users", type=int, default=600)
    ap.add_argument("--incidents", type=int, default=6)
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--audience", default=None, help="the automatic (and accepted) shield's audience")
    ap.add_argument("--scenarios", default="pileon",
                    help="the simulator's scenarios, comma-separated (e.g. the default mix: "
                         "pileon,brigade,incitement,celebrity,debate,viral,news,fanwar,groupdebate)")
    ap.add_argument("--no-compare", dest="compare", action="store_false",
                    help="skip the run without protection")
    ap.add_argument("--min-authors", type=int, default=None,
                    help="the early signal's distinct authors (default: EarlyConfig's)")
    ap.add_argument("--window", type=float, default=None, help="the early signal's window, seconds")
    ap.add_argument("--no-severe", action="store_true", help="no early signal on one threat or doxxing")
    args = ap.parse_args()
    if args.audience is not None:
        shield_plan.AUTO_AUDIENCE = args.audience
    if args.cost:
        if args.batch == 200:
            args.batch = 500
        if args.hours == 6:
            args.hours = 3
        print(json.dumps(cost(args), indent=2))
    else:
        print(json.dumps(effectiveness(args), indent=2))


if __name__ == "__main__":
    main()

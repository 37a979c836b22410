"""The scenario simulator: determinism, valid events, consistent ground truth, realistic texts."""

from __future__ import annotations

import dataclasses
import io
import json
from collections import Counter
from datetime import datetime
from functools import cache
from pathlib import Path
from random import Random
from typing import Any

import pytest

from cvguard.detection.screen import Screener
from cvguard.errors import InputError
from cvguard.events import parse_event
from cvguard.simulate import SimConfig, deliver, generate, read_events, read_truth, write_file, write_stream
from cvguard.simulate.corpus import Corpus

# Two simulated hours over a few hundred accounts: every scenario, a few thousand events.
SMALL = SimConfig(seed=11, hours=2.0, users=400, targets=80, topics=12, celebrity_per_hour=600.0)


@cache
def _small() -> tuple[dict[str, Any], tuple[dict[str, Any], ...]]:
    lines = list(generate(SMALL))
    return lines[0], tuple(lines[1:])


def _bytes(config: SimConfig) -> bytes:
    out = io.BytesIO()
    write_stream(config, out)
    return out.getvalue()


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_same_seed_same_bytes_and_other_seed_differs() -> None:
    config = SimConfig(seed=5, hours=1.0, users=200, targets=40, topics=8, celebrity_per_hour=300.0)
    first = _bytes(config)
    assert first == _bytes(config)
    assert first != _bytes(dataclasses.replace(config, seed=6))


def test_every_line_after_the_header_is_a_valid_event() -> None:
    truth, events = _small()
    assert truth["kind"] == "truth" and truth["format"] == "cvguard-simulate/1"
    assert len(events) > 2000
    for raw in events:
        parse_event(raw)  # raises on the first invalid field
    assert len({e["event_id"] for e in events}) == len(events)  # ids are unique


def test_the_stream_is_realistic_in_mix() -> None:
    _, events = _small()
    surfaces = Counter(e["surface"] for e in events)
    # every surface the platform sends appears (topic events are the platform's own, not simulated)
    for surface in ("comment", "reply", "danmaku", "live_chat", "dm", "post", "repost", "search_query"):
        assert surfaces[surface] > 0, surface
    authors = {e["author"]["id"]: e["author"] for e in events}.values()
    assert any(a["verified"] for a in authors)
    assert any(a["minor"] for a in authors)
    assert any("mcn_id" in a for a in authors)
    event = parse_event(next(e for e in events if e["surface"] == "comment"))
    assert event.relationship.target_follows_author is not None
    ages = [parse_event(e).account_age_days() for e in events[:2000]]
    assert any(age is not None and age < 7 for age in ages)


def test_ground_truth_matches_the_stream() -> None:
    truth, events = _small()
    by_id = {e["event_id"]: e for e in events}
    kinds = Counter(r["kind"] for r in truth["incidents"])
    assert kinds == {"pile_on": 1, "brigade": 1, "incitement": 1}
    for record in truth["incidents"]:
        start, end = _t(record["start"]), _t(record["end"])
        assert record["first_abusive_event_ids"]
        members = set(record["member_ids"]) | set(record["initiator_ids"])
        for event_id in record["abusive_event_ids"]:
            event = by_id[event_id]  # exists in the stream
            assert start <= _t(event["occurred_at"]) <= end
            assert record["target_id"] in event["target_ids"]
            assert event["author"]["id"] in members
        assert set(record["first_abusive_event_ids"]) <= set(record["abusive_event_ids"])
    incitement = next(r for r in truth["incidents"] if r["kind"] == "incitement")
    assert incitement["first_abusive_event_ids"][0] == incitement["incitement_event_ids"][0]
    assert incitement["initiator_ids"] and incitement["initiator_ids"][0] not in incitement["member_ids"]


def test_non_incidents_are_labelled() -> None:
    truth, events = _small()
    kinds = {r["kind"]: r for r in truth["non_incidents"]}
    assert set(kinds) == {
        "celebrity_day", "civil_debate", "viral_post", "news_thread", "fan_war", "group_debate",
    }
    celebrity = kinds["celebrity_day"]["target_id"]
    mentions = [_t(e["occurred_at"]) for e in events if celebrity in e.get("target_ids", ())]
    assert len(mentions) > 300  # hundreds an hour even at night and at this small scale
    start = _t(truth["start"])
    quarters = Counter(int((t - start).total_seconds() // 1800) for t in mentions)
    assert all(quarters[q] > 0.1 * len(mentions) for q in range(4))  # steady, no surge
    debate = kinds["civil_debate"]
    in_debate = [e for e in events if debate["topic_id"] in e.get("topic_ids", ())]
    assert len(in_debate) == debate["event_count"]


@cache
def _screened() -> tuple[dict[str, Any], dict[str, Any], Any]:
    truth, events = _small()
    screener = Screener.default()
    verdicts = screener.screen_many([e["text"] for e in events])
    ids = [e["event_id"] for e in events]
    return truth, dict(zip(ids, events, strict=True)), dict(zip(ids, verdicts, strict=True))


def _about(truth: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(r for r in truth["non_incidents"] if r["kind"] == kind)


def test_the_look_alikes_of_real_threads_are_not_clean() -> None:
    # Issue 7: the negatives were too clean. Each look-alike holds abuse the screener flags, but
    # not abuse of the person the events name as their target.
    truth, by_id, verdicts = _screened()
    events = list(by_id.values())

    def abusive(e: dict[str, Any]) -> bool:
        v = verdicts[e["event_id"]]
        return bool(v.violation or v.score >= 0.5)

    viral = _about(truth, "viral_post")
    to_poster = [e for e in events if viral["target_id"] in e.get("target_ids", ())]
    assert len(to_poster) >= 2000  # thousands of strangers' comments
    assert 1 <= viral["rude_comments"] <= 3
    swearing = [e for e in to_poster if any(w in e["text"] for w in ("卧槽", "我靠", "妈的", "他妈"))]
    assert len(swearing) > 100  # swearing at the situation
    chants = Counter(e["text"] for e in to_poster).most_common(1)[0][1]
    assert chants >= 20  # fans pasting the same check-in

    news = _about(truth, "news_thread")
    under = [e for e in events if news["target_id"] in e.get("target_ids", ())]
    assert sum(map(abusive, under)) / len(under) > 0.15  # angry, at the people in the news

    war = _about(truth, "fan_war")
    replies = [e for e in events if e["author"]["id"] in war["member_ids"] and e["surface"] == "reply"]
    assert replies and all(war["target_id"] not in e["target_ids"] for e in replies)  # at each other
    assert sum(map(abusive, replies)) > 20

    group = _about(truth, "group_debate")
    chat = [e for e in events if e.get("thread_id") == group["thread_id"]]
    assert len(chat) == group["event_count"] and all(e["surface"] == "group_message" for e in chat)
    assert all(e["relationship"]["target_follows_author"] for e in chat)  # people who know each other
    assert sum(map(abusive, chat)) > 10


def test_pile_on_target_gets_mostly_stranger_abuse_from_many_accounts() -> None:
    truth, events = _small()
    record = next(r for r in truth["incidents"] if r["kind"] == "pile_on")
    abusive = set(record["abusive_event_ids"])
    attacks = [e for e in events if e["event_id"] in abusive]
    assert len(set(record["member_ids"])) >= 150
    strangers = sum(not e["relationship"]["target_follows_author"] for e in attacks)
    assert strangers / len(attacks) > 0.9
    new = sum(parse_event(e).account_age_days() < 7 for e in attacks)  # type: ignore[operator]
    assert new / len(attacks) > 0.25


@pytest.mark.parametrize("late", [0.0, 0.05])
def test_out_of_order_share_is_as_configured(late: float) -> None:
    config = SimConfig(seed=3, hours=0.5, users=3000, scenarios=(), out_of_order=late)
    seen, behind, latest = 0, 0, ""
    for event in list(generate(config))[1:]:
        seen += 1
        behind += event["occurred_at"] < latest
        latest = max(latest, event["occurred_at"])
    assert seen > 500
    # a late event is out of order unless nothing else happened while it was held back
    assert late * 0.6 <= behind / seen <= late * 1.2 + 1e-9


def test_delivery_holds_back_at_most_the_delay() -> None:
    items = iter([(t * 1000, {"t": t}) for t in range(1000)])
    order = [e["t"] for e in deliver(items, Random(1), late=0.2, max_delay_ms=5000)]
    assert sorted(order) == list(range(1000))
    assert all(pos - t <= 5 for pos, t in enumerate(order))  # at most 5 s (5 events) late


def test_file_round_trip_and_readers_skip_the_header(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    config = SimConfig(seed=2, hours=0.5, users=200, scenarios=("brigade",))
    summary = write_file(config, path)
    truth = read_truth(path)
    assert truth["incidents"][0]["kind"] == "brigade"
    assert sum(1 for _ in read_events(path)) == summary.events
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[1])
    assert "kind" not in first


def test_bad_config_is_refused_before_any_file(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    with pytest.raises(InputError, match="unknown scenario"):
        write_file(SimConfig(scenarios=("stampede",)), path)
    assert not path.exists()
    with pytest.raises(InputError, match="not a cvguard-simulate truth header"):
        (tmp_path / "plain.jsonl").write_text('{"event_id": "e1"}\n', encoding="utf-8")
        read_truth(tmp_path / "plain.jsonl")


# ------------------------------------------------------------------ texts against the screener


def _rendered(kind: str, n: int) -> list[str]:
    corpus = Corpus.default()
    rng = Random(kind)
    if kind == "abuse":
        return [corpus.abusive(rng, name="小鹿0042", topic="考试改革", evade=0.3) for _ in range(n)]
    if kind == "brigade":
        return [corpus.near_duplicate(rng, rng.choice(corpus.brigade), name="小鹿0042", topic="考试改革")
                for _ in range(n)]
    if kind == "incite":
        return [corpus.pick(rng, corpus.incite, name="小鹿0042") for _ in range(n)]
    pool = {"disagree": corpus.disagree, "neutral": corpus.neutral, "praise": corpus.praise}[kind]
    return [corpus.pick(rng, pool, name="小鹿0042", topic="延迟退休") for _ in range(n)]


@pytest.mark.parametrize(
    ("kind", "low", "high"),
    [
        ("abuse", 0.9, 1.0),  # the abuse templates, a third of their terms disguised
        ("brigade", 0.9, 1.0),  # near-duplicate brigade copies
        ("incite", 0.9, 1.0),  # incitement posts
        ("disagree", 0.0, 0.05),  # civil debate: strong words, no abuse
        ("neutral", 0.0, 0.05),  # everyday chatter
        ("praise", 0.0, 0.05),  # fans
    ],
)
def test_texts_are_screened_as_intended(kind: str, low: float, high: float) -> None:
    texts = _rendered(kind, 400)
    flagged = sum(v.violation for v in Screener.default().screen_many(texts)) / len(texts)
    assert low <= flagged <= high, f"{kind}: {flagged:.1%} flagged"


def test_doxxing_texts_carry_phone_numbers_the_screener_sees() -> None:
    corpus = Corpus.default()
    rng = Random(4)
    texts = [corpus.render(rng, t, name="小鹿0042") for t in corpus.abuse["privacy"] for _ in range(5)]
    verdicts = Screener.default().screen_many(texts)
    with_pii = [v for t, v in zip(texts, verdicts, strict=True) if any(c.isdigit() for c in t)]
    assert with_pii and all(any(s.source == "pii" for s in v.spans) for v in with_pii)


def test_cli_writes_the_stream(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cvguard.cli import app

    path = tmp_path / "events.jsonl"
    args = ["simulate", "--seed", "4", "--hours", "0.5", "--users", "200", "--scenario", "pileon,debate",
            "--out", str(path)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    truth = read_truth(path)
    assert [r["kind"] for r in truth["incidents"]] == ["pile_on"]
    assert [r["kind"] for r in truth["non_incidents"]] == ["civil_debate"]
    bad = CliRunner().invoke(app, ["simulate", "--scenario", "stampede", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unknown scenario" in bad.output

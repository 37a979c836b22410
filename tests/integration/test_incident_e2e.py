"""Issue 8's acceptance, end to end through the API: a simulated pile-on replayed into
``POST /v1/events`` (platform key), with a few hand-built replies from the target's friends and
strangers mixed in, then quiet traffic seven hours later so the episode closes.

- stranger abuse toward the target is hidden from the target from the moment the pile-on is
  warned (the decision ``POST /v1/events`` answers for each event, as of its batch), and not
  before;
- friends' replies get through (mutuals are not hidden, and the feed never touches them);
- the feed (``GET /v1/actions``) carries the fold actions for the stranger replies published in the
  hour before the warning (those not folded already when published: an insult is folded at once);
- a search for the target's name with an insult suggestion is suppressed while the alert is open;
- the topic gets its guidance note in the feed (then its lock, when critical);
- all of it is undone in the feed when the alerts resolve.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import ApiClient, api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.policy import default_policy
from cvguard.simulate import SimConfig, generate
from cvguard.store import EventStore

CHUNK = 20  # small batches: a decision is as of its batch's behaviour state
MOCKERY = "小丑"
# the default policy's chat rules written above the pile-on ones
GRAVER = {
    "chat-minor-harmful",
    "chat-minor-inappropriate",
    "chat-minor-near-miss",
    "chat-illegal",
    "chat-illegal-borderline",
    "chat-incitement-initiator",
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


@dataclass
class Run:
    app: FastAPI
    platform: ApiClient
    target: str
    topic: str
    friends: list[str] = field(default_factory=list)  # hand-built mutuals' replies to the target
    strangers: list[str] = field(default_factory=list)  # hand-built strangers' insults to the target
    decisions: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> decision
    chunk_of: dict[str, int] = field(default_factory=dict)  # event id -> chunk posted in
    warned_chunk: int | None = None  # the chunk whose batch raised the pile-on to warning
    alerts: list[dict[str, Any]] = field(default_factory=list)
    open_suggestion: dict[str, Any] = field(default_factory=dict)
    closed_suggestion: dict[str, Any] = field(default_factory=dict)
    feed_open: list[dict[str, Any]] = field(default_factory=list)  # the feed before the quiet traffic
    feed: list[dict[str, Any]] = field(default_factory=list)  # all of it at the end
    events: dict[str, dict[str, Any]] = field(default_factory=dict)


def _reply(event_id: str, at: datetime, author: str, text: str, target: str, topic: str, *, mutual: bool,
           thread: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "surface": "reply",
        "occurred_at": _iso(at),
        "author": {"id": author, "created_at": "2022-01-01T00:00:00Z"},
        "text": text,
        "target_ids": [target],
        "topic_ids": [topic],
        "thread_id": thread,
        "relationship": {"target_follows_author": mutual, "author_follows_target": mutual},
    }


def _suggest(client: ApiClient, target: str) -> dict[str, Any]:
    response = client.post(
        "/v1/search/suggestions",
        json={"query": "张三", "user_ids": [target], "suggestions": [f"张三 {MOCKERY}"]},
    )
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()["suggestions"][0]
    return found


def _read_feed(client: ApiClient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = 0
    while True:
        response = client.get("/v1/actions", params={"after": cursor, "limit": 1000})
        assert response.status_code == 200, response.text
        body = response.json()
        out += body["actions"]
        if not body["actions"]:
            return out
        cursor = body["next_cursor"]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    truth, *events = generate(SimConfig(seed=3, hours=3, users=300, targets=100, scenarios=("pileon",)))
    (labelled,) = truth["incidents"]
    target, topic = labelled["target_id"], labelled["topic_id"]
    start, end = _at(labelled["start"]), _at(events[-1]["occurred_at"])
    extra: list[dict[str, Any]] = []
    thread = f"th_{target}_e2e"
    for i, minutes in enumerate((-45, 15, 30, 45)):  # before the pile-on and during it
        at = start + timedelta(minutes=minutes)
        extra.append(_reply(f"friend-{i}", at, f"friend{i}", "加油，我们一直支持你，别理他们", target, topic,
                            mutual=True, thread=thread))
        extra.append(_reply(f"friend-tease-{i}", at + timedelta(seconds=1), f"friend{i}",
                            f"你这个{MOCKERY}，哈哈，明天见", target, topic, mutual=True, thread=thread))
        extra.append(_reply(f"stranger-{i}", at + timedelta(seconds=2), f"passerby{i}", "你就是个贱人",
                            target, topic, mutual=False, thread=thread))
        # mockery is published (with a nudge to its writer); once the pile-on is warned it is folded
        extra.append(_reply(f"stranger-mock-{i}", at + timedelta(minutes=15, seconds=3), f"onlooker{i}",
                            f"你真是个{MOCKERY}，笑死", target, topic, mutual=False, thread=thread))
    stream = sorted([*events, *extra], key=lambda e: _at(e["occurred_at"]))
    # seven hours of quiet later (past the 6 h quiet period of pile-ons and topics): the episodes close
    quiet = [
        {
            "event_id": f"quiet-{i}",
            "surface": "comment",
            "occurred_at": _iso(end + timedelta(hours=7, minutes=i)),
            "author": {"id": f"q{i % 5}", "created_at": "2022-01-01T00:00:00Z"},
            "text": "今天天气不错，出去走走",
            "thread_id": "th_quiet",
        }
        for i in range(30)
    ]
    settings = Settings(data_dir=tmp_path_factory.mktemp("e2e"), rate_limit_per_s=None)
    app = create_app(settings, Screener.default())
    with api_client(app, role="platform") as platform:
        found = Run(app, platform, target, topic)
        found.friends = [e["event_id"] for e in extra if e["event_id"].startswith("friend")]
        found.strangers = [e["event_id"] for e in extra if e["event_id"].startswith("stranger")]
        found.events = {e["event_id"]: e for e in stream}
        pipeline = app.state.pipeline()
        store = pipeline.store
        assert isinstance(store, EventStore)
        for n, i in enumerate(range(0, len(stream), CHUNK)):
            chunk = stream[i : i + CHUNK]
            response = platform.post("/v1/events", json={"events": chunk})
            assert response.status_code == 200, response.text
            body = response.json()
            alerts = body["alerts"]
            found.alerts += alerts
            if found.warned_chunk is None and any(
                a["kind"] == "pile_on" and a["subject_id"] == target and a["level"] in ("warning", "critical")
                for a in alerts
            ):
                found.warned_chunk = n
            # each event's decision, answered at publish time (as of its batch's behaviour state)
            assert [d["event_id"] for d in body["decisions"]] == body["event_ids"]
            violation = {e.event_id: v.violation for e, v in store.stored_pairs(body["event_ids"])}
            for decision in body["decisions"]:
                event_id = decision["event_id"]
                found.decisions[event_id] = {**decision, "violation": violation[event_id]}
                found.chunk_of[event_id] = n
        found.open_suggestion = _suggest(platform, target)
        found.feed_open = _read_feed(platform)
        response = platform.post("/v1/events", json={"events": quiet})
        assert response.status_code == 200, response.text
        found.alerts += response.json()["alerts"]
        found.closed_suggestion = _suggest(platform, target)
        found.feed = _read_feed(platform)
        yield found


def _pile_on_id(run: Run) -> str:
    found = (a["alert_id"] for a in run.alerts if a["kind"] == "pile_on" and a["subject_id"] == run.target)
    return str(next(found))


def _stranger_abuse(run: Run, event_id: str) -> bool:
    e = run.events[event_id]
    rel = e.get("relationship") or {}
    return (
        run.target in e.get("target_ids", [])
        and not rel.get("target_follows_author")
        and not rel.get("author_follows_target")
        and e["surface"] in ("comment", "reply", "danmaku", "live_chat")
        and run.decisions[event_id]["violation"]
    )


def test_stranger_abuse_is_hidden_from_the_target_from_the_moment_the_pile_on_is_warned(run: Run) -> None:
    assert run.warned_chunk is not None, "the simulated pile-on reached warning"
    before = [i for i in run.decisions if _stranger_abuse(run, i) and run.chunk_of[i] < run.warned_chunk]
    after = [i for i in run.decisions if _stranger_abuse(run, i) and run.chunk_of[i] >= run.warned_chunk]
    assert before and after
    assert all(run.decisions[i]["action"] != "hide_from_target" for i in before)
    for i in after:
        decision = run.decisions[i]
        # the pile-on rule matches every one; it wins unless a rule written above it does (unlawful
        # content blocked or held, a minor's protection, an incitement's initiator held)
        matched = {m["rule_id"] for m in decision["matched"]}
        assert {"chat-pileon-stranger", "chat-pileon-new-account"} & matched
        assert decision["action"] == "hide_from_target" or decision["rule_id"] in GRAVER, decision
    hidden = [i for i in after if run.decisions[i]["action"] == "hide_from_target"]
    assert len(hidden) >= 0.5 * len(after)
    pile_on = _pile_on_id(run)
    assert all(pile_on in run.decisions[i]["alert_ids"] for i in hidden)
    # the hand-built stranger insults posted during the pile-on too
    assert any(run.decisions[s]["action"] == "hide_from_target" for s in run.strangers)


def test_friends_replies_get_through(run: Run) -> None:
    for friend in run.friends:
        decision = run.decisions[friend]
        assert decision["action"] not in ("hide_from_target", "block", "hold_for_review"), decision
    assert {run.decisions[f]["action"] for f in run.friends if "tease" not in f} == {"allow"}
    touched = {a["subject"] for a in run.feed}
    assert not touched & set(run.friends)


def test_the_feed_carries_the_fold_actions_for_the_replies_published_before_the_warning(run: Run) -> None:
    pile_on = _pile_on_id(run)
    assert run.warned_chunk is not None
    acts = [a for a in run.feed_open if a["alert_id"] == pile_on and a["subject_type"] == "event"]
    folds = [a for a in acts if a["kind"] == "fold"]
    assert folds
    for a in acts:
        assert a["policy_version"] == default_policy().version
        e = run.events[a["subject"]]
        assert run.decisions[a["subject"]]["violation"] and run.target in e["target_ids"]
        assert e["relationship"] != {"target_follows_author": True, "author_follows_target": True}
        if a["kind"] == "fold":
            assert a["rule_id"] == "chat-pileon-stranger-earlier" and a["params"] == {}
            assert run.decisions[a["subject"]]["action"] != "fold"  # not folded when published
        elif e["surface"] in ("post", "repost"):  # a stranger's post abusing the target: hidden from them
            assert (a["kind"], a["rule_id"]) == ("hide_from_target", "post-pileon-stranger")
            assert a["params"] == {"target_id": run.target}
        else:  # a new account that follows the target: hidden from the target
            assert (a["kind"], a["rule_id"]) == ("hide_from_target", "chat-pileon-new-account")
            assert a["params"] == {"target_id": run.target}
    # folded now, or when it was published
    subjects = {a["subject"] for a in folds} | {
        i for i, d in run.decisions.items() if d["action"] == "fold"
    }
    earlier = {i for i in run.decisions if _stranger_abuse(run, i) and run.chunk_of[i] < run.warned_chunk}
    # the stranger abuse published in the hour before the warning is folded
    warned_at = min(
        _at(a["updated_at"]) for a in run.alerts
        if a["alert_id"] == pile_on and a["level"] in ("warning", "critical")
    )
    recent = {i for i in earlier if _at(run.events[i]["occurred_at"]) >= warned_at - timedelta(hours=1)}
    assert recent and recent <= subjects
    # in the feed once each (keys are unique), in order
    keys = [a["key"] for a in run.feed]
    assert len(keys) == len(set(keys))
    assert [a["seq"] for a in run.feed] == sorted(a["seq"] for a in run.feed)


def test_a_search_pairing_the_target_with_an_insult_is_suppressed_while_the_alert_is_open(run: Run) -> None:
    assert (run.open_suggestion["action"], run.open_suggestion["rule_id"]) == (
        "suppress",
        "suggestion-target-under-attack",
    )
    assert run.closed_suggestion["action"] == "allow"  # the alert resolved: the person is no longer shielded


def test_the_topic_gets_its_guidance_note(run: Run) -> None:
    topic_alert = next(
        a["alert_id"] for a in run.alerts if a["kind"] == "topic" and a["subject_id"] == run.topic
    )
    on_topic = [a for a in run.feed_open if a["subject_type"] == "topic" and a["subject"] == run.topic]
    kinds = [a["kind"] for a in on_topic]
    assert kinds[0] == "guidance_note" and on_topic[0]["params"]["note"]
    assert on_topic[0]["alert_id"] == topic_alert and on_topic[0]["rule_id"] == "topic-warning"
    assert "lock_topic" in kinds  # critical: locked too


def test_all_of_it_is_undone_when_the_alerts_resolve(run: Run) -> None:
    resolved = {a["alert_id"] for a in run.alerts if a["resolved_at"] is not None}
    assert _pile_on_id(run) in resolved
    # what the alerts did to content (a protection prompt is about the person, and a sanction about
    # the account: neither is undone when an alert resolves)
    done = [a for a in run.feed if a["undoes"] is None and a["subject_type"] not in ("user", "account")]
    undos = {a["undoes"]: a for a in run.feed if a["undoes"] is not None}
    assert done and all(a["alert_id"] in resolved for a in done)
    assert set(undos) == {a["key"] for a in done}  # every action undone, once
    opposite = {
        "hide_from_target": "restore",
        "guidance_note": "remove_guidance_note",
        "lock_topic": "unlock_topic",
        "fold": "unfold",
    }
    for a in done:
        undo = undos[a["key"]]
        assert undo["kind"] == opposite.get(a["kind"], "restore") and undo["subject"] == a["subject"]
        assert undo["seq"] > a["seq"] and undo["alert_id"] == a["alert_id"]
    # nothing was undone while the alerts were open
    assert all(a["undoes"] is None for a in run.feed_open)

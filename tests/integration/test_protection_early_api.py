"""The early signal through the HTTP API: on a ramping pile-on, the prompt comes before the warning.

A person's post draws, one message per request in event time, a stranger's insult, then a second
stranger's two minutes later (abuse from two people the person does not follow within ten minutes:
the early signal), then a ramping crowd of strangers until behaviour's pile-on warning. The feed
holds one ``offer_protection`` for the person, from the early signal (its params name the signal
and the messages), at the second insult's event time, before the warning's emission; the warning
offers nothing more (the cool-down). A marked minor in the same spot gets their shield at the early
signal (``protection_on``, actor ``cvguard``, the signal as reason), and the next stranger's insult
(mockery) comes back held back from them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from apiclient import ApiClient, api_client
from cvguard.api import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # before the wall clock: nothing is refused as future
INSULTS = ["你就是个废物", "滚出网络吧你这个垃圾", "恶心死了你", "你脑子有病吧", "你真是个小丑，笑死"]
# seconds after the first insult: two strangers 2 minutes apart, then a crowd ramping up
RAMP = [0, 120, 240, 330, 400, 450, 490, 520, 545, 565, 580, 592, 602, 611, 619, 626, 632, 637]


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _event(event_id: str, at: datetime, author: str, text: str, target: str, surface: str = "comment",
           ) -> dict[str, Any]:
    own = author == target
    return {
        "event_id": event_id, "surface": surface, "occurred_at": _iso(at),
        "author": {"id": author, "created_at": "2022-01-01T00:00:00Z"}, "text": text,
        "target_ids": [] if own else [target], "thread_id": f"th_{target}_own",
        "relationship": {"target_follows_author": False, "author_follows_target": False},
    }


def _stream(target: str) -> list[dict[str, Any]]:
    """A quiet hour of kind words on the person's post, then the ramping attack."""
    out = [_event(f"{target}-post", T0 - timedelta(hours=2), target, "今天分享一下我的日常", target, "post")]
    out += [
        _event(f"{target}-kind{i}", T0 - timedelta(minutes=110 - 10 * i), f"fan{i}", "好可爱，支持你", target)
        for i in range(10)
    ]
    out += [
        _event(f"{target}-abuse{i}", T0 + timedelta(seconds=s), f"{target}-troll{i}",
               INSULTS[i % len(INSULTS)], target)
        for i, s in enumerate(RAMP)
    ]
    return out


def _post_one_by_one(client: ApiClient, events: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict]]:
    decisions: dict[str, Any] = {}
    alerts: list[dict[str, Any]] = []
    for e in events:
        response = client.post("/v1/events", json={"events": [e]})
        assert response.status_code == 200, response.text
        body = response.json()
        decisions.update((d["event_id"], d) for d in body["decisions"])
        alerts += body["alerts"]
    return decisions, alerts


def _feed(client: ApiClient) -> list[dict[str, Any]]:
    body = client.get("/v1/actions", params={"after": 0, "limit": 1000}).json()
    return list(body["actions"])


def _warned_at(alerts: list[dict[str, Any]], target: str) -> datetime | None:
    times = [
        datetime.fromisoformat(a["updated_at"].replace("Z", "+00:00")) for a in alerts
        if a["kind"] == "pile_on" and a["subject_id"] == target and a["level"] in ("warning", "critical")
    ]
    return min(times, default=None)


@pytest.fixture(scope="module")
def screener() -> Screener:
    return Screener.default()


@pytest.fixture
def app(tmp_path: Path, screener: Screener) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path, rate_limit_per_s=None), screener)


def test_the_prompt_comes_before_the_warning_on_a_ramping_pile_on(app: FastAPI) -> None:
    with api_client(app, role="platform") as platform:
        _, alerts = _post_one_by_one(platform, _stream("alice"))
        feed = _feed(platform)
    warned = _warned_at(alerts, "alice")
    assert warned is not None  # the crowd did reach a pile-on warning
    offers = [a for a in feed if a["kind"] == "offer_protection" and a["subject"] == "alice"]
    assert len(offers) == 1  # de-duplicated: the warning after it offers nothing more
    params = offers[0]["params"]
    assert params["signal"] == "crowd" and params["authors"] == 2 and params["alert_id"] is None
    assert params["event_ids"] == ["alice-abuse0", "alice-abuse1"]
    prompted = datetime.fromisoformat(params["at"])
    assert prompted == T0 + timedelta(seconds=RAMP[1])  # the second stranger's insult, in event time
    assert prompted < warned
    assert "early signal" in offers[0]["reason"]


def test_a_minor_is_shielded_at_the_early_signal(app: FastAPI) -> None:
    with api_client(app, role="platform") as platform, api_client(app, role="moderator") as moderator, \
            api_client(app, role="platform", on_behalf_of="bob") as person:
        assert moderator.put("/v1/users/bob/groups", json={"groups": ["minor"]}).status_code == 200
        stream = _stream("bob")
        at = T0 + timedelta(seconds=RAMP[2] + 10)
        mock = _event("bob-mock", at, "passerby", "你真是个小丑，笑死", "bob")
        # up to the third insult, then a stranger's mockery
        decisions, alerts = _post_one_by_one(platform, [*stream[: -len(RAMP) + 3], mock])
        protection = person.get("/v1/users/bob/protection").json()
        feed = _feed(platform)
    assert _warned_at(alerts, "bob") is None  # no warning yet
    on = [a for a in feed if a["kind"] == "protection_on" and a["subject"] == "bob"]
    assert len(on) == 1 and on[0]["params"]["signal"] == "crowd"
    assert protection["active"] and protection["shield"]["actor"] == "cvguard"
    assert protection["shield"]["alert_id"].startswith("early:user:bob:")
    assert "early signal against a member of minor" in protection["shield"]["reason"]
    # a stranger's mockery after the shield came on: held back from the minor into their folder
    # (without the shield a minor's mockery is folded: chat-minor-inappropriate)
    mocked = decisions["bob-mock"]
    assert (mocked["action"], mocked["rule_id"]) == ("hide_from_target", "chat-protected")

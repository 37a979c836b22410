"""A simulated incident replayed through the embedded pipeline, graded by role: the initiators end
sanctioned above the copycats, first-time copycats are warned, the repeat offender is restricted,
each sanction with its statement of reasons; the three inciters' violations name their one MCN;
and reversing the repeat offender's restriction gives back exactly the standing before it.

The ``accountability`` scenario (``cvguard simulate --scenarios accountability``) names every role
in its truth record; background traffic carries no abuse here, so the copycats are first-time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from apiclient import api_client
from cvguard.api.app import create_app
from cvguard.config import Settings
from cvguard.detection.screen import Screener
from cvguard.enforcement import SANCTION_KINDS, Sanction
from cvguard.events import parse_events
from cvguard.pipeline import Pipeline
from cvguard.pipeline.enforce import Enforcer, Ledger
from cvguard.simulate import SimConfig, generate

CHUNK = 25
RANK = {k: i for i, k in enumerate(SANCTION_KINDS)}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def state(ledger: Ledger, account: str, at: datetime) -> tuple[int, list[str], bool, float]:
    ledger.refresh(force=True)
    st = ledger.of(account)
    active = [] if st is None else sorted(s.sanction_id for s in st.active_sanctions(at))
    prior, restricted = ledger.standing(account, "comment", at)
    return prior, active, restricted, ledger.strikes(account, at)


@dataclass
class Run:
    truth: dict[str, Any]
    enforcer: Enforcer
    pipeline: Pipeline
    joined_at: datetime
    before_joining: tuple[int, list[str], bool, float]
    settings: Settings
    before_first: dict[str, tuple[int, list[str], bool, float]] = field(default_factory=dict)
    sanctions: dict[str, list[Sanction]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    config = SimConfig(seed=5, hours=2, users=300, targets=100, per_user_day=8, abuse_rate=0.0,
                       scenarios=("accountability",))
    truth, *raw = generate(config)
    (incident,) = truth["incidents"]
    offender = incident["repeat_offender_ids"][0]
    joined = next(e for e in raw if e["author"]["id"] == offender and e["event_id"] in
                  incident["abusive_event_ids"])
    joined_at = _at(joined["occurred_at"])
    events, bad = parse_events(raw)
    assert bad == []
    tmp = tmp_path_factory.mktemp("enforce")
    settings = Settings(data_dir=tmp)
    pipeline = Pipeline.open(settings, screener=Screener.default())
    inciters = set(incident["initiator_ids"])
    before_first: dict[str, tuple[int, list[str], bool, float]] = {}
    assert pipeline.enforcer is not None
    before: tuple[int, list[str], bool, float] | None = None
    try:
        for i in range(0, len(events), CHUNK):
            chunk = events[i : i + CHUNK]
            if before is None and any(e.event_id == joined["event_id"] for e in chunk):
                before = state(pipeline.enforcer.ledger, offender, joined_at)
            for e in chunk:
                if e.author.id in inciters and e.author.id not in before_first:
                    before_first[e.author.id] = state(pipeline.enforcer.ledger, e.author.id, e.occurred_at)
            pipeline.ingest(chunk)
        assert before is not None
        out = Run(incident, pipeline.enforcer, pipeline, joined_at, before, settings, before_first)
        people = [*incident["initiator_ids"], *incident["copycat_ids"], offender]
        for account in people:
            out.sanctions[account] = pipeline.enforcer.store.sanctions(account_id=account)
        yield out
    finally:
        pipeline.close()


def _top(sanctions: list[Sanction]) -> int:
    return max((RANK[s.kind] * 1000 + (s.step or 0) for s in sanctions), default=-1)


def test_the_initiators_end_sanctioned_above_every_copycat(run: Run) -> None:
    inciters = run.truth["initiator_ids"]
    assert len(inciters) == 3
    copycat_top = max(_top(run.sanctions[c]) for c in run.truth["copycat_ids"])
    for account in inciters:
        sanctions = run.sanctions[account]
        assert sanctions, account
        assert _top(sanctions) > copycat_top
        roles = {r for v in run.enforcer.store.violations(account_id=account) for r in v.roles}
        assert "initiator" in roles


def test_first_time_copycats_are_warned(run: Run) -> None:
    warned = 0
    for account in run.truth["copycat_ids"]:
        violations = run.enforcer.store.violations(account_id=account)
        if not violations:
            continue  # an insult the policy did not confirm (none expected, but not the point)
        assert [s.kind for s in run.sanctions[account]] == ["warning"], account
        assert violations[-1].roles[0] == "first_time"
        warned += 1
    assert warned >= 0.8 * len(run.truth["copycat_ids"])
    # the ones who joined once the incitement was under way are named copycats
    assert any("copycat" in v.roles for a in run.truth["copycat_ids"]
               for v in run.enforcer.store.violations(account_id=a))


def test_the_frequent_offender_is_restricted(run: Run) -> None:
    offender = run.truth["repeat_offender_ids"][0]
    violations = run.enforcer.store.violations(account_id=offender)
    assert len(violations) == 3
    assert "frequent" in violations[0].roles  # newest first: the one in this incident
    restriction = next(s for s in run.sanctions[offender] if s.violation_ids == (violations[0].violation_id,))
    assert restriction.kind == "comment_restriction" and restriction.expires_at is not None
    assert (restriction.expires_at - restriction.starts_at).days == 30
    prior, restricted = run.enforcer.ledger.standing(offender, "comment", run.joined_at)
    assert restricted and prior == 3


def test_every_sanction_comes_with_a_statement_of_reasons(run: Run) -> None:
    for sanctions in run.sanctions.values():
        for s in sanctions:
            st = s.statement
            assert st["content"] and st["rules"] and st["what"] and st["why"], s.sanction_id
            assert st["appeal"]["until"] and st["appeal"]["how"]
            assert st["expires_at"] == (None if s.expires_at is None else s.expires_at.isoformat())
    assert run.pipeline.actions is not None
    feed = run.pipeline.actions.feed.after(0, 1000)[0]
    issued = {e.params["sanction_id"] for e in feed if e.kind == "sanction"}
    assert issued >= {s.sanction_id for ss in run.sanctions.values() for s in ss}


def test_the_three_inciters_violations_name_their_mcn(run: Run) -> None:
    mcn = run.truth["mcn_id"]
    for account in run.truth["initiator_ids"]:
        assert {v.mcn_id for v in run.enforcer.store.violations(account_id=account)} == {mcn}


def test_the_mcn_behind_the_three_inciters_is_warned_with_its_members(run: Run) -> None:
    """Read through the API, as a moderator and the platform would."""
    mcn = run.truth["mcn_id"]
    app = _app(run)
    with api_client(app, role="moderator") as moderator, api_client(app, role="platform") as platform:
        found = moderator.get(f"/v1/mcns/{mcn}")
        assert found.status_code == 200, found.text
        body = found.json()
        warning = [m for m in body["measures"] if m["kind"] == "warning" and m["state"] == "active"]
        assert len(warning) == 1, body["measures"]
        statement = warning[0]["statement"]
        assert statement and body["figures"]["inciters"] >= 3
        actions = platform.get("/v1/actions", params={"after": 0, "limit": 1000}).json()["actions"]
        told = {a["subject"] for a in actions if a["kind"] == "mcn_measure"}
        assert mcn in told and set(run.truth["initiator_ids"]) <= told  # applied to its members too


def _app(run: Run) -> Any:
    return create_app(run.settings, screener=Screener.default(), pipeline=run.pipeline)


def test_an_appeal_upheld_through_the_api_undoes_exactly_what_the_sanction_took(run: Run) -> None:
    """An inciter appeals (the platform files for them), a moderator who did not decide the
    sanction upholds it: the strikes struck off, the sanction lifted, the content given back, the
    MCN's counts corrected (its warning lifted: two inciters are under its threshold), each as a
    feed action; the account's standing is again what it was before its first violation."""
    mcn = run.truth["mcn_id"]
    inciter = run.truth["initiator_ids"][0]
    (sanction, *_) = sorted(run.sanctions[inciter], key=lambda s: -RANK[s.kind])
    at = sanction.starts_at
    first = min(v.at for v in run.enforcer.store.violations(account_id=inciter))
    assert run.before_first[inciter] == (0, [], False, 0.0)
    assert state(run.enforcer.ledger, inciter, at) != run.before_first[inciter]
    app = _app(run)
    app.state.review.clock = lambda: at + timedelta(hours=1)  # within the appeal window
    with api_client(app, role="platform", on_behalf_of=inciter) as account, \
            api_client(app, role="moderator") as moderator, api_client(app, role="platform") as platform:
        mcn_before = moderator.get(f"/v1/mcns/{mcn}").json()
        cursor = platform.get("/v1/actions", params={"after": 0, "limit": 1000}).json()["next_cursor"]
        filed = account.post(f"/v1/sanctions/{sanction.sanction_id}/appeal", json={"text": "not me"})
        assert filed.status_code == 201, filed.text
        items = moderator.get("/v1/review/queue", params={"kind": "appeal"}).json()["items"]
        item = next(i for i in items if i["ref_id"] == filed.json()["appeal_id"])
        decided = moderator.post(f"/v1/review/items/{item['item_id']}/decision", json={"outcome": "upheld"})
        assert decided.status_code == 200, decided.text
        after = platform.get("/v1/actions", params={"after": cursor, "limit": 1000}).json()["actions"]
        kinds = [(a["kind"], a["subject"]) for a in after]
        assert ("lift_sanction", inciter) in kinds
        assert ("appeal_outcome", inciter) in kinds
        assert any(k == "restore" for k, _ in kinds)  # the content its decisions had held back
        assert ("lift_mcn_measure", mcn) in kinds
        mcn_after = moderator.get(f"/v1/mcns/{mcn}").json()
        assert mcn_after["figures"]["violations"] < mcn_before["figures"]["violations"]
        assert not [m for m in mcn_after["measures"] if m["kind"] == "warning" and m["state"] == "active"]
    assert state(run.enforcer.ledger, inciter, first) == run.before_first[inciter]
    assert state(run.enforcer.ledger, inciter, at) == run.before_first[inciter]


def test_reversing_the_restriction_gives_back_the_standing_before_it(run: Run) -> None:
    offender = run.truth["repeat_offender_ids"][0]
    newest = run.enforcer.store.violations(account_id=offender)[0]
    restriction = next(s for s in run.sanctions[offender] if s.violation_ids == (newest.violation_id,))
    assert state(run.enforcer.ledger, offender, run.joined_at) != run.before_joining
    reversal = run.enforcer.reverse(restriction.sanction_id, actor="person:reviewer", reason="appeal upheld",
                                    now=run.joined_at)
    assert reversal.violations_reversed == (newest.violation_id,)
    assert restriction.sanction_id in reversal.sanctions_lifted
    assert state(run.enforcer.ledger, offender, run.joined_at) == run.before_joining
    assert state(Ledger(run.enforcer.store), offender, run.joined_at) == run.before_joining

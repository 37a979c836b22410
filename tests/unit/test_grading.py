"""Grading, table-driven: roles from history and attack, strike points, expiry and the ladder's steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cvguard.enforcement import Violation
from cvguard.enforcement.grading import (
    grade,
    history_role,
    points_of,
    roles_of,
    strike_points,
)
from cvguard.enforcement.ladder import default_ladder
from cvguard.enforcement.statement import statement_of

T0 = datetime(2026, 12, 1, 12, tzinfo=UTC)
L = default_ladder()


def v(i: int, days_ago: float, roles: tuple[str, ...] = ("first_time",), *, alert: str | None = None,
      status: str = "active") -> Violation:
    return Violation(
        violation_id=f"v{i}", account_id="a", at=T0 - timedelta(days=days_ago), confirmed_by="policy:r",
        roles=roles, event_id=f"e{i}", alert_id=alert, status=status,  # type: ignore[arg-type]
    )


MIN = 1 / 1440  # a minute, in days


@pytest.mark.parametrize(
    ("history", "alert", "role"),
    [
        ([], None, "first_time"),  # nothing before
        ([v(1, 200)], None, "first_time"),  # the only one expired (strike_days 180)
        ([v(1, 5, status="reversed")], None, "first_time"),  # reversed: it never happened
        ([v(1, 5)], None, None),  # one before: a repeat, not yet frequent
        ([v(1, 5), v(2, 3)], None, "frequent"),  # the third within 30 days
        ([v(1, 40), v(2, 3)], None, None),  # one of them outside the frequent window
        ([v(1, 1, alert="p1"), v(2, 1, alert="p1")], None, None),  # two in one attack: one incident
        ([v(1, 1, alert="p1"), v(2, 1, alert="p1")], "p1", "first_time"),  # ...the same attack as this one
        ([v(1, 10 * MIN)], "p1", "first_time"),  # ten minutes before, before the alert: the same burst
        ([v(1, 90 * MIN)], "p1", None),  # an hour and a half before: another incident
        ([v(1, 100 * MIN), v(2, 50 * MIN)], None, "first_time"),  # a chain of bursts: one incident
        ([v(1, -1)], None, "first_time"),  # one after this (out of order): not history
    ],
)
def test_history_role(history: list[Violation], alert: str | None, role: str | None) -> None:
    assert history_role(history, at=T0, alert_id=alert, ladder=L) == role


@pytest.mark.parametrize(
    ("author_role", "history", "roles"),
    [
        (None, [], ("first_time",)),
        ("initiator", [], ("first_time", "initiator")),
        ("copycat", [], ("first_time", "copycat")),
        ("copycat", [v(1, 5), v(2, 4)], ("frequent", "copycat")),
        ("bystander", [v(1, 5)], ()),  # not an attack role; a repeat has no history role
    ],
)
def test_roles_of(author_role: str | None, history: list[Violation], roles: tuple[str, ...]) -> None:
    assert roles_of(history, at=T0, author_role=author_role, ladder=L) == roles


@pytest.mark.parametrize(
    ("roles", "points"),
    [
        (("first_time",), 2),
        (("first_time", "copycat"), 1),  # first-time copycats climb slower
        (("first_time", "initiator"), 6),  # inciters faster
        ((), 2),  # a repeat
        (("copycat",), 2),  # a repeat copycat: no discount
        (("frequent",), 3),
        (("frequent", "copycat"), 3),
        (("frequent", "initiator"), 6),  # the higher of the two
    ],
)
def test_points_of(roles: tuple[str, ...], points: float) -> None:
    assert points_of(roles, L) == points


@pytest.mark.parametrize(
    ("history", "points"),
    [
        ([], 0),
        ([v(1, 1)], 2),
        ([v(1, 1), v(2, 2, ())], 4),
        ([v(1, 179)], 2),  # still counts on day 179
        ([v(1, 181)], 0),  # strike expired
        ([v(1, 1, status="reversed")], 0),  # reversed
        ([v(1, 1, ("first_time", "copycat"), alert="p"), v(2, 1, (), alert="p")], 2),  # one incident: its max
        ([v(1, 1, ("first_time", "copycat")), v(2, 1 - 5 * MIN, ())], 2),  # minutes apart: one incident
        ([v(1, 3), v(2, 2, ())], 4),  # a day apart: two
    ],
)
def test_strike_points(history: list[Violation], points: float) -> None:
    assert strike_points(history, T0, L) == points


def new(roles: tuple[str, ...], *, alert: str | None = None, i: int = 99) -> Violation:
    return v(i, 0, roles, alert=alert)


@pytest.mark.parametrize(
    ("history", "violation", "active_step", "kind", "days"),
    [
        # a first-time offender is warned
        ([], new(("first_time",)), -1, "warning", 30),
        # a first-time copycat is warned too
        ([], new(("first_time", "copycat")), -1, "warning", 30),
        # an initiator starts higher: 30 days of comment restriction
        ([], new(("first_time", "initiator")), -1, "comment_restriction", 30),
        # a second offence: 4 points, comment restriction for a day
        ([v(1, 10)], new(()), 0, "comment_restriction", 1),
        # a frequent offender: 2 + 2 + 3 = 7, comment restriction for 30 days
        ([v(1, 20), v(2, 10, ())], new(("frequent",)), 1, "comment_restriction", 30),
        # the same attack again: no new points, no new sanction
        ([v(1, 0, ("first_time", "copycat"), alert="p")], new((), alert="p"), 0, None, None),
        # a copycat's reply before the alert, then one under it: one incident, still a warning
        ([v(1, 20 * MIN, ("first_time",))], new(("first_time", "copycat"), alert="p"), 0, None, None),
        # old strikes expired: a warning again
        ([v(1, 200), v(2, 190)], new(("first_time",)), -1, "warning", 30),
        # on the same step as an expired sanction: issued again
        ([v(1, 20, ("first_time", "initiator"))], new(("first_time", "copycat"), i=3), -1,
         "comment_restriction", 30),
        # ...but not while an active sanction holds that step
        ([v(1, 20, ("first_time", "initiator"))], new(("first_time", "copycat"), i=3), 3, None, None),
        # near the top: a ban, with no end
        ([v(i, i, ("frequent", "initiator")) for i in range(1, 4)], new(("frequent",)), 5,
         "permanent_ban", None),
    ],
)
def test_grade(history: list[Violation], violation: Violation, active_step: int, kind: str | None,
               days: int | None) -> None:
    g = grade(history, violation, L, T0, active_step=active_step)
    assert g.kind == kind
    if kind is None:
        assert g.expires_at is None
        return
    assert g.starts_at == T0
    assert g.expires_at == (None if days is None else T0 + timedelta(days=days))
    assert violation.violation_id in g.counted
    assert "strike points" in g.why


def test_the_initiator_ends_above_the_copycat() -> None:
    inc = grade([], new(("first_time", "initiator")), L, T0)
    cop = grade([], new(("first_time", "copycat")), L, T0)
    assert inc.step > cop.step


def test_a_statement_says_what_why_on_what_and_how_to_appeal() -> None:
    viol = Violation("v1", "a", T0, "policy:chat-harmful", ("first_time",), event_id="e1",
                     categories=("insult",), policy_version="p1")
    g = grade([], viol, L, T0)
    s = statement_of(sanction_id="s1", account_id="a", kind="warning", starts_at=T0, expires_at=g.expires_at,
                     violations=[viol], ladder=L, rule_reasons={"chat-harmful": "Insults are folded."},
                     grade=g, decided_by="ladder:x")
    assert s["content"] == ["e1"] and s["categories"] == ["insult"]
    assert s["rules"] == [{"confirmed_by": "policy:chat-harmful", "reason": "Insults are folded."}]
    assert s["step"]["number"] == 1 and s["step"]["kind"] == "warning"
    assert s["appeal"]["until"] == (T0 + timedelta(days=14)).isoformat()
    assert s["expires_at"] == (T0 + timedelta(days=30)).isoformat()
    assert "warning" in s["what"]


def test_grade_agrees_with_strike_points_on_random_histories() -> None:
    # the grade's totals are strike_points before and with the new violation, whatever the history
    # (the grade takes shortcuts for an account with nothing that counts)
    import random

    rng = random.Random(7)
    roles = [("first_time",), ("first_time", "copycat"), ("frequent",), (), ("initiator",),
             ("frequent", "initiator")]
    for trial in range(400):
        history = [
            v(i, rng.choice([0.001, 0.01, 0.5, 3, 20, 100, 179, 181, -1]) * rng.random(), rng.choice(roles),
              alert=rng.choice([None, "p1", "p2"]), status=rng.choice(["active", "active", "reversed"]))
            for i in range(rng.randrange(0, 6))
        ]
        new = v(100 + trial, 0, rng.choice(roles), alert=rng.choice([None, "p1"]))
        g = grade(history, new, L, new.at, active_step=rng.choice([-1, 0, 2]))
        assert g.points_before == strike_points(history, new.at, L)
        assert g.points == strike_points([*history, new], new.at, L)
        assert g.step == L.step_at(g.points) and g.step_before == L.step_at(g.points_before)

"""MCN joint handling, the pure part: thresholds files (golden messages), figures, assessing and
rechecking measures, the statement of reasons and the report.

Each ``golden/mcn_NAME.yaml`` has its expected issues in ``golden/mcn_NAME.txt`` (``ok`` for a good
file); ``UPDATE_GOLDEN=1`` rewrites them (read the diff before committing).
"""

from __future__ import annotations

import ast
import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cvguard.enforcement.mcn import (
    AUTOMATIC,
    McnMeasure,
    McnViolation,
    Member,
    aggregate,
    assess,
    by_hand,
    recheck,
    report,
)
from cvguard.enforcement.mcn_thresholds import (
    McnThresholdError,
    McnThresholds,
    default_thresholds,
    format_issue,
    load_thresholds,
    parse_thresholds,
    validate_thresholds_file,
)

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("mcn_*.yaml"))
T0 = datetime(2026, 11, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def at(days: float) -> datetime:
    return T0 + days * DAY


# -- thresholds files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_validation_matches_the_golden_file(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    issues = validate_thresholds_file(f"{name}.yaml")
    got = "\n".join(format_issue(i) for i in issues) + "\n" if issues else "ok\n"
    expected = GOLDEN / f"{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        expected.write_text(got, encoding="utf-8")
    assert got == expected.read_text(encoding="utf-8")


def test_the_golden_files_name_each_kind_of_bad_key() -> None:
    text = "".join((GOLDEN / f"{n}.txt").read_text(encoding="utf-8") for n in CASES)
    for needle in (
        "unknown key 'inciter_at_least' (hint: did you mean 'inciters_at_least'?)",
        "unknown key 'duraton_days'",
        "unknown measure 'revenue-pause'",
        "missing 'measure'",
        "window_days: input should be greater than or equal to 1",
        "is used twice",
        "has no crossing",
        "no threshold takes",
        "is written twice",
        "YAML syntax error",
    ):
        assert needle in text, needle


def test_load_refuses_a_bad_file_with_every_issue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    with pytest.raises(McnThresholdError) as caught:
        load_thresholds("mcn_bad_keys.yaml")
    assert len(caught.value.issues) >= 4
    assert str(caught.value).startswith("mcn_bad_keys.yaml:")
    assert load_thresholds("mcn_good.yaml").get("pause") is not None


def test_the_shipped_thresholds_validate_and_climb_the_ladder() -> None:
    shipped = default_thresholds()
    kinds = [t.measure for t in shipped.thresholds]
    assert kinds[0] == "warning" and "expulsion" in kinds
    # every step above a warning waits for the one below it
    assert {t.after for t in shipped.thresholds if t.measure != "warning"} <= set(kinds)
    assert shipped.get("inciters-warning") is not None


def test_the_core_imports_no_io() -> None:
    core = Path(__file__).resolve().parents[2] / "src" / "cvguard" / "enforcement"
    for name in ("mcn.py", "mcn_thresholds.py"):
        tree = ast.parse((core / name).read_text(encoding="utf-8"))
        mods = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        mods |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert not {m for m in mods if m.split(".")[0] in ("sqlalchemy", "fastapi", "redis")}, name
        assert not {m for m in mods if m.startswith(("cvguard.store", "cvguard.api", "cvguard.pipeline"))}


# -- figures ------------------------------------------------------------------------------------

RULES = parse_thresholds(
    """
version: "t1"
thresholds:
  - id: inciters-warning
    measure: warning
    window_days: 30
    when: {inciters_at_least: 3}
    duration_days: 30
    cooldown_days: 7
  - id: rate-pause
    measure: revenue_pause
    window_days: 30
    when: {violations_per_member_at_least: 1.0, members_at_least: 4}
    after: warning
    duration_days: 30
""",
    "t1.yaml",
)[0]
assert RULES is not None


def members(*ids: str) -> list[Member]:
    return [Member(i, T0, "platform") for i in ids]


def v(vid: str, account: str, days: float, *roles: str, status: str = "active") -> McnViolation:
    return McnViolation(vid, account, roles or ("first_time",), at(days), status)  # type: ignore[arg-type]


def inciters(n: int, day: float = 10) -> list[McnViolation]:
    return [v(f"v{i}", f"u{i}", day, "first_time", "initiator") for i in range(1, n + 1)]


@pytest.mark.parametrize(
    ("case", "people", "violations", "expected"),
    [
        # members, violations, members with violations, inciters
        ("plain", members("u1", "u2", "u3", "u4"), [*inciters(2), v("v9", "u3", 10)], (4, 3, 3, 2)),
        # reversed and out-of-window violations do not count
        ("reversed and old", members("u1", "u2"),
         [v("v1", "u1", 10, status="reversed"), v("v2", "u2", -25)], (2, 0, 0, 0)),
        # a member who left before the window is not counted; one who left in it is
        ("left", [Member("u1", T0, "event", left_at=at(-20)), Member("u2", T0, "event", left_at=at(5))],
         [], (1, 0, 0, 0)),
        # an account whose violation was put on the MCN counts as a member
        ("violator not listed", members("u1"), [v("v1", "u7", 10)], (2, 1, 1, 0)),
        # two violations of one inciter: one inciter, one member with violations
        ("repeat", members("u1"), [v("v1", "u1", 9, "initiator"), v("v2", "u1", 10)], (1, 2, 1, 1)),
    ],
)
def test_aggregate(case: str, people: list[Member], violations: list[McnViolation],
                   expected: tuple[int, int, int, int]) -> None:
    f = aggregate("m1", people, violations, since=at(-10), until=at(20))
    assert (f.members, f.violations, f.members_with_violations, len(f.inciters)) == expected, case


# -- assessing ----------------------------------------------------------------------------------


def warning(n: int = 1, *, starts: float = 10, status: str = "active", lifted_by: str | None = None,
            lifted: float | None = None, by_person: bool = False) -> McnMeasure:
    return McnMeasure(
        measure_id=f"m1:{'person' if by_person else 'inciters-warning'}:{n}", mcn_id="m1", kind="warning",
        starts_at=at(starts), expires_at=at(starts + 30), reason="r", statement={},
        decided_by="person:alice" if by_person else "thresholds:t1:inciters-warning",
        threshold_id=None if by_person else "inciters-warning",
        violation_ids=("v1", "v2", "v3"), accounts=("u1", "u2", "u3", "u4"),
        status=status, lifted_at=None if lifted is None else at(lifted), lifted_by=lifted_by,  # type: ignore[arg-type]
    )


FOUR = members("u1", "u2", "u3", "u4")


@pytest.mark.parametrize(
    ("case", "violations", "measures", "now", "taken"),
    [
        # three inciters in the window: warned
        ("three inciters", inciters(3), [], 11, ["m1:inciters-warning:1"]),
        # two are not enough
        ("two inciters", inciters(2), [], 11, []),
        # already warned and in force: nothing twice
        ("in force", inciters(3), [warning()], 12, []),
        # the warning expired 2 days ago, the cooldown is 7: not yet
        ("cooling down", inciters(3, day=40), [warning()], 42, []),
        # expired 10 days ago: warned again, the second one
        ("after the cooldown", inciters(3, day=49), [warning()], 50, ["m1:inciters-warning:2"]),
        # a person lifted it and nothing happened since: it stays lifted
        ("lifted by a person", inciters(3), [warning(status="lifted", lifted_by="moderator:k", lifted=12)],
         20, []),
        # a person lifted it, then an inciter struck again (after the cooldown): warned again
        ("new after the person's lift", [*inciters(2), v("v7", "u4", 21, "initiator")],
         [warning(status="lifted", lifted_by="moderator:k", lifted=12)], 22, ["m1:inciters-warning:2"]),
        # lifted because it no longer held: no cooldown, warned again at once
        ("lifted as corrected", inciters(3), [warning(status="lifted", lifted_by=AUTOMATIC, lifted=11)], 12,
         ["m1:inciters-warning:2"]),
        # a person's warning in force: automation adds no second warning
        ("a person's warning", inciters(3), [warning(by_person=True)], 12, []),
        # rate 1.0 over four members after a warning: revenue pause too
        ("rate after a warning", [*inciters(3), v("v8", "u4", 11)], [warning()], 12, ["m1:rate-pause:1"]),
        # the same rate without a warning before: only the warning now
        ("rate without a warning", [*inciters(3), v("v8", "u4", 11)], [], 12, ["m1:inciters-warning:1"]),
        # the warning it came after was lifted: no pause
        ("rate after a lifted warning", [*inciters(2), v("v8", "u4", 11), v("v9", "u3", 11)],
         [warning(status="lifted", lifted_by="moderator:k", lifted=11)], 12, []),
    ],
)
def test_assess(case: str, violations: list[McnViolation], measures: list[McnMeasure], now: float,
                taken: list[str]) -> None:
    plan = assess(RULES, "m1", FOUR, violations, measures, now=at(now))
    assert [x.measure_id for x in plan.take] == taken, case


def test_rate_needs_enough_members() -> None:
    # two members, two violations each: a rate of 2, but the guard wants four members
    few = members("u1", "u2")
    plan = assess(RULES, "m1", few, [v("a", "u1", 10), v("b", "u1", 10), v("c", "u2", 10)], [warning()],
                  now=at(11))
    assert plan.take == ()
    assert plan.figures["rate-pause"].violations_per_member == 1.5


def test_a_measure_carries_its_statement_of_reasons() -> None:
    plan = assess(RULES, "m1", FOUR, inciters(3), [], now=at(11))
    (x,) = plan.take
    s = x.statement
    assert x.kind == "warning" and x.expires_at == at(41)
    assert s["violations"] == ["v1", "v2", "v3"] and s["inciters"] == ["u1", "u2", "u3"]
    assert [m["account_id"] for m in s["members"]] == ["u1", "u2", "u3"]
    assert s["rule"]["threshold"] == "inciters-warning" and "inciters >= 3 in 30 days" in s["rule"]["says"]
    assert s["figures"]["inciters"] == 3 and s["expires_at"] == at(41).isoformat()
    assert x.accounts == ("u1", "u2", "u3", "u4")  # applied to every member
    assert x.decided_by == "thresholds:t1:inciters-warning"


# -- rechecking after a reversal ----------------------------------------------------------------


def test_a_reversal_below_the_threshold_lifts_the_measure_and_names_why() -> None:
    (x,) = assess(RULES, "m1", FOUR, inciters(3), [], now=at(11)).take
    after = [replace(v1, status="reversed") if v1.violation_id == "v2" else v1 for v1 in inciters(3)]
    ((lifted, why),) = recheck(RULES, after, [x], now=at(12))
    assert lifted.measure_id == x.measure_id
    assert why == "MCN counts corrected: no longer crosses 'inciters-warning' (inciters 2 < 3): " \
                  "violations reversed: v2"


@pytest.mark.parametrize(
    ("case", "violations", "lifted"),
    [
        # nothing reversed: it holds
        ("nothing reversed", inciters(3), []),
        # a violation it did not rest on was reversed: it holds
        ("another one reversed", [*inciters(3), v("v9", "u4", 10, status="reversed")], []),
        # one of four inciters reversed: still three, it holds
        ("still three", [*inciters(3), v("v4", "u4", 10, "initiator", status="reversed")], []),
    ],
)
def test_recheck_keeps_what_still_holds(case: str, violations: list[McnViolation], lifted: list[str]) -> None:
    base = [*inciters(3), v("v4", "u4", 10, "initiator")] if case == "still three" else inciters(3)
    (x,) = assess(RULES, "m1", FOUR, base, [], now=at(11)).take
    assert [m.measure_id for m, _ in recheck(RULES, violations, [x], now=at(12))] == lifted, case


def test_recheck_cascades_to_the_measure_that_came_after_and_spares_a_persons() -> None:
    vs = [*inciters(3), v("v8", "u4", 11), v("v10", "u4", 11)]
    (warn,) = assess(RULES, "m1", FOUR, vs, [], now=at(11)).take
    (pause,) = assess(RULES, "m1", FOUR, vs, [warn], now=at(12)).take
    person = by_hand("m1", "warning", n=1, now=at(12), duration=None, reason="seen it", actor="alice",
                     figures=aggregate("m1", FOUR, vs, since=at(-18), until=at(12)), accounts=["u1"])
    after = [replace(x, status="reversed") if x.violation_id == "v1" else x for x in vs]
    dropped = recheck(RULES, after, [warn, pause, person], now=at(13))
    assert [m.measure_id for m, _ in dropped] == [warn.measure_id, pause.measure_id]
    # the pause's own rate still holds (4 for 4 members), it goes because the warning it came after went
    assert "the warning it came after was lifted" in dropped[1][1]
    # expired measures are not lifted
    assert recheck(RULES, after, [warn], now=at(50)) == []


def test_report_names_members_violations_inciters_and_measures() -> None:
    vs = [*inciters(3), v("v9", "u4", 11, status="reversed")]
    (x,) = assess(RULES, "m1", FOUR, vs, [], now=at(11)).take
    out = report("m1", FOUR, vs, [x], since=at(0), until=at(20))
    assert out["figures"]["violations"] == 3 and out["figures"]["members"] == 4
    assert out["inciters"] == ["u1", "u2", "u3"]
    assert out["violations_reversed"] == ["v9"]
    assert {r["account_id"]: r["violations"] for r in out["members"]} == {"u1": 1, "u2": 1, "u3": 1, "u4": 0}
    assert [m["measure_id"] for m in out["measures"]] == ["m1:inciters-warning:1"]
    assert out["measures"][0]["statement"]["violations"] == ["v1", "v2", "v3"]
    # a period before the measure leaves it out
    assert report("m1", FOUR, vs, [x], since=at(-5), until=at(5))["measures"] == []


def test_thresholds_type() -> None:
    assert isinstance(RULES, McnThresholds) and RULES.longest_window == timedelta(days=30)

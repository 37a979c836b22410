"""The pure report rules: priority, SLA, crowd promotion, false-report rings, response figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cvguard.reports import (
    FixedGroups,
    NoGroups,
    Priority,
    ReporterFacts,
    ReportRules,
    RingRule,
    Timing,
    any_minor,
    assess_crowd,
    base_priority,
    outcome_action,
    queue_priority,
    response_figures,
)
from cvguard.taxonomy import load_taxonomy

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TAXONOMY = load_taxonomy()


@pytest.mark.parametrize(
    ("category", "minor", "expected"),
    [
        ("threat", False, Priority.URGENT),  # threats first
        ("privacy", False, Priority.URGENT),  # doxxing first
        ("insult", True, Priority.URGENT),  # a minor involved lifts any category
        ("defamation", False, Priority.HIGH),  # illegal tier
        ("hate_incitement", False, Priority.HIGH),
        ("pile_on_incitement", False, Priority.HIGH),
        ("insult", False, Priority.NORMAL),  # harmful tier
        ("ridicule", False, Priority.NORMAL),  # inappropriate tier
        ("sexual_harassment", False, Priority.NORMAL),
    ],
)
def test_base_priority(category: str, minor: bool, expected: Priority) -> None:
    priority, reasons = base_priority(category, TAXONOMY, minor=minor)
    assert priority is expected
    assert reasons  # always explained


def test_every_taxonomy_category_has_a_priority() -> None:
    for code in TAXONOMY.codes:
        assert base_priority(code, TAXONOMY, minor=False)[0] in Priority


@pytest.mark.parametrize(
    ("base", "independent", "expected"),
    [
        (Priority.NORMAL, 4, Priority.NORMAL),  # below promote_at
        (Priority.NORMAL, 5, Priority.HIGH),  # a crowd raises one level
        (Priority.HIGH, 50, Priority.URGENT),
        (Priority.URGENT, 50, Priority.URGENT),  # never above urgent
    ],
)
def test_crowd_raises_one_level(base: Priority, independent: int, expected: Priority) -> None:
    priority, why = queue_priority(base, independent, promote_at=5)
    assert priority is expected
    assert (why is not None) == (priority != base)


def test_sla_due_per_priority_and_configurable() -> None:
    rules = ReportRules()
    assert rules.due(T0, Priority.URGENT) == T0 + timedelta(hours=1)
    assert rules.due(T0, Priority.HIGH) == T0 + timedelta(hours=4)
    assert rules.due(T0, Priority.NORMAL) == T0 + timedelta(hours=24)
    fast = ReportRules(sla_urgent=timedelta(minutes=15))
    assert fast.due(T0, Priority.URGENT) == T0 + timedelta(minutes=15)
    with pytest.raises(ValueError, match="positive"):
        ReportRules(sla_high=timedelta(0))


def test_minor_from_the_groups_reader() -> None:
    reader = FixedGroups({"kid": {"minor"}, "adult": {"journalist"}})
    assert any_minor(reader, ["adult", "kid"]) == "kid"
    assert any_minor(reader, ["adult"]) is None
    assert any_minor(NoGroups(), ["kid"]) is None


# -- rings -------------------------------------------------------------------------------------------


def _ring(
    n: int, *, created_apart: timedelta, reported_apart: timedelta, prefix: str = "r"
) -> list[ReporterFacts]:
    return [
        ReporterFacts(
            f"{prefix}{i}",
            reported_at=T0 + i * reported_apart,
            created_at=T0 - timedelta(days=3) + i * created_apart,
        )
        for i in range(n)
    ]


def _independent(n: int, prefix: str = "p") -> list[ReporterFacts]:
    # accounts of every age (a year apart or so), reporting at all hours
    return [
        ReporterFacts(
            f"{prefix}{i}",
            reported_at=T0 + timedelta(hours=3 * i),
            created_at=T0 - timedelta(days=400 - 37 * i),
        )
        for i in range(n)
    ]


def _follow_ring(ids: list[str]) -> list[ReporterFacts]:
    # everyone follows everyone else, accounts years apart, reports hours apart
    return [
        ReporterFacts(
            who,
            reported_at=T0 + timedelta(hours=5 * i),
            created_at=T0 - timedelta(days=900 - 200 * i),
            follows=frozenset(set(ids) - {who}),
        )
        for i, who in enumerate(ids)
    ]


CROWDS = [
    # (name, reporters, independent reporters, ring sizes)
    (
        "20 accounts made in one afternoon reporting within minutes: one voice",
        _ring(20, created_apart=timedelta(minutes=10), reported_apart=timedelta(minutes=1)),
        1,
        [20],
    ),
    (
        "a ring plus five real people: six voices",
        _ring(10, created_apart=timedelta(minutes=5), reported_apart=timedelta(seconds=30)) + _independent(5),
        6,
        [10],
    ),
    ("a ring that follows each other, reporting hours apart", _follow_ring(["f1", "f2", "f3", "f4"]), 1, [4]),
    (
        "a chain: each created within the window of the next and reporting in sync joins one ring",
        _ring(6, created_apart=timedelta(hours=60), reported_apart=timedelta(minutes=20)),
        1,
        [6],
    ),
    (
        "a viral post: 30 old, unrelated accounts report within minutes (in sync, not created together)",
        [
            ReporterFacts(
                f"v{i}",
                reported_at=T0 + timedelta(seconds=20 * i),
                created_at=T0 - timedelta(days=30 * (i + 3)),
            )
            for i in range(30)
        ],
        30,
        [],
    ),
    (
        "a launch-day cohort created together but reporting days apart",
        [
            ReporterFacts(
                f"c{i}", reported_at=T0 + timedelta(days=i), created_at=T0 - timedelta(days=700, minutes=i)
            )
            for i in range(8)
        ],
        8,
        [],
    ),
    (
        "fans following the same star (one-way follows) are independent",
        [
            ReporterFacts(
                f"fan{i}",
                reported_at=T0 + timedelta(hours=2 * i),
                created_at=T0 - timedelta(days=90 * (i + 1)),
                follows=frozenset({"star"}),
            )
            for i in range(6)
        ]
        + [ReporterFacts("star", reported_at=T0, created_at=T0 - timedelta(days=3000))],
        7,
        [],
    ),
    (
        "unknown creation times never link by timing",
        [ReporterFacts(f"u{i}", reported_at=T0 + timedelta(seconds=i)) for i in range(10)],
        10,
        [],
    ),
    (
        "a pair is counted once but is not a ring",
        _ring(2, created_apart=timedelta(minutes=1), reported_apart=timedelta(minutes=1)) + _independent(3),
        4,
        [],
    ),
]


@pytest.mark.parametrize(("name", "facts", "independent", "rings"), CROWDS, ids=[c[0] for c in CROWDS])
def test_crowds(name: str, facts: list[ReporterFacts], independent: int, rings: list[int]) -> None:
    crowd = assess_crowd(facts)
    assert crowd.reporters == len({f.reporter_id for f in facts})
    assert crowd.independent_reporters == independent
    assert [len(r.members) for r in crowd.rings] == rings
    for ring in crowd.rings:
        assert (
            ring.reasons and ring.links >= len(ring.members) - 1
        )  # every member was joined by a stated link


def test_ring_reasons_say_why() -> None:
    crowd = assess_crowd(_ring(3, created_apart=timedelta(hours=1), reported_apart=timedelta(minutes=2)))
    (ring,) = crowd.rings
    assert ring.members == ("r0", "r1", "r2")
    assert "accounts created 1.0 h apart, reported 2 min apart" in ring.reasons[0]
    assert crowd.ring_of("r1") is ring and crowd.ring_of("nobody") is None
    follow = assess_crowd(_follow_ring(["a", "b", "c"]))
    assert "a and b follow each other" in follow.rings[0].reasons


def test_ring_rule_is_configurable() -> None:
    facts = _ring(5, created_apart=timedelta(hours=1), reported_apart=timedelta(minutes=2))
    assert assess_crowd(facts, RingRule(reported_within=timedelta(minutes=1))).independent_reporters == 5
    assert not assess_crowd(facts, RingRule(min_ring=6)).rings  # one cluster, too small to call a ring
    assert assess_crowd(facts, RingRule(min_ring=6)).independent_reporters == 1


def test_a_reporter_given_twice_counts_once() -> None:
    facts = [ReporterFacts("a", reported_at=T0), ReporterFacts("a", reported_at=T0 + timedelta(hours=1))]
    assert assess_crowd(facts).reporters == 1


# -- figures and the outcome action --------------------------------------------------------------------


def test_response_figures() -> None:
    timings = [
        Timing(Priority.URGENT, T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=30)),
        Timing(Priority.URGENT, T0, T0 + timedelta(minutes=20), None),
        Timing(Priority.NORMAL, T0, None, None),
    ]
    figures = response_figures(timings, now=T0 + timedelta(hours=2))
    assert figures["urgent"]["filed"] == 2
    assert figures["urgent"]["to_first_action"] == {
        "count": 2,
        "median_s": 600.0,
        "p90_s": 1200.0,
        "max_s": 1200.0,
    }
    assert figures["urgent"]["to_decision"]["median_s"] == 1800.0
    assert figures["urgent"]["undecided"] == 1
    assert figures["normal"]["awaiting_first_action"] == 1
    assert figures["normal"]["oldest_awaiting_s"] == 7200.0
    assert figures["high"]["to_decision"]["median_s"] is None


def test_outcome_action_key_is_per_decision() -> None:
    first = outcome_action(
        report_id="rep_1", reporter_id="u1", outcome="upheld", decision_no=1, category="threat"
    )
    again = outcome_action(
        report_id="rep_1", reporter_id="u1", outcome="upheld", decision_no=1, category="threat"
    )
    second = outcome_action(
        report_id="rep_1", reporter_id="u1", outcome="rejected", decision_no=2, category="threat"
    )
    assert first.key == again.key != second.key
    assert first.kind == "report_outcome" and first.subject == "rep_1"
    assert first.params["reporter_id"] == "u1" and first.params["outcome"] == "upheld"


@pytest.mark.parametrize("seed", range(20))
def test_clusters_match_a_plain_pairwise_reading_of_the_rule(seed: int) -> None:
    import random

    rnd = random.Random(seed)
    rule = RingRule()
    people = [
        ReporterFacts(
            f"x{i}",
            reported_at=T0 + timedelta(minutes=rnd.uniform(0, 240)),
            created_at=None if rnd.random() < 0.1 else T0 - timedelta(hours=rnd.uniform(0, 24 * 30)),
            follows=frozenset(f"x{rnd.randrange(40)}" for _ in range(rnd.randrange(3))),
        )
        for i in range(40)
    ]
    parent = {p.reporter_id: p.reporter_id for p in people}

    def root(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    links = 0
    for i, a in enumerate(people):
        for b in people[i + 1 :]:
            timing = (
                a.created_at is not None
                and b.created_at is not None
                and abs(a.created_at - b.created_at) <= rule.created_within
                and abs(a.reported_at - b.reported_at) <= rule.reported_within
            )
            mutual = b.reporter_id in a.follows and a.reporter_id in b.follows
            if timing or mutual:
                links += 1
                parent[root(a.reporter_id)] = root(b.reporter_id)
    crowd = assess_crowd(people, rule)
    assert crowd.independent_reporters == len({root(p.reporter_id) for p in people})
    clusters = {}
    for p in people:
        clusters.setdefault(root(p.reporter_id), set()).add(p.reporter_id)
    assert sorted(crowd.clusters) == sorted(tuple(sorted(c)) for c in clusters.values() if len(c) > 1)
    for ring in crowd.rings:
        inside = set(ring.members)
        assert ring.links == sum(
            1
            for i, a in enumerate(people)
            for b in people[i + 1 :]
            if a.reporter_id in inside
            and b.reporter_id in inside
            and (
                (
                    a.created_at is not None
                    and b.created_at is not None
                    and abs(a.created_at - b.created_at) <= rule.created_within
                    and abs(a.reported_at - b.reported_at) <= rule.reported_within
                )
                or (b.reporter_id in a.follows and a.reporter_id in b.follows)
            )
        )

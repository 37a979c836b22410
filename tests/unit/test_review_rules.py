"""cvguard.review: queue priority, due times per kind, the appeal deadline, the response figures,
and the rules file's validation (table-driven)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cvguard.errors import DataError
from cvguard.reports.priority import Priority
from cvguard.review import (
    Timing,
    alert_item,
    appeal_deadline,
    appeal_item,
    content_priority,
    escalation_item,
    held_item,
    load_rules,
    review_figures,
)

RULES = load_rules()
T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Held:
    event_id: str
    surface: str = "comment"
    rule_id: str | None = "chat-illegal-borderline"
    severity: str | None = "illegal"
    categories: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertStub:
    alert_id: str
    kind: str
    level: str
    subject_type: str = "user"
    subject_id: str = "t1"


@pytest.mark.parametrize(
    ("categories", "severity", "minor", "expected"),
    [
        ({"insult": 0.9}, "harmful", True, Priority.URGENT),  # a minor comes first
        ({"threat": 0.7}, "illegal", False, Priority.URGENT),  # threats first
        ({"privacy": 0.8}, "illegal", False, Priority.URGENT),  # doxxing first
        (
            {"threat": 0.3, "defamation": 0.8},
            "illegal",
            False,
            Priority.HIGH,
        ),  # a weak threat score does not count
        ({"insult": 0.9}, "harmful", False, Priority.NORMAL),  # the rest
    ],
)
def test_held_content_priority(
    categories: dict[str, float], severity: str, minor: bool, expected: Priority
) -> None:
    item = held_item(Held("e1", severity=severity, categories=categories), minor=minor, now=T0, rules=RULES)
    assert item.priority == expected
    assert item.kind == "held" and item.ref_id == "e1" and item.context["surface"] == "comment"
    # an urgent item is due within the urgent cap, others within the held SLA
    hours = RULES.urgent_sla_hours if expected == Priority.URGENT else RULES.sla_hours["held"]
    assert item.due_at == T0 + timedelta(hours=hours)


def test_content_priority_names_its_reasons() -> None:
    priority, reasons = content_priority(["privacy", "threat"], "illegal", minor=True)
    assert priority == Priority.URGENT
    assert reasons == ("a minor is involved", "category privacy, threat (threats and doxxing come first)")


@pytest.mark.parametrize(
    ("level", "expected"),
    [
        ("watch", None),  # a watch stays on the dashboards
        ("warning", Priority.HIGH),
        ("critical", Priority.URGENT),
    ],
)
def test_alert_items_from_warning_up(level: str, expected: Priority | None) -> None:
    item = alert_item(AlertStub("pile_on:user:t1:1", "pile_on", level), now=T0, rules=RULES)
    if expected is None:
        assert item is None
    else:
        assert item is not None and item.priority == expected and item.context["level"] == level


def test_escalation_to_a_minor_is_urgent() -> None:
    plain = escalation_item(
        "dm:a:b:1", sender_id="a", recipient_id="b", count=3, minor=False, now=T0, rules=RULES
    )
    minor = escalation_item(
        "dm:a:c:1", sender_id="a", recipient_id="c", count=3, minor=True, now=T0, rules=RULES
    )
    assert plain.priority == Priority.HIGH and plain.due_at == T0 + timedelta(
        hours=RULES.sla_hours["escalation"]
    )
    assert minor.priority == Priority.URGENT and minor.reasons[0] == "a minor is involved"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("warning", Priority.NORMAL), ("suspension", Priority.HIGH), ("permanent_ban", Priority.HIGH)],
)
def test_appeals_against_silencing_sanctions_come_sooner(kind: str, expected: Priority) -> None:
    item = appeal_item("ap_1", sanction_id="s1", sanction_kind=kind, account_id="a1", now=T0, rules=RULES)
    assert item.priority == expected and item.due_at == T0 + timedelta(hours=RULES.sla_hours["appeal"])


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        ({}, T0 + timedelta(days=14)),  # the configured window from the sanction's start
        ({"appeal_by": "2026-12-05T00:00:00+00:00"}, datetime(2026, 12, 5, tzinfo=UTC)),  # named
        ({"appeal_by": "2026-12-05T08:00:00"}, datetime(2026, 12, 5, 8, tzinfo=UTC)),  # no zone: UTC
    ],
)
def test_appeal_deadline(statement: dict[str, str], expected: datetime) -> None:
    assert appeal_deadline(statement, T0, RULES) == expected


def test_a_bad_appeal_by_is_a_data_error() -> None:
    with pytest.raises(DataError, match="appeal_by"):
        appeal_deadline({"appeal_by": "next tuesday"}, T0, RULES)


def test_figures_per_kind_and_per_staff() -> None:
    def t(
        kind: str, minutes: float | None, who: str | None, due_h: float = 1, assignee: str | None = None
    ) -> Timing:
        decided = None if minutes is None else T0 + timedelta(minutes=minutes)
        return Timing(kind, T0, T0 + timedelta(hours=due_h), decided, who, assignee)

    timings = [
        t("held", 10, "alice"),
        t("held", 30, "bob"),
        t("held", 90, "alice"),  # past its SLA
        t("held", None, None, assignee="bob"),  # waiting, overdue at now
        t("report", 5, "bob", due_h=24),
    ]
    figures = review_figures(timings, now=T0 + timedelta(hours=2))
    held = figures["kinds"]["held"]
    assert held["decided"] == 3 and held["median_s"] == 1800 and held["p90_s"] == 5400
    assert held["within_sla"] == round(2 / 3, 4) and held["overdue_now"] == 1
    assert figures["kinds"]["appeal"] == {
        "decided": 0,
        "median_s": None,
        "p90_s": None,
        "within_sla": None,
        "overdue_now": 0,
    }
    assert figures["staff"]["alice"]["decided"] == 2 and figures["staff"]["alice"]["median_s"] == 600
    assert figures["staff"]["bob"]["decided"] == 2 and figures["staff"]["bob"]["overdue_now"] == 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "version: x\nsla_hours: {held: 1}\nurgent_sla_hours: 1\nappeal_window_days: 14\n",
            "names no SLA for report",
        ),
        (
            "version: x\nsla_hours: {held: 1, report: 1, alert: 1, escalation: 1, appeal: 0}\n"
            "urgent_sla_hours: 1\nappeal_window_days: 14\n",
            "must be positive (appeal)",
        ),
        (
            "version: x\nsla_hours: {held: 1, report: 1, alert: 1, escalation: 1, appeal: 1}\n"
            "urgent_sla_hours: 1\nappeal_window_days: 14\nsurprise: 1\n",
            "surprise: Extra inputs are not permitted",
        ),
        ("version: [\n", "not YAML"),
    ],
)
def test_the_rules_file_is_validated(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "review.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_rules(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_the_feed_spares_content_a_person_decided() -> None:
    from cvguard.policy.feed import PlannedAction, spare_people_decisions

    def act(subject: str, subject_type: str = "event") -> PlannedAction:
        return PlannedAction(f"k/{subject}", "fold", "comment", subject_type, subject, "why")

    asked: list[list[str]] = []

    def decided(events: list[str]) -> set[str]:
        asked.append(list(events))
        return {"e1", "tp1"}

    planned = [act("e1"), act("e2"), act("tp1", "topic")]
    kept = spare_people_decisions(planned, decided)  # type: ignore[arg-type]
    # e1 a person decided; a topic of the same id is no content decision
    assert [p.subject for p in kept] == ["e2", "tp1"]
    assert asked == [["e1", "e2"]]  # one read, events only
    assert spare_people_decisions([act("tp1", "topic")], decided) == [act("tp1", "topic")]  # type: ignore[arg-type]
    assert len(asked) == 1  # no event planned: no read

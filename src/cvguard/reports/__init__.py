"""Reports people file about content or accounts: the pure rules (no I/O).

    priority.py  the priority of a report (minors, threats and doxxing first) and its SLA due time
    rings.py     reporters who act as one (created together and reporting in sync, or following each
                 other) counted once: independent reporters, and a suspected false-report ring
    groups.py    GroupsReader: who is a minor (the key-groups protocol), and a reader that knows nobody
    outcome.py   the feed action that tells a reporter what became of their report

``store.reports`` keeps reports and calls these; ``api.routes.reports`` serves them.
"""

from cvguard.reports.groups import MINOR, FixedGroups, GroupsReader, NoGroups, any_minor
from cvguard.reports.outcome import OutcomeAction, outcome_action
from cvguard.reports.priority import (
    PRIORITY_NAMES,
    Priority,
    ReportRules,
    Timing,
    base_priority,
    queue_priority,
    response_figures,
)
from cvguard.reports.rings import CrowdAssessment, ReporterFacts, Ring, RingRule, assess_crowd

__all__ = [
    "MINOR",
    "PRIORITY_NAMES",
    "CrowdAssessment",
    "FixedGroups",
    "GroupsReader",
    "NoGroups",
    "OutcomeAction",
    "Priority",
    "ReportRules",
    "ReporterFacts",
    "Ring",
    "RingRule",
    "Timing",
    "any_minor",
    "assess_crowd",
    "base_priority",
    "outcome_action",
    "queue_priority",
    "response_figures",
]

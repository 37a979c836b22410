"""The decisions table's JSON column: ``explanation_json`` (encoded once, on the ingest path) writes
exactly what ``Decision.to_dict()`` holds besides the columns and the verdict's parts; a record with
the verdict's parts read back gives the decision back."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime
from typing import Any

from cvguard.detection.screen import Screener
from cvguard.policy import DecisionInput, decide, default_policy
from cvguard.policy.vocabulary import SURFACES
from cvguard.store.decisions import COLUMNS, VERDICT_PARTS, DecisionRecord, explanation_json, whole_json
from cvguard.store.engine import json_dumps

CONTEXTS: list[dict[str, Any]] = [
    {},
    {"pile_on_level": "warning", "pile_on_alert_id": "pile_on:user:t:1"},
    {"target_groups": frozenset({"minor"})},
    {"brigade_alert_id": "brigade:cluster:b:1", "account_age_days": 1.0},
    {"author_role": "initiator", "incitement_alert_id": "incitement:user:t:1"},
    {"topic_level": "critical", "topic_alert_id": "topic:topic:x:1"},
    {"prior_violations": 3},
]
TEXTS = [
    "你就是个贱人，去死吧", "你真是个小丑", "今天天气不错",
    "他住在朝阳区，电话13800138000", "你就是个废物", "有点蠢",
]


def test_the_explanation_is_the_decision_without_its_columns_for_every_kind_of_decision() -> None:
    policy = default_policy()
    verdicts = Screener.default().screen_many(TEXTS)
    actions, seen_nudge, seen_params = set(), False, False
    for v, surface, ctx in itertools.product(verdicts, SURFACES, CONTEXTS):
        d = decide(policy, DecisionInput(surface, "e1", v, **ctx))
        full = d.to_dict()
        expected = {k: x for k, x in full.items() if k not in COLUMNS and k not in VERDICT_PARTS}
        assert json.loads(whole_json(d)) == {k: x for k, x in full.items() if k not in COLUMNS}
        text = explanation_json(d)
        assert json.loads(text) == expected
        assert text == json_dumps(expected)  # byte for byte what the store would have written
        record = DecisionRecord.of(d, datetime(2026, 3, 1, tzinfo=UTC))
        # the verdict's parts are read back from the stored verdict (see test_event_decisions)
        assert record.with_verdict({k: full[k] for k in VERDICT_PARTS}).decision == full
        assert set(record.decision) == set(full) - set(VERDICT_PARTS)
        actions.add(d.action)
        seen_nudge |= d.nudge is not None
        seen_params |= bool(d.params)
    assert seen_nudge and seen_params and len(actions) > 8

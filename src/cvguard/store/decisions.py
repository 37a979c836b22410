"""Decisions made at ingest (``decisions`` table). Part of ``EventStore``; ``MemoryStore`` has the twin.

One row per event and mode: the active policy's decision (``shadow=False``) and, while a candidate
policy runs in shadow mode, the candidate's (``shadow=True``). Writes are idempotent: the first
decision recorded for an event stays (a redelivered event is not decided again anyway).

The values one filters on have columns (event, surface, action, rule, policy and version, time);
the rest of ``Decision.to_dict()`` (params, reason, matched rules, score, severity, categories,
spans, alert ids, nudge) is the JSON column, encoded once when the decision is made
(:func:`explanation_json`, with the parts that repeat across a stream — reasons, matched-rule
lists — encoded once per process): every event is decided, so this is on the ingest path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from cvguard.errors import StoreError
from cvguard.policy import Decision, RuleMatch
from cvguard.store import models as m
from cvguard.store.base import StoreBase
from cvguard.store.engine import json_dumps

# Columns of their own: the JSON column holds the rest of ``Decision.to_dict()`` (the explanation).
COLUMNS = ("event_id", "surface", "action", "rule_id", "policy", "policy_version")
_WIDTHS = (m.ID, 32, 32, 128, 128, 64)


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as stored: the columns, and the explanation as JSON text."""

    event_id: str
    surface: str
    action: str
    rule_id: str | None
    policy: str
    policy_version: str
    explained: str  # JSON: ``Decision.to_dict()`` without the values that have columns
    decided_at: datetime  # the event's time
    shadow: bool = False

    @classmethod
    def of(cls, decision: Decision, decided_at: datetime, *, shadow: bool = False) -> DecisionRecord:
        return cls(
            decision.event_id, decision.surface, decision.action, decision.rule_id, decision.policy,
            decision.policy_version, explanation_json(decision), decided_at, shadow,
        )

    @classmethod
    def of_dict(
        cls, decision: Mapping[str, Any], decided_at: datetime, *, shadow: bool = False
    ) -> DecisionRecord:
        """From ``Decision.to_dict()`` (or a stored decision's ``decision``)."""
        return cls(
            decision["event_id"], decision["surface"], decision["action"], decision["rule_id"],
            decision["policy"], decision["policy_version"],
            json_dumps({k: v for k, v in decision.items() if k not in COLUMNS}), decided_at, shadow,
        )

    @property
    def decision(self) -> dict[str, Any]:
        """``Decision.to_dict()`` again."""
        return {**{k: getattr(self, k) for k in COLUMNS}, **json.loads(self.explained)}

    def to_dict(self) -> dict[str, Any]:
        return {**self.decision, "shadow": self.shadow, "decided_at": self.decided_at.isoformat()}


@lru_cache(maxsize=1024)
def _policy_ok(rule_id: str | None, policy: str, version: str) -> bool:
    return len(rule_id or "") <= 128 and len(policy) <= 128 and len(version) <= 64


def check_decision(d: DecisionRecord) -> None:
    """The widths the table holds (a batch stays all-or-nothing)."""
    if len(d.event_id) > m.ID or len(d.surface) > 32 or len(d.action) > 32 or not _policy_ok(
        d.rule_id, d.policy, d.policy_version
    ):
        values = (d.event_id, d.surface, d.action, d.rule_id or "", d.policy, d.policy_version)
        name, width = next((n, w) for n, v, w in zip(COLUMNS, values, _WIDTHS, strict=True) if len(v) > w)
        raise StoreError(f"decision {name} longer than {width} characters")
    if d.decided_at.tzinfo is None:
        raise StoreError("decided_at must be timezone-aware")


# -- the explanation, encoded once per decision -------------------------------------------------

_ENC = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


@lru_cache(maxsize=4096)
def _text(value: str) -> str:
    return _ENC.encode(value)


@lru_cache(maxsize=4096)
def _matched(matched: tuple[RuleMatch, ...]) -> str:
    return _ENC.encode([r.to_dict() for r in matched])


def explanation_json(d: Decision) -> str:
    """``Decision.to_dict()`` without the column values, as the JSON column's text (the same JSON
    ``json_dumps`` would write; a test checks they agree)."""
    # floats as json writes them (repr); category codes from the taxonomy, encoded once
    cats = ",".join(f"{_text(k)}:{round(v, 4)!r}" for k, v in d.categories.items() if v >= 0.01)
    nudge = (
        "null" if d.nudge is None
        else _ENC.encode({"reason": d.nudge.reason, "spans": [s.to_dict() for s in d.nudge.spans]})
    )
    return (
        f'{{"params":{json_dumps(dict(d.params)) if d.params else "{}"}'
        f',"reason":{_text(d.reason)}'
        f',"matched":{_matched(d.matched) if d.matched else "[]"}'
        f',"score":{round(d.score, 4)!r}'
        f',"severity":{"null" if d.severity is None else _text(d.severity)}'
        f',"categories":{{{cats}}}'
        f',"spans":{_ENC.encode([s.to_dict() for s in d.spans]) if d.spans else "[]"}'
        f',"alert_ids":{_ENC.encode(list(d.alert_ids)) if d.alert_ids else "[]"}'
        f',"nudge":{nudge}}}'
    )


class DecisionRepository(StoreBase):
    """``add_decisions``, ``get_decision``."""

    def add_decisions(self, records: Sequence[DecisionRecord]) -> int:
        """Record decisions (first one per event and mode stays); returns how many were new."""
        if not records:
            return 0
        cv = self._bulk
        rows: dict[tuple[str, bool], tuple[Any, ...]] = {}
        for d in records:
            check_decision(d)
            rows.setdefault(
                (d.event_id, d.shadow),
                (d.event_id, d.shadow, d.surface, d.action, d.rule_id, d.policy, d.policy_version,
                 d.explained, cv.time(d.decided_at)),
            )
        ordered = [rows[k] for k in sorted(rows)]  # a fixed lock order
        with self._tx() as conn:
            return len(cv.insert(conn, m.decisions, ordered, skip_existing=True))

    def get_decision(self, event_id: str, *, shadow: bool = False) -> DecisionRecord | None:
        t = m.decisions
        with self._tx() as conn:
            row = conn.execute(
                select(t).where(t.c.event_id == event_id, t.c.shadow == shadow)
            ).mappings().first()
        if row is None:
            return None
        return DecisionRecord(
            row["event_id"], row["surface"], row["action"], row["rule_id"], row["policy"],
            row["policy_version"], json_dumps(row["decision"]), row["decided_at"], bool(row["shadow"]),
        )

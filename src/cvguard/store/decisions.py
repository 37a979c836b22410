"""Decisions made at ingest (``decisions`` table). Part of ``EventStore``; ``MemoryStore`` has the twin.

One row per event and mode: the active policy's decision (``shadow=False``) and, while a candidate
policy runs in shadow mode, the candidate's (``shadow=True``). Writes are idempotent: the first
decision recorded for an event stays (a redelivered event is not decided again anyway).

The values one filters on have columns (event, surface, action, rule, policy and version, time);
what the policy added (params, reason, matched rules, alert ids, nudge) is the JSON column, encoded
once when the decision is made (:func:`explanation_json`; a decision no rule matched, most of a
stream, is one string per surface default). What the decision repeats of the verdict (score,
severity, categories, spans: ``VERDICT_PARTS``) is not written twice: the ``verdicts`` row stored
with the event holds it, and :meth:`DecisionRepository.get_decision` reads it back from there
(rows written before this change carry those parts in their JSON, which then wins). Every event is
decided, so this is on the ingest path.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import select

from cvguard.errors import StoreError
from cvguard.policy import Decision, RuleMatch
from cvguard.store import models as m
from cvguard.store.audit import AuditLog
from cvguard.store.audit_batches import decisions_draft
from cvguard.store.base import StoreBase
from cvguard.store.engine import json_dumps

# Columns of their own: the JSON column holds the rest of ``Decision.to_dict()`` (the explanation)
# but for the verdict's parts, which the event's ``verdicts`` row holds.
COLUMNS = ("event_id", "surface", "action", "rule_id", "policy", "policy_version")
VERDICT_PARTS = ("score", "severity", "categories", "spans")
_WIDTHS = (m.ID, 32, 32, 128, 128, 64)


# Not frozen: made per event on the ingest path, where a frozen dataclass's __init__ costs ~2 µs
# (object.__setattr__ per field) against ~0.3 µs; nothing changes one after it is made.
@dataclass(slots=True)
class DecisionRecord:
    """A decision as stored: the columns, and the explanation as JSON text."""

    event_id: str
    surface: str
    action: str
    rule_id: str | None
    policy: str
    policy_version: str
    explained: str  # JSON: ``Decision.to_dict()`` without the columns and the verdict's parts
    decided_at: datetime  # the event's time
    shadow: bool = False
    # score, severity, categories, spans as ``Decision.to_dict()`` gives them: read from the
    # verdict stored with the event (or kept from the decision itself, for the in-memory twin)
    verdict: Mapping[str, Any] | None = None

    @classmethod
    def of(
        cls, decision: Decision, decided_at: datetime, *, shadow: bool = False, whole: bool = False
    ) -> DecisionRecord:
        """``whole``: the JSON carries the verdict's parts too (for a store that will not hold the
        event's verdict when the decision is read, such as a scale-out API node's)."""
        return cls(
            decision.event_id, decision.surface, decision.action, decision.rule_id, decision.policy,
            decision.policy_version,
            whole_json(decision) if whole else explanation_json(decision), decided_at, shadow,
        )

    def with_verdict(self, parts: Mapping[str, Any] | None) -> DecisionRecord:
        return replace(self, verdict=parts)

    @classmethod
    def of_dict(
        cls, decision: Mapping[str, Any], decided_at: datetime, *, shadow: bool = False
    ) -> DecisionRecord:
        """From ``Decision.to_dict()`` (or a stored decision's ``decision``)."""
        return cls(
            decision["event_id"], decision["surface"], decision["action"], decision["rule_id"],
            decision["policy"], decision["policy_version"],
            json_dumps({k: v for k, v in decision.items() if k not in COLUMNS and k not in VERDICT_PARTS}),
            decided_at, shadow, {k: decision[k] for k in VERDICT_PARTS if k in decision},
        )

    @property
    def decision(self) -> dict[str, Any]:
        """``Decision.to_dict()`` again (without the verdict's parts if no verdict was read)."""
        return {
            **{k: getattr(self, k) for k in COLUMNS},
            **(self.verdict or {}),
            **json.loads(self.explained),  # rows from before VERDICT_PARTS left the JSON carry them
        }

    def to_dict(self) -> dict[str, Any]:
        return {**self.decision, "shadow": self.shadow, "decided_at": self.decided_at.isoformat()}


@lru_cache(maxsize=1024)
def _fits(surface: str, action: str, rule_id: str | None, policy: str, version: str) -> bool:
    """The columns one policy's decisions share (few distinct values: checked once each)."""
    return (
        len(surface) <= 32 and len(action) <= 32 and len(rule_id or "") <= 128
        and len(policy) <= 128 and len(version) <= 64
    )


def check_decision(d: DecisionRecord) -> None:
    """The widths the table holds (a batch stays all-or-nothing)."""
    if len(d.event_id) > m.ID or not _fits(d.surface, d.action, d.rule_id, d.policy, d.policy_version):
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


@lru_cache(maxsize=256)
def _plain(reason: str) -> str:
    """The explanation of a decision no rule matched (no params, rules, alerts or nudge)."""
    return f'{{"params":{{}},"reason":{_ENC.encode(reason)},"matched":[],"alert_ids":[],"nudge":null}}'


def explanation_json(d: Decision) -> str:
    """``Decision.to_dict()`` without the column values and the verdict's parts, as the JSON
    column's text (the same JSON ``json_dumps`` would write; a test checks they agree)."""
    if not d.matched and not d.params and not d.alert_ids and d.nudge is None:
        return _plain(d.reason)
    nudge = (
        "null" if d.nudge is None
        else _ENC.encode({"reason": d.nudge.reason, "spans": [s.to_dict() for s in d.nudge.spans]})
    )
    return (
        f'{{"params":{json_dumps(dict(d.params)) if d.params else "{}"}'
        f',"reason":{_text(d.reason)}'
        f',"matched":{_matched(d.matched) if d.matched else "[]"}'
        f',"alert_ids":{_ENC.encode(list(d.alert_ids)) if d.alert_ids else "[]"}'
        f',"nudge":{nudge}}}'
    )


def whole_json(d: Decision) -> str:
    """``Decision.to_dict()`` without the column values, the verdict's parts included."""
    return json_dumps({k: v for k, v in d.to_dict().items() if k not in COLUMNS})


def verdict_parts(
    score: float, severity: str | None, categories: Mapping[str, float], spans: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The verdict's parts of ``Decision.to_dict()`` from a stored verdict's values."""
    return {
        "score": round(float(score), 4),
        "severity": severity,
        "categories": {str(k): round(float(v), 4) for k, v in categories.items() if float(v) >= 0.01},
        "spans": [dict(s) for s in spans],
    }


def _key(row: tuple[Any, ...]) -> tuple[str, bool]:
    return row[0], row[1]


class DecisionRepository(StoreBase):
    """``add_decisions``, ``get_decision``."""

    # the audit trail on the same database: each batch leaves one ``decisions.batch`` entry, in
    # the same transaction (``store.audit_batches``); None: not recorded
    decisions_audit: AuditLog | None = None

    def add_decisions(self, records: Sequence[DecisionRecord]) -> int:
        """Record decisions (first one per event and mode stays); returns how many were new."""
        if not records:
            return 0
        time = self._bulk.time
        for d in records:
            check_decision(d)
        ordered = sorted(  # a fixed lock order; the first of a repeated (event, mode) stays
            [
                (d.event_id, d.shadow, d.surface, d.action, d.rule_id, d.policy, d.policy_version,
                 d.explained, time(d.decided_at))
                for d in records
            ],
            key=_key,
        )
        if len({r[:2] for r in ordered}) < len(ordered):
            first: dict[tuple[str, bool], tuple[Any, ...]] = {}
            for r in ordered:
                first.setdefault(r[:2], r)
            ordered = list(first.values())
        cv = self._bulk
        with self._tx() as conn:
            new: int = cv.insert_new(conn, m.decisions, ordered)
            if self.decisions_audit is not None:  # last: after the writes (AuditLog.append_in)
                self.decisions_audit.append_in(conn, [decisions_draft(records, new)])
            return new

    def get_decision(self, event_id: str, *, shadow: bool = False) -> DecisionRecord | None:
        t, v = m.decisions, m.verdicts
        stmt = (
            select(t, v.c.score, v.c.severity, v.c.categories, v.c.spans)
            .outerjoin(v, v.c.event_id == t.c.event_id)
            .where(t.c.event_id == event_id, t.c.shadow == shadow)
        )
        with self._tx() as conn:
            row = conn.execute(stmt).mappings().first()
        if row is None:
            return None
        parts = (
            None if row["score"] is None
            else verdict_parts(row["score"], row["severity"], row["categories"], row["spans"])
        )
        return DecisionRecord(
            row["event_id"], row["surface"], row["action"], row["rule_id"], row["policy"],
            row["policy_version"], json_dumps(row["decision"]), row["decided_at"], bool(row["shadow"]),
            parts,
        )

"""Decisions made at ingest (``decisions`` table). Part of ``EventStore``; ``MemoryStore`` has the twin.

One row per event and mode: the active policy's decision (``shadow=False``) and, while a candidate
policy runs in shadow mode, the candidate's (``shadow=True``). Writes are idempotent: the first
decision recorded for an event stays (a redelivered event is not decided again anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from cvguard.errors import StoreError
from cvguard.store import models as m
from cvguard.store.base import StoreBase


@dataclass(frozen=True, slots=True)
class DecisionRecord:
    """A decision as stored: the columns one filters on, and the whole decision as JSON."""

    event_id: str
    surface: str
    action: str
    rule_id: str | None
    policy: str
    policy_version: str
    decision: Mapping[str, Any]  # ``Decision.to_dict()``
    decided_at: datetime  # the event's time
    shadow: bool = False

    @classmethod
    def of(cls, decision: Mapping[str, Any], decided_at: datetime, *, shadow: bool = False) -> DecisionRecord:
        """From ``Decision.to_dict()``."""
        return cls(
            event_id=decision["event_id"],
            surface=decision["surface"],
            action=decision["action"],
            rule_id=decision["rule_id"],
            policy=decision["policy"],
            policy_version=decision["policy_version"],
            decision=decision,
            decided_at=decided_at,
            shadow=shadow,
        )

    def to_dict(self) -> dict[str, Any]:
        return {**self.decision, "shadow": self.shadow, "decided_at": self.decided_at.isoformat()}


# Columns of their own: the JSON column holds the rest of ``Decision.to_dict()`` (the explanation).
COLUMNS = ("event_id", "surface", "action", "rule_id", "policy", "policy_version")
_WIDTHS = (m.ID, 32, 32, 128, 128, 64)


def check_decision(d: DecisionRecord) -> None:
    """The widths the table holds (a batch stays all-or-nothing)."""
    values = (d.event_id, d.surface, d.action, d.rule_id or "", d.policy, d.policy_version)
    for name, value, width in zip(COLUMNS, values, _WIDTHS, strict=True):
        if len(value) > width:
            raise StoreError(f"decision {name} longer than {width} characters")
    if d.decided_at.tzinfo is None:
        raise StoreError("decided_at must be timezone-aware")


def explanation(d: DecisionRecord) -> dict[str, Any]:
    """What the JSON column holds: the decision without the values that have columns."""
    return {k: v for k, v in d.decision.items() if k not in COLUMNS}


def from_columns(row: Mapping[str, Any], explained: Mapping[str, Any]) -> dict[str, Any]:
    """``Decision.to_dict()`` again, from the columns and the JSON column."""
    return {**{k: row[k] for k in COLUMNS}, **explained}


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
                 cv.json(explanation(d)), cv.time(d.decided_at)),
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
            event_id=row["event_id"],
            surface=row["surface"],
            action=row["action"],
            rule_id=row["rule_id"],
            policy=row["policy"],
            policy_version=row["policy_version"],
            decision=from_columns(dict(row), row["decision"]),
            decided_at=row["decided_at"],
            shadow=bool(row["shadow"]),
        )

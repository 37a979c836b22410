"""Escalations of repeated abusive private messages (``dm_escalations``), durable and readable by staff.

``protection.dm.DmGuard`` raises an :class:`~cvguard.protection.dm.Escalation` when one sender's
abusive messages to one person reach the threshold within the window, and updates it (same id)
while the episode goes on; the pipeline upserts them here after each batch. A row holds the
sender, the recipient, the rule, the count, the threshold and window, the event ids, and the event
times of the first and latest message and of the threshold reached; ``recorded_at`` is the wall
clock of the last write. Upserting the same escalation again changes nothing but ``recorded_at``;
an older version (a lower count, e.g. a resume feeding the same messages again) never replaces a
newer one.

    escalations = EscalationStore(store.engine)     # the store's database
    escalations.upsert(found)
    escalations.list(recipient_id="u2", since=..., limit=100)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import RowMapping, select

from cvguard.protection.dm import Escalation
from cvguard.store import models as m
from cvguard.store.base import StoreBase

MAX_PAGE = 1000


@dataclass(frozen=True, slots=True)
class StoredEscalation:
    escalation: Escalation
    recorded_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {**self.escalation.to_dict(), "recorded_at": self.recorded_at.isoformat()}


class EscalationStore(StoreBase):
    """``upsert``, ``get``, ``list``."""

    _failure = "the escalation store failed"

    def upsert(self, escalations: Sequence[Escalation]) -> int:
        """Write each escalation (the newest version of an id wins); returns how many were given."""
        if not escalations:
            return 0
        newest: dict[str, Escalation] = {}
        for e in escalations:
            kept = newest.get(e.escalation_id)
            if kept is None or e.count >= kept.count:
                newest[e.escalation_id] = e
        now = self._clock()
        t = m.dm_escalations
        with self._tx() as conn:
            for e in (newest[k] for k in sorted(newest)):  # a fixed lock order
                row = _row(e)
                stmt = self._insert(t).values(**row, recorded_at=now)
                stmt = stmt.on_conflict_do_update(
                    index_elements=[t.c.escalation_id],
                    set_={k: stmt.excluded[k] for k in (*row, "recorded_at") if k != "escalation_id"},
                    where=t.c.count <= stmt.excluded["count"],
                )
                conn.execute(stmt)
        return len(newest)

    def get(self, escalation_id: str) -> StoredEscalation | None:
        t = m.dm_escalations
        with self._tx() as conn:
            row = conn.execute(select(t).where(t.c.escalation_id == escalation_id)).mappings().first()
        return None if row is None else _stored(row)

    def list(
        self,
        *,
        sender_id: str | None = None,
        recipient_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredEscalation]:
        """Newest first by the latest message's time (``since`` inclusive, ``until`` exclusive)."""
        t = m.dm_escalations
        stmt = select(t)
        if sender_id is not None:
            stmt = stmt.where(t.c.sender_id == sender_id)
        if recipient_id is not None:
            stmt = stmt.where(t.c.recipient_id == recipient_id)
        if since is not None:
            stmt = stmt.where(t.c.last_at >= since)
        if until is not None:
            stmt = stmt.where(t.c.last_at < until)
        stmt = stmt.order_by(t.c.last_at.desc(), t.c.escalation_id).limit(max(1, min(limit, MAX_PAGE)))
        with self._tx() as conn:
            return [_stored(r) for r in conn.execute(stmt).mappings()]


def _row(e: Escalation) -> dict[str, Any]:
    return {
        "escalation_id": e.escalation_id,
        "sender_id": e.sender_id,
        "recipient_id": e.recipient_id,
        "rule": e.rule,
        "count": e.count,
        "threshold": e.threshold,
        "window_s": e.window_s,
        "event_ids": list(e.event_ids),
        "first_at": e.first_at,
        "last_at": e.last_at,
        "raised_at": e.raised_at,
    }


def _stored(row: RowMapping) -> StoredEscalation:
    return StoredEscalation(
        Escalation(
            escalation_id=row["escalation_id"],
            sender_id=row["sender_id"],
            recipient_id=row["recipient_id"],
            rule=row["rule"],
            count=int(row["count"]),
            threshold=int(row["threshold"]),
            window_s=float(row["window_s"]),
            event_ids=tuple(row["event_ids"]),
            first_at=row["first_at"],
            last_at=row["last_at"],
            raised_at=row["raised_at"],
        ),
        row["recorded_at"],
    )

"""Aggregate counts of the store for monitoring (``cvguard.metrics``): one GROUP BY each."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from cvguard.errors import StoreError
from cvguard.store import models as m
from cvguard.store.repositories import EventStore


def alert_counts(store: EventStore) -> dict[tuple[str, str, str], int]:
    """Stored alerts by (kind, level, status)."""
    a = m.alerts.c
    query = select(a.kind, a.level, a.status, func.count()).group_by(a.kind, a.level, a.status)
    try:
        with store.engine.connect() as c:
            return {(str(k), str(lv), str(st)): int(n) for k, lv, st, n in c.execute(query)}
    except SQLAlchemyError as exc:
        raise StoreError(f"counting alerts failed: {type(exc).__name__}") from exc

"""Behaviour snapshots (the embedded pipeline's checkpoints). Part of ``EventStore``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from cvguard.store import models as m
from cvguard.store.base import StoreBase
from cvguard.store.records import Snapshot


class SnapshotRepository(StoreBase):
    """Saved behaviour states, one per name."""

    def save_snapshot(self, name: str, data: bytes, *, through: datetime, fmt: int) -> None:
        """Keep ``data`` as snapshot ``name`` (replacing the previous one), covering every event
        ingested up to ``through``."""
        row = {"name": name, "through": through, "saved_at": self._clock(), "format": fmt, "data": data}
        stmt = self._insert(m.behaviour_snapshots).values(row)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"],
            set_={k: stmt.excluded[k] for k in ("through", "saved_at", "format", "data")},
        )
        with self._tx() as conn:
            conn.execute(stmt)

    def load_snapshot(self, name: str) -> Snapshot | None:
        with self._tx() as conn:
            row = conn.execute(
                select(m.behaviour_snapshots).where(m.behaviour_snapshots.c.name == name)
            ).mappings().first()
        if row is None:
            return None
        return Snapshot(row["name"], row["through"], row["saved_at"], int(row["format"]), bytes(row["data"]))

"""People: key groups, shields and their history, and filtered folders, in the store's database.

    people = PeopleStore.open(settings.database_url)
    people.set_groups("u1", {"minor"}, actor="moderator:k1")
    people.put_shield(shield, ShieldChange("on", at, actor, reason))   # one row a person, history kept
    people.add_filtered([FilteredItem(...)])                            # idempotent by (user, event)
    page = people.filtered("u1", offset=0, limit=50)
    people.restore("u1", "ev-1", by="u1")

What it guarantees: every shield change is written with its history line in one transaction; a
filtered item is written once (the first stays; a restored item stays restored); ``changed_since``
gives the rows written at or after a wall-clock time, which the in-memory cache
(``pipeline.protection.PeopleBook``) polls to see another process's changes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, and_, func, insert, select, update

from cvguard.protection import Shield, ShieldChange
from cvguard.store import models as m
from cvguard.store.base import StoreBase, _utcnow

__all__ = ["FilteredItem", "PeopleChanges", "PeopleStore"]


@dataclass(frozen=True, slots=True)
class FilteredItem:
    """One thing held back from ``user_id``: the event, the decision that held it, when (event time)."""

    user_id: str
    event_id: str
    surface: str
    action: str
    rule_id: str | None
    reason: str
    alert_ids: tuple[str, ...]
    filtered_at: datetime
    restored_at: datetime | None = None
    restored_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "surface": self.surface,
            "action": self.action,
            "rule_id": self.rule_id,
            "reason": self.reason,
            "alert_ids": list(self.alert_ids),
            "filtered_at": self.filtered_at.isoformat(),
            "restored": self.restored_at is not None,
            "restored_at": None if self.restored_at is None else self.restored_at.isoformat(),
            "restored_by": self.restored_by,
        }


@dataclass(frozen=True, slots=True)
class PeopleChanges:
    """Rows written since a time: groups and offers per person, shields per person."""

    groups: dict[str, frozenset[str]]
    offered: dict[str, datetime | None]
    shields: dict[str, Shield]
    newest: datetime | None  # the newest ``updated_at`` among them


class PeopleStore(StoreBase):
    """Key groups, shields and filtered folders (SQLite or PostgreSQL)."""

    _failure = "the people store failed"

    def __init__(self, engine: Engine, *, clock: Callable[[], datetime] = _utcnow) -> None:
        super().__init__(engine, clock=clock)

    # -- key groups and offers ------------------------------------------------------------------

    def groups(self, user_id: str) -> frozenset[str]:
        with self._tx() as c:
            row = c.execute(select(m.people.c.groups).where(m.people.c.user_id == user_id)).first()
        return frozenset(row[0]) if row is not None else frozenset()

    def set_groups(self, user_id: str, groups: frozenset[str], *, actor: str) -> None:
        with self._tx() as c:
            self._upsert_person(c, user_id, groups=sorted(groups), groups_by=actor)

    def offered_at(self, user_id: str) -> datetime | None:
        with self._tx() as c:
            row = c.execute(select(m.people.c.offered_at).where(m.people.c.user_id == user_id)).first()
        return row[0] if row is not None else None

    def set_offered(self, user_id: str, at: datetime) -> None:
        with self._tx() as c:
            self._upsert_person(c, user_id, offered_at=at)

    def _upsert_person(self, c: Connection, user_id: str, **values: Any) -> None:
        now = self._clock()
        stmt = self._insert(m.people).values(
            user_id=user_id,
            groups=values.get("groups", []),
            groups_by=values.get("groups_by"),
            offered_at=values.get("offered_at"),
            updated_at=now,
        )
        c.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_={**values, "updated_at": now}))

    # -- shields ----------------------------------------------------------------------------------

    def shield(self, user_id: str) -> Shield | None:
        with self._tx() as c:
            row = c.execute(select(m.shields).where(m.shields.c.user_id == user_id)).mappings().first()
        return _shield(row) if row is not None else None

    def put_shield(self, shield: Shield, change: ShieldChange) -> None:
        """Write ``shield`` (the person's one row) and its history line, in one transaction."""
        now = self._clock()
        values = {
            "started_at": shield.started_at,
            "ends_at": shield.ends_at,
            "scopes": sorted(shield.scopes),
            "audience": shield.audience,
            "close_friends": sorted(shield.close_friends),
            "actor": shield.actor,
            "reason": shield.reason,
            "alert_id": shield.alert_id,
            "off_at": shield.off_at,
            "off_by": shield.off_by,
            "updated_at": now,
        }
        with self._tx() as c:
            stmt = self._insert(m.shields).values(user_id=shield.user_id, **values)
            c.execute(stmt.on_conflict_do_update(index_elements=["user_id"], set_=values))
            c.execute(
                insert(m.shield_history).values(
                    user_id=shield.user_id,
                    change=change.change,
                    at=change.at,
                    actor=change.actor,
                    reason=change.reason,
                    alert_id=change.alert_id,
                    recorded_at=now,
                )
            )

    def history(self, user_id: str) -> list[ShieldChange]:
        """Every change to ``user_id``'s shield, oldest first."""
        h = m.shield_history
        with self._tx() as c:
            rows = c.execute(select(h).where(h.c.user_id == user_id).order_by(h.c.seq)).mappings()
            return [ShieldChange(r["change"], r["at"], r["actor"], r["reason"], r["alert_id"]) for r in rows]

    def changed_since(self, since: datetime | None) -> PeopleChanges:
        """Every person and shield row written at or after ``since`` (None: all of them)."""
        p, s = m.people, m.shields
        with self._tx() as c:
            q_people = select(p.c.user_id, p.c.groups, p.c.offered_at, p.c.updated_at)
            q_shields = select(s)
            if since is not None:
                q_people = q_people.where(p.c.updated_at >= since)
                q_shields = q_shields.where(s.c.updated_at >= since)
            people = c.execute(q_people).all()
            shields = c.execute(q_shields).mappings().all()
        stamps = [r[3] for r in people] + [r["updated_at"] for r in shields]
        return PeopleChanges(
            groups={r[0]: frozenset(r[1]) for r in people},
            offered={r[0]: r[2] for r in people},
            shields={r["user_id"]: _shield(r) for r in shields},
            newest=max(stamps) if stamps else None,
        )

    # -- the filtered folder ----------------------------------------------------------------------

    def add_filtered(self, items: Sequence[FilteredItem]) -> int:
        """Put ``items`` in their folders (the first write of a (user, event) stays); how many were new."""
        if not items:
            return 0
        bulk = self._bulk  # on the ingest path: one prepared multi-row INSERT, values encoded once
        rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        for i in items:
            rows.setdefault(
                (i.user_id, i.event_id),
                (
                    i.user_id, i.event_id, i.surface, i.action, i.rule_id, i.reason,
                    bulk.json(list(i.alert_ids)), bulk.time(i.filtered_at), None, None,
                ),
            )
        with self._tx() as c:
            return bulk.insert_new(c, m.filtered, list(rows.values()))

    def filtered(
        self, user_id: str, *, offset: int = 0, limit: int = 50, restored: bool = False
    ) -> tuple[list[FilteredItem], int]:
        """A page of ``user_id``'s folder, newest first (restored items only with ``restored``), and
        how many items it holds in all."""
        f = m.filtered
        where = [f.c.user_id == user_id]
        if not restored:
            where.append(f.c.restored_at.is_(None))
        with self._tx() as c:
            total = int(c.execute(select(func.count()).select_from(f).where(and_(*where))).scalar_one())
            rows = c.execute(
                select(f)
                .where(and_(*where))
                .order_by(f.c.filtered_at.desc(), f.c.event_id)
                .offset(offset)
                .limit(limit)
            ).mappings()
            return [_item(r) for r in rows], total

    def restore(self, user_id: str, event_id: str, *, by: str) -> FilteredItem | None:
        """Mark an item restored (the person wants to see it); again is a no-op; None if absent."""
        f = m.filtered
        key = and_(f.c.user_id == user_id, f.c.event_id == event_id)
        with self._tx() as c:
            c.execute(
                update(f)
                .where(key, f.c.restored_at.is_(None))
                .values(restored_at=self._clock(), restored_by=by)
            )
            row = c.execute(select(f).where(key)).mappings().first()
        return _item(row) if row is not None else None


def _shield(row: RowMapping) -> Shield:
    return Shield(
        user_id=row["user_id"],
        started_at=row["started_at"],
        ends_at=row["ends_at"],
        scopes=frozenset(row["scopes"]),
        audience=row["audience"],
        close_friends=frozenset(row["close_friends"]),
        actor=row["actor"],
        reason=row["reason"],
        alert_id=row["alert_id"],
        off_at=row["off_at"],
        off_by=row["off_by"],
    )


def _item(row: RowMapping) -> FilteredItem:
    return FilteredItem(
        user_id=row["user_id"],
        event_id=row["event_id"],
        surface=row["surface"],
        action=row["action"],
        rule_id=row["rule_id"],
        reason=row["reason"],
        alert_ids=tuple(row["alert_ids"] or ()),
        filtered_at=row["filtered_at"],
        restored_at=row["restored_at"],
        restored_by=row["restored_by"],
    )

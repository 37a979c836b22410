"""Alerts: upsert with escalation and the manual-status rule, reads, people's status changes and their
history. Part of ``EventStore``.

An alert is open until behaviour resolves it (the episode subsided) or a person sets a status; once
a person has, automation never changes the status again (manual beats automatic).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, literal, or_, select, update

from cvguard.errors import InputError, StoreError
from cvguard.store import models as m
from cvguard.store.base import StoreBase, _db_text, _plain
from cvguard.store.records import AlertLike, StatusChange, StoredAlert
from cvguard.vocabulary import ALERT_STATUSES, LEVELS, SUBJECT_TYPES


class AlertRepository(StoreBase):
    """Alerts and their status history."""

    def upsert_alert(self, alert: AlertLike) -> StoredAlert:
        """Insert an alert, or update its level, evidence and ``updated_at`` (escalation).

        The first ``raised_at`` is kept. An alert that carries ``resolved_at`` (the emission that
        closes an episode) is recorded as resolved, with when and why; the status a person set is
        kept whatever comes later. A state older than the stored one (a redelivered message)
        changes nothing; a resolution, once recorded, stays; event ids accumulate.
        """
        with self._tx() as conn:
            self._upsert_alert(conn, alert)
            stored = self._alerts(conn, select(m.alerts).where(m.alerts.c.alert_id == alert.alert_id))
        return stored[0]

    def upsert_alerts(self, alerts: Sequence[AlertLike]) -> int:
        """``upsert_alert`` for many, in one transaction (all or none); returns how many."""
        with self._tx() as conn:
            for alert in alerts:
                self._upsert_alert(conn, alert)
        return len(alerts)

    def _upsert_alert(self, conn: Connection, alert: AlertLike) -> None:
        level = _plain(alert.level)
        subject_type = _plain(alert.subject_type)
        if level not in LEVELS:
            raise StoreError(f"alert {alert.alert_id}: level {level!r} is not one of {LEVELS}")
        if subject_type not in SUBJECT_TYPES:
            raise StoreError(
                f"alert {alert.alert_id}: subject_type {subject_type!r} is not one of {SUBJECT_TYPES}"
            )
        resolved_at: datetime | None = getattr(alert, "resolved_at", None)
        resolution: str | None = getattr(alert, "resolution", None)
        row = {
            "alert_id": alert.alert_id,
            "kind": _plain(alert.kind),
            "subject_type": subject_type,
            "subject_id": alert.subject_id,
            "level": level,
            "status": "open" if resolved_at is None else "resolved",
            "raised_at": alert.raised_at,
            "updated_at": alert.updated_at,
            "evidence": dict(alert.evidence),
            "resolved_at": resolved_at,
            "resolution": resolution,
        }
        a = m.alerts.c
        stmt = self._insert(m.alerts).values(row)
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=["alert_id"],
            set_={
                "level": new.level,
                "evidence": new.evidence,
                "updated_at": new.updated_at,
                "resolved_at": func.coalesce(new.resolved_at, a.resolved_at),
                "resolution": case((new.resolved_at.is_not(None), new.resolution), else_=a.resolution),
                # automation resolves an alert only while no person has set its status
                "status": case(
                    (and_(a.status_by.is_(None), new.resolved_at.is_not(None)), "resolved"),
                    else_=a.status,
                ),
            },
            where=a.updated_at <= new.updated_at,
        )
        links = [{"alert_id": alert.alert_id, "event_id": e} for e in dict.fromkeys(alert.event_ids)]
        conn.execute(stmt)
        if links:
            conn.execute(self._insert(m.alert_events).on_conflict_do_nothing(), links)

    def get_alert(self, alert_id: str) -> StoredAlert | None:
        with self._tx() as conn:
            found = self._alerts(conn, select(m.alerts).where(m.alerts.c.alert_id == alert_id))
        return found[0] if found else None

    def list_alerts(
        self,
        *,
        subject_id: str | None = None,
        subject_type: str | None = None,
        kind: str | None = None,
        level_at_least: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        after: tuple[datetime, str] | None = None,
        limit: int = 100,
    ) -> list[StoredAlert]:
        """Alerts matching every filter given, most recently updated first (then by id).

        ``since`` (inclusive) and ``until`` (exclusive) compare with ``updated_at``, so an
        escalation counts as recent. ``after`` is the ``(updated_at, alert_id)`` of the last alert
        of the previous page: the list goes on strictly after it, so pages neither repeat nor skip
        an alert that did not change in between (keyset pagination).
        """
        a = m.alerts.c
        stmt = select(m.alerts)
        if subject_id is not None:
            stmt = stmt.where(a.subject_id == subject_id)
        if subject_type is not None:
            stmt = stmt.where(a.subject_type == subject_type)
        if kind is not None:
            stmt = stmt.where(a.kind == kind)
        if level_at_least is not None:
            level = _plain(level_at_least)
            if level not in LEVELS:
                raise StoreError(f"level {level!r} is not one of {LEVELS}")
            stmt = stmt.where(a.level.in_(LEVELS[LEVELS.index(level) :]))
        if since is not None:
            stmt = stmt.where(a.updated_at >= since)
        if until is not None:
            stmt = stmt.where(a.updated_at < until)
        if status is not None:
            stmt = stmt.where(a.status == status)
        if after is not None:
            at, alert_id = after
            stmt = stmt.where(or_(a.updated_at < at, and_(a.updated_at == at, a.alert_id > alert_id)))
        stmt = stmt.order_by(a.updated_at.desc(), a.alert_id).limit(limit)
        with self._tx() as conn:
            return self._alerts(conn, stmt)

    def set_alert_status(
        self,
        alert_id: str,
        *,
        status: str,
        actor: str,
        note: str | None = None,
        at: datetime | None = None,
        within: Callable[[Connection, StoredAlert], object] | None = None,
    ) -> StoredAlert | None:
        """A person's decision on an alert; None if there is no such alert.

        ``within(connection, changed)`` runs last in the same transaction (the audit trail's entry
        for the change, ``AuditLog.append_in``): if it fails, the change is not made.

        Records who (``actor``), when (``at``, the store's wall clock by default) and the note on
        the alert, and appends the change, with the status it replaced, to the alert's history.
        From then on automation never changes the status.
        """
        if status not in ALERT_STATUSES:
            raise InputError(f"status {status!r} is not one of {ALERT_STATUSES}", field="status")
        if not actor or len(actor) > m.ACTOR:
            raise InputError(f"the actor must have 1 to {m.ACTOR} characters", field="actor")
        note = None if note is None else _db_text(note)
        when = self._clock() if at is None else at
        a, h = m.alerts.c, m.alert_status_history
        # The history row is written from the stored status in the same statement (the row locked
        # on PostgreSQL, the database on SQLite), so two people changing it at once each record
        # the status they actually replaced.
        previous = (
            select(
                a.alert_id,
                literal(when, m.UTCDateTime()),
                literal(actor, h.c.actor.type),
                a.status,
                literal(status, h.c.status.type),
                literal(note, h.c.note.type),
            )
            .where(a.alert_id == alert_id)
            .with_for_update()
        )
        columns = ["alert_id", "changed_at", "actor", "previous_status", "status", "note"]
        with self._tx() as conn:
            recorded = conn.execute(insert(h).from_select(columns, previous).returning(h.c.change_id))
            if recorded.first() is None:
                return None
            conn.execute(
                update(m.alerts)
                .where(a.alert_id == alert_id)
                .values(status=status, status_by=actor, status_at=when, status_note=note)
            )
            changed = self._alerts(conn, select(m.alerts).where(a.alert_id == alert_id))[0]
            if within is not None:
                within(conn, changed)
            return changed

    def alert_history(self, alert_id: str) -> list[StatusChange]:
        """Every status people set on an alert, oldest first."""
        h = m.alert_status_history.c
        stmt = select(m.alert_status_history).where(h.alert_id == alert_id).order_by(h.change_id)
        with self._tx() as conn:
            return [
                StatusChange(
                    alert_id=r.alert_id,
                    changed_at=r.changed_at,
                    actor=r.actor,
                    previous_status=r.previous_status,
                    status=r.status,
                    note=r.note,
                )
                for r in conn.execute(stmt)
            ]

    @staticmethod
    def _alerts(conn: Connection, stmt: Any) -> list[StoredAlert]:
        rows = conn.execute(stmt).mappings().all()
        if not rows:
            return []
        ids = [r["alert_id"] for r in rows]
        linked: dict[str, list[str]] = {i: [] for i in ids}
        for alert_id, event_id in conn.execute(
            select(m.alert_events.c.alert_id, m.alert_events.c.event_id)
            .where(m.alert_events.c.alert_id.in_(ids))
            .order_by(m.alert_events.c.alert_id, m.alert_events.c.event_id)
        ):
            linked[alert_id].append(event_id)
        return [
            StoredAlert(
                alert_id=r["alert_id"],
                kind=r["kind"],
                subject_type=r["subject_type"],
                subject_id=r["subject_id"],
                level=r["level"],
                status=r["status"],
                raised_at=r["raised_at"],
                updated_at=r["updated_at"],
                evidence=dict(r["evidence"]),
                event_ids=tuple(linked[r["alert_id"]]),
                resolved_at=r["resolved_at"],
                resolution=r["resolution"],
                status_by=r["status_by"],
                status_at=r["status_at"],
                status_note=r["status_note"],
            )
            for r in rows
        ]

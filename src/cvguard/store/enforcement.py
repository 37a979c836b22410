"""The violation ledger and sanctions in the store's database (SQLite or PostgreSQL).

    ledger = EnforcementStore.open(settings.database_url)
    new = ledger.add_violations([violation, ...])      # ids that were new (the first write stays)
    ledger.add_sanction(sanction)                      # False when the id is already there
    ledger.violations(account_id="u1", since=t)        # newest first
    ledger.reverse_violations(["v1"], at=t, by="person:alice")   # the ones that were active
    ledger.lift_sanctions(["s1"], at=t, by="person:alice", reason="appeal upheld")
    ledger.changed_since(stamp)                        # what the in-memory ledger polls
    ledger.changed_since(stamp, others_only=True)      # ... less what this store wrote itself

What it guarantees: a violation or a sanction is written once by id (a retried batch or a second
process adds nothing); a reversed violation stays reversed and a lifted sanction stays lifted (a
person's decision is never overwritten by a later rule run); rows are never deleted.

Each row names the store instance that wrote it last (``origin``, a random token per instance): a
cache that puts everything it writes through its store in memory polls with ``others_only`` and
reads back only what other processes (or other stores) changed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import Connection, RowMapping, or_, select, update

from cvguard.enforcement import Sanction, Violation
from cvguard.store import models as m
from cvguard.store.base import StoreBase

__all__ = ["EnforcementChanges", "EnforcementStore"]


@dataclass(frozen=True, slots=True)
class EnforcementChanges:
    violations: list[Violation]
    sanctions: list[Sanction]
    newest: datetime | None  # the newest ``updated_at`` among them


class EnforcementStore(StoreBase):
    """Violations and sanctions (see the module docstring)."""

    _failure = "the enforcement store failed"

    last_written: datetime | None = None  # the ``updated_at`` of this instance's latest write

    @cached_property
    def origin(self) -> str:
        """This instance's token, stamped on every row it writes."""
        return uuid.uuid4().hex

    def now(self) -> datetime:
        """The clock that stamps ``updated_at``."""
        return self._clock()

    def _stamp(self) -> datetime:
        now = self._clock()
        if self.last_written is None or now > self.last_written:
            self.last_written = now
        return now

    # -- violations -----------------------------------------------------------------------------

    def add_violations(
        self, violations: Sequence[Violation], *, connection: Connection | None = None
    ) -> list[str]:
        """Write the violations not yet stored; their ids, in the order given (on the ingest path:
        one prepared multi-row INSERT ... ON CONFLICT DO NOTHING, ``store.bulk``); ``connection``:
        inside the caller's transaction on this database."""
        if not violations:
            return []
        first: dict[str, Violation] = {}
        for v in violations:
            first.setdefault(v.violation_id, v)
        b, now = self._bulk, self._stamp()
        stamp = b.time(now)
        rows = [
            (v.violation_id, v.account_id, b.time(v.at), v.confirmed_by, b.labels(tuple(v.roles)), v.event_id,
             v.surface, v.action, b.labels(tuple(v.categories)), v.score, v.alert_id, v.policy_version,
             v.model_version, v.mcn_id, v.status, None, None, stamp, self.origin)
            for v in first.values()
        ]
        with self._on(connection) as c:
            new = set(b.insert(c, m.violations, rows, skip_existing=True))
        return [k for k in first if k in new]

    def violation(self, violation_id: str) -> Violation | None:
        with self._tx() as c:
            row = c.execute(
                select(m.violations).where(m.violations.c.violation_id == violation_id)
            ).mappings().first()
        return None if row is None else _violation(row)

    def violations(
        self,
        *,
        account_id: str | None = None,
        since: datetime | None = None,
        ids: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[Violation]:
        """Newest first (by event time)."""
        t = m.violations.c
        q = select(m.violations).order_by(t.at.desc(), t.violation_id).limit(limit)
        if account_id is not None:
            q = q.where(t.account_id == account_id)
        if since is not None:
            q = q.where(t.at >= since)
        if ids is not None:
            q = q.where(t.violation_id.in_(list(ids)))
        with self._tx() as c:
            return [_violation(r) for r in c.execute(q).mappings()]

    def reverse_violations(self, ids: Sequence[str], *, at: datetime, by: str) -> list[Violation]:
        """Mark the active ones of ``ids`` reversed; those, as they are now."""
        if not ids:
            return []
        t = m.violations.c
        now = self._stamp()
        with self._tx() as c:
            active = [r["violation_id"] for r in c.execute(
                select(t.violation_id).where(t.violation_id.in_(list(ids)), t.status == "active")
            ).mappings()]
            if not active:
                return []
            c.execute(update(m.violations).where(t.violation_id.in_(active)).values(
                status="reversed", reversed_at=at, reversed_by=by, updated_at=now, origin=self.origin))
            rows = c.execute(select(m.violations).where(t.violation_id.in_(active))).mappings().all()
        order = {k: i for i, k in enumerate(ids)}
        return sorted((_violation(r) for r in rows), key=lambda v: order[v.violation_id])

    # -- sanctions ------------------------------------------------------------------------------

    def add_sanction(self, sanction: Sanction) -> bool:
        """Write ``sanction`` unless its id is there; whether it was new."""
        return bool(self.add_sanctions([sanction]))

    def add_sanctions(
        self,
        sanctions: Sequence[Sanction],
        *,
        connection: Connection | None = None,
        statements: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Write the sanctions not yet stored (one transaction, ``store.bulk``; ``connection``: the
        caller's); their ids, in the order given. ``statements``: a sanction's statement as JSON
        text already (by sanction id), written as it is."""
        said = statements or {}
        if not sanctions:
            return []
        first: dict[str, Sanction] = {}
        for s in sanctions:
            first.setdefault(s.sanction_id, s)
        b, now = self._bulk, self._stamp()
        stamp = b.time(now)
        rows = [
            (s.sanction_id, s.account_id, s.kind, s.step, b.time(s.starts_at),
             None if s.expires_at is None else b.time(s.expires_at), b.json(list(s.violation_ids)),
             b.json(list(s.rests_on)), said.get(s.sanction_id) or b.json(dict(s.statement)), s.decided_by,
             s.status,
             None if s.lifted_at is None else b.time(s.lifted_at), s.lifted_by, None, stamp,
             self.origin)
            for s in first.values()
        ]
        with self._on(connection) as c:
            new = set(b.insert(c, m.sanctions, rows, skip_existing=True))
        return [k for k in first if k in new]

    def _on(self, connection: Connection | None) -> AbstractContextManager[Connection]:
        return self._tx() if connection is None else nullcontext(connection)

    def sanction(self, sanction_id: str) -> Sanction | None:
        with self._tx() as c:
            row = c.execute(
                select(m.sanctions).where(m.sanctions.c.sanction_id == sanction_id)
            ).mappings().first()
        return None if row is None else _sanction(row)

    def sanctions(
        self, *, account_id: str | None = None, status: str | None = None, limit: int = 100
    ) -> list[Sanction]:
        """Newest first (by start)."""
        t = m.sanctions.c
        q = select(m.sanctions).order_by(t.starts_at.desc(), t.sanction_id).limit(limit)
        if account_id is not None:
            q = q.where(t.account_id == account_id)
        if status is not None:
            q = q.where(t.status == status)
        with self._tx() as c:
            return [_sanction(r) for r in c.execute(q).mappings()]

    def lift_sanctions(
        self, ids: Sequence[str], *, at: datetime, by: str, reason: str
    ) -> list[Sanction]:
        """Lift the active ones of ``ids``; those, as they are now."""
        if not ids:
            return []
        t = m.sanctions.c
        now = self._stamp()
        with self._tx() as c:
            active = [r["sanction_id"] for r in c.execute(
                select(t.sanction_id).where(t.sanction_id.in_(list(ids)), t.status == "active")
            ).mappings()]
            if not active:
                return []
            c.execute(update(m.sanctions).where(t.sanction_id.in_(active)).values(
                status="lifted", lifted_at=at, lifted_by=by, lift_reason=reason, updated_at=now,
                origin=self.origin))
            rows = c.execute(select(m.sanctions).where(t.sanction_id.in_(active))).mappings().all()
        order = {k: i for i, k in enumerate(ids)}
        return sorted((_sanction(r) for r in rows), key=lambda s: order[s.sanction_id])

    def resting_on(self, violation_ids: Sequence[str]) -> list[Sanction]:
        """Active sanctions whose strikes include any of ``violation_ids``."""
        wanted = set(violation_ids)
        if not wanted:
            return []
        accounts = {v.account_id for v in self.violations(ids=list(wanted), limit=len(wanted))}
        out: list[Sanction] = []
        for account in sorted(accounts):
            out += [s for s in self.sanctions(account_id=account, status="active", limit=10_000)
                    if wanted & set(s.rests_on or s.violation_ids)]
        return out

    # -- the cache's poll -----------------------------------------------------------------------

    def changed_since(self, since: datetime | None, *, others_only: bool = False) -> EnforcementChanges:
        """Every violation and sanction written at or after ``since`` (None: all of them);
        ``others_only``: less the rows this instance wrote last."""
        qv, qs = select(m.violations), select(m.sanctions)
        if since is not None:
            qv = qv.where(m.violations.c.updated_at >= since)
            qs = qs.where(m.sanctions.c.updated_at >= since)
        if others_only:
            v, s = m.violations.c.origin, m.sanctions.c.origin
            qv = qv.where(or_(v.is_(None), v != self.origin))
            qs = qs.where(or_(s.is_(None), s != self.origin))
        with self._tx() as c:
            vs = c.execute(qv).mappings().all()
            ss = c.execute(qs).mappings().all()
        stamps = [r["updated_at"] for r in vs] + [r["updated_at"] for r in ss]
        return EnforcementChanges(
            [_violation(r) for r in vs], [_sanction(r) for r in ss], max(stamps) if stamps else None
        )


def _violation(r: RowMapping) -> Violation:
    return Violation(
        violation_id=r["violation_id"], account_id=r["account_id"], at=r["at"],
        confirmed_by=r["confirmed_by"], roles=tuple(r["roles"]), event_id=r["event_id"],
        surface=r["surface"], categories=tuple(r["categories"]), score=r["score"],
        alert_id=r["alert_id"], policy_version=r["policy_version"], model_version=r["model_version"],
        mcn_id=r["mcn_id"], status=r["status"], action=r["action"],
    )


def _sanction(r: RowMapping) -> Sanction:
    return Sanction(
        sanction_id=r["sanction_id"], account_id=r["account_id"], kind=r["kind"],
        starts_at=r["starts_at"], expires_at=r["expires_at"], violation_ids=tuple(r["violation_ids"]),
        statement=r["statement"], decided_by=r["decided_by"], status=r["status"],
        lifted_at=r["lifted_at"], lifted_by=r["lifted_by"], step=r["step"], rests_on=tuple(r["rests_on"]),
    )

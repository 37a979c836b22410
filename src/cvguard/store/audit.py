"""The audit log: the audit trail (``cvguard.audit``) in the store's database, append-only.

    log = AuditLog.open(settings.database_url)
    log.append(actor="alice (k1)", action="alert.status", subject_type="alert", subject_id="a1",
               inputs={"status": "resolved"}, before={"status": "open"}, after={"status": "resolved"})
    log.append_many([Draft(actor=..., action=..., subject_type=..., subject_id=...), ...])
    with other_store_transaction as c:            # a store on the same database
        ...its own writes...; log.append_in(c, [Draft(...)])   # committed together
    log.entries(after=0, limit=100)   # -> [Entry], oldest first
    log.verify()                      # -> AuditCheck: the first entry that no longer holds, named

What it guarantees:

- **One line.** Appends are serialised (``pg_advisory_xact_lock`` on PostgreSQL, ``BEGIN
  IMMEDIATE`` and a process lock on SQLite, as the evidence vault), so ``seq`` runs 1, 2, 3, ...
  without gaps and each entry chains from the one before, even with several API processes.
- **Tamper-evident.** A row edited by SQL (its record, or a column that repeats it), removed (a gap
  in ``seq``) or moved (two rows' ``seq`` swapped) fails :meth:`AuditLog.verify`, which names it.
- **With the change.** :meth:`AuditLog.append_in` writes entries in another store's transaction
  (same database): the change and its entry commit together or not at all. The trail's lock is
  always taken last in such a transaction (see the method).
- **Append-only.** Nothing in cvguard updates or deletes a row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, func, select, text

from cvguard.audit import GENESIS, Entry, Problem, Stored, check, digest_of, parse, record
from cvguard.errors import InputError
from cvguard.store import models as m
from cvguard.store.base import StoreBase, same_database

__all__ = ["AuditCheck", "AuditLog", "Draft"]

_AUDIT_LOCK = 0x63766175  # "cvau": held while appending (the trail is one line)
_PAGE = 1000
_LAST = select(m.audit_log.c.seq, m.audit_log.c.digest).order_by(m.audit_log.c.seq.desc()).limit(1)


@dataclass(frozen=True, slots=True)
class Draft:
    """An entry to append: everything but its place in the chain and its time."""

    actor: str
    action: str
    subject_type: str
    subject_id: str
    inputs: Any = None
    before: Any = None
    after: Any = None
    policy_version: str | None = None
    model_version: str | None = None


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """The trail verified: ``problem`` names the first entry that does not hold (None: all do)."""

    problem: str | None
    entries: int
    head: str

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problem": self.problem, "entries": self.entries, "head": self.head}


class AuditLog(StoreBase):
    """The audit trail in the store's database (SQLite or PostgreSQL)."""

    _failure = "the audit log failed"

    def append(
        self,
        *,
        actor: str,
        action: str,
        subject_type: str,
        subject_id: str,
        inputs: Any = None,
        before: Any = None,
        after: Any = None,
        policy_version: str | None = None,
        model_version: str | None = None,
    ) -> Entry:
        """Add an entry at the end of the trail (InputError for what JSON cannot hold)."""
        draft = Draft(actor, action, subject_type, subject_id, inputs, before, after, policy_version,
                      model_version)
        return self.append_many([draft])[0]

    def append_many(self, drafts: Sequence[Draft]) -> list[Entry]:
        """Add ``drafts`` at the end of the trail, in order, all or none: one lock, one transaction."""
        if not drafts:
            return []
        with self._serialised(_AUDIT_LOCK) as c:
            return self._write(c, drafts)

    def append_in(self, connection: Connection, drafts: Sequence[Draft]) -> list[Entry]:
        """Add ``drafts`` inside the caller's transaction on ``connection`` (a store on the same
        database), so the change and its entries commit, or roll back, together.

        Call it last in the transaction, after the change's own writes: the trail's lock is always
        the last one taken (no lock order can then deadlock), and is held only until the commit.
        On PostgreSQL it is ``pg_advisory_xact_lock``; on SQLite the transaction must already hold
        the write lock (it has written, or began with ``BEGIN IMMEDIATE``), which keeps every other
        writer out until it commits."""
        if not drafts:
            return []
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _AUDIT_LOCK})
        return self._write(connection, drafts)

    def shares(self, engine: Engine) -> bool:
        """Whether ``engine`` is on this trail's database (then :meth:`append_in` may use it)."""
        return same_database(engine, self._engine)

    def _write(self, c: Connection, drafts: Sequence[Draft]) -> list[Entry]:
        at = self._clock()
        stamp = self._bulk.time(at)
        last = c.execute(_LAST).first()
        seq, prev = (int(last[0]), str(last[1])) if last is not None else (0, GENESIS)
        rows: list[tuple[Any, ...]] = []
        out: list[Entry] = []
        for d in drafts:
            seq += 1
            fields: dict[str, Any] = {
                "at": at, "actor": d.actor, "action": d.action, "subject_type": d.subject_type,
                "subject_id": d.subject_id, "inputs": d.inputs, "before": d.before, "after": d.after,
                "policy_version": d.policy_version, "model_version": d.model_version,
            }
            try:
                raw = record(seq=seq, **fields)
            except (TypeError, ValueError) as exc:
                raise InputError(f"an audit entry must be JSON: {exc}") from None
            digest = digest_of(prev, raw)
            rows.append((seq, stamp, d.actor, d.action, d.subject_type, d.subject_id, raw.decode("utf-8"),
                         prev, digest))  # in m.audit_log's column order
            out.append(Entry(seq=seq, **fields, prev=prev, digest=digest))
            prev = digest
        self._bulk.insert(c, m.audit_log, rows)  # one prepared multi-row INSERT a chunk
        return out

    def entries(self, *, after: int = 0, limit: int = 100) -> list[Entry]:
        """Up to ``limit`` entries with ``seq > after``, oldest first."""
        a = m.audit_log.c
        stmt = select(m.audit_log).where(a.seq > after).order_by(a.seq).limit(limit)
        with self._tx() as c:
            return [_entry(r) for r in c.execute(stmt).mappings()]

    def period(self, since: datetime, until: datetime) -> tuple[list[Stored], str]:
        """The entries of an inspection period, as stored, and the digest before the first: every
        entry from the first stamped at or after ``since`` to the last stamped before ``until``, in
        ``seq`` order and without gaps (one piece of the chain, even if the clock stepped back)."""
        if since.tzinfo is None or until.tzinfo is None or since >= until:
            raise InputError("a period needs since < until, both with a time zone", field="since")
        a = m.audit_log.c
        inside = (a.at >= since) & (a.at < until)
        with self._tx() as c:
            low, high = c.execute(select(func.min(a.seq), func.max(a.seq)).where(inside)).one()
            if low is None:
                return [], GENESIS
            rows = c.execute(
                select(a.seq, a.record, a.prev, a.digest).where(a.seq >= low, a.seq <= high).order_by(a.seq)
            ).all()
            before = c.execute(select(a.digest).where(a.seq == int(low) - 1)).scalar()
        stored = [Stored(int(r[0]), str(r[1]).encode("utf-8"), str(r[2]), str(r[3])) for r in rows]
        return stored, str(before) if before is not None else (GENESIS if low == 1 else stored[0].prev)

    def verify(self) -> AuditCheck:
        """Walk the whole trail in ``seq`` order; the first entry that does not hold is named."""
        a = m.audit_log.c
        count, prev, after = 0, GENESIS, 0
        with self._tx() as c:
            while True:
                rows = c.execute(
                    select(m.audit_log).where(a.seq > after).order_by(a.seq).limit(_PAGE)
                ).mappings().all()
                if not rows:
                    return AuditCheck(None, count, prev)
                stored = [Stored(int(r["seq"]), str(r["record"]).encode("utf-8"), str(r["prev"]),
                                 str(r["digest"])) for r in rows]
                found = check(stored, first_seq=count + 1, prev=prev)
                if found is not None:
                    return AuditCheck(found.describe(), count + found.held, found.head)
                for i, row in enumerate(rows):
                    edited = _columns_problem(row)
                    if edited is not None:
                        head = stored[i - 1].digest if i else prev
                        return AuditCheck(edited.describe(), count + i, head)
                count += len(rows)
                prev = stored[-1].digest
                after = stored[-1].seq




def _columns_problem(row: RowMapping) -> Problem | None:
    """Whether the row's lookup columns still say what its (hashed) record says."""
    value = parse(str(row["record"]).encode("utf-8")) or {}
    subject = value.get("subject") or {}
    said = {"actor": value.get("actor"), "action": value.get("action"),
            "subject_type": subject.get("type"), "subject_id": subject.get("id")}
    for column, expected in said.items():
        if row[column] != expected:
            return Problem(int(row["seq"]), f"its {column} column differs from its record (edited)")
    if row["at"].isoformat() != value.get("at"):
        return Problem(int(row["seq"]), "its at column differs from its record (edited)")
    return None


def _entry(row: RowMapping) -> Entry:
    value = json.loads(row["record"])
    return Entry(
        seq=int(row["seq"]), at=row["at"], actor=str(row["actor"]), action=str(row["action"]),
        subject_type=str(row["subject_type"]), subject_id=str(row["subject_id"]),
        inputs=value.get("inputs"), before=value.get("before"), after=value.get("after"),
        policy_version=value.get("policy_version"), model_version=value.get("model_version"),
        prev=str(row["prev"]), digest=str(row["digest"]),
    )

"""The audit log: the audit trail (``cvguard.audit``) in the store's database, append-only.

    log = AuditLog.open(settings.database_url)
    log.append(actor="alice (k1)", action="alert.status", subject_type="alert", subject_id="a1",
               inputs={"status": "resolved"}, before={"status": "open"}, after={"status": "resolved"})
    log.entries(after=0, limit=100)   # -> [Entry], oldest first
    log.verify()                      # -> AuditCheck: the first entry that no longer holds, named

What it guarantees:

- **One line.** Appends are serialised (``pg_advisory_xact_lock`` on PostgreSQL, ``BEGIN
  IMMEDIATE`` and a process lock on SQLite, as the evidence vault), so ``seq`` runs 1, 2, 3, ...
  without gaps and each entry chains from the one before, even with several API processes.
- **Tamper-evident.** A row edited by SQL (its record, or a column that repeats it), removed (a gap
  in ``seq``) or moved (two rows' ``seq`` swapped) fails :meth:`AuditLog.verify`, which names it.
- **Append-only.** Nothing in cvguard updates or deletes a row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import RowMapping, select

from cvguard.audit import GENESIS, Entry, Problem, Stored, check, digest_of, parse, record
from cvguard.errors import InputError
from cvguard.store import models as m
from cvguard.store.base import StoreBase

__all__ = ["AuditCheck", "AuditLog"]

_AUDIT_LOCK = 0x63766175  # "cvau": held while appending (the trail is one line)
_PAGE = 1000


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
        at = self._clock()
        fields: dict[str, Any] = {
            "at": at, "actor": actor, "action": action, "subject_type": subject_type,
            "subject_id": subject_id, "inputs": inputs, "before": before, "after": after,
            "policy_version": policy_version, "model_version": model_version,
        }
        with self._serialised(_AUDIT_LOCK) as c:
            a = m.audit_log.c
            last = c.execute(select(a.seq, a.digest).order_by(a.seq.desc()).limit(1)).first()
            seq, prev = (int(last[0]) + 1, str(last[1])) if last is not None else (1, GENESIS)
            try:
                raw = record(seq=seq, **fields)
            except (TypeError, ValueError) as exc:
                raise InputError(f"an audit entry must be JSON: {exc}") from None
            digest = digest_of(prev, raw)
            c.execute(
                m.audit_log.insert().values(
                    seq=seq, at=at, actor=actor, action=action, subject_type=subject_type,
                    subject_id=subject_id, record=raw.decode("utf-8"), prev=prev, digest=digest,
                )
            )
        return Entry(seq=seq, **fields, prev=prev, digest=digest)


    def append_many(self, items: list[dict[str, Any]]) -> list[Entry]:
        """Add several entries at the end of the trail in one serialised transaction, in order;
        each item holds :meth:`append`'s keyword arguments (for a batch of automated actions)."""
        if not items:
            return []
        at = self._clock()
        out: list[Entry] = []
        with self._serialised(_AUDIT_LOCK) as c:
            a = m.audit_log.c
            last = c.execute(select(a.seq, a.digest).order_by(a.seq.desc()).limit(1)).first()
            seq, prev = (int(last[0]), str(last[1])) if last is not None else (0, GENESIS)
            rows: list[dict[str, Any]] = []
            for item in items:
                fields: dict[str, Any] = {
                    "at": at, "actor": item["actor"], "action": item["action"],
                    "subject_type": item["subject_type"], "subject_id": item["subject_id"],
                    "inputs": item.get("inputs"), "before": item.get("before"), "after": item.get("after"),
                    "policy_version": item.get("policy_version"), "model_version": item.get("model_version"),
                }
                seq += 1
                try:
                    raw = record(seq=seq, **fields)
                except (TypeError, ValueError) as exc:
                    raise InputError(f"an audit entry must be JSON: {exc}") from None
                digest = digest_of(prev, raw)
                rows.append({"seq": seq, "at": at, "actor": fields["actor"], "action": fields["action"],
                             "subject_type": fields["subject_type"], "subject_id": fields["subject_id"],
                             "record": raw.decode("utf-8"), "prev": prev, "digest": digest})
                out.append(Entry(seq=seq, **fields, prev=prev, digest=digest))
                prev = digest
            c.execute(m.audit_log.insert(), rows)
        return out

    def entries(self, *, after: int = 0, limit: int = 100) -> list[Entry]:
        """Up to ``limit`` entries with ``seq > after``, oldest first."""
        a = m.audit_log.c
        stmt = select(m.audit_log).where(a.seq > after).order_by(a.seq).limit(limit)
        with self._tx() as c:
            return [_entry(r) for r in c.execute(stmt).mappings()]

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

"""The evidence vault: preserved content, append-only and hash-chained (``evidence.chain``).

    vault = EvidenceVault.open(settings.database_url)
    case = vault.preserve(vault.aimed_at("u1", since=t0, until=t1), owner_id="u1",
                          actor="u1", reason="harassment report", selection={"by": "range", ...})
    vault.case(case.case_id)     # -> Case (header and items), or None
    vault.verify()               # -> VaultCheck: the first case or item that no longer chains

What it guarantees:

- **Its own copy.** Each item holds the event's text, author, time, surface and context (thread,
  topics, targets, reply), its verdict and the active decision as stored when preserved. Vault
  rows have no foreign key to events and nothing here updates or deletes them: deleting an event
  and the text retention purge (``events.text``) leave the vault as it was (a legal hold).
- **Chained.** A case's items chain from the SHA-256 of its header (who, for whom, why, what
  was selected, when); the cases chain in vault order (``vault_prev`` → ``vault_digest`` over the
  case's genesis and head), so a row changed, added or removed, in a case or a whole case, breaks
  verification, which names the case and item. Cases are appended under the same lock as the
  action feed uses (``pg_advisory_xact_lock`` / ``BEGIN IMMEDIATE``), so the vault chain is one
  line even with several API processes.
- **Recorded.** Every preservation names its actor and reason (in the header, hence in the chain).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, select

from cvguard.errors import InputError
from cvguard.evidence.chain import ZERO, Break, Link, canonical, chain, check, genesis, link
from cvguard.evidence.package import FORMAT
from cvguard.store import models as m
from cvguard.store.base import StoreBase

__all__ = ["MAX_ITEMS", "Case", "CaseSummary", "EvidenceVault", "VaultCheck"]

MAX_ITEMS = 10_000  # items in one case (one PDF); a larger range is refused, not cut
_VAULT_LOCK = 0x63766576  # "cvev": held while appending a case (the vault chain is one line)


@dataclass(frozen=True, slots=True)
class CaseSummary:
    case_id: str
    owner_id: str | None
    actor: str
    reason: str
    created_at: datetime
    count: int
    head: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id, "owner_id": self.owner_id, "actor": self.actor, "reason": self.reason,
            "created_at": self.created_at.isoformat(), "count": self.count, "head": self.head,
        }


@dataclass(frozen=True, slots=True)
class Case:
    """A case as stored: its header (as hashed) and its items' links, in order."""

    summary: CaseSummary
    header: dict[str, Any]
    links: tuple[Link, ...]

    @property
    def case_id(self) -> str:
        return self.summary.case_id

    def items(self) -> list[dict[str, Any]]:
        return [
            {"position": x.position, "digest": x.digest, "prev": x.prev, "record": json.loads(x.record)}
            for x in self.links
        ]


@dataclass(frozen=True, slots=True)
class VaultCheck:
    """The vault verified: ``problem`` names the first case / item that does not hold (None: all do)."""

    problem: str | None
    cases: int
    items: int
    head: str

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problem": self.problem, "cases": self.cases, "items": self.items,
                "head": self.head}


class EvidenceVault(StoreBase):
    """The vault in the store's database (SQLite or PostgreSQL)."""

    _failure = "the evidence vault failed"

    # ------------------------------------------------------------------ selecting what to preserve

    def aimed_at(self, user_id: str, *, since: datetime, until: datetime) -> list[str]:
        """Ids of the stored events aimed at ``user_id`` with ``since <= occurred_at < until``,
        oldest first (at most ``MAX_ITEMS`` + 1: the caller refuses more)."""
        et = m.event_targets.c
        stmt = (
            select(et.event_id)
            .where(et.target_id == user_id, et.occurred_at >= since, et.occurred_at < until)
            .order_by(et.occurred_at, et.event_id)
            .limit(MAX_ITEMS + 1)
        )
        with self._tx() as c:
            return [str(r[0]) for r in c.execute(stmt)]

    def alert_subject(self, alert_id: str) -> tuple[str, str, list[str]] | None:
        """The alert's subject type and id, and the ids of the events behind it (by event time);
        None when there is no such alert."""
        a, ae, e = m.alerts.c, m.alert_events.c, m.events.c
        with self._tx() as c:
            row = c.execute(select(a.subject_type, a.subject_id).where(a.alert_id == alert_id)).first()
            if row is None:
                return None
            ids = c.execute(
                select(ae.event_id)
                .select_from(m.alert_events.outerjoin(m.events, e.event_id == ae.event_id))
                .where(ae.alert_id == alert_id)
                .order_by(e.occurred_at, ae.event_id)
            )
            return str(row[0]), str(row[1]), [str(r[0]) for r in ids]

    def targets_of(self, event_ids: Sequence[str]) -> dict[str, tuple[str, set[str]]]:
        """For each stored event of ``event_ids``: its author and targets (for ownership checks)."""
        e = m.events.c
        out: dict[str, tuple[str, set[str]]] = {}
        ids = list(dict.fromkeys(event_ids))
        with self._tx() as c:
            for i in range(0, len(ids), 1000):
                for r in c.execute(
                    select(e.event_id, e.author_id, e.target_ids).where(e.event_id.in_(ids[i : i + 1000]))
                ):
                    out[str(r[0])] = (str(r[1]), {str(t) for t in r[2]})
        return out

    # ------------------------------------------------------------------ preserving

    def preserve(
        self,
        event_ids: Sequence[str],
        *,
        owner_id: str | None,
        actor: str,
        reason: str,
        selection: Mapping[str, Any],
    ) -> Case:
        """Copy the stored events ``event_ids`` (in that order; repeats once) into a new case.

        InputError when none is given, more than ``MAX_ITEMS``, or one is not stored (named).
        """
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            raise InputError("there is nothing to preserve: no stored event matches", field="event_ids")
        if len(ids) > MAX_ITEMS:
            raise InputError(f"one case holds at most {MAX_ITEMS} items; narrow the selection")
        reason = reason.strip()
        if not reason or len(reason) > 2000:
            raise InputError("a preservation needs a reason of 1 to 2000 characters", field="reason")
        now = self._clock()
        case_id = "ev_" + secrets.token_hex(12)
        header = {
            "format": FORMAT,
            "case_id": case_id,
            "owner_id": owner_id,
            "actor": actor,
            "reason": reason,
            "selection": dict(selection),
            "created_at": now.isoformat(),
        }
        with self._serialised(_VAULT_LOCK) as c:
            rows = self._event_rows(c, ids)
            missing = [i for i in ids if i not in rows]
            if missing:
                raise InputError(
                    f"no stored event {missing[0]!r} ({len(missing)} not stored)", field="event_ids"
                )
            records = [_record(case_id, n, rows[i], now) for n, i in enumerate(ids)]
            links = chain(header, records)
            head = links[-1].digest
            start = genesis(header)
            vc = m.evidence_cases.c
            last = c.execute(select(vc.vault_digest).order_by(vc.seq.desc()).limit(1)).scalar()
            vault_prev = str(last) if last is not None else ZERO
            c.execute(
                m.evidence_cases.insert().values(
                    case_id=case_id, owner_id=owner_id, actor=actor, reason=reason, created_at=now,
                    header=canonical(header).decode("utf-8"), item_count=len(links), head=head,
                    vault_prev=vault_prev, vault_digest=_vault_link(vault_prev, start, head),
                )
            )
            for i in range(0, len(links), 500):
                c.execute(
                    m.evidence_items.insert(),
                    [
                        {"case_id": case_id, "position": x.position, "event_id": ids[x.position],
                         "record": x.record.decode("utf-8"), "prev": x.prev, "digest": x.digest}
                        for x in links[i : i + 500]
                    ],
                )
        summary = CaseSummary(case_id, owner_id, actor, reason, now, len(links), head)
        return Case(summary, header, tuple(links))

    def _event_rows(self, c: Connection, ids: Sequence[str]) -> dict[str, RowMapping]:
        e, v, d = m.events, m.verdicts, m.decisions
        out: dict[str, RowMapping] = {}
        for i in range(0, len(ids), 500):
            stmt = (
                select(
                    e, v.c.violation, v.c.score, v.c.severity, v.c.categories, v.c.spans,
                    d.c.action, d.c.rule_id, d.c.policy, d.c.policy_version, d.c.decision,
                )
                .outerjoin(v, v.c.event_id == e.c.event_id)
                .outerjoin(d, (d.c.event_id == e.c.event_id) & d.c.shadow.is_(False))
                .where(e.c.event_id.in_(ids[i : i + 500]))
            )
            out.update({str(r["event_id"]): r for r in c.execute(stmt).mappings()})
        return out


    # ------------------------------------------------------------------ reading

    def case(self, case_id: str) -> Case | None:
        vc, vi = m.evidence_cases.c, m.evidence_items.c
        with self._tx() as c:
            row = c.execute(select(m.evidence_cases).where(vc.case_id == case_id)).mappings().first()
            if row is None:
                return None
            items = c.execute(select(m.evidence_items).where(vi.case_id == case_id).order_by(vi.position))
            links = tuple(
                Link(int(r["position"]), str(r["record"]).encode("utf-8"), r["prev"], r["digest"])
                for r in items.mappings()
            )
        return Case(_summary(row), json.loads(row["header"]), links)

    def cases_of(self, owner_id: str, *, limit: int = 1000) -> list[CaseSummary]:
        """The cases preserved for ``owner_id``, newest first."""
        vc = m.evidence_cases.c
        stmt = select(m.evidence_cases).where(vc.owner_id == owner_id).order_by(vc.seq.desc()).limit(limit)
        with self._tx() as c:
            return [_summary(r) for r in c.execute(stmt).mappings()]

    # ------------------------------------------------------------------ verifying

    def verify(self) -> VaultCheck:
        """Walk every case and item in vault order; the first one that does not hold is named."""
        vc, vi = m.evidence_cases.c, m.evidence_items.c
        cases = items = 0
        prev = ZERO
        with self._tx() as c:
            for row in c.execute(select(m.evidence_cases).order_by(vc.seq)).mappings().all():
                case_id = str(row["case_id"])
                rows = c.execute(
                    select(m.evidence_items).where(vi.case_id == case_id).order_by(vi.position)
                ).mappings().all()
                problem = _case_problem(row, rows, prev)
                if problem is not None:
                    return VaultCheck(problem, cases, items, prev)
                prev = str(row["vault_digest"])
                cases += 1
                items += len(rows)
            orphans = c.execute(
                select(vi.case_id, vi.position, vi.event_id)
                .where(vi.case_id.not_in(select(vc.case_id)))
                .limit(1)
            ).first()
        if orphans is not None:
            gone = f"case {orphans[0]}, item {orphans[1]} (event {orphans[2]!r}): its case is gone"
            return VaultCheck(gone, cases, items, prev)
        return VaultCheck(None, cases, items, prev)


def _case_problem(row: RowMapping, rows: Sequence[RowMapping], prev: str) -> str | None:
    case_id = str(row["case_id"])
    raw = str(row["header"]).encode("utf-8")
    try:
        header = json.loads(raw)
    except ValueError:
        return f"case {case_id}: the header is not JSON (altered)"
    if not isinstance(header, dict) or canonical(header) != raw:
        return f"case {case_id}: the header is not the canonical JSON it was written as (altered)"
    for column in ("case_id", "owner_id", "actor", "reason"):
        if header.get(column) != row[column]:
            return f"case {case_id}: its {column} column differs from its header (altered)"
    if header.get("created_at") != row["created_at"].isoformat():
        return f"case {case_id}: its created_at column differs from its header (altered)"
    if row["vault_prev"] != prev:
        return f"case {case_id}: the vault chain before it is broken (a case was removed or reordered)"
    links = [
        (int(r["position"]), str(r["event_id"]), str(r["record"]).encode("utf-8"), str(r["prev"]),
         str(r["digest"]))
        for r in rows
    ]
    broken: Break | None = check(header, links, str(row["head"]))
    if broken is not None:
        return broken.describe(case_id)
    for r in rows:
        if json.loads(r["record"]).get("event_id") != r["event_id"]:
            where = f"case {case_id}, item {r['position']} (event {r['event_id']!r})"
            return f"{where}: its event_id column was altered"
    if len(rows) != row["item_count"]:
        return f"case {case_id}: {len(rows)} items stored, {row['item_count']} preserved"
    if _vault_link(prev, genesis(header), str(row["head"])) != row["vault_digest"]:
        return f"case {case_id}: its vault digest does not match its header and head (altered)"
    return None


def _vault_link(prev: str, start: str, head: str) -> str:
    return link(prev, bytes.fromhex(start) + bytes.fromhex(head))


def _summary(row: RowMapping) -> CaseSummary:
    return CaseSummary(
        str(row["case_id"]), row["owner_id"], str(row["actor"]), str(row["reason"]), row["created_at"],
        int(row["item_count"]), str(row["head"]),
    )


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _record(case_id: str, position: int, r: RowMapping, preserved_at: datetime) -> dict[str, Any]:
    """One item: the event as stored now, with its verdict and active decision."""
    verdict = None
    if r["violation"] is not None:
        verdict = {
            "violation": bool(r["violation"]), "score": float(r["score"]), "severity": r["severity"],
            "categories": {str(k): float(x) for k, x in r["categories"].items()},
            "spans": list(r["spans"] or []),
        }
    decision = None
    if r["action"] is not None:
        explained = r["decision"] if isinstance(r["decision"], dict) else {}
        decision = {
            "action": r["action"], "rule_id": r["rule_id"], "policy": r["policy"],
            "policy_version": r["policy_version"], "reason": explained.get("reason"),
            "params": explained.get("params"),
        }
    return {
        "case_id": case_id,
        "position": position,
        "event_id": r["event_id"],
        "surface": r["surface"],
        "occurred_at": _time(r["occurred_at"]),
        "author": {
            "id": r["author_id"], "created_at": _time(r["author_created_at"]),
            "verified": bool(r["author_verified"]), "minor": bool(r["author_minor"]), "mcn_id": r["mcn_id"],
        },
        "target_ids": list(r["target_ids"]),
        "context": {
            "thread_id": r["thread_id"], "topic_ids": list(r["topic_ids"]), "reply_to": r["reply_to"],
            "target_follows_author": r["target_follows_author"],
            "author_follows_target": r["author_follows_target"],
        },
        "text": r["text"],  # None: retention had purged it before it was preserved
        "text_sha256": r["text_sha256"],
        "verdict": verdict,
        "decision": decision,
        "preserved_at": preserved_at.isoformat(),
    }
